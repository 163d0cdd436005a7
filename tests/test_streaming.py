"""Streaming: inputs are coded in blocks, payloads are spooled, decoding goes group by
group, and memory does not grow with the input (issue 5, item 3)."""

from __future__ import annotations

import hashlib
import io
import random
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _corpus import corpus_path
import nacz
from nacz import formats
from nacz.config import CodecConfig
from nacz.segmenter import block_end


@pytest.fixture(scope="module")
def codec1():
    """One model thread: on a shared machine a starved second thread stalls llama.cpp."""
    from nacz.api import Codec

    return Codec(threads=1)


def _alice(a: int, b: int) -> bytes:
    return corpus_path("alice29.txt").read_bytes()[a:b]


class _ChunkyReader:
    """A binary file whose read(n) returns at most the next of ``sizes`` bytes."""

    def __init__(self, data: bytes, sizes: list[int]):
        self._data, self._sizes, self._pos, self._k = data, sizes, 0, 0

    def read(self, n: int = -1) -> bytes:
        size = self._sizes[self._k % len(self._sizes)]
        self._k += 1
        if n >= 0:
            size = min(size, n)
        out = self._data[self._pos : self._pos + size]
        self._pos += len(out)
        return out


class _RandomReader:
    """``length`` pseudo-random bytes made as they are read, so the input itself never
    sits in memory; ``digest`` is the SHA-256 of what was delivered."""

    def __init__(self, length: int, seed: int):
        self._left = length
        self._rng = random.Random(seed)
        self._sha = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        out = self._rng.randbytes(n)
        self._left -= n
        self._sha.update(out)
        return out

    @property
    def digest(self) -> bytes:
        return self._sha.digest()


class _HashingSink:
    def __init__(self):
        self._sha = hashlib.sha256()
        self.count = 0

    def write(self, b) -> int:
        self._sha.update(b)
        self.count += len(b)
        return len(b)

    @property
    def digest(self) -> bytes:
        return self._sha.digest()


# -- inputs of at most one block: exactly the bytes of the whole-input code ---------------

#: For each input: the SHA-256 of the payloads (everything after the header) that the
#: whole-input code (commit 048a1a7, before blocks existed) wrote, which the block code must
#: still write for inputs of at most one block (README figures depend on it), and the
#: SHA-256 of the whole file as format version 3 writes it (regenerated on purpose when
#: version 3 shortened the header by 63 bytes; the payloads did not change). Those cases
#: run with the line-layout folds and the model gate off (``layout=0, model_gate=0``,
#: config preset 1, as those files were made); tests/test_layout.py pins a folded file.
def _sub_block_cases():
    rng = random.Random(1234)
    text = _alice(2000, 2300)
    binary = (bytes(rng.getrandbits(8) for _ in range(150_000)) + bytes(60_000)
              + corpus_path("sum").read_bytes()[:30000])
    plain = CodecConfig(layout=0, model_gate=0, offmodel=0)  # as before the CM codecs
    return {
        "empty": (b"", plain, True,
                  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                  "8b32bc0aa5e580e3f35d4d78d15c5d49604a2a0b4343f8fd951fbf83fe436d48"),
        "text300": (text, plain, True,
                    "03f73bf5858f84debf093e2947ebd0ca6e874f588562d07243d1490518ef855a",
                    "44468507cfc0b14b793adb9a62660cf86834ec70d8b1679ffe9c513ca5cdcc0a"),
        "text300_sharded": (
            text, CodecConfig(min_shard_tokens=20, max_streams=2, predictors=0, layout=0,
                              model_gate=0, offmodel=0), True,
            "0591d235fb50d9e08be9cc717cced6ec66599095b11cdb11bfa4a409c5f686a9",
            "987051d6f4dced7ff14a8360f409f7c448772711134632c09583743bd30cb762"),
        "binary": (binary, plain, True,
                   "894b9db617d01f8ddc0443e9347e662a6acd4cf4e31703c74e8c9af8bcf6996f",
                   "ed5a76a0532aea1ce34f7ed7b6d104ceb364d08b3f1fedd9850cb592198568c1"),
        "nohybrid_bytes": (bytes(range(120)), plain, False,
                           "091a78603954f487c477528f0765319b72de34df72fb901d9b585e56d8a11ffd",
                           "3e83411e253f4de64c837b9e7bb500c2f1c2639627c774e3cbca62eb4225c4fc"),
    }


