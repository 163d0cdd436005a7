"""Hybrid segmentation and the classic codecs for binary segments (no model)."""

from __future__ import annotations

import io
import lzma
import tarfile

import numpy as np
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from _corpus import corpus_path
from nacz.binary_codec import (
    METHOD_LZMA2,
    METHOD_STORED,
    METHOD_ZSTD,
    BinaryCodecError,
    compress_binary,
    decompress_binary,
)
from nacz.segmenter import plan_segments


def _covers(plan, n):
    assert [p.start for p in plan][:1] in ([0], [])
    for a, b in zip(plan, plan[1:]):
        assert a.end == b.start and a.kind != b.kind
    assert all(p.end > p.start for p in plan)
    assert (plan[-1].end if plan else 0) == n


@settings(derandomize=True, max_examples=200, deadline=None)
@given(st.binary(max_size=40000))
def test_plan_covers_input_exactly(data):
    _covers(plan_segments(data), len(data))


@pytest.mark.parametrize(
    "name", ["alice29.txt", "fields.c", "cp.html", "xargs.1", "grammar.lsp", "lcet10.txt"]
)
def test_text_files_are_one_text_segment(name):
    data = corpus_path(name).read_bytes()
    assert [(p.start, p.end, p.kind) for p in plan_segments(data)] == [(0, len(data), "text")]


def test_other_scripts_are_text():
    data = ("Съешь же ещё этих мягких французских булок. 我能吞下玻璃而不伤身体。\n" * 500).encode()
    assert [p.kind for p in plan_segments(data)] == ["text"]


@pytest.mark.parametrize("name", ["kennedy.xls", "ptt5", "sum"])
def test_binary_files_are_binary(name):
    data = corpus_path(name).read_bytes()
    binary = sum(p.end - p.start for p in plan_segments(data) if p.kind == "binary")
    assert binary >= 0.9 * len(data)


def test_mixed_input_splits():
    text = corpus_path("alice29.txt").read_bytes()[:50000]
    noise = np.random.default_rng(3).integers(0, 256, 100_000, dtype=np.uint8).tobytes()
    plan = plan_segments(text + noise + text)
    assert [p.kind for p in plan] == ["text", "binary", "text"]


def test_tar_of_text_files_goes_to_text():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in ("alice29.txt", "fields.c", "xargs.1"):
            tar.add(corpus_path(name), arcname=name)
    data = buf.getvalue()
    text = sum(p.end - p.start for p in plan_segments(data) if p.kind == "text")
    assert text >= 0.95 * len(data)


@pytest.mark.parametrize("name", ["kennedy.xls", "ptt5", "sum"])
def test_binary_codec_beats_xz_and_zstd(name):
    data = corpus_path(name).read_bytes()
    method, payload = compress_binary(data)
    assert decompress_binary(method, payload, len(data)) == data
    xz = len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
    zs = len(zstandard.ZstdCompressor(level=19).compress(data))
    assert len(payload) <= 1.01 * min(xz, zs)


def test_binary_codec_round_trips_and_rejects_corruption():
    data = bytes(range(256)) * 300
    for method_data in (data, b"", b"x", np.random.default_rng(1).bytes(5000)):
        m, p = compress_binary(method_data)
        assert decompress_binary(m, p, len(method_data)) == method_data
    m, p = compress_binary(data)
    assert m != METHOD_STORED
    with pytest.raises(BinaryCodecError):
        decompress_binary(m, p[: len(p) // 2], len(data))
    with pytest.raises(BinaryCodecError):
        decompress_binary(m, p, len(data) - 1)  # expected length too small
    with pytest.raises(BinaryCodecError):
        decompress_binary(99, p, len(data))
    for method in (METHOD_ZSTD, METHOD_LZMA2):
        with pytest.raises(BinaryCodecError):
            decompress_binary(method, b"\x00garbage\xff" * 3, 100)


def test_decompression_bomb_is_bounded():
    bomb = zstandard.ZstdCompressor(level=3).compress(b"\0" * (64 << 20))
    with pytest.raises(BinaryCodecError):
        decompress_binary(METHOD_ZSTD, bomb, 1000)
