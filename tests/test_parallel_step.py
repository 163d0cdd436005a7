"""A lockstep step's predictions in parallel threads (issue 19, item 1), without the model.

What must hold:
- Streams that share no state give the very bits they gave one at a time (the golden
  digests of tests/test_predictors.py pin those; here the two paths are also compared
  directly).
- ``Predictor.SYNC`` (shared state, every stream of a step predicting from the state as the step
  began, updates in stream order) is exactly what a plain sequential reference of that
  definition computes, and round-trips.
- The CDFs and the bytes do not depend on the number of threads (1, 2, and 8 threads on
  this 2-core machine, the last in a subprocess with a larger Numba pool).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _fake_backend import _ROWS, _SCALES, FakeBackend, synthetic_streams

from nacz.codec import TokenModels, decode_streams, encode_streams, escape_standin
from nacz.coder import quantize_probabilities
from nacz.config import CodecConfig, Predictor, config_from_fields, \
    config_to_fields
from nacz.errors import UsageError
from nacz.predictors import Predictors

LENGTHS = (900, 900, 640, 300, 1)
SYNC = CodecConfig(predictors=Predictor.ALL | Predictor.SHARED | Predictor.SYNC)
#: SHA-256 of the payloads SYNC writes for LENGTHS (made by this commit's code: it defines
#: the Predictor.SYNC bitstream; a change here is a format change, never a regeneration).
SYNC_GOLDEN = "b905ceb8b9af4eb04fec2b51f2b4ced96df9d0b1d196ccbc9f5767f5d9ef22ef"


def _digest(payloads) -> str:
    h = hashlib.sha256()
    for p in payloads:
        h.update(len(p).to_bytes(8, "little") + p)
    return h.hexdigest()


class _Threads:
    """A fake backend whose ``threads`` the codec hands to the parallel step."""

    def __init__(self, fake, threads):
        self._fake = fake
        self.threads = threads

    def __getattr__(self, name):
        return getattr(self._fake, name)


@pytest.fixture(scope="module")
def fake():
    return FakeBackend()


def _round_trip(backend, cfg, lengths=LENGTHS, seed=11):
    streams = synthetic_streams(backend.n_vocab, lengths, seed=seed)
    payloads = encode_streams(backend, streams, cfg)
    decoded = decode_streams(backend, [len(s) for s in streams], payloads, cfg)
    for a, b in zip(streams, decoded):
        assert np.array_equal(a, b)
    return _digest(payloads)


def test_sync_is_a_mode_of_shared_and_travels_in_the_header():
    with pytest.raises(UsageError, match="sync"):
        CodecConfig(predictors=Predictor.ALL | Predictor.SYNC)
    assert config_from_fields(config_to_fields(SYNC)) == SYNC
    assert TokenModels(3, 50, SYNC).parallel
    assert TokenModels(3, 50, CodecConfig(predictors=Predictor.ALL)).parallel
    assert not TokenModels(3, 50, CodecConfig()).parallel  # shared, one at a time


@pytest.mark.parametrize("cfg", [
    CodecConfig(predictors=Predictor.ALL),
    CodecConfig(predictors=Predictor.ALL, temperature=0.8),
    CodecConfig(predictors=Predictor.ALL, skip_min_match=6, skip_confidence=0.6),
], ids=["unshared", "unshared-temperature", "unshared-skip"])
def test_unshared_streams_give_the_sequential_bits(fake, cfg, monkeypatch):
    parallel = _round_trip(fake, cfg)
    # the same codec with the parallel step switched off: one stream at a time
    monkeypatch.setattr(TokenModels, "parallel", property(lambda self: False))
    assert _round_trip(fake, cfg) == parallel


def _sync_reference(fake, cfg, streams, standin):
    """Predictor.SYNC by its definition, one stream at a time: at every step all streams
    predict from the state as the step began, then each stream updates in stream order.
    The fake model's logits are computed as FakeStreams computes them (the fed token's
    row, scaled by the position's sharpness). Returns the digest of every coded CDF."""
    V = fake.n_vocab
    first = Predictors(V, cfg)
    preds = [first] + [Predictors(V, cfg, shared_with=first) for _ in streams[1:]]
    h = hashlib.sha256()
    fed = [cfg.start_token] * len(streams)
    for step in range(max(len(s) for s in streams)):
        live = [s for s in range(len(streams)) if step < len(streams[s])]
        cdfs = {}
        for s in live:
            row = fake.table[fed[s] % _ROWS] * _SCALES[step % len(_SCALES)]
            cdfs[s] = quantize_probabilities(preds[s].predict(row))
        for s in live:
            tok = int(streams[s][step])
            if tok < V:
                h.update(cdfs[s].tobytes())
            preds[s].update(tok)
            fed[s] = tok if tok < V else standin
    return h.hexdigest()