def test_inputs_of_one_block_are_coded_as_before(codec1):
    from nacz.formats import read_header

    for name, (data, cfg, hybrid, payload_sha, file_sha) in _sub_block_cases().items():
        blob = codec1.compress(data, cfg, hybrid=hybrid)
        src = io.BytesIO(blob)
        read_header(src)
        assert hashlib.sha256(blob[src.tell():]).hexdigest() == payload_sha, name
        assert hashlib.sha256(blob).hexdigest() == file_sha, name
        if hybrid:  # the streaming entry point writes the same bytes
            out = io.BytesIO()
            codec1.compress_to(_ChunkyReader(data, [7, 1000]), out, cfg)
            assert out.getvalue() == blob, name
        assert codec1.decompress(blob) == data, name


# -- block cuts -------------------------------------------------------------------------------


def test_block_end_keeps_lines_and_characters_whole():
    size = 4096
    text = ("é" * 3000).encode() + b"\nabc"  # no newline near the cut: a character boundary
    assert len(text) > size
    end = block_end(text, size)
    assert end <= size and text[:end].decode("utf-8") and text[end:].decode("utf-8")
    lines = b"line of text\r\n" * 400
    end = block_end(lines, size)
    assert lines[:end].endswith(b"\r\n") and size - 14 < end <= size
    with pytest.raises(ValueError):
        block_end(b"x" * size, size)


def _pool(n: int) -> bytes:
    """Bytes that look binary but hold newlines and UTF-8 continuation bytes."""
    rng = random.Random(5)
    alphabet = [0x00, 0x0A, 0x0A, 0x80, 0x9F, 0xBF, 0xC3, 0xE2, 0x41, 0x20]
    return bytes(rng.choice(alphabet) if rng.random() < 0.5 else rng.getrandbits(8)
                 for _ in range(n))


_POOL = _pool(9000)


@settings(derandomize=True, max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, len(_POOL)), st.lists(st.integers(1, 3000), min_size=1, max_size=8))
def test_read_chunking_never_changes_the_output(codec1, n, sizes):
    """However src.read splits the input, the blocks and so the file are the same."""
    data = _POOL[:n]
    cfg = CodecConfig(block_size=1024)
    whole = io.BytesIO()
    codec1.compress_to(io.BytesIO(data), whole, cfg)
    chunky = io.BytesIO()
    codec1.compress_to(_ChunkyReader(data, sizes), chunky, cfg)
    assert chunky.getvalue() == whole.getvalue()
    assert codec1.decompress(whole.getvalue()) == data


# -- many blocks ------------------------------------------------------------------------------


def _mixed_input() -> bytes:
    """Mostly binary, with two short texts that the block size cuts into several groups."""
    rng = random.Random(99)
    return (rng.randbytes(60_000) + _alice(10_000, 12_300) + bytes(30_000)
            + corpus_path("sum").read_bytes()[:20_000] + _alice(20_000, 21_500)
            + rng.randbytes(5_000))


_MIXED_CFG = CodecConfig(block_size=1024, predictors=0)


@pytest.fixture(scope="module")
def mixed(codec1):
    data = _mixed_input()
    return data, codec1.compress(data, _MIXED_CFG)


def test_input_of_many_blocks_round_trips(codec1, mixed):
    data, blob = mixed
    h = formats.read_header(blob)
    neural = [s for s in h.segments if s.kind == formats.SegmentKind.NEURAL]
    assert len({s.group for s in neural}) >= 3  # text in several blocks, a group each
    assert all(s.n_bytes <= _MIXED_CFG.block_size for s in h.segments)
    assert sum(s.n_bytes for s in h.segments) == len(data) > 100 * _MIXED_CFG.block_size
    assert codec1.decompress(blob) == data
    # Streams in and out give the same bytes.
    out = io.BytesIO()
    codec1.compress_to(_ChunkyReader(data, [4097, 13]), out, _MIXED_CFG)
    assert out.getvalue() == blob
    sink = _HashingSink()
    assert codec1.decompress_to(io.BytesIO(blob), sink) == len(data)
    assert sink.digest == hashlib.sha256(data).digest()


def test_binary_input_of_many_blocks_round_trips_through_streams(codec1, tmp_path):
    cfg = CodecConfig(block_size=64 << 10)
    src = _RandomReader(1_000_000, seed=3)
    packed = tmp_path / "r.nacz"
    with open(packed, "wb") as f:
        written = codec1.compress_to(src, f, cfg)
    assert packed.stat().st_size == written
    h = formats.read_header(packed.read_bytes())
    assert len(h.segments) >= 1_000_000 // (64 << 10)
    sink = _HashingSink()
    with open(packed, "rb") as f:
        codec1.decompress_to(f, sink)
    assert sink.count == 1_000_000 and sink.digest == src.digest


