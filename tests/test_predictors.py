"""The predictors and the lockstep loop without the model: a fake backend, synthetic ids.

The golden digests were made by the code of commit 842d24e (before the predictors were
split into components); they pin every CDF the predictors produce under each setting, so a
restructuring that changes one bit of one probability fails here, long before the
real-model golden tests run.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from _fake_backend import FakeBackend, synthetic_streams

from nacz.codec import decode_streams, encode_streams
from nacz.config import (
    PRED_ALL,
    PRED_APM,
    PRED_BIAS,
    PRED_MATCH,
    PRED_NGRAM,
    PRED_SHARED,
    PRED_TEMP,
    PRED_UNIGRAM,
    CodecConfig,
)

LENGTHS = (1500, 700, 1)

#: name -> (config, SHA-256 of the payloads the codec wrote with it at 842d24e)
CASES = {
    "default": (CodecConfig(),
        "56f0966c47f6497177b59cf4ea917afa8bf1fe4eddc72334d6c5e2c90d0013d1"),
    "llm-alone": (CodecConfig(predictors=0),
        "528d5b8197e38b2d1118d3b8bd58b2401dffc1f41491320f3eae033dc55a619a"),
    "bias": (CodecConfig(predictors=PRED_BIAS),
        "328d687136fc59c48c88e3ef6222f6f2b07004636df982d780458932cf666b93"),
    "ngram": (CodecConfig(predictors=PRED_NGRAM),
        "1e8e4627fa5832539fdc4725219149a02ce1bba644d7a5231750122064484e00"),
    "match": (CodecConfig(predictors=PRED_MATCH),
        "ddab0dc82665cf029612825e471575c032d96317990771a79dcb0a545369de5f"),
    "temp": (CodecConfig(predictors=PRED_TEMP),
        "86a48dfa0c716527426ecc58a8ff70e14d32c9c746bd13bc2434bcef34db7e56"),
    "apm": (CodecConfig(predictors=PRED_APM),
        "8095e678d0151eea43624d41a03aab3f3b7044d2e768500ae1cf972aaa53a70b"),
    "unigram": (CodecConfig(predictors=PRED_UNIGRAM),
        "e4133429862bc998ccfa3d63dcc67284c428081c8812a1b6f94dca80fc8dc2de"),
    "all-unshared": (CodecConfig(predictors=PRED_ALL),
        "22325ed73c94380f8eec1228661eb4d6b01a5a2f2ae3140510351a782d2cff6a"),
    "temperature": (CodecConfig(temperature=0.8),
        "b81d7ef54baac2603928465d64f489221a4ddc367b7bf6f3faf317ade110b0c5"),
    "skip": (CodecConfig(skip_min_match=6, skip_confidence=0.6),
        "14a0406f5cfe496916573844c0cbd0a125771ebd1bcfa2bc31059b59c659d142"),
    "decay-orders": (CodecConfig(bias_decay=0.01, ngram_orders=(1, 3, 5), ngram_slots=4,
                                 predictors=PRED_ALL | PRED_SHARED),
        "f58bb4467f0c4ce041dc0ba04c67545725af964e479995cd7faa8a01ef858fe1"),
}


def _digest(payloads) -> str:
    h = hashlib.sha256()
    for p in payloads:
        h.update(len(p).to_bytes(8, "little") + p)
    return h.hexdigest()


@pytest.fixture(scope="module")
def fake():
    return FakeBackend()


@pytest.mark.parametrize("name", sorted(CASES))
def test_lockstep_golden_and_round_trip(fake, name):
    cfg, golden = CASES[name]
    streams = synthetic_streams(fake.n_vocab, LENGTHS)
    payloads = encode_streams(fake, streams, cfg)
    digest = _digest(payloads)
    decoded = decode_streams(fake, [len(s) for s in streams], payloads, cfg)
    for a, b in zip(streams, decoded):
        assert np.array_equal(a, b)
    assert digest == golden
