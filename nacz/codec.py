"""The neural token codec: model logits -> integer CDFs -> arithmetic coder, per stream.

A group of token streams (shards) is coded in lockstep: at each step every stream that
still has tokens codes one token, then every stream that still needs a prediction feeds
that token to the model, all in one ``StreamSet.advance`` call.

Invariants:
- Encoder and decoder run the same loop: the same streams, in the same order, fed the same
  tokens in the same calls, and the same integer CDF per token. Only the symbol direction
  differs. Nothing in the loop depends on timing, threads or the number of worker processes.
- The CDF of a vocabulary token comes from :class:`TokenModels`: the LLM's softmax alone
  (``config.predictors == 0``) or the predictors' mix of it (``nacz.predictors``), each
  stream with its own predictor state, updated with every coded id (escapes included)
  right after it is coded, on both sides.
- The confidence skip is decided from predictor state only (known to both sides) before the
  call that would compute the logits, so the encoder and the decoder skip the same rows.
- Each stream starts with ``config.start_token`` at position 0; the first real token is
  coded with the model's prediction after it.
- A stream of n tokens is coded with n CDFs and needs n decode calls: the last token is
  not fed to the model, since nothing after it is predicted.
- The numerics fingerprint is a function of what :func:`numerics_cache_key` covers (the
  model, the config, the llama.cpp build, CPU and device, the numeric libraries and the
  source of every module on the CDF path), so it is cached per key; a changed key runs the
  probe again.
"""

from __future__ import annotations

import hashlib
import math
import os
from typing import Callable, Sequence

import numpy as np

from .backend import LlamaBackend
from .coder import (
    PRECISION_BITS,
    ArithmeticDecoder,
    ArithmeticEncoder,
    quantize_logits,
    quantize_probabilities,
)
from . import interrupts
from .components import AdaptiveBit
from .config import CodecConfig, Predictor
from .tokenizer import ESCAPE_STANDIN_BYTE, vocabulary_bytes

#: Called as progress(tokens_done, bytes_done, coded_bits) from time to time.
Progress = Callable[[int, int, int], None]

#: Tokens fed to the fingerprint probe; plain ASCII so every tokenizer splits it alike.
_PROBE_TEXT = b"The numerics probe: 0123456789, lorem ipsum dolor sit amet; {x: [1, 2]}\n"


