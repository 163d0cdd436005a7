"""The long round-trip suites, run on request: `pytest -m corpus`, `pytest -m enwik8`.

Not part of the default run (see addopts in pyproject.toml). When the data is absent they
skip with a visible reason, never a silent pass.
"""

from __future__ import annotations

import os
import zlib

import pytest

from _corpus import corpus_path
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


@pytest.mark.enwik8
@pytest.mark.parametrize("start,end", _enwik8_slices())
def test_enwik8_slice(codec, start, end):
    path = corpus_path("enwik8")
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    crc = zlib.crc32(data)
    back = codec.decompress(codec.compress(data))
    assert len(back) == len(data) and zlib.crc32(back) == crc and back == data