def test_sync_equals_its_sequential_definition(fake, monkeypatch):
    """The parallel step's CDFs are those of the plain sequential reference."""
    streams = synthetic_streams(fake.n_vocab, (300, 300, 200), seed=3)
    seen = hashlib.sha256()
    real_cdf = TokenModels.cdf

    def spy(self, stream, logits):
        cdf = real_cdf(self, stream, logits)
        seen.update(cdf.tobytes())
        return cdf

    monkeypatch.setattr(TokenModels, "cdf", spy)
    encode_streams(fake, streams, SYNC)
    # the codec asks for CDFs step by step, stream by stream, as the reference hashes them
    assert seen.hexdigest() == _sync_reference(fake, SYNC, streams, escape_standin(fake))


def test_sync_round_trips_and_is_pinned(fake):
    assert _round_trip(fake, SYNC) == SYNC_GOLDEN


@pytest.mark.parametrize("cfg", [SYNC, CodecConfig(predictors=Predictor.ALL)],
                         ids=["sync", "unshared"])
def test_bytes_do_not_depend_on_the_thread_count(fake, cfg):
    digests = {t: _round_trip(_Threads(fake, t), cfg) for t in (1, 2, None)}
    assert len(set(digests.values())) == 1, digests


_CHILD = r"""
import hashlib, json, sys
sys.path.insert(0, sys.argv[1])
import numba
from _fake_backend import _ROWS, _SCALES, FakeBackend, synthetic_streams
from nacz.codec import encode_streams
from nacz.config import CodecConfig, Predictor
fake = FakeBackend()
fake.threads = int(sys.argv[2])
streams = synthetic_streams(fake.n_vocab, (900, 900, 640, 300, 1), seed=11)
h = hashlib.sha256()
sync = CodecConfig(predictors=Predictor.ALL | Predictor.SHARED | Predictor.SYNC)
for p in encode_streams(fake, streams, sync):
    h.update(len(p).to_bytes(8, "little") + p)
print(json.dumps({"pool": numba.config.NUMBA_NUM_THREADS, "digest": h.hexdigest()}))
"""


def test_eight_threads_in_a_larger_pool_give_the_same_bytes(fake, tmp_path):
    env = dict(os.environ, NUMBA_NUM_THREADS="8")
    r = subprocess.run([sys.executable, "-c", _CHILD, str(Path(__file__).parent), "8"],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["pool"] == 8
    assert out["digest"] == _round_trip(_Threads(fake, 1), SYNC)


def test_a_sync_group_refuses_to_predict_outside_the_step(fake):
    models = TokenModels(2, fake.n_vocab, SYNC)
    with pytest.raises(RuntimeError, match="prepare"):
        models.cdf(0, fake.table[0])


def test_predictor_lists_may_name_all_and_sync():
    from nacz.cli import parse_predictors

    assert parse_predictors("all") == Predictor.ALL | Predictor.SHARED
    assert parse_predictors("all,sync") == Predictor.ALL | Predictor.SHARED | Predictor.SYNC
    assert parse_predictors("none") == 0
    with pytest.raises(UsageError, match="unknown predictor 'fast'"):
        parse_predictors("all,fast")


def test_cpu_side_bench_prints_a_row_per_config_and_streams(tmp_path):
    """bench/cpu_side.py, as the device check runs it (there with 16 threads and 16-256
    streams), tiny here."""
    out = tmp_path / "cpu_side.md"
    root = Path(__file__).resolve().parent.parent
    r = subprocess.run([sys.executable, str(root / "bench" / "cpu_side.py"), "--threads", "1,2",
                        "--streams", "2,3", "--steps", "2", "--configs", "sync,shared",
                        "--markdown", "--out", str(out)],
                       capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [line.split("|")[1:-1] for line in out.read_text().splitlines()
            if line.startswith("| sync") or line.startswith("| shared")]
    assert [(c.strip(), n.strip()) for c, n, *_ in rows] == [
        ("sync", "2"), ("sync", "3"), ("shared", "2"), ("shared", "3")]
    for row in rows:
        assert len(row) == 4  # config, streams, 1 thread, 2 threads
        for cell in row[2:]:
            assert float(cell.split("(")[0].replace(",", "")) > 0
