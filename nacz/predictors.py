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
* "STRUCT" (off by default): structure contexts (``CodecConfig.struct_contexts``: the token
  above at the same byte column, number-masked contexts, line head, markup tag, word bytes;
  :func:`nacz.components.struct_hash`) are more contexts of the n-gram model after its
  orders, with the same phi and their own weights; they need the vocabulary's bytes
  (``token_table``).
* "APM": an SSE stage refines the probability of the most likely token given the match
  and n-gram agreement, and rescales the others.

Structure: each model is a piece of :mod:`nacz.components` with its own named state and
its own predict and learn functions; :func:`_predict` and :func:`_update` below call them
in a fixed order, and that order is part of the format (it decides every float).

Parallel steps: :class:`StepPredictors` computes the predictions (and quantized CDFs) of
every stream of a lockstep step at once, one stream per thread (:func:`_predict_streams`).
A prediction reads learned state and writes only its own stream's scratch, so the streams'
results do not depend on each other, on the thread count or on scheduling; updates then
run in stream order, one after another. That equals the sequential order exactly when the
streams share nothing, and is the definition of ``Predictor.SYNC`` when they share.

Determinism: all kernels are ``njit(cache=True)`` WITHOUT fastmath; floating point is
IEEE float64 in a fixed sequential order; exp and log are the portable polynomial
implementations (:func:`nacz.coder.quantize._portable_exp`,
:func:`nacz.components.portable_log`), never libm; hashes are uint64 integer arithmetic; no
dicts, no time-dependent state, and threads only across streams, never inside one stream's
arithmetic.

