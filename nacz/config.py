"""The frozen codec configuration: every setting that changes the bitstream.

Invariants:
- Every field of :class:`CodecConfig` that affects the coded bits is written to the file
  header and read back from it; decompression never takes these from the command line.
- Each such field is serialised under a numeric id fixed by hand in its own declaration
  (:class:`HeaderField` metadata). Ids are never reused or renumbered; a reader refuses a
  config with an id it does not know, because ignoring a setting could decode garbage.
- A field added after the first files has an ``absent`` value: the value every earlier
  file was coded with. It is written only when it differs, and a file without it reads as
  that value, so earlier files keep their bytes and decode forever.
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass, field
from typing import Any, Callable
from enum import IntEnum, IntFlag

from .errors import ConfigError, UsageError

#: Window size (tokens of KV cache per stream, including the start token).
DEFAULT_WINDOW = 2048
#: Sampling temperature of the softmax; 1.0 is what the model was trained for.
DEFAULT_TEMPERATURE = 1.0
#: Token fed at position 0 of every stream; it stays there as an attention sink.
#: 0 is "<|endoftext|>", the document separator the model saw in pre-training.
DEFAULT_START_TOKEN = 0
#: A stream is split off into its own shard only if each shard gets at least this many
#: tokens: below that, the context lost at shard starts costs more than batching gains.
DEFAULT_MIN_SHARD_TOKENS = 8192
#: Upper bound of streams evaluated in one llama_decode call.
DEFAULT_MAX_STREAMS = 16
#: Input bytes planned and coded together (a block; see ``nacz.segmenter.block_end``).
#: Memory is bounded by the block, not the input: the block's bytes, its tokens (int32)
#: and its payloads, about 4x the block, plus an LZMA2 encoder of about 11x its dictionary,
#: which is capped at the segment's (so the block's) length. 8 MiB keeps that near 100 MiB
#: a candidate; a block of text is about 2M tokens (hours of model time), so restarting the
#: model's context and the predictors at a block edge costs nothing measurable, while
#: every corpus file measured in docs/MEASUREMENTS.md is smaller, so they are coded exactly as a
#: whole-input plan would code them.
DEFAULT_BLOCK_SIZE = 8 << 20

#: Text segments go to the model only where it earns its time (``nacz.model_gate``): 0 sends
#: every text segment to the model (the default until 2026-12-01, config presets 1 and 2),
#: 1 applies the rule of 2026-12-01 (config preset 3: a cold sample against the classic
#: codecs). 2 sends no segment to the model: the off-model codecs code everything (level 1).
#: 3, the default since 2026-12-05, is the calibrated router: a segment leaves the model
#: only where its calibrated estimate says the model saves less than a stated share
#: against the best off-model codec (``nacz.model_gate``, docs in bench/ROUTER.md).
DEFAULT_MODEL_GATE = 3
MODEL_GATE_NEVER = 2
MODEL_GATE_ROUTER = 3
MODEL_GATES = (0, 1, MODEL_GATE_NEVER, MODEL_GATE_ROUTER)

#: What codes the segments the model does not (binary data, text the gate sends away):
#: 0 the classic codecs (zstd / LZMA2, ``nacz.binary_codec.compress_binary``; files made
#: before 2026-12-05), 1 those and the context-mixing codecs PPMd and ZPAQ, the smallest
#: by trial (``compress_offmodel``; the default since).
OFFMODEL_CLASSIC = 0
OFFMODEL_CM = 1
DEFAULT_OFFMODEL = OFFMODEL_CM
OFFMODEL_NAMES = {"classic": OFFMODEL_CLASSIC, "cm": OFFMODEL_CM}


class LayoutFold(IntFlag):
    """Line-layout fold bits of ``CodecConfig.layout`` (``nacz.layout``), fixed by hand
    (written to the header and to folded payloads; never renumber). A member's name,
    lower-cased, is its name on the command line (``--layout``)."""

    CRLF = 1  #: CR LF line ends stored as LF
    WRAP = 2  #: soft line breaks stored as spaces
    SPACES = 4  #: two spaces between words stored as one
    QUOTES = 8  #: typewriter opening quotes (backquote) stored as apostrophes
    ALL = CRLF | WRAP | SPACES | QUOTES  # not a name of its own: 'all' is parsed apart


#: Names for the CLI (name -> bit), from the members: one bit each (``ALL`` is not listed).
LAYOUT_NAMES = {f.name.lower(): f for f in LayoutFold}
#: Every fold allowed: measured on the first 40,000 bytes of alice29.txt, its CR LF line
#: ends and soft line breaks cost the model 4.2% of its bits (bench/ABLATION_NOTES.md).
DEFAULT_LAYOUT = LayoutFold.ALL


class Predictor(IntFlag):
    """Predictor component and mode bits of ``CodecConfig.predictors``, fixed by hand
    (written to the header; never renumber). A member's name, lower-cased, is its name on
    the command line and in ``nacz info``."""

    BIAS = 1  #: adaptive per-token bias head (log domain, SGD on the coding loss)
    NGRAM = 2  #: online token n-gram model, mixed in by learned weights
    MATCH = 4  #: LZP-style match model, mixed in by learned weights
    TEMP = 8  #: learned inverse temperature per LLM-confidence/match state
    APM = 16  #: secondary estimation (APM/SSE) of the top token's probability
    UNIGRAM = 32  #: document unigram (log counts), mixed in by learned weights
    #: Not a component but a mode: the shards of a lockstep group share the learned
    #: predictor state (n-gram counts, mixer weights, bias head, APM, unigram), updated in
    #: stream order at every step; each shard keeps its own history and match model.
    SHARED = 64
    #: A mode of ``SHARED``: every stream of a lockstep step predicts from the learned state
    #: as it was when the step began, and the step's updates are then applied in stream
    #: order. The streams' predictions no longer depend on each other, so they run in
    #: parallel (``nacz.predictors.StepPredictors``); plain ``SHARED`` lets each stream see
    #: the updates of the streams before it in the same step, which is inherently sequential.
    SYNC = 128
    #: A component: structure contexts (where the next id sits in the text's lines, fields
    #: and markup), counted and mixed like the n-gram orders; which ones is
    #: ``struct_contexts``.
    STRUCT = 256
    # Masks of several bits (not names of their own: iterating the class skips them).
    ALL = BIAS | NGRAM | MATCH | TEMP | APM | UNIGRAM
    COMPONENTS = ALL | STRUCT
    KNOWN = COMPONENTS | SHARED | SYNC


class StructContext(IntEnum):
    """Structure context kinds of ``CodecConfig.struct_contexts`` (``nacz.components``,
    ``struct_hash``), fixed by hand (written to the header; never renumber). A member's
    name, lower-cased, is its name on the command line and in ``nacz info``."""

    COLUMN = 1  #: the id above (same byte column, previous line), aligned?, the last id
    ABOVE = 2  #: the id above, the id after it, aligned?
    MASKED = 3  #: the last 4 ids, numbers replaced by their class (only if one was)
    MASKED8 = 4  #: the same over the last 8 ids
    LINEHEAD = 5  #: the line's first two ids, ids since the line began, the last id
    MARKUP = 6  #: the innermost markup tag name (the id after '<' or '</'), the last id
    WORD = 7  #: the bytes of the current word so far (since a space or punctuation)


#: Names for the CLI and ``nacz info`` (name -> kind), from the members.
STRUCT_KINDS = {k.name.lower(): k for k in StructContext}
#: What 'struct' adds unless told otherwise: the best pair measured on a package-manager log
#: (-1.9% bits; bench/STRUCTURED.md), within +0.3% on the other texts measured.
DEFAULT_STRUCT_CONTEXTS = (StructContext.MASKED8, StructContext.ABOVE)
#: The n-gram model's contexts at most: its orders plus the structure contexts.
MAX_NGRAM_CONTEXTS = 12
#: Names for the CLI and ``nacz info`` (name -> bit), from the members: one bit each (the
#: masks ``ALL``, ``COMPONENTS`` and ``KNOWN`` are not listed).
PREDICTOR_NAMES = {p.name.lower(): p for p in Predictor}
#: All components, and shards of a group share what they learn (measured: alice29.txt in
#: its 5 default shards, 1.0654 -> 1.0523 bits/byte; bench/ABLATION_NOTES.md).
DEFAULT_PREDICTORS = Predictor.ALL | Predictor.SHARED

#: Frozen predictor parameter sets, written as their one-byte id. A preset's values never
#: change once released (tests pin them); new values get a new id.
PREDICTOR_PRESETS: dict[int, dict] = {
    1: dict(
        ngram_orders=(1, 2, 3, 4, 6), ngram_bits=18, ngram_slots=8, history_bits=20,
        match_bits=18, match_min=4, match_long=12, rate_mix=0.02, rate_temp=0.002,
        rate_bias=0.08, rate_apm=0.02, bias_clip=4.0, init_ngram_weight=0.0,
        init_match_weight=0.5, apm_mix=0.5, rate_unigram=0.002, unigram_alpha=0.1,
        init_unigram_weight=0.0, bias_decay=0.0, skip_min_match=0, skip_confidence=0.95,
    ),
}
_P1 = PREDICTOR_PRESETS[1]  # the defaults below


@dataclass(frozen=True)
class CliOption:
    """How a :class:`CodecConfig` field appears on ``nacz compress``'s command line: the
    CLI builds each option from this (``nacz.cli.options``), so a new setting is one
    field declaration (this and its :class:`HeaderField`). Every such option is recorded
    in the file."""

    flag: str
    help: str
    kind: type = int
    #: inclusive bounds of a number
    low: float | None = None
    high: float | None = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    #: the option's text -> the field's value (names -> bits)
    parse: Callable[[str], Any] | None = None
    #: (config, text) -> config, applied after the level's config (it changes more than
    #: its own field)
    apply: Callable[[Any, str], Any] | None = None
    #: Where ``nacz compress --help`` lists it: by rank, those below
    #: ``nacz.cli.options.LEVELS_RANK`` before --level/--fast/--best, the rest after.
    rank: int = 100


def _cli(flag: str, help: str, **kw) -> dict:
    return {"cli": CliOption(flag, help, **kw)}


_REQUIRED = object()


@dataclass(frozen=True)
class HeaderField:
    """Where a :class:`CodecConfig` field lives in the container header: ``id``, fixed by
    hand and never renumbered, and ``fmt``, its struct format. A field with an ``absent``
    value is written only when it differs from it, and a header without it means that
    value (what files made before the field existed were coded with); a field without one
    must be in every header that does not name a preset."""

    id: int
    fmt: str
    absent: Any = _REQUIRED

    @property
    def required(self) -> bool:
        return self.absent is _REQUIRED


def _header(fid: int, fmt: str, **kw) -> dict:
    return {"header": HeaderField(fid, fmt, **kw)}


def _parse_offmodel(text: str) -> int:
    return OFFMODEL_NAMES[text]


@dataclass(frozen=True)
class CodecConfig:
    """Settings that determine the compressed bits. Frozen: pass a new one to change it."""

    window: int = field(default=DEFAULT_WINDOW, metadata=_header(1, "<I") | _cli(
        "--window", "Tokens of context kept per stream.", low=16, high=131072, rank=10))
    #: Tokens dropped from the front of a full window at once (after the start token).
    #: 0 means window // 4, resolved in __post_init__.
    evict: int = field(default=0, metadata=_header(2, "<I"))
    temperature: float = field(default=DEFAULT_TEMPERATURE, metadata=_header(3, "<d") | _cli(
        "--temperature", "Softmax temperature.", kind=float, low=0.05, high=20.0, rank=11))
    start_token: int = field(default=DEFAULT_START_TOKEN, metadata=_header(4, "<I"))
    max_streams: int = field(default=DEFAULT_MAX_STREAMS, metadata=_header(5, "<I") | _cli(
        "--max-streams", "Most shards coded side by side in one batch.", low=1, high=256, rank=12))
    min_shard_tokens: int = field(default=DEFAULT_MIN_SHARD_TOKENS, metadata=_header(
        6, "<I") | _cli(
        "--min-shard-tokens", "Split the input into shards only if each gets this many "
        "tokens.", low=1, high=2**31 - 1, rank=13))
    #: Input bytes per block. Shards and lockstep groups never span blocks, so this changes
    #: the bits of inputs longer than one block. The decoder does not need it (the segment
    #: table says everything); it is recorded so that a file says how to remake it.
    block_size: int = field(default=DEFAULT_BLOCK_SIZE, metadata=_header(
        11, "<I", absent=DEFAULT_BLOCK_SIZE) | _cli(
        "--block-size", "Input bytes planned and coded together; bounds memory (default "
        "8 MiB). Each block is one or more groups that workers code at once: for N workers "
        "about input/2N, not below 1 MiB.",
        low=1024, high=2**32 - 1, metavar="BYTES", rank=14))
    #: Line-layout folds a text segment may use (:class:`LayoutFold` bits: CR LF,
    #: soft line breaks, two spaces); which ones it does use is decided from its bytes and
    #: recorded in its payload. 0 codes the text as it is.
    layout: int = field(default=DEFAULT_LAYOUT, metadata=_header(12, "<B", absent=0) | _cli(
        "--layout", "Line-layout folds a text may use when they pay: 'all' (default), "
        "'none', or a comma list of crlf (CR LF line ends), wrap (soft line breaks), spaces "
        "(two spaces between words), quotes (backquotes).", kind=str, metavar="LIST",
        parse=lambda text: parse_layout(text), rank=17))
    #: Which rule decides that a text segment is worth the model's time
    #: (``nacz.model_gate``); segments it refuses go to the classic codecs. The decoder
    #: does not need it (segment kinds say everything); it is recorded so that a file
    #: says how to remake it.
    model_gate: int = field(default=DEFAULT_MODEL_GATE, metadata=_header(
        13, "<B", absent=0) | _cli(
        "--model-gate", "3 (the default): a text segment that costs many tokens per byte "
        "leaves the model only where a calibrated sample says the model saves under 10% "
        "against the best off-model codec; 0: every text segment goes to the model; 2: none "
        "does; 1: the first rule, before the router.", low=0, high=3, rank=18))
    #: The codecs of segments the model does not code (``OFFMODEL_*``). The decoder does
    #: not need it (segment kinds say everything); recorded so a file says how to remake it.
    offmodel: int = field(default=DEFAULT_OFFMODEL, metadata=_header(
        15, "<B", absent=0) | _cli(
        "--offmodel", "What codes the segments the model does not: 'cm' (the default), the "
        "smallest of PPMd, ZPAQ -m5, LZMA2 and zstd by trial; 'classic', LZMA2 and zstd "
        "only.", kind=str, choices=("cm", "classic"), parse=_parse_offmodel, rank=19))
    #: llama.cpp's flash-attention kernel. Off: on CPU its results depend on the thread
    #: count (measured: 1 vs 2 threads gave different bitstreams), which a codec cannot allow.
    flash_attn: bool = field(default=False, metadata=_header(7, "<?"))
    #: Predictor components mixed with the LLM (:class:`Predictor` bits); 0 codes the LLM
    #: alone. The fields below it are used (and written to the file) only when it is nonzero.
    predictors: int = field(default=DEFAULT_PREDICTORS, metadata=_header(8, "<I") | _cli(
        "--predictors", "Predictors mixed with the LLM: 'all' (default), 'none', or a comma "
        "list of bias,ngram,match,temp,apm,unigram, plus 'shared' to let the shards of a "
        "group share what they learn (part of 'all'), and 'struct' for the structure "
        "contexts (not part of 'all': they pay on logs and records only).",
        kind=str, metavar="LIST", parse=lambda text: parse_predictors(text), rank=15))
    ngram_orders: tuple[int, ...] = _P1["ngram_orders"]
    #: log2 of the n-gram hash buckets (all orders share them)
    ngram_bits: int = _P1["ngram_bits"]
    ngram_slots: int = _P1["ngram_slots"]  #: continuations kept per n-gram context
    #: log2 of the token history the match model searches
    history_bits: int = _P1["history_bits"]
    match_bits: int = _P1["match_bits"]  #: log2 of each match-model hash table
    #: shortest match (tokens); also the short hash's context
    match_min: int = _P1["match_min"]
    match_long: int = _P1["match_long"]  #: context of the long match hash, tried first
    rate_mix: float = _P1["rate_mix"]  #: learning rate of the mixing weights
    rate_temp: float = _P1["rate_temp"]  #: learning rate of the inverse temperatures
    rate_bias: float = field(default=_P1["rate_bias"], metadata=_cli(
        "--bias-rate", "Learning rate of the adaptive bias head.", kind=float, low=0.0,
        high=1.0, rank=60))  #: learning rate of the bias head
    rate_apm: float = _P1["rate_apm"]  #: adaptation rate of the APM table
    bias_clip: float = _P1["bias_clip"]  #: bias head values stay in [-clip, clip]
    init_ngram_weight: float = _P1["init_ngram_weight"]
    init_match_weight: float = _P1["init_match_weight"]
    #: share of the APM output in the final top-token probability
    apm_mix: float = _P1["apm_mix"]
    rate_unigram: float = _P1["rate_unigram"]
    unigram_alpha: float = _P1["unigram_alpha"]  #: additive count of the unigram feature
    init_unigram_weight: float = _P1["init_unigram_weight"]
    bias_decay: float = _P1["bias_decay"]
    #: Confidence skip: a token whose match is at least this long (0: never skip), with a
    #: learned hit probability of at least ``skip_confidence``, is coded without the LLM's
    #: distribution (the model still sees the token, so later contexts are intact).
    skip_min_match: int = field(default=_P1["skip_min_match"], metadata=_cli(
        "--skip-min-match", "Confidence skip: code a token without the LLM's distribution "
        "when the match model has a match this long and is confident (0 = off).", low=0,
        high=65535, rank=61))
    skip_confidence: float = _P1["skip_confidence"]
    #: Structure contexts (:class:`StructContext` kinds, in this order) under
    #: ``Predictor.STRUCT``; written to the file (field 14) only with that bit.
    struct_contexts: tuple[int, ...] = field(default=DEFAULT_STRUCT_CONTEXTS, metadata=_cli(
        "--struct-contexts", "Which structure contexts 'struct' adds, a comma list of "
        "column, above, masked, masked8, linehead, markup, word (default masked8,above); "
        "turns 'struct' on.", kind=str, metavar="LIST",
        apply=lambda config, text: with_struct_contexts(config, text), rank=16))

    def __post_init__(self) -> None:
        if not isinstance(self.window, int) or not 16 <= self.window <= 131072:
            raise UsageError(f"window must be an integer in 16..131072, got {self.window!r}")
        if self.evict == 0:
            object.__setattr__(self, "evict", max(1, self.window // 4))
        if not 1 <= self.evict <= self.window - 2:
            raise UsageError(f"evict must be in 1..window-2, got {self.evict}")
        t = float(self.temperature)
        if not (0.05 <= t <= 20.0):
            raise UsageError(f"temperature must be in 0.05..20, got {self.temperature!r}")
        object.__setattr__(self, "temperature", t)
        if not 0 <= self.start_token < 2**31:
            raise UsageError(f"start token must be a token id, got {self.start_token}")
        if not 1 <= self.max_streams <= 256:
            raise UsageError(f"max streams must be in 1..256, got {self.max_streams}")
        if self.flash_attn:
            raise UsageError("flash attention is not supported: its CPU results depend on threads")
        if not 1 <= self.min_shard_tokens < 2**31:
            raise UsageError(f"min shard tokens must be positive, got {self.min_shard_tokens}")
        if not isinstance(self.block_size, int) or not 1024 <= self.block_size < 2**32:
            raise UsageError(f"block size must be an integer in 1024..2^32-1 bytes, "
                             f"got {self.block_size!r}")
        # Bit fields are checked and stored as plain ints (``~`` of an IntFlag would keep
        # only the flag's own bits), so a config given enum members equals one given ints.
        if (not isinstance(self.layout, int) or self.layout & ~int(LayoutFold.ALL)
                or self.layout < 0):
            raise UsageError(f"unknown layout bits in {self.layout!r}")
        object.__setattr__(self, "layout", int(self.layout))
        if self.model_gate not in MODEL_GATES:
            raise UsageError(f"unknown model gate {self.model_gate!r}")
        if self.offmodel not in (OFFMODEL_CLASSIC, OFFMODEL_CM):
            raise UsageError(f"unknown off-model codec set {self.offmodel!r}")
        self._check_predictors()

    def _check_predictors(self) -> None:
        p = self.predictors
        if not 0 <= p <= Predictor.KNOWN or p & ~int(Predictor.KNOWN):
            raise UsageError(f"unknown predictor bits in {p:#x}")
        p = int(p)
        object.__setattr__(self, "predictors", p)
        if not p & Predictor.COMPONENTS and p:
            raise UsageError("'shared' needs at least one predictor component")
        if p & Predictor.SYNC and not p & Predictor.SHARED:
            raise UsageError("'sync' is a mode of 'shared': without sharing, streams never "
                             "wait for each other")
        orders = tuple(int(o) for o in self.ngram_orders)
        object.__setattr__(self, "ngram_orders", orders)
        if not 1 <= len(orders) <= 8 or any(not 1 <= o <= 32 for o in orders):
            raise UsageError(f"n-gram orders must be 1..8 values in 1..32, got {orders}")
        kinds = tuple(int(k) for k in self.struct_contexts)
        object.__setattr__(self, "struct_contexts", kinds)
        known = set(STRUCT_KINDS.values())
        if (len(set(kinds)) != len(kinds) or any(k not in known for k in kinds)
                or len(orders) + len(kinds) > MAX_NGRAM_CONTEXTS):
            raise UsageError(f"structure contexts must be distinct kinds of {sorted(known)}, "
                             f"at most {MAX_NGRAM_CONTEXTS} with the n-gram orders; "
                             f"got {kinds}")
        if p & Predictor.STRUCT and not kinds:
            raise UsageError("'struct' needs at least one structure context")
        if not p & Predictor.STRUCT:
            # unused, so not recorded: one value keeps equal configs equal after a round trip
            object.__setattr__(self, "struct_contexts",
                               tuple(int(k) for k in DEFAULT_STRUCT_CONTEXTS))
        for name, lo, hi in (
            ("ngram_bits", 8, 26), ("ngram_slots", 1, 64), ("history_bits", 10, 28),
            ("match_bits", 8, 26), ("match_min", 2, 64), ("match_long", 2, 64),
        ):
            v = getattr(self, name)
            if not isinstance(v, int) or not lo <= v <= hi:
                raise UsageError(f"{name} must be an integer in {lo}..{hi}, got {v!r}")
        if not 0 <= self.skip_min_match <= 65535:
            raise UsageError(f"skip_min_match must be in 0..65535, got {self.skip_min_match}")
        for name in _PREDICTOR_FLOATS + ("skip_confidence",):
            v = float(getattr(self, name))
            if not (-16.0 <= v <= 16.0):
                raise UsageError(f"{name} must be a finite number in -16..16, got {v!r}")
            object.__setattr__(self, name, v)
        if self.bias_clip <= 0 or not 0.0 <= self.apm_mix <= 1.0 or self.unigram_alpha <= 0:
            raise UsageError("bias_clip and unigram_alpha must be > 0, apm_mix in 0..1")
        if not 0.0 < self.skip_confidence < 1.0:
            raise UsageError(f"skip_confidence must be in (0, 1), got {self.skip_confidence}")

    def predictor_names(self) -> list[str]:
        return [n for n, bit in PREDICTOR_NAMES.items() if self.predictors & bit]

    def replace(self, **changes) -> "CodecConfig":
        return dataclasses.replace(self, **changes)


# The header ids of the plain fields are in their declarations above (HeaderField). Why
# some have an ``absent`` value: field 11 (block_size) is written only when it is not
# DEFAULT_BLOCK_SIZE, because files made before blocks existed coded their inputs under
# 8 MiB exactly as one block of 8 MiB codes them; fields 12 (layout), 13 (model_gate) and
# 15 (offmodel) are written only when nonzero, because files made before the folds, the
# gate and the context-mixing codecs coded as 0 does. Ids 9, 10 and 14 are composite and
# handled below.
_HEADER: tuple[tuple[str, HeaderField], ...] = tuple(sorted(
    ((f.name, f.metadata["header"]) for f in dataclasses.fields(CodecConfig)
     if "header" in f.metadata), key=lambda item: item[1].id))
_BY_ID = {h.id: (name, h) for name, h in _HEADER}
#: The value of every field a header may leave out; a config preset written before such a
#: field existed means this value of it.
_ABSENT = {name: h.absent for name, h in _HEADER if not h.required}
# Field 14 exists exactly when predictors has Predictor.STRUCT: the count of structure
# contexts, then their kinds, one byte each.
_ID_STRUCT_CONTEXTS = 14

# Field 9 exists only when predictors != 0. It holds either one byte, the id of a preset
# below, or the full parameter layout (see nacz/formats/FORMAT.md): count and list of n-gram
# orders, six u8 sizes (_PREDICTOR_INTS), u16 skip_min_match, then f64 values
# (_PREDICTOR_FLOATS, then skip_confidence).
_PREDICTOR_INTS = ("ngram_bits", "ngram_slots", "history_bits", "match_bits", "match_min",
                   "match_long")
_PREDICTOR_FLOATS = ("rate_mix", "rate_temp", "rate_bias", "rate_apm", "bias_clip",
                     "init_ngram_weight", "init_match_weight", "apm_mix", "rate_unigram",
                     "unigram_alpha", "init_unigram_weight", "bias_decay")
_ID_PREDICTOR_PARAMS = 9

def _predictor_params(cfg: "CodecConfig") -> dict:
    return {name: getattr(cfg, name) for name in PREDICTOR_PRESETS[1]}


def _pack_predictor_params(cfg: "CodecConfig") -> bytes:
    params = _predictor_params(cfg)
    for pid, preset in PREDICTOR_PRESETS.items():
        if params == preset:
            return bytes([pid])
    orders = cfg.ngram_orders
    return (
        struct.pack("<B", len(orders)) + bytes(orders)
        + bytes(getattr(cfg, n) for n in _PREDICTOR_INTS)
        + struct.pack("<H", cfg.skip_min_match)
        + struct.pack(f"<{len(_PREDICTOR_FLOATS) + 1}d",
                      *(getattr(cfg, n) for n in _PREDICTOR_FLOATS), cfg.skip_confidence)
    )


def _unpack_predictor_params(raw: bytes) -> dict:
    if len(raw) == 1:
        if raw[0] not in PREDICTOR_PRESETS:
            raise ConfigError(f"unknown predictor preset {raw[0]} (file made by a newer nacz?)")
        return dict(PREDICTOR_PRESETS[raw[0]])
    n_floats = len(_PREDICTOR_FLOATS) + 1
    if not raw or len(raw) != 1 + raw[0] + len(_PREDICTOR_INTS) + 2 + 8 * n_floats:
        raise ConfigError("config field predictor_params has the wrong length")
    k = raw[0]
    values: dict = {"ngram_orders": tuple(raw[1 : 1 + k])}
    pos = 1 + k
    for name in _PREDICTOR_INTS:
        values[name] = raw[pos]
        pos += 1
    (values["skip_min_match"],) = struct.unpack_from("<H", raw, pos)
    floats = struct.unpack_from(f"<{n_floats}d", raw, pos + 2)
    values.update(zip(_PREDICTOR_FLOATS + ("skip_confidence",), floats))
    return values


#: Field 10 replaces all the others when a file's whole config is a frozen preset: one byte,
#: the preset id, instead of about 50 bytes of fields. A preset's values never change once
#: released (tests pin them); a new default gets a new id.
_ID_CONFIG_PRESET = 10
CONFIG_PRESETS: dict[int, dict] = {
    # the defaults of 2026-11-23: window 2048, all predictors shared, predictor preset 1
    1: dict(window=2048, evict=512, temperature=1.0, start_token=0, max_streams=16,
            min_shard_tokens=8192, block_size=8 << 20, flash_attn=False, layout=0,
            model_gate=0, offmodel=0, predictors=127, **PREDICTOR_PRESETS[1]),
    # the defaults of 2026-11-24: preset 1 plus every line-layout fold
    2: dict(window=2048, evict=512, temperature=1.0, start_token=0, max_streams=16,
            min_shard_tokens=8192, block_size=8 << 20, flash_attn=False, layout=15,
            model_gate=0, offmodel=0, predictors=127, **PREDICTOR_PRESETS[1]),
    # the defaults of 2026-12-01: preset 2 plus the model gate (nacz.model_gate)
    3: dict(window=2048, evict=512, temperature=1.0, start_token=0, max_streams=16,
            min_shard_tokens=8192, block_size=8 << 20, flash_attn=False, layout=15,
            model_gate=1, offmodel=0, predictors=127, **PREDICTOR_PRESETS[1]),
}
# The levels of 2026-12-01 (LEVELS below): preset 3 with what the frontier measured
# (bench/FRONTIER.md) changed, one lever each. Preset 3 itself is level 6.
_P3 = CONFIG_PRESETS[3]
CONFIG_PRESETS.update({
    # level 1: no model; every segment to the classic codecs (zstd / LZMA2)
    4: dict(_P3, model_gate=2),
    # level 2: shards of 512+ tokens, each with its own predictor state
    5: dict(_P3, min_shard_tokens=512, predictors=63),
    # level 3: shards of 512+ tokens sharing what they learn
    6: dict(_P3, min_shard_tokens=512),
    # level 4: window 512
    7: dict(_P3, window=512, evict=128),
    # level 5: window 1024
    8: dict(_P3, window=1024, evict=256),
    # level 7: window 4096
    9: dict(_P3, window=4096, evict=1024),
    # level 8: window 4096, one stream per text whatever its length
    10: dict(_P3, window=4096, evict=1024, max_streams=1),
    # level 9: window 8192 (the model's trained context), one stream per text
    11: dict(_P3, window=8192, evict=2048, max_streams=1),
})
# The levels of 2026-12-05: those of 2026-12-01 with the calibrated router (model gate 3)
# and the context-mixing codecs off the model (offmodel 1); --best never leaves the model.
_P12 = dict(_P3, model_gate=MODEL_GATE_ROUTER, offmodel=OFFMODEL_CM)
CONFIG_PRESETS.update({
    12: _P12,  # level 6, the default
    13: dict(_P12, model_gate=MODEL_GATE_NEVER),  # level 1
    14: dict(_P12, min_shard_tokens=512, predictors=63),  # level 2
    15: dict(_P12, min_shard_tokens=512),  # level 3
    16: dict(_P12, window=512, evict=128),  # level 4
    17: dict(_P12, window=1024, evict=256),  # level 5
    18: dict(_P12, window=4096, evict=1024),  # level 7
    19: dict(_P12, window=4096, evict=1024, max_streams=1),  # level 8
    20: dict(_P12, window=8192, evict=2048, max_streams=1, model_gate=0),  # level 9
})

#: Compression levels as gzip, xz and zstd have them (-1 fastest ... -9 smallest), each a
#: frozen config preset (written as its one-byte id) chosen from measured points of the
#: speed/ratio frontier; docs/MEASUREMENTS.md's "Levels" table gives each one's bits per byte and
#: KB/s. level -> (config preset id, what it changes from the default).
LEVELS: dict[int, tuple[int, str]] = {
    1: (13, "no model: context mixing (PPMd, ZPAQ) and the classic codecs, by trial"),
    2: (14, "shards of 512+ tokens, each with its own predictor state"),
    3: (15, "shards of 512+ tokens, sharing what they learn"),
    4: (16, "window 512"),
    5: (17, "window 1024"),
    6: (12, "the default: window 2048, one stream per text below 16,384 tokens"),
    7: (18, "window 4096"),
    8: (19, "window 4096, one stream per text"),
    9: (20, ("window 8192 (the model's trained context), one stream per text, "
             "every text segment on the model")),
}
DEFAULT_LEVEL = 6
FAST_LEVEL = 1
BEST_LEVEL = 9


def level_config(level: int, **changes) -> "CodecConfig":
    """The config of compression level ``level`` (1..9), with ``changes`` applied."""
    if level not in LEVELS:
        raise UsageError(f"compression level must be 1..9, got {level!r}")
    if "window" in changes and "evict" not in changes:
        changes = {**changes, "evict": 0}  # a quarter of the new window, as without a level
    return preset_config(LEVELS[level][0], **changes)


def preset_config(pid: int, **changes) -> "CodecConfig":
    """Config preset ``pid`` as a config, with ``changes`` applied; a field it does not
    list (one added after it) has the value a header without that field means."""
    return CodecConfig(**{**_ABSENT, **CONFIG_PRESETS[pid], **changes})


def config_preset_id(cfg: "CodecConfig") -> int | None:
    """The id of the config preset ``cfg`` is, or None."""
    for pid in CONFIG_PRESETS:
        if cfg == preset_config(pid):
            return pid
    return None


def level_of(cfg: "CodecConfig") -> int | None:
    """The level whose config ``cfg`` is, or None."""
    pid = config_preset_id(cfg)
    return next((level for level, (p, _) in LEVELS.items() if p == pid), None)


def config_to_fields(cfg: CodecConfig, compact: bool = False) -> dict[int, bytes]:
    """Serialise to ``{field id: bytes}`` for the container header; ``compact`` writes a
    config that equals a preset as the preset's id alone (field 10)."""
    if compact:
        pid = config_preset_id(cfg)
        if pid is not None:
            return {_ID_CONFIG_PRESET: bytes([pid])}
    fields = {h.id: struct.pack(h.fmt, getattr(cfg, name)) for name, h in _HEADER
              if h.required or getattr(cfg, name) != h.absent}
    if cfg.predictors:
        fields[_ID_PREDICTOR_PARAMS] = _pack_predictor_params(cfg)
    if cfg.predictors & Predictor.STRUCT:
        kinds = cfg.struct_contexts
        fields[_ID_STRUCT_CONTEXTS] = bytes([len(kinds)]) + bytes(kinds)
    return fields