def test_worker_count_does_not_change_a_many_block_file(mixed):
    from nacz.api import Codec

    data, blob = mixed
    two = Codec(threads=1, workers=2)
    assert two.compress(data, _MIXED_CFG) == blob
    assert two.decompress(blob) == data


def _corrupt_last_neural_payload(blob: bytes) -> tuple[bytes, int]:
    h = formats.read_header(blob)
    offset = len(blob) - h.payload_length
    last = max(i for i, s in enumerate(h.segments) if s.kind == formats.SegmentKind.NEURAL)
    pos = offset + sum(s.payload_length for s in h.segments[:last])
    bad = bytearray(blob)
    bad[pos] ^= 0x20
    return bytes(bad), last


def test_corruption_in_a_later_group_is_detected(codec1, mixed, nacz_cli, tmp_path):
    data, blob = mixed
    bad, index = _corrupt_last_neural_payload(blob)
    assert formats.read_header(bad).segments[index].group > 0
    with pytest.raises(nacz.CorruptDataError, match=f"segment {index}") as caught:
        codec1.decompress(bad)
    assert isinstance(caught.value.__cause__, formats.PayloadChecksumError)
    # Earlier groups were written before the damage was found; the CLI keeps none of it.
    (tmp_path / "bad.nacz").write_bytes(bad)
    r = nacz_cli("decompress", "--threads", "1", "bad.nacz")
    assert r.returncode == 1 and "checksum" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.nacz"]
    r = nacz_cli("test", "--threads", "1", "bad.nacz")
    assert r.returncode == 1 and "checksum" in r.stderr


def test_cli_streams_many_blocks_and_rm_verifies(mixed, nacz_cli, tmp_path):
    data, blob = mixed
    (tmp_path / "m.bin").write_bytes(data)
    r = nacz_cli("compress", "--threads", "1", "--block-size", "1024", "--predictors", "none",
                 "--rm", "m.bin")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "m.bin.nacz").read_bytes() == blob and not (tmp_path / "m.bin").exists()
    r = nacz_cli("decompress", "--threads", "1", "-c", input=blob)
    assert r.returncode == 0 and r.stdout == data
    r = nacz_cli("info", "--json", input=blob)
    assert r.returncode == 0, r.stderr
    import json

    rec = json.loads(r.stdout)
    assert rec["compressed_bytes"] == len(blob) and rec["config"]["block_size"] == 1024


# -- memory -----------------------------------------------------------------------------------


def _peak(codec, n: int, cfg: CodecConfig, tmp_path) -> tuple[int, int]:
    """tracemalloc peaks of compress_to and decompress_to over n random bytes, file to file."""
    src = _RandomReader(n, seed=n)
    packed = tmp_path / f"{n}.nacz"
    tracemalloc.start()
    try:
        with open(packed, "wb") as f:
            codec.compress_to(src, f, cfg)
        c_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        sink = _HashingSink()
        with open(packed, "rb") as f:
            codec.decompress_to(f, sink)
        d_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sink.digest == src.digest
    packed.unlink()
    return c_peak, d_peak


def test_memory_does_not_grow_with_the_input(codec1, tmp_path, record_measurement,
                                              monkeypatch):
    """Binary path, 4 MB and 16 MB through 256 KiB blocks and a 256 KiB spool: the same
    peak, well below the inputs. (bench/memory.py: 8 and 32 MB at the defaults, peak RSS.)"""
    monkeypatch.setattr("nacz.api.SPOOL_MEMORY", 256 << 10)
    cfg = CodecConfig(block_size=256 << 10)
    codec1.compress(b"\x00" * 100)  # load the model outside the measurement
    small = _peak(codec1, 4_000_000, cfg, tmp_path)
    large = _peak(codec1, 16_000_000, cfg, tmp_path)
    record_measurement(
        f"tracemalloc peak, 256 KiB blocks, random bytes: 4 MB in: compress "
        f"{small[0] / 2**20:.2f} MiB, decompress {small[1] / 2**20:.2f} MiB; 16 MB in: "
        f"{large[0] / 2**20:.2f} / {large[1] / 2**20:.2f} MiB")
    for s, l in zip(small, large):
        # 4x the input, the same peak: a few blocks plus the binary codecs' and the
        # segmenter's fixed working memory (about 8 MiB with zstd -19 and xz -9e
        # candidates in threads), nothing of the input's size.
        assert l <= 1.1 * s + (256 << 10)
        assert l < 16_000_000 // 1.5
