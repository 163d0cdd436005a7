"""The model gate (nacz.model_gate): the rule on its own, then on real inputs.

The first tests check the rule's arithmetic (no model). The others run the real model on
inputs where the answer is known: random bytes written as hex or base64 text, whose
entropy no model can beat, go to the classic codecs; prose, source code and a log stay on
the model. Every file made with the gate on is round-tripped byte for byte.
"""

from __future__ import annotations

import base64
import random

import pytest

from _corpus import corpus_path
from nacz.formats import NEURAL_KINDS, read_header
from nacz.model_gate import (
    CONTEXT_TOKENS,
    KEEP_RATIO,
    MIN_GATED_TOKENS,
    SAMPLE_TOKENS,
    GateEstimate,
    needs_estimate,
    sample_span,
)


def test_dense_and_long_segments_need_an_estimate():
    assert not needs_estimate(4000, 2000)  # 0.5 tokens per byte: the model takes it
    assert needs_estimate(4000, 2001)
    assert not needs_estimate(1500, MIN_GATED_TOKENS - 1)  # dense but short
    assert needs_estimate(1500, MIN_GATED_TOKENS)


def test_the_sample_is_taken_from_the_middle():
    a, b, c = sample_span(10_000)
    assert (b - a, c - b) == (CONTEXT_TOKENS, SAMPLE_TOKENS)
    assert a == 10_000 // 2 - (CONTEXT_TOKENS + SAMPLE_TOKENS) // 2
    assert sample_span(600) == (0, 300, 600)  # shorter than the span: second half scored


def test_model_keeps_a_segment_within_keep_ratio():
    assert GateEstimate(4000, 1000).model_pays  # not sampled
    keep = GateEstimate(4000, 3000, KEEP_RATIO * 2.0, 2.0)
    drop = GateEstimate(4000, 3000, KEEP_RATIO * 2.0 + 1e-9, 2.0)
    assert keep.needs_sample and keep.model_pays
    assert drop.needs_sample and not drop.model_pays


def _random_text(kind: str, n: int) -> bytes:
    raw = random.Random(20261201).randbytes(n)
    if kind == "hex":
        text = raw.hex()
    else:
        text = base64.b64encode(raw).decode()
    return "\n".join(text[i:i + 76] for i in range(0, len(text), 76)).encode() + b"\n"


def _log_text() -> bytes:
    """A made-up service log: timestamps, counters and a few repeating messages."""
    rnd = random.Random(7)
    states = ["queued", "running", "done", "done", "done", "retry"]
    lines = []
    t = 14 * 3600
    for i in range(40):
        t += rnd.randint(0, 3)
        lines.append(f"2026-12-01T{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}Z "
                     f"worker-{i % 4} job={10_000 + i} state={rnd.choice(states)} "
                     f"bytes={rnd.randint(100, 99_999)}\n")
    return "".join(lines).encode()


def _kinds(blob: bytes) -> set[int]:
    return {s.kind for s in read_header(blob).segments}


@pytest.mark.parametrize("kind", ["hex", "base64"])
def test_random_text_goes_to_the_classic_codecs(codec, kind):
    from nacz.config import CodecConfig

    rule_1 = CodecConfig(model_gate=1, offmodel=0)  # config preset 3: the rule tested here
    data = _random_text(kind, 3000)
    tokens = codec.tokenizer.encode(data)
    estimate, classic = codec.gate_estimate(data, tokens, rule_1)
    assert estimate.needs_sample, estimate
    assert not estimate.model_pays, estimate
    assert classic is not None
    blob = codec.compress(data, rule_1)
    assert not (_kinds(blob) & set(NEURAL_KINDS))
    assert codec.decompress(blob) == data


@pytest.mark.parametrize("name", ["alice29.txt", "fields.c"])
def test_prose_and_source_code_stay_on_the_model_unasked(codec, name):
    data = corpus_path(name).read_bytes()[:16384]
    estimate, classic = codec.gate_estimate(data, codec.tokenizer.encode(data))
    assert not estimate.needs_sample and estimate.model_pays and classic is None


def test_a_dense_log_is_sampled_and_kept(codec):
    from nacz.config import CodecConfig

    data = _log_text()
    tokens = codec.tokenizer.encode(data)
    estimate, _ = codec.gate_estimate(data, tokens)
    assert estimate.needs_sample, estimate  # dense enough to be asked
    assert estimate.model_pays, estimate
    blob = codec.compress(data, CodecConfig(model_gate=1))
    assert _kinds(blob) & set(NEURAL_KINDS)
    assert codec.decompress(blob) == data


def test_the_router_keeps_a_segment_unless_the_model_saves_under_its_share():
    from nacz.config import MODEL_GATE_ROUTER
    from nacz.model_gate import ROUTER_CALIBRATION, ROUTER_KEEP_SHARE

    off, learning = 2.0, 0.8
    # the sample at the boundary: estimate = calibration x sample x learning factor
    edge = (1 - ROUTER_KEEP_SHARE) * off / ROUTER_CALIBRATION / learning
    keep = GateEstimate(4000, 3000, edge, off, MODEL_GATE_ROUTER, learning)
    drop = GateEstimate(4000, 3000, edge * 1.001, off, MODEL_GATE_ROUTER, learning)
    assert keep.model_pays and not drop.model_pays
    assert keep.model_bits_per_byte == pytest.approx(ROUTER_CALIBRATION * edge * learning)
    # a segment that learns less (factor 1) at the same sample cost leaves the model
    assert not GateEstimate(4000, 3000, edge, off, MODEL_GATE_ROUTER, 1.0).model_pays
    assert GateEstimate(4000, 1000, gate=MODEL_GATE_ROUTER).model_pays  # not sampled


def test_the_router_sends_random_base64_off_the_model_and_round_trips(codec):
    # Random bytes as base64 (measured: the model 6.227 bits/byte, zstd 6.113) leave the
    # model. As hex they are a near tie (model 4.140, zstd 4.118: 0.5% apart, inside the
    # router's margin), and the router keeps them on the model: it errs that way on purpose
    # (nacz.model_gate), so hex is only round-tripped here, on 1,200 random bytes (2,432
    # bytes of text, 2,205 tokens: still sampled) to keep the test run short.
    from nacz.config import CodecConfig

    data = _random_text("base64", 3000)
    estimate, _ = codec.gate_estimate(data, codec.tokenizer.encode(data), CodecConfig())
    assert estimate.needs_sample and not estimate.model_pays, estimate
    blob = codec.compress(data, CodecConfig())
    assert not (_kinds(blob) & set(NEURAL_KINDS))
    assert codec.decompress(blob) == data
    hexed = _random_text("hex", 1200)
    assert codec.decompress(codec.compress(hexed, CodecConfig())) == hexed