Memory: history ring 4 * 2**hist_bits bytes; n-gram table
2**ngram_bits * (8 * slots + 4) bytes; match tables 8 * 2**match_bits bytes each (2);
bias, unigram and scratch 40 * V bytes. Defaults: 4 + 17 + 4 + 1.9 MiB ~= 27 MiB. A stream
sharing another's learned state (``SHARED_STATE``) adds only its history, match tables and
scratch: 4 + 4 + 0.8 MiB.
"""

from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np

from . import components as C
from .coder import quantize_probabilities_kernel, raise_quantization_error
from .config import CodecConfig, Predictor

# The bits as plain ints: the kernels below read them as compile-time constants.
_BIAS = int(Predictor.BIAS)
_NGRAM = int(Predictor.NGRAM)
_MATCH = int(Predictor.MATCH)
_TEMP = int(Predictor.TEMP)
_APM = int(Predictor.APM)
_UNIGRAM = int(Predictor.UNIGRAM)
_STRUCT = int(Predictor.STRUCT)

#: One stream's predictor state: the config's component bits, the vocabulary size, the
#: step record, and each piece (see :mod:`nacz.components`).
PredictorState = namedtuple("PredictorState", "flags n_vocab step history ngram match bias "
                                              "unigram temperature mixer apm struct")

#: The pieces whose learned tables the streams of a group share under ``Predictor.SHARED`` (see
#: :mod:`nacz.components`); history, match tables and scratch stay per stream. Streams
#: update the shared tables one after another in a fixed order (the lockstep order), so
#: encoder and decoder see the same values at every prediction.
SHARED_STATE = ("ngram", "match", "bias", "unigram", "temperature", "mixer", "apm")


@numba.njit(cache=True)
def _predict(logits, out, ps):
    """Mixed distribution for the next token into ``out``; touches only scratch."""
    V = ps.n_vocab
    flags = ps.flags
    step = ps.step[0]
    mixer = ps.mixer
    # 1. the LLM's softmax statistics
    C.llm_softmax(logits, out, V, step)
    m = step.max_logit
    s = step.sum_exp
    conf = step.conf
    inv_s = 1.0 / s
    # 2. candidates and their sparse features
    C.mixer_reset(mixer)
    nc = 0
    n = ps.history.state[0].n
    if flags & _NGRAM:
        nc = C.ngram_features(ps.ngram, n, logits, V, m, inv_s, conf, mixer, nc)
    ps.match.state[0].predicted = -1
    mstate = 0
    if flags & _MATCH:
        nc, mstate = C.match_features(ps.match, ps.history, logits, V, m, inv_s, s, mixer, nc)
    # 3. mixed logits
    a = 1.0
    if flags & _TEMP:
        a = C.temperature_scale(ps.temperature, conf, mstate)
    use_bias = (flags & _BIAS) != 0
    use_uni = (flags & _UNIGRAM) != 0
    uni = ps.unigram
    wu = uni.weight[conf] if use_uni else 0.0
    top = C.mix(mixer, logits, V, m, a, ps.bias.bias, use_bias, uni.log_count, wu, use_uni,
                nc)
    pmix = mixer.mixed
    # 4. APM on the top token; the others share what it takes or gives
    ptop = pmix[top]
    pfin = ptop
    if flags & _APM:
        hi = C.ngram_top_agreement(ps.ngram, mixer.feat_index, top)
        actx = (mstate * 3 + hi) + (9 if conf >= 3 else 0)
        if actx >= C.APM_CTX:
            actx = C.APM_CTX - 1
        pfin = C.apm_refine(ps.apm, ptop, actx)
    if pfin != ptop and ptop < 1.0:
        sc = (1.0 - pfin) / (1.0 - ptop)
        for v in range(V):
            out[v] = pmix[v] * sc
        out[top] = pfin
    else:
        for v in range(V):
            out[v] = pmix[v]
    step.predicted = 1


@numba.njit(cache=True)
def _update(x, logits, ps):
    """Learn from the coded id ``x`` (>= n_vocab: an escape, which trains nothing) and
    prepare the contexts of the next prediction."""
    V = ps.n_vocab
    flags = ps.flags
    step = ps.step[0]
    mixer = ps.mixer
    # 1. learning, for a coded vocabulary token that was predicted
    if step.predicted == 1 and x < V:
        C.mixer_learn(mixer, x)
        mst = mixer.state[0]
        if flags & _TEMP:
            C.temperature_learn(ps.temperature, x, logits, step.max_logit, mst.expect_x)
        if flags & _UNIGRAM:
            C.unigram_learn(ps.unigram, x, step.conf, mst.expect_uni)
        if flags & _BIAS:
            C.bias_learn(ps.bias, x, mixer.mixed, V)
        if flags & _APM:
            C.apm_learn(ps.apm, 1.0 if x == mst.top else 0.0)
        if ps.match.state[0].predicted >= 0:
            C.match_learn(ps.match, x)
    step.predicted = 0
    if x < V:
        C.unigram_count(ps.unigram, x)
        # 2. n-gram counts for the contexts that predicted x
        C.ngram_count(ps.ngram, x)
    # 3. history and match model
    C.match_follow(ps.match, ps.history, x)
    C.history_push(ps.history, x)
    if flags & _STRUCT:
        C.struct_push(ps.struct, ps.history, x)
    C.match_find(ps.match, ps.history)
    # 4. contexts for the next prediction
    C.ngram_contexts(ps.ngram, ps.history, V, ps.struct)


@numba.njit(cache=True)
def _predict_cheap(out, ps):
    """Distribution without the LLM: match prediction (if any) over a unigram of the past."""
    V = ps.n_vocab
    st = ps.match.state[0]
    ring = ps.history.ring
    q = 0.0
    ptok = -1
    if st.length > 0:
        ptok = ring[st.ptr & ps.history.mask]
        if ptok < V:
            q = ps.match.hit_prob[C.match_cell(st.length, st.record)]
        else:
            ptok = -1
    uni = ps.unigram
    den = uni.seen[0] + 0.05 * V
    for v in range(V):
        out[v] = (1.0 - q) * (uni.count[v] + 0.05) / den
    if ptok >= 0:
        out[ptok] += q
    return q


def new_predictor_state(n_vocab: int, cfg: CodecConfig,
                        shared: PredictorState | None = None,
                        token_table: "C.TokenTable | None" = None) -> PredictorState:
    """One stream's pieces, built from ``cfg``; with ``shared``, their learned tables are
    ``shared``'s own arrays. ``token_table`` (the vocabulary's bytes) is needed only by the
    structure contexts (``Predictor.STRUCT``)."""
    struct_kinds = cfg.struct_contexts if cfg.predictors & Predictor.STRUCT else ()
    if struct_kinds and token_table is None:
        raise ValueError("the structure contexts need the vocabulary's token table")
    if struct_kinds and len(token_table.length) != n_vocab + 256:
        raise ValueError("the token table is not this vocabulary's")
    nord = len(cfg.ngram_orders) + len(struct_kinds)
    if not 1 <= nord <= C.MAX_ORDERS:
        raise ValueError(f"1..{C.MAX_ORDERS} n-gram and structure contexts")
    sh = shared if shared is not None else PredictorState(*([None] * len(PredictorState._fields)))
    return PredictorState(
        flags=int(cfg.predictors),
        n_vocab=int(n_vocab),
        step=np.zeros(1, dtype=C.STEP_DTYPE),
        history=C.new_history(cfg.history_bits),
        ngram=C.new_ngram(cfg.ngram_orders, cfg.ngram_bits, cfg.ngram_slots, sh.ngram,
                          struct_kinds),
        match=C.new_match(cfg.match_bits, cfg.match_min, cfg.match_long, sh.match),
        bias=C.new_bias(n_vocab, cfg.rate_bias, cfg.bias_clip, cfg.bias_decay, sh.bias),
        unigram=C.new_unigram(n_vocab, cfg.rate_unigram, cfg.unigram_alpha,
                              cfg.init_unigram_weight, sh.unigram),
        temperature=C.new_temperature(cfg.rate_temp, sh.temperature),
        mixer=C.new_mixer(n_vocab, nord, cfg.rate_mix, cfg.init_ngram_weight,
                          cfg.init_match_weight, sh.mixer),
        apm=C.new_apm(cfg.rate_apm, cfg.apm_mix, sh.apm),
        struct=C.new_struct(token_table if struct_kinds else None),
    )


class _CompiledCall:
    """A Numba kernel called through the machine code compiled for its argument types.

    The dispatcher resolves the types of every call's arguments, and for the nested named
    tuples of :data:`PredictorState` it does so in Python: about 13 µs a call here
    (bench/predictor_time.py), twice per token and stream. The first call with a given
    ``key`` goes through the dispatcher (which compiles or loads the cache); later calls
    with that key use the entry point of exactly those argument types. The key names what
    can vary between calls (the logits' dtype, layout and flags); everything else a call
    passes is fixed for the instance. The same machine code runs either way, so the
    numbers, and the bits, are the dispatcher's.
    """

    def __init__(self, kernel):
        self.kernel = kernel
        self._entries: dict = {}

    def __call__(self, key, *args):
        entry = self._entries.get(key)
        if entry is not None:
            return entry(*args)
        result = self.kernel(*args)
        try:
            sig = tuple(numba.typeof(a) for a in args)
            self._entries[key] = self.kernel.overloads[sig].entry_point
        except (KeyError, AttributeError, ValueError):
            self._entries[key] = self.kernel  # stay with the dispatcher
        return result


def _array_key(a: np.ndarray):
    flags = a.flags
    return (a.dtype.str, a.ndim, flags.c_contiguous, flags.f_contiguous, flags.writeable,
            flags.aligned)


class Predictors:
    """All online state of the cheap predictors and the mixer for one token stream."""

    def __init__(self, n_vocab: int, cfg: CodecConfig, shared_with: "Predictors | None" = None,
                 token_table: "C.TokenTable | None" = None):
        """State for one stream. With ``shared_with``, the learned tables (see
        :data:`SHARED_STATE`) are that instance's own arrays, so every stream of a lockstep
        group learns from all of them; history, match tables and scratch stay per stream.
        ``token_table``: the vocabulary's bytes, for the structure contexts."""
        if shared_with is not None and (shared_with.cfg != cfg
                                        or shared_with.n_vocab != int(n_vocab)):
            raise ValueError("streams sharing predictor state need the same config")
        self.cfg = cfg
        self.n_vocab = int(n_vocab)
        self.state = new_predictor_state(
            n_vocab, cfg, shared_with.state if shared_with is not None else None, token_table)
        self.out = np.zeros(self.n_vocab, dtype=np.float64)
        self._logits = None
        # what update() reads as logits when nothing was predicted (it reads none then)
        self._no_logits = np.zeros(self.n_vocab, dtype=np.float32)
        self._no_logits_key = _array_key(self._no_logits)
        self._logits_key = self._no_logits_key
        self._predict = _CompiledCall(_predict)
        self._update = _CompiledCall(_update)

    def predict(self, logits: np.ndarray) -> np.ndarray:
        """Mixed distribution for the next token (float64[V] > 0; a view valid until the
        next call). ``logits`` must stay unchanged until :meth:`update`."""
        self.hold_logits(logits)
        self._predict(self._logits_key, logits, self.out, self.state)
        return self.out

    def hold_logits(self, logits: np.ndarray | None) -> None:
        """The logits the pending prediction was made from (None: without the LLM), which
        :meth:`update` learns from; :class:`StepPredictors` predicts outside this class."""
        self._logits = logits
        if logits is not None:
            self._logits_key = _array_key(logits)  # update() passes the same logits

    def update(self, token: int) -> None:
        """Learn from the coded ``token`` and move to the next position."""
        if self._logits is not None:
            logits, key = self._logits, self._logits_key
        else:
            logits, key = self._no_logits, self._no_logits_key
        self._update(key, int(token), logits, self.state)
        self._logits = None

    # -- confidence skip (experimental) ------------------------------------------------
    def match_state(self) -> tuple[int, float]:
        """(match length, learned hit probability) for the next token; (0, 0.0) if none."""
        st = self.state.match.state[0]
        mlen = int(st["length"])
        if mlen == 0:
            return 0, 0.0
        mc = C.match_cell(mlen, int(st["record"]))
        return mlen, float(self.state.match.hit_prob[mc])

    def predict_cheap(self) -> np.ndarray:
        """LLM-free distribution (match over a unigram of the past), for skipped steps."""
        _predict_cheap(self.out, self.state)
        return self.out


@numba.njit(parallel=True, cache=True)
def _predict_streams(logits, rows, order, states, probs, cdfs, errors):
    """For each k, stream ``s = order[k]``: its distribution from ``logits[rows[k]]`` (the
    LLM-free one where ``rows[k] < 0``) into ``probs[s]``, quantized into ``cdfs[s]``; a
    quantizer error code and index into ``errors[s]``. Iterations touch only their own
    stream's scratch and rows, and read the learned state, so they run in any order."""
    for k in numba.prange(order.shape[0]):
        s = order[k]
        ps = states[s]
        r = rows[k]
        if r >= 0:
            _predict(logits[r], probs[s], ps)
        else:
            _predict_cheap(probs[s], ps)
        code, index = quantize_probabilities_kernel(probs[s], cdfs[s])
        errors[s, 0] = code
        errors[s, 1] = index


class StepPredictors:
    """The predictions of all streams of a lockstep step, computed in parallel threads.

    Usable when a stream's prediction does not depend on the updates of the other streams
    in the same step: streams with their own state, or shared state under ``Predictor.SYNC``.
    Per step: :meth:`predict` once for the step's streams, then each stream's
    :meth:`Predictors.update` in stream order (``cdf(s)`` is valid until then).
    """

    def __init__(self, predictors: "list[Predictors]", threads: int | None = None):
        from numba.typed import List

        self.predictors = predictors
        n, V = len(predictors), predictors[0].n_vocab
        self._states = List([p.state for p in predictors])
        self._probs = np.zeros((n, V), dtype=np.float64)
        self.cdfs = np.zeros((n, V + 1), dtype=np.int64)
        self._errors = np.zeros((n, 2), dtype=np.int64)
        #: Threads of the parallel kernel (at most Numba's pool); None: Numba's setting.
        self.threads = threads

    def predict(self, order: np.ndarray, logits: np.ndarray, rows: np.ndarray) -> None:
        """Predict streams ``order[k]`` from logits rows ``rows[k]`` (-1: without the
        LLM). ``logits`` (2-D, float32) must stay unchanged until the streams' updates."""
        order = np.ascontiguousarray(order, dtype=np.int64)
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        for k in range(len(order)):
            self.predictors[order[k]].hold_logits(logits[rows[k]] if rows[k] >= 0 else None)
        prev = numba.get_num_threads()
        if self.threads:
            numba.set_num_threads(max(1, min(int(self.threads), numba.config.NUMBA_NUM_THREADS)))
        try:
            _predict_streams(logits, rows, order, self._states, self._probs, self.cdfs,
                             self._errors)
        finally:
            numba.set_num_threads(prev)
        for s in order:
            if self._errors[s, 0]:
                raise_quantization_error(int(self._errors[s, 0]), int(self._errors[s, 1]))
