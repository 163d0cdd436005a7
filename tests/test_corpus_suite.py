"""The long round-trip suites, run on request: `pytest -m corpus`, `pytest -m enwik8`.

Not part of the default run (see addopts in pyproject.toml). When the data is absent they
skip with a visible reason, never a silent pass.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from pathlib import Path

import pytest

from _corpus import CORPORA_DIR, corpus_path
from test_roundtrip import CANTERBURY


@pytest.mark.corpus
@pytest.mark.parametrize("name", CANTERBURY)
def test_canterbury_full_file(codec, name):
    data = corpus_path(name).read_bytes()
    blob = codec.compress(data)
    assert codec.decompress(blob) == data
    print(f"\n{name}: {len(data)} -> {len(blob)} bytes, {8 * len(blob) / len(data):.4f} bits/byte")


def _enwik8_slices():
    """NACZ_ENWIK8_BYTES: how much to test (default 1 MB; 'all' for the whole file)."""
    want = os.environ.get("NACZ_ENWIK8_BYTES", "1000000")
    total = 100_000_000 if want == "all" else int(want)
    step = int(os.environ.get("NACZ_ENWIK8_SLICE", "1000000"))
    return [(a, min(total, a + step)) for a in range(0, total, step)]


#: The first 1,000,000 bytes of enwik8 with their own SHA-256 (the official checksum covers
#: only the whole file), used when the whole file is not fetched.
ENWIK8_HEAD = Path(os.environ.get(
    "NACZ_ENWIK8_HEAD", Path(__file__).resolve().parents[2] / "shared/corpora/enwik8/enwik8.head1M"))
ENWIK8_HEAD_SHA256 = "369b688978f649681136198fb96db14c1616756260c55fb4b65e9bc049552cad"


def _enwik8_source(end: int, record) -> Path:
    """The whole enwik8 when fetched, else the verified 1 MB prefix (with a visible note);
    skips, with the reason, when neither holds bytes up to ``end``."""
    full = CORPORA_DIR / "enwik8"
    if full.exists():
        return corpus_path("enwik8")
    if not ENWIK8_HEAD.exists():
        pytest.skip(f"neither corpora/enwik8 nor the prefix {ENWIK8_HEAD} is here: run "
                    "python corpora/fetch.py --enwik8")
    digest = hashlib.sha256(ENWIK8_HEAD.read_bytes()).hexdigest()
    if digest != ENWIK8_HEAD_SHA256:
        pytest.fail(f"{ENWIK8_HEAD} does not match its SHA-256 ({digest})")
    if end > ENWIK8_HEAD.stat().st_size:
        pytest.skip(f"the slice ends at {end}, beyond the {ENWIK8_HEAD.stat().st_size}-byte "
                    "prefix of enwik8 (the whole file is not fetched)")
    record(f"enwik8: the whole file is absent; slices come from its verified first "
           f"{ENWIK8_HEAD.stat().st_size:,} bytes ({ENWIK8_HEAD})")
    return ENWIK8_HEAD


def _enwik8_round_trip(codec, start, end, record):
    with open(_enwik8_source(end, record), "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    crc = zlib.crc32(data)
    blob = codec.compress(data)
    back = codec.decompress(blob)
    assert len(back) == len(data) and zlib.crc32(back) == crc and back == data
    record(f"enwik8[{start}:{end}]: {len(data)} -> {len(blob)} bytes, "
           f"{8 * len(blob) / len(data):.4f} bits/byte, round trip exact")
    return blob


@pytest.mark.enwik8
@pytest.mark.parametrize("start,end", _enwik8_slices())
def test_enwik8_slice(codec, start, end, record_measurement):
    _ENWIK8_BLOBS[start, end] = _enwik8_round_trip(codec, start, end, record_measurement)


_ENWIK8_BLOBS: dict = {}  # (start, end) -> the file test_enwik8_slice wrote


@pytest.mark.enwik8
@pytest.mark.parametrize("start,end", _enwik8_slices())
def test_enwik8_slice_through_ray(codec, start, end, record_measurement):
    """The same slices through a local Ray instance (2 actors): the same bytes."""
    pytest.importorskip("ray", reason="needs the [ray] extra")
    from nacz.api import Codec

    ray_codec = Codec(workers=2, ray_address="local")
    try:
        blob = _enwik8_round_trip(ray_codec, start, end, record_measurement)
    finally:
        ray_codec.close()
    if (start, end) not in _ENWIK8_BLOBS:  # run alone: make the reference here
        with open(_enwik8_source(end, record_measurement), "rb") as f:
            f.seek(start)
            _ENWIK8_BLOBS[start, end] = codec.compress(f.read(end - start))
    assert blob == _ENWIK8_BLOBS[start, end]