def config_from_fields(fields: dict[int, bytes]) -> CodecConfig:
    """Inverse of :func:`config_to_fields`; refuses unknown ids and missing fields."""
    if _ID_CONFIG_PRESET in fields:
        raw = fields[_ID_CONFIG_PRESET]
        if len(fields) != 1:
            raise ConfigError("a config preset (field 10) cannot come with other fields")
        if len(raw) != 1 or raw[0] not in CONFIG_PRESETS:
            raise ConfigError(f"unknown config preset {raw.hex()} (file made by a newer nacz?)")
        return preset_config(raw[0])
    values = {}
    for fid, raw in fields.items():
        if fid in (_ID_PREDICTOR_PARAMS, _ID_STRUCT_CONTEXTS):
            continue
        if fid not in _BY_ID:
            raise ConfigError(f"unknown config field id {fid} (file made by a newer nacz?)")
        name, header = _BY_ID[fid]
        fmt = header.fmt
        if len(raw) != struct.calcsize(fmt):
            raise ConfigError(f"config field {name} has {len(raw)} bytes")
        if fmt == "<?" and raw not in (b"\x00", b"\x01"):
            raise ConfigError(f"config field {name} is not a boolean")
        (values[name],) = struct.unpack(fmt, raw)
    values = {**_ABSENT, **values}
    missing = [name for name, h in _HEADER if h.required and name not in values]
    if missing:
        raise ConfigError(f"config lacks field(s): {', '.join(missing)}")
    if values["predictors"]:
        if _ID_PREDICTOR_PARAMS not in fields:
            raise ConfigError("config lacks the predictor parameters")
        values.update(_unpack_predictor_params(fields[_ID_PREDICTOR_PARAMS]))
    elif _ID_PREDICTOR_PARAMS in fields:
        raise ConfigError("config has predictor parameters but no predictors")
    if values["predictors"] & Predictor.STRUCT:
        raw = fields.get(_ID_STRUCT_CONTEXTS)
        if raw is None:
            raise ConfigError("config lacks the structure contexts of its 'struct' predictor")
        if not raw or len(raw) != 1 + raw[0]:
            raise ConfigError("config field struct_contexts has the wrong length")
        values["struct_contexts"] = tuple(raw[1:])
    elif _ID_STRUCT_CONTEXTS in fields:
        raise ConfigError("config has structure contexts but no 'struct' predictor")
    try:
        return CodecConfig(**values)
    except UsageError as exc:
        raise ConfigError(f"config out of range: {exc}") from None


