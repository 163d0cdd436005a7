"""Hybrid segmentation (nacz.segmenter) and the classic codecs for binary segments
(nacz.binary_codec). No model is loaded here."""

from __future__ import annotations

import io
import lzma
import tarfile
import time
import tracemalloc
import zlib

import numpy as np
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _corpus import corpus_path
from nacz import binary_codec
from nacz.binary_codec import (
    METHOD_LZMA2,
    METHOD_SPARC_LZMA2,
    METHOD_STORED,
    METHOD_X86_LZMA2,
    METHOD_XZ,
    METHOD_ZSTD,
    BinaryCodecError,
    compress_binary,
    decompress_binary,
)
from nacz.segmenter import SHORT_INPUT, SegmentPlan, _bad_bytes, plan_segments

TEXT_FILES = ["alice29.txt", "asyoulik.txt", "cp.html", "fields.c", "grammar.lsp",
              "lcet10.txt", "plrabn12.txt", "xargs.1"]
BINARY_FILES = ["kennedy.xls", "ptt5", "sum"]
FUZZ = settings(derandomize=True, deadline=None, max_examples=150,
                suppress_health_check=[HealthCheck.too_slow])


def _check_plan(plan, n):
    """The plan's invariants: exact in-order cover, non-empty, neighbours differ."""
    assert all(isinstance(p, SegmentPlan) and p.kind in ("text", "binary") for p in plan)
    assert (plan[0].start if plan else 0) == 0
    assert (plan[-1].end if plan else 0) == n
    assert all(p.end > p.start for p in plan)
    for a, b in zip(plan, plan[1:]):
        assert a.end == b.start and a.kind != b.kind


def _kinds(data):
    return [p.kind for p in plan_segments(data)]


def _text_share(plan, n):
    return sum(p.end - p.start for p in plan if p.kind == "text") / n


def _random(n, seed=3):
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


# ---------------------------------------------------------------------------- segmenter

_TEXT_POOL = ("The quick brown fox jumps over the lazy dog. Съешь же ещё этих булок. "
              "我能吞下玻璃而不伤身体。 {\"k\": [1, 2.5, null]}\n").encode() * 2000
_BIN_POOL = _random(300_000, seed=11)
_piece = st.tuples(st.booleans(), st.integers(0, 40_000), st.integers(0, 200_000))


@FUZZ
@given(st.lists(_piece, max_size=8))
def test_plan_covers_mixtures_exactly(pieces):
    data = b"".join((_BIN_POOL if binary else _TEXT_POOL)[off : off + size]
                    for binary, size, off in pieces)
    plan = plan_segments(data)
    _check_plan(plan, len(data))
    assert plan == plan_segments(bytearray(data))  # deterministic, any bytes-like


@FUZZ
@given(st.binary(max_size=20_000))
def test_plan_covers_random_bytes_exactly(data):
    _check_plan(plan_segments(data), len(data))


def _reference_bad(data: bytes) -> np.ndarray:
    """Bad-byte mask via CPython's UTF-8 decoder (each undecodable byte is escaped)."""
    good = np.zeros(len(data), dtype=bool)
    i = 0
    for ch in data.decode("utf-8", errors="surrogateescape"):
        cp = ord(ch)
        if 0xDC80 <= cp <= 0xDCFF:  # an escaped byte: not part of valid UTF-8
            i += 1
        elif cp < 0x80:
            good[i] = 0x20 <= cp < 0x7F or cp in (0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1B)
            i += 1
        else:
            width = len(ch.encode())
            good[i : i + width] = True
            i += width
    assert i == len(data)
    return ~good


