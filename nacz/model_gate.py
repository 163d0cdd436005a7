"""Whether a text segment earns its time on the model, or goes to the classic codecs.

The model's time is per token, and its gain is per byte: text that splits into many short
tokens (PDF operators, some scripts, dense markup) costs several times more model time
per byte than prose, and on some of it a classic codec comes close in size at a fraction
of a second. Measured: a text-based PDF at 1.23 bytes per token took 13 minutes for
1.709 bits per byte, against 2.052 for xz -9e.

Two rules are written here; a file records which one made it (config field 13), and a
decoder needs neither.

The calibrated router (``CodecConfig.model_gate`` = 3, the default since 2026-12-05) asks
one question of every segment it samples: would the model save at least
:data:`ROUTER_KEEP_SHARE` of the bits of the best off-model codec (PPMd, ZPAQ, LZMA2, zstd,
chosen by trial on the whole segment)? Its estimate of the model's cost per byte is

    ROUTER_CALIBRATION x (cold sample of rule 3 below) x (learning factor),

where the learning factor is PPMd's bits per byte on the whole segment over PPMd's bits
per byte on the sample's bytes after the sample's context: the sample sees 768 tokens,
the real coding learns from the whole segment (the n-gram and match predictors gain on a
log or an XML dump what a context-mixing coder gains there), and PPMd measures that gain
in milliseconds. Without the factor the cold sample was 0.55 to 1.57 times off the real
cost; with it, 0.93 to 1.39 (bench/ROUTER.md). The calibration is the low end of that
range, so the estimate errs towards the model (a wrong "model" costs time and some bits,
a wrong "off" gives a gain away). Rules 1 and 2 below apply unchanged: where they send a
segment to the model unasked, the measured model was 1.35-3.1x smaller than the best
off-model codec.

The rule of 2026-12-01 (``CodecConfig.model_gate`` = 1):

1. A segment of at most :data:`SURE_TOKENS_PER_BYTE` tokens per byte (2 bytes a token or
   more: prose, source code, most markup and logs) goes to the model, unasked.
2. So does a segment of fewer than :data:`MIN_GATED_TOKENS` tokens: too short to cost much
   time, and too short for a fair sample.
3. Any other segment is estimated: the model alone codes a sample of
   :data:`SAMPLE_TOKENS` tokens from its middle after the :data:`CONTEXT_TOKENS` before
   them (one batched evaluation; no predictors, a short context: a pessimistic
   estimate), and the classic codecs compress the whole segment. The model keeps the segment when its sample costs at most
   :data:`KEEP_RATIO` of the classic codec's bits per byte; otherwise the classic payload,
   already made, is used.

The decision depends only on the bytes and the model's numerics (no clock, no thread
count), so a machine remakes the same file; it is recorded in the file only as the
segment's kind, so a decoder needs nothing of this.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import MODEL_GATE_ROUTER

#: 2 bytes per token or more: the model always pays there (measured on prose, code, JSON,
#: XML, logs: 1.6-3.6x smaller than xz -9e).
SURE_TOKENS_PER_BYTE = 0.5
#: Segments shorter than this (in tokens) are not sampled: they take seconds at most.
MIN_GATED_TOKENS = 1024
#: The sample the model codes to estimate its cost, and the context it sees first: without
#: context the model cannot see what a log or a table repeats, which the whole segment's
#: coding (and the classic codecs) will exploit (measured on a dpkg log: 0.77 bits/byte
#: cold, against xz's 0.78 and nacz's 0.28; 0.26 after 512 tokens). About 4 s on 2 cores.
SAMPLE_TOKENS = 256
CONTEXT_TOKENS = 512
#: The model keeps a segment whose sample costs at most this share of the classic codec's
#: bits per byte. The sample is coded cold and without the predictors, so it overstates
#: what the model will cost (see bench/model_gate.py for the measured gap).
KEEP_RATIO = 0.85
#: The router's stated share: a segment leaves the model only where the model is estimated
#: to save less than this share of the best off-model codec's bits (default level).
ROUTER_KEEP_SHARE = 0.10
#: The router's estimate of the model's whole-segment cost per byte is the cold sample's
#: bits per byte times the learning factor times this. Measured on 21 text segments
#: (bench/ROUTER.md), the real cost was 0.93 to 1.39 times sample x learning; 0.9 sits
#: below the lowest, so the estimate did not exceed the real cost on any of them: a segment
#: leaves the model only where the model saves less than the stated share.
ROUTER_CALIBRATION = 0.9


@dataclass(frozen=True)
class GateEstimate:
    """What the rule saw for one segment (bench/model_gate.py prints these)."""

    n_bytes: int
    n_tokens: int
    sample_bits_per_byte: float | None = None
    #: the codec the segment goes to off the model: the classic codecs under rule 1, the
    #: best off-model codec under the router
    classic_bits_per_byte: float | None = None
    #: the config's model gate (1: the rule of 2026-12-01, 3: the calibrated router)
    gate: int = 1
    #: the router's learning factor: PPMd's bits per byte on the whole segment over its
    #: bits per byte on the sample's bytes after the same context (how much more a coder
    #: that learns from the whole segment gains than the sample could show)
    learning: float | None = None

    @property
    def tokens_per_byte(self) -> float:
        return self.n_tokens / max(1, self.n_bytes)

    @property
    def needs_sample(self) -> bool:
        return needs_estimate(self.n_bytes, self.n_tokens)

    @property
    def model_pays(self) -> bool:
        if not self.needs_sample:
            return True
        if self.gate == MODEL_GATE_ROUTER:
            return self.model_bits_per_byte <= (1 - ROUTER_KEEP_SHARE) * self.classic_bits_per_byte
        return self.sample_bits_per_byte <= KEEP_RATIO * self.classic_bits_per_byte

    @property
    def model_bits_per_byte(self) -> float | None:
        """The router's calibrated estimate of the model's cost on the whole segment."""
        if self.sample_bits_per_byte is None or self.learning is None:
            return None
        return ROUTER_CALIBRATION * self.sample_bits_per_byte * self.learning


def needs_estimate(n_bytes: int, n_tokens: int) -> bool:
    """Rules 1 and 2: False when the model takes the segment without an estimate."""
    return n_tokens >= MIN_GATED_TOKENS and n_tokens > SURE_TOKENS_PER_BYTE * n_bytes


def sample_span(n_tokens: int) -> tuple[int, int, int]:
    """(a, b, c): the model sees tokens [a, b) as context and is scored on [b, c), a
    stretch of :data:`CONTEXT_TOKENS` + :data:`SAMPLE_TOKENS` from the middle (the
    second half of a segment shorter than that)."""
    span = CONTEXT_TOKENS + SAMPLE_TOKENS
    if n_tokens <= span:
        return 0, n_tokens // 2, n_tokens
    a = n_tokens // 2 - span // 2
    return a, a + CONTEXT_TOKENS, a + span
