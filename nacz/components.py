"""The pieces of the predictor ensemble, each one model with its own named state.

One small piece per model, as in paq8px and lpaq: its state (a named tuple of arrays, whose
scalars that change live in a one-element record array, ``.state[0]``), a function that
adds its prediction or its features, and a function that learns from the coded token.
:mod:`nacz.predictors` composes them in a fixed order; nothing here knows the others
except through the arguments it is given.

==================  ======================================  =============================
piece               predicts                                learns
==================  ======================================  =============================
``History``         (the token ring the others read)        :func:`history_push`
``NgramModel``      :func:`ngram_features`                  :func:`ngram_count`,
                                                            :func:`ngram_contexts`
``StructModel``     (contexts of the n-gram model:          :func:`struct_push`
                    :func:`struct_hash`)
``MatchModel``      :func:`match_features`                  :func:`match_learn`,
                                                            :func:`match_follow`,
                                                            :func:`match_find`
``BiasHead``        (read by the mixer)                     :func:`bias_learn`
``Unigram``         (read by the mixer)                     :func:`unigram_learn`,
                                                            :func:`unigram_count`
``TemperatureScaler`` :func:`temperature_scale`             :func:`temperature_learn`
``Mixer``           :func:`mix`                             :func:`mixer_learn`
``APM``             :func:`apm_refine`                      :func:`apm_learn`
``AdaptiveBit``     :meth:`AdaptiveBit.cdf`                 :meth:`AdaptiveBit.update`
==================  ======================================  =============================

``AdaptiveBit`` is plain Python and integers only: the codec's escape flag and the line-
layout flags (:mod:`nacz.layout`) use it.

Invariants (the codec's encoder and decoder rely on them):
- Every function is ``njit(cache=True)`` WITHOUT fastmath; floating point is IEEE float64
  in a fixed sequential order; exp and log are the portable polynomials
  (:func:`nacz.coder.quantize._portable_exp`, :func:`portable_log`), never libm; hashes
  are uint64 integer arithmetic; no threads, no dicts, no time-dependent state.
- A predict function writes only scratch (the mixer's candidates and features, the
  ``state`` records' per-step fields); learned tables change only in the learn functions.
- Learned values stay in fixed bounds: mixer weights in [-2, 8], inverse temperatures in
  [0.25, 4], unigram weights in [-1, 2], biases in [-clip, clip], match hit probabilities
  in [0.001, 0.9999], n-gram counts in 0..250.
- The mixer's weight array, the unigram and temperature weights, the n-gram tables, the
  match hit statistics, the bias head and the APM table are the *learned* state: streams
  of a group may share these arrays (``Predictor.SHARED``); history, match tables and scratch
  are each stream's own.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numba
import numpy as np

from .coder import PRECISION_BITS, TOTAL
from .coder.quantize import _portable_exp
from .config import MAX_NGRAM_CONTEXTS, StructContext

# The structure context kinds as plain ints: :func:`struct_hash` reads them as compile-time
# constants.
_COLUMN = int(StructContext.COLUMN)
_ABOVE = int(StructContext.ABOVE)
_MASKED = int(StructContext.MASKED)
_MASKED8 = int(StructContext.MASKED8)
_LINEHEAD = int(StructContext.LINEHEAD)
_MARKUP = int(StructContext.MARKUP)
_WORD = int(StructContext.WORD)

MAX_ORDERS = MAX_NGRAM_CONTEXTS  # n-gram orders plus structure contexts
MAX_CANDS = 96
N_CONF = 6  # LLM confidence buckets
N_LENB = 8  # match length buckets
N_REC = 4  # match record buckets
N_TB = 12  # n-gram count buckets (6 total-count buckets x deterministic flag)
N_MSTATE = 3  # match state: none, disagrees with the LLM's top, agrees
APM_N = 33  # interpolation points over stretch(p) in [-8, 8]
APM_CTX = 12

_PHI = np.uint64(0x9E3779B97F4A7C15)
_LN2 = 0.6931471805599453

# -- the portable math every piece uses --------------------------------------------------


@numba.njit(cache=True)
def portable_log(x):
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
def exp_clamped(x):
    # Keeps every probability a normal double (>= e^-600 / V).  A conditional
    # expression, not an if statement: LLVM vectorizes the callers' loops only then.
    x = -600.0 if x < -600.0 else x
    return _portable_exp(x)


@numba.njit(cache=True)
def stretch(p):
    return portable_log(p / (1.0 - p))


@numba.njit(cache=True)
def squash(t):
    if t >= 0.0:
        return 1.0 / (1.0 + _portable_exp(-t))
    e = _portable_exp(t)
    return e / (1.0 + e)


@numba.njit(cache=True)
def context_hash(ring, mask, n, k, seed):
    """Hash of the ``k`` ids before position ``n`` of the history ring."""
    h = np.uint64(seed + 1) * _PHI
    for j in range(k):
        t = np.uint64(ring[(n - 1 - j) & mask] + 1)
        h = (h ^ t) * _PHI
        h ^= h >> np.uint64(29)
    return h


# -- the LLM's own distribution ----------------------------------------------------------

#: Per-step facts about the LLM's distribution, and whether a prediction is pending.
STEP_DTYPE = np.dtype([("max_logit", np.float64), ("sum_exp", np.float64),
                       ("conf", np.int64), ("predicted", np.int64)])


@numba.njit(cache=True)
def confidence_bucket(s):
    """LLM confidence bucket from s = sum exp(x - max x), i.e. -log2(p_top) = log2(s)."""
    if s < 1.0352649238413776:  # 2^0.05
        return 0
    if s < 1.1095694720678451:  # 2^0.15
        return 1
    if s < 1.3195079107728942:  # 2^0.4
        return 2
    if s < 2.0:
        return 3
    if s < 4.0:
        return 4
    return 5


@numba.njit(cache=True)
def llm_softmax(logits, out, V, step):
    """exp(x - max x) into ``out``; records max, sum and confidence bucket in ``step``."""
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
    step.max_logit = m
    step.sum_exp = s
    step.conf = confidence_bucket(s)


# -- History -----------------------------------------------------------------------------

History = namedtuple("History", "ring mask state")
HISTORY_DTYPE = np.dtype([("n", np.int64)])  # ids pushed so far


def new_history(bits: int) -> History:
    return History(np.zeros(1 << bits, dtype=np.int32), (1 << bits) - 1,
                   np.zeros(1, dtype=HISTORY_DTYPE))


@numba.njit(cache=True)
def history_push(hist, x):
    st = hist.state[0]
    hist.ring[st.n & hist.mask] = x
    st.n += 1


# -- Mixer: sparse features of candidate tokens, mixed into the logits -------------------

Mixer = namedtuple("Mixer", "weight rate n_features match_base feat_index cand_token "
                            "cand_phi mixed state")
#: n_cands: candidates this step; top: argmax of the mix; expect_x: E_p[x - max x];
#: expect_uni: E_p[unigram log count].
MIXER_DTYPE = np.dtype([("n_cands", np.int64), ("top", np.int64),
                        ("expect_x", np.float64), ("expect_uni", np.float64)])


def new_mixer(n_vocab: int, n_orders: int, rate: float, init_ngram: float, init_match: float,
              shared: "Mixer | None" = None) -> Mixer:
    n_ng = n_orders * N_TB * N_CONF
    if shared is not None:
        weight = shared.weight
    else:
        weight = np.empty(n_ng + N_LENB * N_REC * 2, dtype=np.float64)
        weight[:n_ng] = init_ngram
        weight[n_ng:] = init_match
    return Mixer(weight, float(rate), n_orders + 1, n_ng,
                 np.full(MAX_ORDERS + 1, -1, dtype=np.int64),
                 np.zeros(MAX_CANDS, dtype=np.int64),
                 np.zeros((MAX_CANDS, MAX_ORDERS + 1), dtype=np.float64),
                 np.zeros(n_vocab, dtype=np.float64), np.zeros(1, dtype=MIXER_DTYPE))


@numba.njit(cache=True)
def mixer_reset(mixer):
    for f in range(mixer.n_features):
        mixer.feat_index[f] = -1


@numba.njit(cache=True)
def add_candidate(mixer, nc, tok):
    """Row of ``tok`` among this step's candidates (added with zero features if new), and
    the new candidate count; row -1 when the table is full."""
    ctok = mixer.cand_token
    for c in range(nc):
        if ctok[c] == tok:
            return c, nc
    if nc >= ctok.shape[0]:
        return -1, nc
    ctok[nc] = tok
    for f in range(mixer.n_features):
        mixer.cand_phi[nc, f] = 0.0
    return nc, nc + 1


@numba.njit(cache=True)
def mix(mixer, logits, V, m, a, bias, use_bias, unil, wu, use_uni, nc):
    """p = softmax(a (x - m) + bias + wu * unil + sum_f w_f phi_f) into ``mixer.mixed``;
    records the top token and the expectations the learn functions need."""
    pmix = mixer.mixed
    st = mixer.state[0]
    st.n_cands = nc
    zmax = -np.inf
    for v in range(V):
        z = a * (np.float64(logits[v]) - m)
        if use_bias:
            z += bias[v]
        if use_uni:
            z += wu * unil[v]
        pmix[v] = z
    w = mixer.weight
    widx = mixer.feat_index
    cphi = mixer.cand_phi
    nf = mixer.n_features
    for c in range(nc):
        z = 0.0
        for f in range(nf):
            if widx[f] >= 0:
                z += w[widx[f]] * cphi[c, f]
        pmix[mixer.cand_token[c]] += z
    top = 0
    for v in range(V):
        if pmix[v] > zmax:
            zmax = pmix[v]
            top = v
    for v in range(V):
        pmix[v] = exp_clamped(pmix[v] - zmax)
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
    st.expect_x = ex
    st.expect_uni = eu
    st.top = top
    return top


@numba.njit(cache=True)
def mixer_learn(mixer, x):
    """Gradient step on the log loss: dw_f = phi_f(x) - E_p[phi_f], clipped to [-2, 8]."""
    nc = mixer.state[0].n_cands
    ctok = mixer.cand_token
    cphi = mixer.cand_phi
    pmix = mixer.mixed
    w = mixer.weight
    xi = -1
    for c in range(nc):
        if ctok[c] == x:
            xi = c
    lr = mixer.rate
    for f in range(mixer.n_features):
        wi = mixer.feat_index[f]
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


# -- NgramModel --------------------------------------------------------------------------

#: ``orders`` holds one entry per context: the plain orders first (``kinds`` 0: the last k
#: ids), then the structure contexts (``kinds`` > 0, see :class:`nacz.config.StructContext`;
#: their ``orders`` entry is 1), which share the tables, the counting and the features.
NgramModel = namedtuple("NgramModel", "check token count orders ctx_bucket ctx_check "
                                      "mask slots kinds n_plain")


def new_ngram(orders, bits: int, slots: int, shared: "NgramModel | None" = None,
              struct_kinds=()) -> NgramModel:
    nb = 1 << bits
    if shared is not None:
        check, token, count = shared.check, shared.token, shared.count
    else:
        check = np.zeros(nb, dtype=np.int32)
        token = np.full(nb * slots, -1, dtype=np.int32)
        count = np.zeros(nb * slots, dtype=np.int32)
    all_orders = tuple(orders) + (1,) * len(struct_kinds)
    kinds = (0,) * len(orders) + tuple(struct_kinds)
    return NgramModel(check, token, count, np.array(all_orders, dtype=np.int64),
                      np.full(MAX_ORDERS, -1, dtype=np.int64),
                      np.zeros(MAX_ORDERS, dtype=np.int32), nb - 1, int(slots),
                      np.array(kinds, dtype=np.int64), len(orders))


@numba.njit(cache=True)
def ngram_features(ng, n, logits, V, m, inv_s, conf, mixer, nc):
    """For each order whose context was seen: its weight cell, and for each continuation
    phi = ln(1 + (1 - e) c / t / (e p_llm)) with escape e = d / (t + d)."""
    S = ng.slots
    widx = mixer.feat_index
    for o in range(len(ng.orders)):
        if n < ng.orders[o] or ng.ctx_bucket[o] < 0:
            continue
        b = ng.ctx_bucket[o]
        if ng.check[b] != ng.ctx_check[o]:
            continue
        t = 0
        d = 0
        for j in range(S):
            c = ng.count[b * S + j]
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
            c = ng.count[b * S + j]
            tok = ng.token[b * S + j]
            if c <= 0 or tok >= V:
                continue
            ci, nc = add_candidate(mixer, nc, tok)
            if ci < 0:
                continue
            pl = exp_clamped(np.float64(logits[tok]) - m) * inv_s
            r = (1.0 - e) * (c / (t + 0.0)) / (e * pl)
            mixer.cand_phi[ci, o] = portable_log(1.0 + r)
    return nc


@numba.njit(cache=True)
def ngram_top_agreement(ng, feat_index, top):
    """0: no order predicted; 1: the highest order that did counts ``top`` most; 2: not.
    Plain orders only: the structure contexts are not an order."""
    S = ng.slots
    for o in range(ng.n_plain - 1, -1, -1):
        if feat_index[o] >= 0:
            b = ng.ctx_bucket[o]
            best = -1
            bc = 0
            for j in range(S):
                if ng.count[b * S + j] > bc:
                    bc = ng.count[b * S + j]
                    best = ng.token[b * S + j]
            return 1 if best == top else 2
    return 0


@numba.njit(cache=True)
def ngram_count(ng, x):
    """Count ``x`` in the context of every order (halving a context's counts past 250)."""
    S = ng.slots
    for o in range(len(ng.orders)):
        b = ng.ctx_bucket[o]
        if b < 0:
            continue
        base = b * S
        if ng.check[b] != ng.ctx_check[o]:
            ng.check[b] = ng.ctx_check[o]
            for j in range(S):
                ng.count[base + j] = 0
                ng.token[base + j] = -1
        found = -1
        for j in range(S):
            if ng.token[base + j] == x and ng.count[base + j] > 0:
                found = j
                break
        if found >= 0:
            ng.count[base + found] += 1
            if ng.count[base + found] > 250:
                for j in range(S):
                    ng.count[base + j] = (ng.count[base + j] + 1) >> 1
        else:
            # empty slot, else the least counted (first of ties)
            jmin = 0
            cmin = ng.count[base]
            for j in range(1, S):
                if ng.count[base + j] < cmin:
                    cmin = ng.count[base + j]
                    jmin = j
            ng.token[base + jmin] = x
            ng.count[base + jmin] = 1


@numba.njit(cache=True)
def ngram_contexts(ng, hist, V, sm):
    """Hash bucket and check of every order's context for the next prediction (none where
    the context holds an escape id); a structure context's from :func:`struct_hash`."""
    n = hist.state[0].n
    for o in range(len(ng.orders)):
        if ng.kinds[o] > 0:
            h = struct_hash(sm, hist, V, ng.kinds[o])
            if h == np.uint64(0):
                ng.ctx_bucket[o] = -1
                continue
        else:
            k = ng.orders[o]
            if n < k:
                ng.ctx_bucket[o] = -1
                continue
            ok = True
            for j in range(k):
                if hist.ring[(n - 1 - j) & hist.mask] >= V:
                    ok = False
            if not ok:
                ng.ctx_bucket[o] = -1
                continue
            h = context_hash(hist.ring, hist.mask, n, k, k)
        ng.ctx_bucket[o] = np.int64(h >> np.uint64(16)) & ng.mask
        ng.ctx_check[o] = np.int32(np.int64(h >> np.uint64(40)) | 1)


# -- StructModel: where the next id sits in the text's lines, fields and markup -----------

# The kinds (``nacz.config.StructContext``) are contexts of the :class:`NgramModel`: the same
# tables, counts and features as its plain orders.

#: Per id (vocabulary, then the 256 escaped bytes): its byte length; the bytes after its
#: last line feed (-1: none); its number class (0: not a number; 1 digits, 2 space and
#: digits, 3 hex with a digit and a letter); 1 if it ends with '<' or '</'; its bytes.
TokenTable = namedtuple("TokenTable", "length tail klass opens offsets data")


def new_token_table(token_bytes) -> TokenTable:
    """The table of the vocabulary ``token_bytes`` (id -> bytes), plus 256 escaped bytes."""
    ids = list(token_bytes) + [bytes([b]) for b in range(256)]
    n = len(ids)
    length = np.zeros(n, dtype=np.int64)
    tail = np.full(n, -1, dtype=np.int64)
    klass = np.zeros(n, dtype=np.int64)
    opens = np.zeros(n, dtype=np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    hexd = set(b"0123456789abcdefABCDEF")
    for i, b in enumerate(ids):
        length[i] = len(b)
        offsets[i + 1] = offsets[i] + len(b)
        j = b.rfind(b"\n")
        if j >= 0:
            tail[i] = len(b) - 1 - j
        if b and b.isdigit():
            klass[i] = 1
        elif len(b) > 1 and b[:1] == b" " and b[1:].isdigit():
            klass[i] = 2
        elif (len(b) > 1 and all(c in hexd for c in b) and any(48 <= c <= 57 for c in b)
              and not b.isdigit()):
            klass[i] = 3
        if b.endswith(b"<") or b.endswith(b"</"):
            opens[i] = 1
    data = np.frombuffer(b"".join(ids), dtype=np.uint8).copy()
    return TokenTable(length, tail, klass, opens, offsets, data)


StructModel = namedtuple("StructModel", "table state")
#: line: history index of the current line's first id (the one after the id holding its
#: line feed), col: byte column of the next id, prev/prev_end: the previous line's first id
#: and the id holding its line feed (-1: none yet), above: the id of the previous line
#: covering column col, above_end: the column where it ends, head: hash of the line's
#: first ids, tag: the id of the innermost tag name (-1 none), word: hash of the current
#: word's bytes (0: at a word boundary).
STRUCT_DTYPE = np.dtype([("line", np.int64), ("line_col", np.int64), ("col", np.int64),
                         ("prev", np.int64), ("prev_col", np.int64), ("prev_end", np.int64),
                         ("above", np.int64), ("above_end", np.int64),
                         ("head", np.uint64), ("tag", np.int64), ("word", np.uint64)])


def new_struct(table: "TokenTable | None") -> StructModel:
    if table is None:  # unused: a one-id table keeps the types of the kernels
        table = new_token_table([b"\n"])
    st = np.zeros(1, dtype=STRUCT_DTYPE)
    st[0]["prev"] = -1
    st[0]["prev_end"] = -1
    st[0]["above"] = -1
    st[0]["tag"] = -1
    return StructModel(table, st)


@numba.njit(cache=True)
def _is_word_byte(c):
    # letters, digits, '_' and every byte of a multi-byte UTF-8 character
    return (c >= 48 and c <= 57) or (c >= 65 and c <= 90) or (c >= 97 and c <= 122) \
        or c == 95 or c >= 128


@numba.njit(cache=True)
def struct_push(sm, hist, x):
    """Follow the coded id ``x`` (already pushed to ``hist``): column, line, the id above,
    line head, tag and word."""
    tb = sm.table
    st = sm.state[0]
    n = hist.state[0].n  # x sits at n - 1
    ring = hist.ring
    mask = hist.mask
    if x >= tb.length.shape[0]:
        return
    # the current word's bytes
    w = st.word
    for j in range(tb.offsets[x], tb.offsets[x + 1]):
        c = np.uint64(tb.data[j])
        if _is_word_byte(tb.data[j]):
            w = (w ^ (c + np.uint64(1))) * _PHI
            w ^= w >> np.uint64(31)
        else:
            w = np.uint64(0)
    st.word = w
    if n >= 2 and tb.opens[ring[(n - 2) & mask]] == 1:
        st.tag = x
    # line and column
    if tb.tail[x] >= 0:
        st.prev = st.line
        st.prev_col = st.line_col
        st.prev_end = n - 1
        st.line = n
        st.line_col = tb.tail[x]
        st.col = tb.tail[x]
        st.head = np.uint64(0)
        # the id covering column 0.. of the previous line: the one that began it
        st.above = st.prev - 1
        st.above_end = st.prev_col
    else:
        st.col += tb.length[x]
        if n - st.line <= 2:
            hh = (st.head ^ np.uint64(x + 1)) * _PHI
            st.head = hh ^ (hh >> np.uint64(29))
    if st.prev_end < 0 or n - st.prev > mask:
        st.above = -1
        return
    while st.above_end <= st.col and st.above < st.prev_end:
        st.above += 1
        a = ring[st.above & mask]
        if st.above == st.prev_end:
            break  # the id holding the line feed: the line above ends here
        st.above_end += tb.length[a] if a < tb.length.shape[0] else 1


@numba.njit(cache=True)
def _mix(h, v):
    h = (h ^ np.uint64(v)) * _PHI
    return h ^ (h >> np.uint64(29))


@numba.njit(cache=True)
def struct_hash(sm, hist, V, kind):
    """Hash of the structure context ``kind`` for the next id; 0 where it has none."""
    st = sm.state[0]
    tb = sm.table
    n = hist.state[0].n
    ring = hist.ring
    mask = hist.mask
    if n == 0:
        return np.uint64(0)
    last = np.int64(ring[(n - 1) & mask])
    h = np.uint64(1000 + kind) * _PHI
    if kind == _COLUMN or kind == _ABOVE:
        if st.above < 0 or st.prev_end < 0:
            return np.uint64(0)
        a = np.int64(ring[st.above & mask])
        if st.above == st.prev_end:
            a = -2  # past the end of the line above
        a_len = tb.length[a] if 0 <= a < tb.length.shape[0] else 1
        aligned = 1 if st.above_end - a_len == st.col else 0
        h = _mix(h, a + 3)
        h = _mix(h, aligned)
        if kind == _COLUMN:
            h = _mix(h, last + 1)
        else:
            nxt = -1
            if st.above < st.prev_end:
                nxt = np.int64(ring[(st.above + 1) & mask])
            h = _mix(h, nxt + 2)
    elif kind == _MASKED or kind == _MASKED8:
        k = 4 if kind == _MASKED else 8
        if n < k:
            return np.uint64(0)
        masked = 0
        for j in range(k):
            t = np.int64(ring[(n - 1 - j) & mask])
            if 0 <= t < tb.klass.shape[0] and tb.klass[t] > 0:
                t = 1 << 40 | tb.klass[t]
                masked += 1
            h = _mix(h, t + 1)
        if masked == 0:
            return np.uint64(0)
    elif kind == _LINEHEAD:
        h = _mix(h, st.head)
        d = n - st.line
        h = _mix(h, d if d < 15 else 15)
        h = _mix(h, last + 1)
    elif kind == _MARKUP:
        if st.tag < 0:
            return np.uint64(0)
        h = _mix(h, st.tag + 1)
        h = _mix(h, last + 1)
    elif kind == _WORD:
        if st.word == np.uint64(0):
            return np.uint64(0)
        h = _mix(h, st.word)
    return h | np.uint64(1)


# -- MatchModel --------------------------------------------------------------------------

MatchModel = namedtuple("MatchModel", "tab_short tab_long mask min_short min_long hit_prob "
                                      "hit_count state")
#: ptr: history index of the predicted id; length: 0 = no match; record: the last 8
#: outcomes, bit 1 = miss; predicted: the id predicted this step (-1 none); cell: its
#: hit-statistics cell.
MATCH_DTYPE = np.dtype([("ptr", np.int64), ("length", np.int64), ("record", np.int64),
                        ("predicted", np.int64), ("cell", np.int64)])


def new_match(bits: int, min_short: int, min_long: int,
              shared: "MatchModel | None" = None) -> MatchModel:
    if shared is not None:
        hit_prob, hit_count = shared.hit_prob, shared.hit_count
    else:
        hit_prob = np.full(N_LENB * N_REC, 0.5, dtype=np.float64)
        hit_count = np.zeros(N_LENB * N_REC, dtype=np.int64)
    state = np.zeros(1, dtype=MATCH_DTYPE)
    state[0]["predicted"] = -1
    return MatchModel(np.zeros(1 << bits, dtype=np.int64), np.zeros(1 << bits, dtype=np.int64),
                      (1 << bits) - 1, int(min_short), int(min_long), hit_prob, hit_count,
                      state)


@numba.njit(cache=True)
def _length_bucket(n):
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
def _record_bucket(rec):
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
def match_cell(length, record):
    """Hit-statistics cell of a match: its length bucket and its recent misses."""
    return _length_bucket(length) * N_REC + _record_bucket(record)


@numba.njit(cache=True)
def match_features(mm, hist, logits, V, m, inv_s, s, mixer, nc):
    """The match's predicted id as a candidate with phi = ln(1 + q / ((1 - q) p_llm));
    returns the candidate count and the match state (0 none, 1 disagrees with the LLM's
    top token, 2 agrees)."""
    st = mm.state[0]
    st.predicted = -1
    if st.length <= 0:
        return nc, 0
    ptok = hist.ring[st.ptr & hist.mask]
    if ptok >= V:
        return nc, 0
    st.predicted = ptok
    mc = match_cell(st.length, st.record)
    st.cell = mc
    q = mm.hit_prob[mc]
    pl = exp_clamped(np.float64(logits[ptok]) - m) * inv_s
    agree = 1 if pl * s >= 1.0 else 0  # the LLM's top token (e == 1)
    mixer.feat_index[mixer.n_features - 1] = mixer.match_base + (mc * 2 + agree)
    ci, nc = add_candidate(mixer, nc, ptok)
    if ci >= 0:
        mixer.cand_phi[ci, mixer.n_features - 1] = portable_log(1.0 + q / ((1.0 - q) * pl))
    return nc, 1 + agree


@numba.njit(cache=True)
def match_learn(mm, x):
    """Hit probability of the cell that predicted: a count-weighted running mean."""
    st = mm.state[0]
    mc = st.cell
    y = 1.0 if x == st.predicted else 0.0
    cnt = mm.hit_count[mc]
    if cnt < 255:
        mm.hit_count[mc] = cnt + 1
    q = mm.hit_prob[mc] + (y - mm.hit_prob[mc]) / (cnt + 1.5)
    if q < 0.001:
        q = 0.001
    if q > 0.9999:
        q = 0.9999
    mm.hit_prob[mc] = q


@numba.njit(cache=True)
def match_follow(mm, hist, x):
    """Before ``x`` enters the history: extend the match if it predicted ``x``, else end it."""
    st = mm.state[0]
    mlen = st.length
    if mlen > 0:
        hit = hist.ring[st.ptr & hist.mask] == x
        st.record = ((st.record << 1) | (0 if hit else 1)) & 0xFF
        if hit:
            st.ptr += 1
            if mlen < 65535:
                st.length = mlen + 1
        else:
            st.length = 0


@numba.njit(cache=True)
def match_find(mm, hist):
    """After an id entered the history: look for a new match (long context first) if
    there is none, and index the current position in both hash tables."""
    st = mm.state[0]
    n = hist.state[0].n
    ring = hist.ring
    hmask = hist.mask
    min_s = mm.min_short
    min_l = mm.min_long
    hs = np.uint64(0)
    hl = np.uint64(0)
    if n >= min_s:
        hs = context_hash(ring, hmask, n, min_s, 101)
    if n >= min_l:
        hl = context_hash(ring, hmask, n, min_l, 103)
    if st.length == 0:
        for which in range(2):
            if which == 0:
                if n < min_l:
                    continue
                cand = mm.tab_long[np.int64(hl >> np.uint64(20)) & mm.mask]
            else:
                if n < min_s:
                    continue
                cand = mm.tab_short[np.int64(hs >> np.uint64(20)) & mm.mask]
            if cand <= 0 or n - cand >= hmask - 64:
                continue
            k = 0
            while k < 400 and cand - 1 - k >= 0 and \
                    ring[(cand - 1 - k) & hmask] == ring[(n - 1 - k) & hmask]:
                k += 1
            if k >= min_s:
                st.ptr = cand
                st.length = k
                break
    if n >= min_s:
        mm.tab_short[np.int64(hs >> np.uint64(20)) & mm.mask] = n
    if n >= min_l:
        mm.tab_long[np.int64(hl >> np.uint64(20)) & mm.mask] = n


# -- BiasHead ----------------------------------------------------------------------------

BiasHead = namedtuple("BiasHead", "bias rate clip decay")


def new_bias(n_vocab: int, rate: float, clip: float, decay: float,
             shared: "BiasHead | None" = None) -> BiasHead:
    bias = shared.bias if shared is not None else np.zeros(n_vocab, dtype=np.float64)
    return BiasHead(bias, float(rate), float(clip), float(decay))


@numba.njit(cache=True)
def bias_learn(bh, x, pmix, V):
    """SGD on the coding loss, b += rate * (onehot(x) - p), with decay and clipping."""
    bias = bh.bias
    lrb = bh.rate
    clip = bh.clip
    keep = 1.0 - bh.decay
    for v in range(V):
        bias[v] = bias[v] * keep - lrb * pmix[v]
    bias[x] += lrb
    if bias[x] > clip:
        bias[x] = clip
    # lower clip only matters for tokens that keep losing mass
    for v in range(V):
        if bias[v] < -clip:
            bias[v] = -clip


# -- Unigram: the document's own token counts -------------------------------------------

Unigram = namedtuple("Unigram", "count log_count seen weight rate alpha")


def new_unigram(n_vocab: int, rate: float, alpha: float, init_weight: float,
                shared: "Unigram | None" = None) -> Unigram:
    if shared is not None:
        return shared._replace()
    weight = np.full(N_CONF, init_weight, dtype=np.float64)
    return Unigram(np.zeros(n_vocab, dtype=np.float64),
                   np.full(n_vocab, portable_log(alpha), dtype=np.float64),
                   np.zeros(1, dtype=np.int64), weight, float(rate), float(alpha))


@numba.njit(cache=True)
def unigram_learn(uni, x, conf, expect_uni):
    uv = uni.weight[conf] + uni.rate * (uni.log_count[x] - expect_uni)
    if uv < -1.0:
        uv = -1.0
    if uv > 2.0:
        uv = 2.0
    uni.weight[conf] = uv


@numba.njit(cache=True)
def unigram_count(uni, x):
    uni.count[x] += 1.0
    uni.log_count[x] = portable_log(uni.count[x] + uni.alpha)
    uni.seen[0] += 1


# -- TemperatureScaler: a learned inverse temperature per confidence and match state -----

TemperatureScaler = namedtuple("TemperatureScaler", "weight rate state")
TEMPERATURE_DTYPE = np.dtype([("cell", np.int64)])


def new_temperature(rate: float, shared: "TemperatureScaler | None" = None) -> TemperatureScaler:
    weight = shared.weight if shared is not None else np.ones(N_CONF * N_MSTATE, np.float64)
    return TemperatureScaler(weight, float(rate), np.zeros(1, dtype=TEMPERATURE_DTYPE))


@numba.njit(cache=True)
def temperature_scale(ts, conf, mstate):
    cell = conf * N_MSTATE + mstate
    ts.state[0].cell = cell
    return ts.weight[cell]


@numba.njit(cache=True)
def temperature_learn(ts, x, logits, m, expect_x):
    g = (np.float64(logits[x]) - m) - expect_x
    cell = ts.state[0].cell
    av = ts.weight[cell] + ts.rate * g
    if av < 0.25:
        av = 0.25
    if av > 4.0:
        av = 4.0
    ts.weight[cell] = av


# -- APM: secondary estimation of the top token's probability ----------------------------

APM = namedtuple("APM", "table rate mix state")
APM_DTYPE = np.dtype([("cell", np.int64), ("frac", np.float64)])


def new_apm(rate: float, mix_share: float, shared: "APM | None" = None) -> APM:
    if shared is not None:
        table = shared.table
    else:
        table = np.empty(APM_CTX * APM_N, dtype=np.float64)
        for i in range(APM_N):
            table[i::APM_N] = squash(-8.0 + 16.0 * i / (APM_N - 1))
    return APM(table, float(rate), float(mix_share), np.zeros(1, dtype=APM_DTYPE))


@numba.njit(cache=True)
def apm_refine(apm, p, ctx):
    """``p`` mixed with the table's interpolated estimate at stretch(p) in context ``ctx``."""
    pc = p
    if pc < 1e-6:
        pc = 1e-6
    if pc > 1.0 - 1e-9:
        pc = 1.0 - 1e-9
    st = stretch(pc)
    if st < -7.999:
        st = -7.999
    if st > 7.999:
        st = 7.999
    pos = (st + 8.0) * ((APM_N - 1) / 16.0)
    lo = np.int64(np.floor(pos))
    fr = pos - lo
    ia = ctx * APM_N + lo
    rec = apm.state[0]
    rec.cell = ia
    rec.frac = fr
    pa = apm.table[ia] * (1.0 - fr) + apm.table[ia + 1] * fr
    pfin = p * (1.0 - apm.mix) + pa * apm.mix
    if pfin > 1.0 - 1e-12:
        pfin = 1.0 - 1e-12
    if pfin < 1e-12:
        pfin = 1e-12
    return pfin


@numba.njit(cache=True)
def apm_learn(apm, y):
    rec = apm.state[0]
    ia = rec.cell
    fr = rec.frac
    apm.table[ia] += (y - apm.table[ia]) * apm.rate * (1.0 - fr)
    apm.table[ia + 1] += (y - apm.table[ia + 1]) * apm.rate * fr


# -- AdaptiveBit: an integer adaptive binary probability per context -----------------------


class AdaptiveBit:
    """P(1) = (n1 + 1/scale) / (n + 2/scale) per context, in integer arithmetic only.

    ``scale=2`` is the Krichevsky-Trofimov estimate (n1 + 1/2) / (n + 1); a larger scale
    is a sharper prior, for bits that are nearly deterministic in most contexts. With
    ``count_limit``, a context's counts are halved past that total, so the estimate follows
    a source that changes. No float decides a bit, so both sides agree on every machine.
    """

    def __init__(self, n_contexts: int, scale: int = 2, count_limit: int = 0):
        self.counts = np.zeros((n_contexts, 2), dtype=np.int64)
        self.scale = int(scale)
        self.count_limit = int(count_limit)
        self._cdf = np.array([0, 0, TOTAL], dtype=np.int64)

    def cdf(self, ctx: int) -> np.ndarray:
        """The two-symbol CDF of context ``ctx`` (a buffer valid until the next call)."""
        n0, n1 = int(self.counts[ctx, 0]), int(self.counts[ctx, 1])
        f1 = ((self.scale * n1 + 1) << PRECISION_BITS) // (self.scale * (n0 + n1) + 2)
        self._cdf[1] = TOTAL - min(max(f1, 1), TOTAL - 1)
        return self._cdf

    def update(self, ctx: int, bit: int) -> None:
        c = self.counts[ctx]
        c[bit] += 1
        if self.count_limit and c[0] + c[1] > self.count_limit:
            c[0] = (c[0] + 1) // 2
            c[1] = (c[1] + 1) // 2