_utf8ish = st.lists(
    st.one_of(
        st.binary(max_size=3),
        st.text(max_size=3).map(lambda s: s.encode("utf-8", errors="surrogatepass")),
        st.sampled_from([b"\xe0\x80", b"\xe0\xa0\x80", b"\xed\x9f\xbf", b"\xed\xa0\x80",
                         b"\xf0\x8f\xbf\xbf", b"\xf0\x90\x80\x80", b"\xf4\x8f\xbf\xbf",
                         b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\xc2", b"\xe2\x82", b"\xff"]),
    ),
    max_size=60,
).map(b"".join)


@FUZZ
@given(_utf8ish, st.integers(0, 300), st.integers(0, 300))
def test_byte_classes_match_python_utf8_decoder(data, a, b):
    arr = np.frombuffer(data, dtype=np.uint8)
    want = _reference_bad(data)
    assert np.array_equal(_bad_bytes(arr, 0, len(data)), want)
    lo, hi = sorted((min(a, len(data)), min(b, len(data))))
    # Classifying a slice sees the bytes around it: chunking cannot change the answer.
    assert np.array_equal(_bad_bytes(arr, lo, hi), want[lo:hi])


@pytest.mark.parametrize("name", TEXT_FILES)
def test_text_files_are_one_text_segment(name):
    data = corpus_path(name).read_bytes()
    assert plan_segments(data) == [SegmentPlan(0, len(data), "text")]


def test_stray_latin1_byte_in_html_stays_text():
    data = corpus_path("cp.html").read_bytes()
    assert data[24069] == 0xFC  # the one byte that is not UTF-8
    assert plan_segments(data) == [SegmentPlan(0, len(data), "text")]


_SAMPLES = {
    "cyrillic+chinese": ("Съешь же ещё этих мягких французских булок, да выпей чаю. "
                         "我能吞下玻璃而不伤身体。天地玄黄，宇宙洪荒。\n" * 800).encode(),
    "json": b"[" + b",\n".join(
        b'{"id": %d, "name": "user%d", "score": %d.5, "tags": ["a", "\\u00e9"]}' % (i, i, i)
        for i in range(2000)) + b"]\n",
    "csv": b"date,open,high,low,close\n" + b"".join(
        b"2024-01-%02d,%d.25,%d.75,%d.00,%d.50\r\n" % (i % 28 + 1, i, i + 3, i - 2, i + 1)
        for i in range(3000)),
    "log with ANSI colours": b"".join(
        b"2024-05-01T12:00:%02dZ \x1b[32mINFO\x1b[0m worker-%d\tprocessed %d items\n"
        % (i % 60, i % 7, i * 13) for i in range(3000)),
    "latin-1 french": ("Où est la fenêtre? Le garçon a mangé la crème brûlée. " * 2000)
    .encode("latin-1"),
    "emoji": ("status ✅ done 🎉 — ünïcödé ok\n" * 3000).encode(),
}


@pytest.mark.parametrize("name", sorted(_SAMPLES))
def test_text_of_many_kinds_is_one_text_segment(name):
    data = _SAMPLES[name]
    assert plan_segments(data) == [SegmentPlan(0, len(data), "text")]


@pytest.mark.parametrize("name", BINARY_FILES)
def test_binary_files_are_binary(name):
    data = corpus_path(name).read_bytes()
    assert _text_share(plan_segments(data), len(data)) <= 0.02


def test_other_binary_data_is_binary():
    for data in (_random(200_000), bytes(100_000), np.arange(50_000, dtype="<i4").tobytes(),
                 ("UTF-16 text " * 5000).encode("utf-16-le")):
        assert _kinds(data) == ["binary"]


def test_mixed_input_splits_at_the_right_bytes():
    text = corpus_path("alice29.txt").read_bytes()[:50_000]
    noise = _random(100_000)
    plan = plan_segments(text + noise + text)
    assert [p.kind for p in plan] == ["text", "binary", "text"]
    # The change points are found to the byte, give or take bytes of the noise that
    # happen to look like text.
    assert abs(plan[1].start - 50_000) <= 8 and abs(plan[1].end - 150_000) <= 8


def test_small_islands_stay_inside():
    text = corpus_path("lcet10.txt").read_bytes()
    noise = _random(400_000)
    starts = range(0, 400_000, 40_000)
    # 2 KB of noise every 40 KB of text: one text segment (a "mostly text" file).
    islands = b"".join(text[i : i + 40_000] + noise[i : i + 2_000] for i in starts)
    assert _kinds(islands) == ["text"]
    # 6 KB of text every 40 KB of noise: one binary segment.
    blobs = b"".join(noise[i : i + 40_000] + text[i : i + 6_000] for i in starts)
    assert _kinds(blobs) == ["binary"]


def test_tar_of_text_files_goes_to_text():
    buf = io.BytesIO()
    names = ("alice29.txt", "fields.c", "xargs.1")
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in names:
            tar.add(corpus_path(name), arcname=name)
    data = buf.getvalue()
    plan = plan_segments(data)
    assert _text_share(plan, len(data)) >= 0.95
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():  # every member's contents go to the model
            a, b = member.offset_data, member.offset_data + member.size
            assert any(p.kind == "text" and p.start <= a and b <= p.end for p in plan)


def _pdf(text_streams: list[bytes], binary_streams: list[bytes]) -> tuple[bytes, list]:
    """A minimal PDF holding the given streams; also each stream's (start, end, is_text)."""
    out, spans, offsets = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"), [], []
    streams = [(s, True) for s in text_streams] + [(s, False) for s in binary_streams]
    for i, (body, is_text) in enumerate(streams, 1):
        offsets.append(len(out))
        extra = b"" if is_text else b" /Filter /FlateDecode"
        out += b"%d 0 obj\n<< /Length %d%s >>\nstream\n" % (i, len(body), extra)
        spans.append((len(out), len(out) + len(body), is_text))
        out += body + b"\nendstream\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(streams) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d >>\nstartxref\n%d\n%%%%EOF\n" % (len(streams) + 1, xref)
    return bytes(out), spans


def test_pdf_text_streams_go_to_text():
    lines = corpus_path("alice29.txt").read_bytes().splitlines()
    pages = [b"BT /F1 10 Tf 50 780 Td 12 TL\n"
             + b"".join(b"(" + line.replace(b"(", b"[").replace(b")", b"]") + b") '\n"
                        for line in lines[p * 60 : (p + 1) * 60])
             + b"ET\n" for p in range(6)]
    image = zlib.compress(_random(60_000), 9)
    data, spans = _pdf(pages, [image])
    plan = plan_segments(data)
    for start, end, is_text in spans:
        kind = "text" if is_text else "binary"
        inside = sum(max(0, min(end, p.end) - max(start, p.start)) for p in plan if p.kind == kind)
        # (a compressed stream may begin with a byte or two that look like text: 0x78 'x')
        assert inside >= end - start - 4, (start, end, kind, plan)


def test_short_inputs_are_one_segment_of_the_majority_kind():
    assert plan_segments(b"") == []
    assert plan_segments(b"x") == [SegmentPlan(0, 1, "text")]
    assert plan_segments(b"\x00") == [SegmentPlan(0, 1, "binary")]
    assert _kinds(b"hello\x00world\x01") == ["text"]
    assert _kinds(b"\x00\x01\x02\x03ab") == ["binary"]
    assert _kinds(b"\x00" * (SHORT_INPUT - 1)) == ["binary"]
    assert _kinds("ж".encode() * 20) == ["text"]


def test_segmenter_is_fast():
    # The design target is > 50 MB/s; this only catches a fall back to Python loops
    # (the machine running the tests may be shared).
    data = (corpus_path("kennedy.xls").read_bytes() + corpus_path("lcet10.txt").read_bytes()) * 4
    best = min(_timed(plan_segments, data) for _ in range(3))
    assert len(data) / best > 10e6


def _timed(fn, *args):
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


# -------------------------------------------------------------------------- binary codec


def test_method_ids_are_fixed():
    assert (METHOD_STORED, METHOD_ZSTD, METHOD_LZMA2, METHOD_X86_LZMA2, METHOD_SPARC_LZMA2) == (
        0, 1, 2, 3, 4)
    assert METHOD_XZ == METHOD_LZMA2


@pytest.mark.parametrize(
    "data",
    [b"", b"x", bytes(range(256)) * 300, b"\x00" * 70_000, _random(5000), _SAMPLES["csv"]],
    ids=["empty", "one", "ramp", "zeros", "random", "csv"],
)
def test_binary_codec_round_trips(data):
    method, payload = compress_binary(data)
    assert len(payload) <= len(data)
    assert decompress_binary(method, payload, len(data)) == data


def test_incompressible_data_is_stored():
    data = _random(5000)
    assert compress_binary(data) == (METHOD_STORED, data)


def _payloads(data):
    """A payload of ``data`` for every method (bypassing the choice of the smallest)."""
    out = {METHOD_STORED: data, METHOD_ZSTD: binary_codec._zstd(data)}
    for method in (METHOD_LZMA2, METHOD_X86_LZMA2, METHOD_SPARC_LZMA2):
        out[method] = binary_codec._lzma(data, method, (0, 2, 2))
    return out


SAMPLE = bytes(range(256)) * 40 + b"some text to compress " * 100


@pytest.mark.parametrize("method", [0, 1, 2, 3, 4])
def test_every_method_decodes_and_rejects_bad_payloads(method):
    payload = _payloads(SAMPLE)[method]
    n = len(SAMPLE)
    assert decompress_binary(method, payload, n) == SAMPLE
    bad = {
        "truncated": (payload[: len(payload) // 2], n),
        "one byte short": (payload[:-1], n),
        "trailing data": (payload + b"\x00", n),
        "trailing frame": (payload + payload, n),
        "expected too small": (payload, n - 1),
        "expected too large": (payload, n + 1),
        "empty": (b"", n),
    }
    if method != METHOD_STORED:
        bad["garbage"] = (b"\x00garbage\xff" * 3, n)
    for case, (p, length) in bad.items():
        with pytest.raises(BinaryCodecError) as info:
            decompress_binary(method, p, length)
        assert "\n" not in str(info.value), case


@pytest.mark.parametrize("method", [1, 2, 3, 4])
@FUZZ
@given(data=st.data())
def test_damaged_payloads_fail_cleanly(method, data):
    # Our codecs have no checksums (the container's CRC-32s catch silent damage), so a
    # damaged payload may decode; but only to exactly the expected length, or raise
    # BinaryCodecError -- never another exception, never more bytes.
    payload = bytearray(_payloads(SAMPLE[:3000])[method])
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(payload) - 1))
        payload[i] ^= data.draw(st.integers(1, 255))
    try:
        out = decompress_binary(method, bytes(payload), 3000)
    except BinaryCodecError:
        return
    assert len(out) == 3000


def test_unknown_method_and_bad_lengths_raise():
    payload = binary_codec._zstd(SAMPLE)
    for method in (7, 99, -1, None, "1"):
        with pytest.raises(BinaryCodecError):
            decompress_binary(method, payload, len(SAMPLE))
    for length in (-1, None, 1.5):
        with pytest.raises(BinaryCodecError):
            decompress_binary(METHOD_STORED, b"", length)


def test_decompression_bombs_are_bounded():
    zeros = bytes(16 << 20)
    unsized = zstandard.ZstdCompressor(level=1, write_content_size=False).compressobj()
    bombs = [
        (METHOD_ZSTD, zstandard.ZstdCompressor(level=1).compress(zeros)),
        # a frame that does not record its size
        (METHOD_ZSTD, unsized.compress(zeros) + unsized.flush()),
        (METHOD_LZMA2, lzma.compress(zeros, format=lzma.FORMAT_RAW,
                                     filters=[{"id": lzma.FILTER_LZMA2, "preset": 0}])),
    ]
    for method, bomb in bombs:
        tracemalloc.start()
        try:
            with pytest.raises(BinaryCodecError):
                decompress_binary(method, bomb, 1000)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 1 << 20, (method, peak)


def test_compression_does_not_depend_on_threads():
    data = corpus_path("sum").read_bytes()
    assert compress_binary(data, threads=1) == compress_binary(data, threads=3)


@pytest.mark.parametrize("name", BINARY_FILES)
def test_binary_codec_beats_xz_and_zstd(name, record_measurement):
    data = corpus_path(name).read_bytes()
    t = time.perf_counter()
    method, payload = compress_binary(data)
    seconds = time.perf_counter() - t
    assert decompress_binary(method, payload, len(data)) == data
    xz = len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
    zs = len(zstandard.ZstdCompressor(level=19).compress(data))
    record_measurement(f"binary codec {name}: {len(payload)} bytes (method {method}, "
                       f"{seconds:.2f}s); xz -9e {xz}, zstd -19 {zs}")
    assert len(payload) <= 1.01 * min(xz, zs)
