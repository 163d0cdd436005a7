"""The context-mixing codecs off the model (nacz.cm_codecs): round trips on real data,
the choice by trial, and hostile payloads (every truncation, bit flips, random bytes,
memory and output bombs, the CPU limit), which must end as one-line BinaryCodecErrors in
bounded time, with this process's memory bounded by the expected length."""

from __future__ import annotations

import os
import random
import struct
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import pytest
from _corpus import corpus_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nacz import cm_codecs
from nacz.binary_codec import (
    METHOD_PPMD,
    METHOD_ZPAQ,
    compress_binary,
    compress_offmodel,
    decompress_binary,
)
from nacz.cm_codecs import (
    compress_ppmd,
    compress_zpaq,
    decompress_ppmd,
    decompress_zpaq,
    ppmd_mem_log,
)
from nacz.errors import BinaryCodecError

TEXT = corpus_path("alice29.txt").read_bytes()[:6000]
CODECS = {"ppmd": (compress_ppmd, decompress_ppmd, METHOD_PPMD),
          "zpaq": (compress_zpaq, decompress_zpaq, METHOD_ZPAQ)}
FUZZ = settings(derandomize=True, max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("codec", sorted(CODECS))
@pytest.mark.parametrize("name", ["alice29.txt", "kennedy.xls", "sum", "xargs.1"])
def test_round_trip_on_corpus_files(codec, name):
    data = corpus_path(name).read_bytes()[:200_000]
    enc, dec, method = CODECS[codec]
    payload = enc(data)
    assert dec(payload, len(data)) == data
    assert decompress_binary(method, payload, len(data)) == data


@pytest.mark.parametrize("codec", sorted(CODECS))
@pytest.mark.parametrize("data", [b"x", b"\x00" * 5000, bytes(range(256)) * 8],
                         ids=["one", "zeros", "ramp"])
def test_round_trip_on_edge_inputs(codec, data):
    enc, dec, _ = CODECS[codec]
    assert dec(enc(data), len(data)) == data


def test_ppmd_of_nothing_is_nothing():
    assert decompress_ppmd(compress_ppmd(b""), 0) == b""


def test_compression_is_deterministic_and_thread_free():
    data = corpus_path("ptt5").read_bytes()[:100_000]
    assert compress_offmodel(data, threads=1) == compress_offmodel(data, threads=2)
    assert compress_zpaq(data) == compress_zpaq(data)


@pytest.mark.parametrize("name, method", [("kennedy.xls", METHOD_ZPAQ),
                                          ("xargs.1", METHOD_PPMD), ("alice29.txt", None)])
def test_offmodel_picks_the_smallest_and_never_loses_to_the_classic_codecs(name, method):
    data = corpus_path(name).read_bytes()[:300_000]
    chosen, payload = compress_offmodel(data)
    classic = compress_binary(data)[1]
    assert method is None or chosen == method
    assert len(payload) == min(len(classic), len(compress_ppmd(data)), len(compress_zpaq(data)))
    assert decompress_binary(chosen, payload, len(data)) == data


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_every_truncation_fails_cleanly(codec):
    # 300 bytes still give every part of a payload (ZPAQ's model description is most of
    # its 458 bytes); each decode is a child process, so they run side by side.
    enc, dec, _ = CODECS[codec]
    data = TEXT[:300]
    payload = enc(data)

    def outcome(n):
        try:
            dec(payload[:n], len(data))
        except BinaryCodecError as exc:
            return str(exc)
        return None

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        messages = list(pool.map(outcome, range(len(payload))))
    assert [n for n, m in enumerate(messages) if m is None] == []
    assert all("\n" not in m for m in messages)


@pytest.mark.parametrize("codec", sorted(CODECS))
@FUZZ
@given(data=st.data())
def test_damaged_payloads_fail_cleanly_or_keep_their_length(codec, data):
    # Neither codec carries a checksum here (the container's CRC-32s do), so damage may
    # decode; but only to exactly the expected length, or raise BinaryCodecError.
    enc, dec, _ = CODECS[codec]
    payload = bytearray(enc(TEXT[:2000]))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(payload) - 1))
        payload[i] ^= data.draw(st.integers(1, 255))
    try:
        out = dec(bytes(payload), 2000)
    except BinaryCodecError as exc:
        assert "\n" not in str(exc)
        return
    assert len(out) == 2000