def plan_shards(n_tokens: int, cfg: CodecConfig) -> list[tuple[int, int]]:
    """Split ``n_tokens`` into contiguous shards [start, end), at most ``max_streams``.

    A file stays one stream unless each shard gets at least ``min_shard_tokens`` tokens.
    """
    if n_tokens == 0:
        return []
    n = max(1, min(cfg.max_streams, n_tokens // cfg.min_shard_tokens))
    bounds = [round(i * n_tokens / n) for i in range(n + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(n)]


#: Escaped raw bytes are uniform: the tokenizer escapes only bytes the vocabulary lacks.
UNIFORM_BYTE_CDF = np.arange(257, dtype=np.int64) << (PRECISION_BITS - 8)


def escape_flags(n_streams: int) -> AdaptiveBit:
    """Per stream, the adaptive probability that the next id is an escaped raw byte:
    Krichevsky-Trofimov, (escapes + 1/2) / (ids + 1), so text without escapes pays about
    0.7 ln(n) bits in all for n tokens."""
    return AdaptiveBit(n_streams, scale=2)


def cdf_cost(cdf: np.ndarray, symbol: int) -> float:
    """The bits an ideal coder spends on ``symbol`` under the integer CDF ``cdf``: -log2 of
    its frequency over the total (the arithmetic coder spends this within a few bits per
    stream)."""
    return -math.log2((int(cdf[symbol + 1]) - int(cdf[symbol])) / int(cdf[-1]))


class TokenModels:
    """The probability model of vocabulary tokens, for each stream of a lockstep group."""

    def __init__(self, n_streams: int, n_vocab: int, cfg: CodecConfig,
                 threads: int | None = None, token_table=None):
        """``threads``: how many threads compute a step's predictions where the streams'
        predictions are independent (see :attr:`parallel`); a speed setting only.
        ``token_table``: the vocabulary's bytes (:func:`token_table`), which the structure
        contexts (``Predictor.STRUCT``) need."""
        self.cfg = cfg
        self.n_vocab = n_vocab
        self._cdf = np.empty(n_vocab + 1, dtype=np.int64)
        self._predictors = None
        self._scaled = None
        self._step = None
        #: Streams whose CDF :meth:`prepare` computed for the current step.
        self._prepared = np.zeros(n_streams, dtype=bool)
        #: Tokens coded without the LLM's distribution (confidence skip).
        self.skipped = 0
        if cfg.predictors:
            from .predictors import Predictors, StepPredictors

            first = Predictors(n_vocab, cfg, token_table=token_table)
            # Predictor.SHARED: the group's streams share learned state; the lockstep loop codes
            # (predict, code, update) one stream after another in a fixed order per step.
            share = first if cfg.predictors & Predictor.SHARED else None
            self._predictors = [first] + [
                Predictors(n_vocab, cfg, shared_with=share, token_table=token_table)
                for _ in range(n_streams - 1)
            ]
            if cfg.temperature != 1.0:
                # One buffer per stream: Predictors.update reads the logits it predicted from.
                self._scaled = np.empty((n_streams, n_vocab), dtype=np.float32)
            if self.parallel:
                self._step = StepPredictors(self._predictors, threads)
        #: Shared state under Predictor.SYNC in more than one stream: one at a time would be
        #: another bitstream, so :meth:`cdf` refuses to predict outside :meth:`prepare`.
        self._sync_group = bool(cfg.predictors & Predictor.SYNC) and n_streams > 1

    @property
    def parallel(self) -> bool:
        """Whether a step's predictions are independent of each other, so :meth:`prepare`
        computes them all at once in parallel: streams that share no state (the same bits
        as one at a time), or shared state under ``Predictor.SYNC`` (which defines them so)."""
        p = self.cfg.predictors
        return bool(p) and (not p & Predictor.SHARED or bool(p & Predictor.SYNC))

    def prepare(self, streams: np.ndarray, logits: np.ndarray, want: np.ndarray) -> None:
        """At the start of a lockstep step: compute the CDFs of ``streams`` (the step's
        streams in order; ``logits`` has one row per stream with ``want`` true), so that
        :meth:`cdf` returns them. Does nothing unless :attr:`parallel`."""
        if self._step is None:
            return
        rows = np.full(len(streams), -1, dtype=np.int64)
        rows[want] = np.arange(int(np.count_nonzero(want)))
        if self._scaled is not None:
            inv_t = np.float32(1.0 / self.cfg.temperature)
            for k, s in enumerate(streams):
                if rows[k] >= 0:
                    # the sequential path's own float32 multiply, hence its bits
                    np.multiply(logits[rows[k]], inv_t, out=self._scaled[s])
                    rows[k] = s
            logits = self._scaled
        self._step.predict(streams, logits, rows)
        self._prepared[streams] = True

    def cdf(self, stream: int, logits: np.ndarray | None) -> np.ndarray:
        """Integer CDF of the next token; ``logits`` is None for a skipped token."""
        cfg = self.cfg
        if self._predictors is None:
            return quantize_logits(logits, cfg.temperature, out=self._cdf)
        if self._prepared[stream]:
            self._prepared[stream] = False
            if logits is None:
                self.skipped += 1
            return self._step.cdfs[stream]
        if self._sync_group:
            raise RuntimeError("a Predictor.SYNC group predicts through prepare() at every step")
        pr = self._predictors[stream]
        if logits is None:
            self.skipped += 1
            probs = pr.predict_cheap()
        else:
            if self._scaled is not None:
                # A single float32 multiply per element: the same bits on every IEEE machine.
                logits = np.multiply(logits, np.float32(1.0 / cfg.temperature),
                                     out=self._scaled[stream])
            probs = pr.predict(logits)
        return quantize_probabilities(probs, out=self._cdf)

    def update(self, stream: int, token: int) -> None:
        """Learn from the id just coded (escape ids included) and move to the next one."""
        if self._predictors is not None:
            self._prepared[stream] = False  # an escape: its prepared CDF goes unused
            self._predictors[stream].update(token)

    def wants_logits(self, stream: int) -> bool:
        """Whether the next token of ``stream`` needs the LLM's distribution."""
        cfg = self.cfg
        if self._predictors is None or cfg.skip_min_match == 0:
            return True
        length, confidence = self._predictors[stream].match_state()
        return not (length >= cfg.skip_min_match and confidence >= cfg.skip_confidence)


class EncodeSide:
    """The encoder's side of :class:`CodingStep`: each stream's ids are known and go into
    one arithmetic encoder per stream."""

    def __init__(self, streams: Sequence[np.ndarray]):
        self.streams = streams
        self.encoders = [ArithmeticEncoder() for _ in streams]

    def known_id(self, s: int, step: int) -> int | None:
        return int(self.streams[s][step])

    def symbol(self, s: int, cdf: np.ndarray, symbol: int | None) -> int:
        self.encoders[s].encode(cdf, symbol)
        return symbol

    def coded(self, s: int, step: int, tok: int) -> None:
        pass

    def coded_bits(self) -> int:
        return sum(e.bits_written for e in self.encoders)

    def payloads(self) -> list[bytes]:
        return [e.finish() for e in self.encoders]


class DecodeSide:
    """The decoder's side of :class:`CodingStep`: ids come out of one arithmetic decoder
    per stream, into one array per stream."""

    def __init__(self, payloads: Sequence[bytes], lengths: Sequence[int]):
        self.decoders = [ArithmeticDecoder(p) for p in payloads]
        self.ids = [np.empty(n, dtype=np.int32) for n in lengths]
        self._bits = 8 * sum(len(p) for p in payloads)

    def known_id(self, s: int, step: int) -> int | None:
        return None

    def symbol(self, s: int, cdf: np.ndarray, symbol: int | None) -> int:
        return self.decoders[s].decode(cdf)

    def coded(self, s: int, step: int, tok: int) -> None:
        self.ids[s][step] = tok

    def coded_bits(self) -> int:
        return self._bits


class CostSide:
    """A measuring side of :class:`CodingStep`: the ids are known, and what an ideal coder
    spends on each (:func:`cdf_cost`, escape flag included) lands in ``bits[s][step]``."""

    def __init__(self, streams: Sequence[np.ndarray]):
        self.streams = streams
        self.bits = [np.zeros(len(t), dtype=np.float64) for t in streams]
        self._pending = 0.0

    def known_id(self, s: int, step: int) -> int | None:
        return int(self.streams[s][step])

    def symbol(self, s: int, cdf: np.ndarray, symbol: int | None) -> int:
        self._pending += cdf_cost(cdf, symbol)
        return symbol

    def coded(self, s: int, step: int, tok: int) -> None:
        self.bits[s][step] = self._pending
        self._pending = 0.0

    def coded_bits(self) -> int:
        return round(sum(float(b.sum()) for b in self.bits))


class CodingStep:
    """One id of one stream, the same for every side (encode, decode, measure): the
    stream's escape flag, then the raw byte (an escape) or the token under the token model,
    then the models learn the id. Only ``side.symbol`` differs by direction, so the
    encoder's and the decoder's CDFs cannot drift apart.

    A side has ``known_id(s, step)`` (None when decoding), ``symbol(s, cdf, symbol)`` (codes
    or measures ``symbol``, or decodes one, under ``cdf``; returns it), ``coded(s, step,
    id)`` and ``coded_bits()`` (for progress).
    """

    def __init__(self, side, models: TokenModels, n_streams: int):
        self.side = side
        self.models = models
        self.n_vocab = models.n_vocab
        self.escapes = escape_flags(n_streams)

    def __call__(self, s: int, logits: np.ndarray | None, step: int) -> int:
        side, n_vocab = self.side, self.n_vocab
        tok = side.known_id(s, step)
        escaped = side.symbol(s, self.escapes.cdf(s), None if tok is None else int(tok >= n_vocab))
        self.escapes.update(s, escaped)
        if escaped:
            byte = side.symbol(s, UNIFORM_BYTE_CDF, None if tok is None else tok - n_vocab)
            tok = n_vocab + byte
        else:
            tok = side.symbol(s, self.models.cdf(s, logits), tok)
        self.models.update(s, tok)
        side.coded(s, step, tok)
        return tok

    def wants_logits(self, s: int) -> bool:
        return self.models.wants_logits(s)

    def prepare(self, streams: np.ndarray, logits: np.ndarray, want: np.ndarray) -> None:
        self.models.prepare(streams, logits, want)

    def coded_bits(self) -> int:
        return self.side.coded_bits()


def lockstep(backend: LlamaBackend, lengths: Sequence[int], cfg: CodecConfig, step,
             progress: Progress | None = None) -> None:
    """Drive ``step`` (a :class:`CodingStep`, or an object with its four methods) over all
    streams in lockstep.

    The seam every user of the model's per-token distribution goes through (the encoder,
    the decoder, ``nacz.explain``, the bench). ``step(stream, logits, k) -> id`` codes (or
    decodes, or measures) the id at step ``k`` of ``stream`` given the model's logits for
    it (a view valid during the call; None where ``step.wants_logits(stream)`` said no);
    escape ids (>= n_vocab) are fed to the model as the escape stand-in.
    ``step.prepare(streams, logits, want)`` is called once per step before any id of it,
    with the step's streams, the call's logits rows and which streams have a row
    (:meth:`TokenModels.prepare`). ``progress(tokens, bytes, step.coded_bits())`` is
    called every 16 steps and at the end.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    live = [s for s in range(len(lengths)) if lengths[s] > 0]
    if not live:
        return
    n_vocab = backend.n_vocab
    standin = escape_standin(backend)
    token_bytes = token_lengths(backend)
    tokens_done = 0
    bytes_done = 0
    with backend.open_streams(len(lengths), cfg.window, cfg.evict, cfg.flash_attn) as streams:
        ids = np.array(live, dtype=np.int64)
        want = np.ones(len(ids), dtype=bool)
        logits = streams.advance(ids, np.full(len(ids), cfg.start_token, dtype=np.int64), want)
        k = 0
        while len(ids):
            interrupts.check()  # a Ctrl-C that a callback swallowed stops here
            step.prepare(ids, logits, want)
            fed = np.empty(len(ids), dtype=np.int64)
            row = 0
            for j, s in enumerate(ids):
                if want[j]:
                    tok = step(int(s), logits[row], k)
                    row += 1
                else:
                    tok = step(int(s), None, k)
                bytes_done += int(token_bytes[tok])
                fed[j] = tok if tok < n_vocab else standin
            tokens_done += len(ids)
            k += 1
            more = lengths[ids] > k
            ids, fed = ids[more], fed[more]
            if progress is not None and (k % 16 == 0 or not len(ids)):
                progress(tokens_done, bytes_done, step.coded_bits())
            if len(ids):
                want = np.array([step.wants_logits(int(s)) for s in ids], dtype=bool)
                logits = streams.advance(ids, fed, want)


def encode_streams(
    backend: LlamaBackend,
    streams: Sequence[np.ndarray],
    cfg: CodecConfig,
    progress: Progress | None = None,
    stats: dict | None = None,
) -> list[bytes]:
    """Code each id stream (token ids and escape ids); returns one payload per stream.

    ``stats``, if given, receives ``skipped``: tokens coded without the LLM's distribution.
    """
    side = EncodeSide(streams)
    models = token_models(backend, len(streams), cfg)
    lockstep(backend, [len(t) for t in streams], cfg, CodingStep(side, models, len(streams)),
             progress)
    if stats is not None:
        stats["skipped"] = stats.get("skipped", 0) + models.skipped
    return side.payloads()


def decode_streams(
    backend: LlamaBackend,
    lengths: Sequence[int],
    payloads: Sequence[bytes],
    cfg: CodecConfig,
    progress: Progress | None = None,
) -> list[np.ndarray]:
    """Inverse of :func:`encode_streams`, given each stream's id count."""
    side = DecodeSide(payloads, lengths)
    models = token_models(backend, len(lengths), cfg)
    lockstep(backend, lengths, cfg, CodingStep(side, models, len(lengths)), progress)
    return side.ids


def measure_streams(backend: LlamaBackend, streams: Sequence[np.ndarray],
                    cfg: CodecConfig) -> list[np.ndarray]:
    """What :func:`encode_streams` would spend on each id, by an ideal coder: one array of
    bits per stream (``nacz.explain``, the bench)."""
    side = CostSide(streams)
    models = token_models(backend, len(streams), cfg)
    lockstep(backend, [len(t) for t in streams], cfg, CodingStep(side, models, len(streams)))
    return side.bits


def escape_standin(backend: LlamaBackend) -> int:
    lengths = token_lengths(backend)
    for tid, b in enumerate(vocabulary_bytes(backend)):
        if lengths[tid] == 1 and b[0] == ESCAPE_STANDIN_BYTE:
            return tid
    raise ValueError("vocabulary lacks the escape stand-in token")


def token_table(backend: LlamaBackend):
    """The vocabulary's bytes as the structure contexts read them
    (:func:`nacz.components.new_token_table`), built once per backend."""
    cached = getattr(backend, "_nacz_token_table", None)
    if cached is None:
        from .components import new_token_table

        cached = new_token_table(vocabulary_bytes(backend))
        backend._nacz_token_table = cached
    return cached


def token_models(backend: LlamaBackend, n_streams: int, cfg: CodecConfig) -> TokenModels:
    """The :class:`TokenModels` of ``n_streams`` streams coded through ``backend``: its
    threads, and its vocabulary's bytes where the config's structure contexts need them."""
    table = token_table(backend) if cfg.predictors & Predictor.STRUCT else None
    return TokenModels(n_streams, backend.n_vocab, cfg,
                       threads=getattr(backend, "threads", None), token_table=table)


def token_lengths(backend: LlamaBackend) -> np.ndarray:
    """Byte length of every id: vocabulary tokens, then the 256 escape ids."""
    cached = getattr(backend, "_nacz_token_lengths", None)
    if cached is None:
        lens = [len(b) for b in vocabulary_bytes(backend)] + [1] * 256
        cached = np.array(lens, dtype=np.int64)
        backend._nacz_token_lengths = cached
    return cached


#: Modules whose source decides the CDFs the probe hashes (the cache key covers them).
_CDF_PATH_MODULES = ("nacz.codec", "nacz.backend", "nacz.predictors", "nacz.components",
                     "nacz.config", "nacz.tokenizer", "nacz.coder.quantize")
_FINGERPRINT_CACHE = "numerics-fingerprints.json"


def numerics_cache_key(backend: LlamaBackend, cfg: CodecConfig) -> str:
    """A digest of everything :func:`numerics_fingerprint` depends on."""
    import importlib
    import platform
    import sys

    import llvmlite
    import numba

    h = hashlib.sha256()
    parts = [
        "nacz numerics probe 1", backend.model_file.sha256.hex(), repr(cfg),
        *backend.numerics_identity(), _cpu_identity(), sys.version, platform.platform(),
        f"numpy {np.__version__}", f"numba {numba.__version__}",
        f"llvmlite {llvmlite.__version__}",
        # numba compiles for the host CPU unless told otherwise
        *(f"{k}={v}" for k, v in sorted(os.environ.items())
          if k.startswith("NUMBA_") and k != "NUMBA_CACHE_DIR"),
    ]
    for part in parts:
        h.update(part.encode("utf-8", errors="surrogateescape") + b"\0")
    for name in _CDF_PATH_MODULES:
        with open(importlib.import_module(name).__file__, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def _cpu_identity() -> str:
    """The CPU's model name and feature flags (Linux), else what ``platform`` knows."""
    import platform

    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            lines = {}
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "flags", "Features", "CPU part") and key not in lines:
                    lines[key] = value.strip()
            if lines:
                return "|".join(f"{k}={v}" for k, v in sorted(lines.items()))
    except OSError:
        pass
    return f"{platform.machine()}|{platform.processor()}"


def cached_numerics_fingerprint(backend: LlamaBackend, cfg: CodecConfig) -> bytes:
    """:func:`numerics_fingerprint`, from the user's cache when its key was seen before."""
    from .model_file import cached_digest

    return cached_digest(_FINGERPRINT_CACHE, numerics_cache_key(backend, cfg), 16,
                         lambda: numerics_fingerprint(backend, cfg))


def numerics_fingerprint(backend: LlamaBackend, cfg: CodecConfig) -> bytes:
    """16 bytes that change if this machine computes different CDFs than another (a
    version-3 file keeps the first 8).

    Runs a short fixed probe through the very path the codec uses (two co-batched
    streams, a tiny window that slides several times, this file's flash-attention and
    temperature settings, and its predictors on the first stream) and hashes every CDF it
    produces.
    """
    probe = backend.tokenize(_PROBE_TEXT)[:20]
    h = hashlib.sha256()
    cdf = np.empty(backend.n_vocab + 1, dtype=np.int64)
    models = token_models(backend, 1, cfg) if cfg.predictors else None
    with backend.open_streams(2, 8, 3, cfg.flash_attn) as streams:
        ids = np.array([0, 1], dtype=np.int64)
        logits = streams.advance(ids, np.array([cfg.start_token, probe[-1]], dtype=np.int64))
        for tok in probe:
            for k in range(2):
                h.update(quantize_logits(logits[k], cfg.temperature, out=cdf).tobytes())
            if models is not None:
                h.update(models.cdf(0, logits[0]).tobytes())
                models.update(0, tok)
            logits = streams.advance(ids, np.array([tok, tok], dtype=np.int64))
    return h.digest()[:16]
