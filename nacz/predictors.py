"""Cheap online predictors mixed with the LLM: n-gram, match model, bias head, mixer, APM.

Per token (encoder and decoder alike, same calls in the same order)::

    pr = Predictors(n_vocab, codec_config)   # components and rates from the CodecConfig
    for each token position:
        probs = pr.predict(logits)           # float64[V], every entry > 0, sums to ~1
        cdf = quantize_probabilities(probs)  # nacz.coder
        ... code / decode `tok` with cdf ...
        pr.update(tok)                       # learn from tok, then prepare the next context

``predict`` only writes scratch arrays (persistent state is untouched), so a caller that
codes an escape id without asking for a prediction simply calls ``update(escape_id)``:
ids >= n_vocab go into the history (the match model sees them) but train nothing.

Model (z = final logit of token v, p = softmax(z))::

    z_v = a[s] * (x_v - max x) + b_v + u[conf] * ln(count_v + 0.1) + sum_f w_f[ctx_f] * phi_f(v)

* ``x``: the LLM logits; ``a[s]`` a learned inverse temperature per LLM-confidence bucket
  and match state ("TEMP").
* ``b``: the adaptive bias head, one float per vocabulary token ("BIAS"), trained by SGD on
  the coding loss: b += lr * (onehot(tok) - p). A large rate (0.08) works best.
* ``u``: weight of a document unigram (log count of each token so far), per LLM
  confidence bucket ("UNI"); only the coded token's table entry changes per step.
* ``phi_f``: sparse features, nonzero only for candidate tokens. For an order-k n-gram
  context with counts c(v), total t, d distinct, escape e = d / (t + d), and for the match
  model with learned hit probability q::

      phi_k(v) = ln(1 + (1 - e) c(v) / t / (e * p_llm(v)))          ("NGRAM")
      phi_m(v) = ln(1 + q / ((1 - q) * p_llm(v)))  for the predicted v ("MATCH")

  With weight 1 a single feature is exactly the linear mixture (1-e) ngram + e LLM (resp.
  q match + (1-q) LLM); the learned weights, selected by context (order, count bucket,
  determinism, LLM confidence; match length, match record, agreement with the LLM's top),
  make it a geometric / logistic mixture that can trust or ignore each model where the
  data says so. Gradient of the log loss: dw_f = phi_f(tok) - E_p[phi_f].
* "APM": an SSE stage refines the probability of the most likely token given the match
  and n-gram agreement, and rescales the others.

Determinism: all kernels are ``njit(cache=True)`` WITHOUT fastmath; floating point is
IEEE float64 in a fixed sequential order; exp and log are the portable polynomial
implementations (:func:`nacz.coder.quantize._portable_exp`, :func:`_portable_log`), never
libm; hashes are uint64 integer arithmetic; no threads, no dicts, no time-dependent state.

Memory: history ring 4 * 2**hist_bits bytes; n-gram table
2**ngram_bits * (8 * slots + 4) bytes; match tables 8 * 2**match_bits bytes each (2);
bias, unigram and scratch 40 * V bytes. Defaults: 4 + 17 + 4 + 1.9 MiB ~= 27 MiB. A stream
sharing another's learned state (``SHARED_STATE``) adds only its history, match tables and
scratch: 4 + 4 + 0.8 MiB.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .coder.quantize import _portable_exp
from .config import (
    PRED_ALL,
    PRED_APM,
    PRED_BIAS,
    PRED_MATCH,
    PRED_NGRAM,
    PRED_TEMP,
    PRED_UNIGRAM,
    CodecConfig,
)

# Component bits: the file format's own ids (nacz.config), under the kernels' short names.
USE_BIAS = PRED_BIAS
USE_NGRAM = PRED_NGRAM
USE_MATCH = PRED_MATCH
USE_TEMP = PRED_TEMP
USE_APM = PRED_APM
USE_UNI = PRED_UNIGRAM
USE_ALL = PRED_ALL

MAX_ORDERS = 8
MAX_CANDS = 96
N_CONF = 6  # LLM confidence buckets
N_LENB = 8  # match length buckets
N_REC = 4  # match record buckets
N_TB = 12  # n-gram count buckets (6 total-count buckets x deterministic flag)
APM_N = 33  # interpolation points over stretch(p) in [-8, 8]
APM_CTX = 12

# int state slots
I_N = 0  # tokens in history
I_MPTR = 1  # match: index in history of the predicted token
I_MLEN = 2  # match length (0: no match)
I_MREC = 3  # last 8 match outcomes, bit = 1 for a miss
I_MPRED = 4  # match predicted token (-1 none) for this step
I_CONF = 5  # LLM confidence bucket this step
I_NC = 6  # number of candidates
I_TOP = 7  # argmax of mixed p
I_APMI = 8  # apm cell (lower point, absolute index)
I_PRED = 9  # predict() was called since the last update()
I_MCTX = 10  # match conf cell used
I_TSET = 11  # temperature weight index
I_PTOK = 12  # match table insert positions (unused)
N_ISTATE = 16

# float scratch slots
F_M = 0  # max logit
F_EX = 1  # E_p[x - m]
F_APMW = 2  # apm interpolation weight of the upper point
F_PTOP = 3  # mixed p of top
F_PFIN = 4  # final p of top after APM
F_Q = 5  # match q
F_SLLM = 6  # sum of exp(x - m)
F_EU = 7  # E_p[uni log count]
N_FSCR = 8

# float params
P_LR_W = 0
P_LR_A = 1
P_LR_B = 2
P_APM_RATE = 3
P_BCLIP = 4
P_W0_NG = 5
P_W0_M = 6
P_APM_MIX = 7
P_LR_U = 8
P_UNI_A = 9
P_BDECAY = 10
N_FPARAM = 11

_PHI = np.uint64(0x9E3779B97F4A7C15)
_LN2 = 0.6931471805599453


@numba.njit(cache=True)
def _portable_log(x):
    """ln(x) for finite x > 0 (normal), from +, -, *, / and exact bit manipulation only."""
    m, e = math.frexp(x)  # exact: x = m * 2**e, m in [0.5, 1)
    m = m * 2.0
    e -= 1
    if m > 1.4142135623730951:
        m = m * 0.5
        e += 1
    s = (m - 1.0) / (m + 1.0)  # |s| <= 0.1716
    s2 = s * s
    # 2 atanh(s) = 2 (s + s^3/3 + ... ), to s^23: error < 1e-17
    p = 1.0 / 23.0
    p = p * s2 + 1.0 / 21.0
    p = p * s2 + 1.0 / 19.0
    p = p * s2 + 1.0 / 17.0
    p = p * s2 + 1.0 / 15.0
    p = p * s2 + 1.0 / 13.0
    p = p * s2 + 1.0 / 11.0
    p = p * s2 + 1.0 / 9.0
    p = p * s2 + 1.0 / 7.0
    p = p * s2 + 1.0 / 5.0
    p = p * s2 + 1.0 / 3.0
    p = p * s2 + 1.0
    return 2.0 * s * p + np.float64(e) * _LN2


@numba.njit(cache=True)
def _exp_clamped(x):
    # Keeps every probability a normal double (>= e^-600 / V).  A conditional
    # expression, not an if statement: LLVM vectorizes the callers' loops only then.
    x = -600.0 if x < -600.0 else x
    return _portable_exp(x)


@numba.njit(cache=True)
def _stretch(p):
    return _portable_log(p / (1.0 - p))


@numba.njit(cache=True)
def _squash(t):
    if t >= 0.0:
        return 1.0 / (1.0 + _portable_exp(-t))
    e = _portable_exp(t)
    return e / (1.0 + e)


@numba.njit(cache=True)
def _lenbucket(n):
    if n < 6:
        return 0
    if n < 8:
        return 1
    if n < 12:
        return 2
    if n < 16:
        return 3
    if n < 24:
        return 4
    if n < 32:
        return 5
    if n < 64:
        return 6
    return 7


@numba.njit(cache=True)
def _recbucket(rec):
    c = 0
    r = rec & 0xFF
    while r:
        c += r & 1
        r >>= 1
    if c == 0:
        return 0
    if c == 1:
        return 1
    if c <= 3:
        return 2
    return 3


@numba.njit(cache=True)
def _ctx_hash(hist, hmask, n, k, seed):
    h = np.uint64(seed + 1) * _PHI
    for j in range(k):
        t = np.uint64(hist[(n - 1 - j) & hmask] + 1)
        h = (h ^ t) * _PHI
        h ^= h >> np.uint64(29)
    return h


@numba.njit(cache=True)
def _add_cand(ctok, nc, tok, cphi, nf):
    for c in range(nc):
        if ctok[c] == tok:
            return c, nc
    if nc >= ctok.shape[0]:
        return -1, nc
    ctok[nc] = tok
    for f in range(nf):
        cphi[nc, f] = 0.0
    return nc, nc + 1


@numba.njit(cache=True)
def _predict(logits, out, pmix, ip, fp, orders, ist, fscr, hist, ng_chk, ng_tok, ng_cnt,
             ctx_b, ctx_c, mconf, w, widx, ctok, cphi, bias, apm, unil):
    V = ip[0]
    nord = ip[1]
    S = ip[3]
    hmask = ip[4]
    flags = ip[6]
    nf = nord + 1  # features: one per order, then match
    # 1. LLM softmax statistics
    m = -np.inf
    for v in range(V):
        xv = np.float64(logits[v])
        if xv > m:
            m = xv
    for v in range(V):  # vectorizable: exponentials first, then a sequential sum
        out[v] = _portable_exp(np.float64(logits[v]) - m)
    s = 0.0
    for v in range(V):
        s += out[v]
    fscr[F_M] = m
    fscr[F_SLLM] = s
    # confidence bucket from -log2(p_top) = log2(s)
    if s < 1.0352649238413776:  # 2^0.05
        conf = 0
    elif s < 1.1095694720678451:  # 2^0.15
        conf = 1
    elif s < 1.3195079107728942:  # 2^0.4
        conf = 2
    elif s < 2.0:
        conf = 3
    elif s < 4.0:
        conf = 4
    else:
        conf = 5
    ist[I_CONF] = conf
    inv_s = 1.0 / s
    # 2. candidates and sparse features
    nc = 0
    for f in range(nf):
        widx[f] = -1
    n = ist[I_N]
    if flags & USE_NGRAM:
        for o in range(nord):
            if n < orders[o] or ctx_b[o] < 0:
                continue
            b = ctx_b[o]
            if ng_chk[b] != ctx_c[o]:
                continue
            t = 0
            d = 0
            for j in range(S):
                c = ng_cnt[b * S + j]
                if c > 0:
                    t += c
                    d += 1
            if t == 0:
                continue
            e = d / (t + d + 0.0)
            tb = 0
            if t >= 2:
                tb = 1
            if t >= 3:
                tb = 2
            if t >= 5:
                tb = 3
            if t >= 9:
                tb = 4
            if t >= 17:
                tb = 5
            tb = tb * 2 + (1 if d == 1 else 0)
            widx[o] = (o * N_TB + tb) * N_CONF + conf
            for j in range(S):
                c = ng_cnt[b * S + j]
                tok = ng_tok[b * S + j]
                if c <= 0 or tok >= V:
                    continue
                ci, nc = _add_cand(ctok, nc, tok, cphi, nf)
                if ci < 0:
                    continue
                pl = _exp_clamped(np.float64(logits[tok]) - m) * inv_s
                r = (1.0 - e) * (c / (t + 0.0)) / (e * pl)
                cphi[ci, o] = _portable_log(1.0 + r)
    ist[I_MPRED] = -1
    mstate = 0
    if (flags & USE_MATCH) and ist[I_MLEN] > 0:
        ptok = hist[ist[I_MPTR] & hmask]
        if ptok < V:
            ist[I_MPRED] = ptok
            lb = _lenbucket(ist[I_MLEN])
            rb = _recbucket(ist[I_MREC])
            mc = lb * N_REC + rb
            ist[I_MCTX] = mc
            q = mconf[mc]
            fscr[F_Q] = q
            pl = _exp_clamped(np.float64(logits[ptok]) - m) * inv_s
            agree = 1 if pl * s >= 1.0 else 0  # the LLM's top token (e == 1)
            mstate = 1 + agree
            widx[nord] = nord * N_TB * N_CONF + (mc * 2 + agree)
            ci, nc = _add_cand(ctok, nc, ptok, cphi, nf)
            if ci >= 0:
                cphi[ci, nord] = _portable_log(1.0 + q / ((1.0 - q) * pl))
    ist[I_NC] = nc
    # 3. mixed logits
    a = 1.0
    if flags & USE_TEMP:
        tset = conf * 3 + mstate
        ist[I_TSET] = tset
        a = w[ip[7] + tset]
    use_bias = (flags & USE_BIAS) != 0
    use_uni = (flags & USE_UNI) != 0
    wu = w[ip[10] + conf] if use_uni else 0.0
    zmax = -np.inf
    for v in range(V):
        z = a * (np.float64(logits[v]) - m)
        if use_bias:
            z += bias[v]
        if use_uni:
            z += wu * unil[v]
        pmix[v] = z
    for c in range(nc):
        z = 0.0
        for f in range(nf):
            if widx[f] >= 0:
                z += w[widx[f]] * cphi[c, f]
        pmix[ctok[c]] += z
    top = 0
    for v in range(V):
        if pmix[v] > zmax:
            zmax = pmix[v]
            top = v
    for v in range(V):
        pmix[v] = _exp_clamped(pmix[v] - zmax)
    tot = 0.0
    for v in range(V):
        tot += pmix[v]
    inv = 1.0 / tot
    ex = 0.0
    eu = 0.0
    for v in range(V):
        pv = pmix[v] * inv
        pmix[v] = pv
        ex += pv * (np.float64(logits[v]) - m)
        if use_uni:
            eu += pv * unil[v]
    fscr[F_EX] = ex
    fscr[F_EU] = eu
    ist[I_TOP] = top
    # 4. APM on the top token
    ptop = pmix[top]
    fscr[F_PTOP] = ptop
    pfin = ptop
    if flags & USE_APM:
        # context: match state x (highest-order n-gram hit agrees with top) x conf>=3
        hi = 0
        for o in range(nord - 1, -1, -1):
            if widx[o] >= 0:
                # does the top token have the largest count there?
                b = ctx_b[o]
                best = -1
                bc = 0
                for j in range(S):
                    if ng_cnt[b * S + j] > bc:
                        bc = ng_cnt[b * S + j]
                        best = ng_tok[b * S + j]
                hi = 1 if best == top else 2
                break
        actx = (mstate * 3 + hi) + (9 if conf >= 3 else 0)
        if actx >= APM_CTX:
            actx = APM_CTX - 1
        pc = ptop
        if pc < 1e-6:
            pc = 1e-6
        if pc > 1.0 - 1e-9:
            pc = 1.0 - 1e-9
        st = _stretch(pc)
        if st < -7.999:
            st = -7.999
        if st > 7.999:
            st = 7.999
        pos = (st + 8.0) * ((APM_N - 1) / 16.0)
        lo = np.int64(np.floor(pos))
        fr = pos - lo
        ia = actx * APM_N + lo
        ist[I_APMI] = ia
        fscr[F_APMW] = fr
        pa = apm[ia] * (1.0 - fr) + apm[ia + 1] * fr
        mixw = fp[P_APM_MIX]
        pfin = ptop * (1.0 - mixw) + pa * mixw
        if pfin > 1.0 - 1e-12:
            pfin = 1.0 - 1e-12
        if pfin < 1e-12:
            pfin = 1e-12
    fscr[F_PFIN] = pfin
    if pfin != ptop and ptop < 1.0:
        sc = (1.0 - pfin) / (1.0 - ptop)
        for v in range(V):
            out[v] = pmix[v] * sc
        out[top] = pfin
    else:
        for v in range(V):
            out[v] = pmix[v]
    ist[I_PRED] = 1


@numba.njit(cache=True)
def _update(x, logits, pmix, ip, fp, orders, ist, fscr, hist, ng_chk, ng_tok, ng_cnt,
            ctx_b, ctx_c, mconf, mcnt, mtab_s, mtab_l, w, widx, ctok, cphi, bias, apm, unil,
            unicnt):
    V = ip[0]
    nord = ip[1]
    ngmask = ip[2]
    S = ip[3]
    hmask = ip[4]
    mmask = ip[5]
    flags = ip[6]
    min_s = ip[8]
    min_l = ip[9]
    nf = nord + 1
    n = ist[I_N]
    # 1. learning (only for coded vocabulary tokens that were predicted)
    if ist[I_PRED] == 1 and x < V:
        nc = ist[I_NC]
        xi = -1
        for c in range(nc):
            if ctok[c] == x:
                xi = c
        lr = fp[P_LR_W]
        for f in range(nf):
            wi = widx[f]
            if wi < 0:
                continue
            ephi = 0.0
            for c in range(nc):
                ephi += pmix[ctok[c]] * cphi[c, f]
            g = -ephi
            if xi >= 0:
                g += cphi[xi, f]
            wv = w[wi] + lr * g
            if wv < -2.0:
                wv = -2.0
            if wv > 8.0:
                wv = 8.0
            w[wi] = wv
        if flags & USE_TEMP:
            g = (np.float64(logits[x]) - fscr[F_M]) - fscr[F_EX]
            ti = ip[7] + ist[I_TSET]
            av = w[ti] + fp[P_LR_A] * g
            if av < 0.25:
                av = 0.25
            if av > 4.0:
                av = 4.0
            w[ti] = av
        if flags & USE_UNI:
            ui = ip[10] + ist[I_CONF]
            uv = w[ui] + fp[P_LR_U] * (unil[x] - fscr[F_EU])
            if uv < -1.0:
                uv = -1.0
            if uv > 2.0:
                uv = 2.0
            w[ui] = uv
        if flags & USE_BIAS:
            lrb = fp[P_LR_B]
            clip = fp[P_BCLIP]
            keep = 1.0 - fp[P_BDECAY]
            for v in range(V):
                bias[v] = bias[v] * keep - lrb * pmix[v]
            bias[x] += lrb
            if bias[x] > clip:
                bias[x] = clip
            # lower clip only matters for tokens that keep losing mass
            for v in range(V):
                if bias[v] < -clip:
                    bias[v] = -clip
        if flags & USE_APM:
            y = 1.0 if x == ist[I_TOP] else 0.0
            ia = ist[I_APMI]
            fr = fscr[F_APMW]
            rate = fp[P_APM_RATE]
            apm[ia] += (y - apm[ia]) * rate * (1.0 - fr)
            apm[ia + 1] += (y - apm[ia + 1]) * rate * fr
        if ist[I_MPRED] >= 0:
            mc = ist[I_MCTX]
            y = 1.0 if x == ist[I_MPRED] else 0.0
            cnt = mcnt[mc]
            if cnt < 255:
                mcnt[mc] = cnt + 1
            q = mconf[mc] + (y - mconf[mc]) / (cnt + 1.5)
            if q < 0.001:
                q = 0.001
            if q > 0.9999:
                q = 0.9999
            mconf[mc] = q
    ist[I_PRED] = 0
    if x < V:
        unicnt[x] += 1.0
        unil[x] = _portable_log(unicnt[x] + fp[P_UNI_A])
    # 2. n-gram counts for the contexts that predicted x
    if x < V:
        for o in range(nord):
            b = ctx_b[o]
            if b < 0:
                continue
            base = b * S
            if ng_chk[b] != ctx_c[o]:
                ng_chk[b] = ctx_c[o]
                for j in range(S):
                    ng_cnt[base + j] = 0
                    ng_tok[base + j] = -1
            found = -1
            for j in range(S):
                if ng_tok[base + j] == x and ng_cnt[base + j] > 0:
                    found = j
                    break
            if found >= 0:
                ng_cnt[base + found] += 1
                if ng_cnt[base + found] > 250:
                    for j in range(S):
                        ng_cnt[base + j] = (ng_cnt[base + j] + 1) >> 1
            else:
                # empty slot, else the least counted (first of ties)
                jmin = 0
                cmin = ng_cnt[base]
                for j in range(1, S):
                    if ng_cnt[base + j] < cmin:
                        cmin = ng_cnt[base + j]
                        jmin = j
                ng_tok[base + jmin] = x
                ng_cnt[base + jmin] = 1
    # 3. history and match model
    mlen = ist[I_MLEN]
    if mlen > 0:
        miss = 0 if hist[ist[I_MPTR] & hmask] == x else 1
        ist[I_MREC] = ((ist[I_MREC] << 1) | miss) & 0xFF
        if hist[ist[I_MPTR] & hmask] == x:
            ist[I_MPTR] += 1
            if mlen < 65535:
                ist[I_MLEN] = mlen + 1
        else:
            ist[I_MLEN] = 0
    hist[n & hmask] = x
    n += 1
    ist[I_N] = n
    # look up / insert in the two match tables (long context first)
    hs = np.uint64(0)
    hl = np.uint64(0)
    if n >= min_s:
        hs = _ctx_hash(hist, hmask, n, min_s, 101)
    if n >= min_l:
        hl = _ctx_hash(hist, hmask, n, min_l, 103)
    if ist[I_MLEN] == 0:
        for which in range(2):
            if which == 0:
                if n < min_l:
                    continue
                cand = mtab_l[np.int64(hl >> np.uint64(20)) & mmask]
            else:
                if n < min_s:
                    continue
                cand = mtab_s[np.int64(hs >> np.uint64(20)) & mmask]
            if cand <= 0 or n - cand >= hmask - 64:
                continue
            k = 0
            while k < 400 and cand - 1 - k >= 0 and \
                    hist[(cand - 1 - k) & hmask] == hist[(n - 1 - k) & hmask]:
                k += 1
            if k >= min_s:
                ist[I_MPTR] = cand
                ist[I_MLEN] = k
                break
    if n >= min_s:
        mtab_s[np.int64(hs >> np.uint64(20)) & mmask] = n
    if n >= min_l:
        mtab_l[np.int64(hl >> np.uint64(20)) & mmask] = n
    # 4. contexts for the next prediction
    for o in range(nord):
        k = orders[o]
        if n < k:
            ctx_b[o] = -1
            continue
        ok = True
        for j in range(k):
            if hist[(n - 1 - j) & hmask] >= V:
                ok = False
        if not ok:
            ctx_b[o] = -1
            continue
        h = _ctx_hash(hist, hmask, n, k, k)
        ctx_b[o] = np.int64(h >> np.uint64(16)) & ngmask
        ctx_c[o] = np.int32(np.int64(h >> np.uint64(40)) | 1)


@numba.njit(cache=True)
def _predict_cheap(out, ip, ist, hist, mconf, unicnt, n_uni):
    """Distribution without the LLM: match prediction (if any) over a unigram of the past."""
    V = ip[0]
    hmask = ip[4]
    q = 0.0
    ptok = -1
    if ist[I_MLEN] > 0:
        ptok = hist[ist[I_MPTR] & hmask]
        if ptok < V:
            q = mconf[_lenbucket(ist[I_MLEN]) * N_REC + _recbucket(ist[I_MREC])]
        else:
            ptok = -1
    den = n_uni + 0.05 * V
    for v in range(V):
        out[v] = (1.0 - q) * (unicnt[v] + 0.05) / den
    if ptok >= 0:
        out[ptok] += q
    return q


def predictor_memory_bytes(cfg: CodecConfig, n_vocab: int) -> int:
    """Bytes of predictor state per stream: fixed by the config, whatever the input length."""
    return (4 * (1 << cfg.history_bits) + (1 << cfg.ngram_bits) * (8 * cfg.ngram_slots + 4)
            + 2 * 8 * (1 << cfg.match_bits) + 40 * n_vocab)


#: Attributes of :class:`Predictors` that streams of one group share when the config has
#: ``PRED_SHARED``: n-gram counts, mixing weights, match confidences, bias head, APM and
#: unigram. Streams update them one after another in a fixed order (the lockstep order),
#: so encoder and decoder see the same values at every prediction.
SHARED_STATE = ("w", "ng_chk", "ng_tok", "ng_cnt", "mconf", "mcnt", "bias", "apm",
                "unicnt", "unil", "n_uni")


class Predictors:
    """All online state of the cheap predictors and the mixer for one token stream."""

    def __init__(self, n_vocab: int, cfg: CodecConfig, shared_with: "Predictors | None" = None):
        """State for one stream. With ``shared_with``, the learned tables (see
        :data:`SHARED_STATE`) are that instance's own arrays, so every stream of a lockstep
        group learns from all of them; history, match tables and scratch stay per stream."""
        self.cfg = cfg
        V = int(n_vocab)
        self.n_vocab = V
        nord = len(cfg.ngram_orders)
        if not 1 <= nord <= MAX_ORDERS:
            raise ValueError("1..8 n-gram orders")
        self.orders = np.array(cfg.ngram_orders, dtype=np.int64)
        n_w_ng = nord * N_TB * N_CONF
        n_w_m = N_LENB * N_REC * 2
        n_w_t = N_CONF * 3
        self.ip = np.array([
            V, nord, (1 << cfg.ngram_bits) - 1, cfg.ngram_slots, (1 << cfg.history_bits) - 1,
            (1 << cfg.match_bits) - 1, cfg.predictors, n_w_ng + n_w_m, cfg.match_min,
            cfg.match_long, n_w_ng + n_w_m + n_w_t,
        ], dtype=np.int64)
        self.fp = np.zeros(N_FPARAM, dtype=np.float64)
        self.fp[P_LR_W] = cfg.rate_mix
        self.fp[P_LR_A] = cfg.rate_temp
        self.fp[P_LR_B] = cfg.rate_bias
        self.fp[P_APM_RATE] = cfg.rate_apm
        self.fp[P_BCLIP] = cfg.bias_clip
        self.fp[P_APM_MIX] = cfg.apm_mix
        self.fp[P_LR_U] = cfg.rate_unigram
        self.fp[P_UNI_A] = cfg.unigram_alpha
        self.fp[P_BDECAY] = cfg.bias_decay
        # Per stream: position, match state, history, match hash tables, scratch.
        self.ist = np.zeros(N_ISTATE, dtype=np.int64)
        self.ist[I_MPRED] = -1
        self.fscr = np.zeros(N_FSCR, dtype=np.float64)
        self.hist = np.zeros(1 << cfg.history_bits, dtype=np.int32)
        self.ctx_b = np.full(MAX_ORDERS, -1, dtype=np.int64)
        self.ctx_c = np.zeros(MAX_ORDERS, dtype=np.int32)
        self.mtab_s = np.zeros(1 << cfg.match_bits, dtype=np.int64)
        self.mtab_l = np.zeros(1 << cfg.match_bits, dtype=np.int64)
        self.widx = np.full(MAX_ORDERS + 1, -1, dtype=np.int64)
        self.ctok = np.zeros(MAX_CANDS, dtype=np.int64)
        self.cphi = np.zeros((MAX_CANDS, MAX_ORDERS + 1), dtype=np.float64)
        self.pmix = np.zeros(V, dtype=np.float64)
        self.out = np.zeros(V, dtype=np.float64)
        self._logits = None
        if shared_with is not None:
            if shared_with.cfg != cfg or shared_with.n_vocab != V:
                raise ValueError("streams sharing predictor state need the same config")
            for name in SHARED_STATE:
                setattr(self, name, getattr(shared_with, name))
            return
        # Learned state (shared by a group's streams when the config says so).
        self.w = np.empty(n_w_ng + n_w_m + n_w_t + N_CONF, dtype=np.float64)
        self.w[:n_w_ng] = cfg.init_ngram_weight
        self.w[n_w_ng:n_w_ng + n_w_m] = cfg.init_match_weight
        self.w[n_w_ng + n_w_m:n_w_ng + n_w_m + n_w_t] = 1.0
        self.w[n_w_ng + n_w_m + n_w_t:] = cfg.init_unigram_weight
        nb = 1 << cfg.ngram_bits
        self.ng_chk = np.zeros(nb, dtype=np.int32)
        self.ng_tok = np.full(nb * cfg.ngram_slots, -1, dtype=np.int32)
        self.ng_cnt = np.zeros(nb * cfg.ngram_slots, dtype=np.int32)
        self.mconf = np.full(N_LENB * N_REC, 0.5, dtype=np.float64)
        self.mcnt = np.zeros(N_LENB * N_REC, dtype=np.int64)
        self.bias = np.zeros(V, dtype=np.float64)
        self.apm = np.empty(APM_CTX * APM_N, dtype=np.float64)
        for i in range(APM_N):
            t = -8.0 + 16.0 * i / (APM_N - 1)
            self.apm[i::APM_N] = _squash(t)
        # document unigram: counts, their logs, and the count of vocabulary tokens seen
        self.unicnt = np.zeros(V, dtype=np.float64)
        self.unil = np.full(V, _portable_log(cfg.unigram_alpha), dtype=np.float64)
        self.n_uni = np.zeros(1, dtype=np.int64)

    def predict(self, logits: np.ndarray) -> np.ndarray:
        """Mixed distribution for the next token (float64[V] > 0; a view valid until the
        next call). ``logits`` must stay unchanged until :meth:`update`."""
        self._logits = logits
        _predict(logits, self.out, self.pmix, self.ip, self.fp, self.orders, self.ist,
                 self.fscr, self.hist, self.ng_chk, self.ng_tok, self.ng_cnt, self.ctx_b,
                 self.ctx_c, self.mconf, self.w, self.widx, self.ctok, self.cphi, self.bias,
                 self.apm, self.unil)
        return self.out

    def update(self, token: int) -> None:
        """Learn from the coded ``token`` and move to the next position."""
        logits = self._logits if self._logits is not None else self.out.astype(np.float32)
        _update(int(token), logits, self.pmix, self.ip, self.fp, self.orders, self.ist,
                self.fscr, self.hist, self.ng_chk, self.ng_tok, self.ng_cnt, self.ctx_b,
                self.ctx_c, self.mconf, self.mcnt, self.mtab_s, self.mtab_l, self.w,
                self.widx, self.ctok, self.cphi, self.bias, self.apm, self.unil, self.unicnt)
        self._logits = None
        if token < self.n_vocab:
            self.n_uni[0] += 1

    # -- confidence skip (experimental) ------------------------------------------------
    def match_state(self) -> tuple[int, float]:
        """(match length, learned hit probability) for the next token; (0, 0.0) if none."""
        mlen = int(self.ist[I_MLEN])
        if mlen == 0:
            return 0, 0.0
        mc = _lenbucket(mlen) * N_REC + _recbucket(int(self.ist[I_MREC]))
        return mlen, float(self.mconf[mc])

    def predict_cheap(self) -> np.ndarray:
        """LLM-free distribution (match over a unigram of the past), for skipped steps."""
        _predict_cheap(self.out, self.ip, self.ist, self.hist, self.mconf, self.unicnt,
                       float(self.n_uni[0]))
        return self.out