@pytest.mark.parametrize("codec", sorted(CODECS))
@FUZZ
@given(blob=st.binary(max_size=300), prefix=st.booleans())
def test_random_payloads_fail_cleanly(codec, blob, prefix):
    dec = CODECS[codec][1]
    head = {"ppmd": bytes([16, 20]), "zpaq": b"zPQ\x01\x01"}[codec]
    try:
        out = dec((head if prefix else b"") + blob, 1000)
    except BinaryCodecError:
        return
    assert len(out) == 1000


def test_ppmd_memory_is_bounded_by_the_length():
    assert ppmd_mem_log(16384) == 20 and ppmd_mem_log(8 << 20) == 27
    assert ppmd_mem_log(1 << 40) == 28
    payload = compress_ppmd(TEXT)
    forged = payload[:1] + bytes([ppmd_mem_log(len(TEXT)) + 1]) + payload[2:]
    with pytest.raises(BinaryCodecError, match="model memory"):
        decompress_ppmd(forged, len(TEXT))
    with pytest.raises(BinaryCodecError, match="order"):
        decompress_ppmd(bytes([1]) + payload[1:], len(TEXT))


#: ZPAQL programs for a hand-made block's HCOMP (each ends with 0, the end of the code)
HCOMP_HALT = bytes([56, 0])  # HALT: the context computation ends at once
HCOMP_LOOP = bytes([63, 254, 0])  # JMP -2: jumps to itself, so it never ends


def _zpaq_block(components: bytes, n_components: int, coded: bytes,
                hcomp: bytes = HCOMP_HALT) -> bytes:
    """A hand-made ZPAQ block (level 2): header, an HCOMP program, one segment."""
    body = bytes([0, 0, 0, 0, n_components]) + components + b"\x00" + hcomp
    return (b"zPQ\x02\x01" + struct.pack("<H", len(body)) + body + b"\x01\x00\x00\x00"
            + coded + b"\x00\x00\x00\x00\xfe\xff")


def _peak_of(fn):
    tracemalloc.start()
    try:
        with pytest.raises(BinaryCodecError) as info:
            fn()
        return tracemalloc.get_traced_memory()[1], str(info.value)
    finally:
        tracemalloc.stop()


def test_a_zpaq_model_asking_for_8_gib_is_refused_by_the_child():
    # one CM component of 2^31 slots (8 GiB): the child's address-space limit refuses it
    bomb = _zpaq_block(bytes([2, 31, 255]), 1, random.Random(1).randbytes(64))
    t0 = time.monotonic()
    peak, message = _peak_of(lambda: decompress_zpaq(bomb, 1000))
    assert "memory" in message.lower() and time.monotonic() - t0 < 30
    assert peak < 1 << 20


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_output_bombs_are_cut_at_the_expected_length(codec):
    enc, dec, _ = CODECS[codec]
    bomb = enc(bytes(1 << 20))  # 1,000 times the expected length
    peak, message = _peak_of(lambda: dec(bomb, 1000))
    assert "1000" in message or "memory" in message
    assert peak < 1 << 20


def test_the_child_has_a_cpu_limit(monkeypatch):
    # A ZPAQ stream carries its own program, run for every byte: one that never ends is
    # stopped by the child's CPU limit (1 s here; 30 s and more in use).
    monkeypatch.setattr(cm_codecs, "CHILD_BASE_SECONDS", 1)
    monkeypatch.setattr(cm_codecs, "CHILD_SECONDS_PER_BYTE", 0.0)
    forever = _zpaq_block(bytes([2, 8, 255]), 1, random.Random(1).randbytes(64), HCOMP_LOOP)
    t0 = time.monotonic()
    with pytest.raises(BinaryCodecError, match="ran out of time"):
        decompress_zpaq(forever, 1000)
    assert time.monotonic() - t0 < 10


def test_the_child_runs_nothing_of_the_environment(monkeypatch):
    # PYTHONPATH and friends are not passed on: the child imports the installed libraries
    monkeypatch.setenv("PYTHONPATH", "/nonexistent")
    monkeypatch.setenv("PYTHONSTARTUP", "/nonexistent")
    payload = compress_ppmd(TEXT)
    assert decompress_ppmd(payload, len(TEXT)) == TEXT