# -- names on the command line -> settings (the CLI and the bench parse with these) -------


def _comma_words(text: str) -> list[str]:
    """The lower-cased, non-empty words of a comma list."""
    return [w.strip().lower() for w in text.split(",") if w.strip()]


def _parse_bit_names(text: str, names: dict[str, int], all_bits: int, what: str) -> int:
    """'all', 'none' or a comma list of ``names`` (which may include 'all') -> their bits
    or'ed together."""
    words = _comma_words(text)
    if words in ([], ["none"]):
        return 0
    mask = 0
    for w in words:
        if w == "all":
            mask |= all_bits
        elif w in names:
            mask |= names[w]
        else:
            raise UsageError(f"unknown {what} {w!r} (known: {', '.join(names)}, or all / none)")
    return int(mask)


def parse_predictors(text: str) -> int:
    """'all', 'none' or a comma list of predictor names -> the config's bit mask."""
    return _parse_bit_names(text, PREDICTOR_NAMES, Predictor.ALL | Predictor.SHARED, "predictor")


def with_struct_contexts(config: CodecConfig, text: str) -> CodecConfig:
    """``config`` with the structure contexts named in ``text`` (comma list) turned on."""
    words = _comma_words(text)
    unknown = [w for w in words if w not in STRUCT_KINDS]
    if unknown or not words:
        raise UsageError(f"unknown structure context {unknown[0] if unknown else text!r} "
                         f"(known: {', '.join(STRUCT_KINDS)})")
    if not config.predictors:
        raise UsageError("--struct-contexts needs predictors (not --predictors none)")
    return config.replace(predictors=config.predictors | Predictor.STRUCT,
                          struct_contexts=tuple(STRUCT_KINDS[w] for w in words))


def parse_layout(text: str) -> int:
    """'all', 'none' or a comma list of fold names -> the config's layout bits."""
    return _parse_bit_names(text, LAYOUT_NAMES, LayoutFold.ALL, "layout fold")


def cli_options() -> list[tuple[str, CliOption]]:
    """(field name, its :class:`CliOption`) of every setting ``nacz compress`` takes, in
    field order."""
    return [(f.name, f.metadata["cli"]) for f in dataclasses.fields(CodecConfig)
            if "cli" in f.metadata]
