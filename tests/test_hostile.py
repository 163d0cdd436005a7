"""Hostile input through the real decompression path: always a clean, named error."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nacz.errors import NaczError
from nacz.formats import MAGIC, FormatError

CLEAN_ERRORS = (FormatError, NaczError)
SAMPLE = b"Hostile input must never crash the reader.\n" + bytes(range(0, 256, 7))


@pytest.fixture(scope="module")
def valid(codec):
    blob = codec.compress(SAMPLE)
    assert codec.decompress(blob) == SAMPLE
    return blob


def test_every_truncation_fails_cleanly(codec, valid):
    for n in range(len(valid)):
        with pytest.raises(CLEAN_ERRORS):
            codec.decompress(valid[:n])


def test_every_bit_flip_is_detected(codec, valid):
    count = 0
    for i in range(len(valid)):
        for bit in range(8):
            bad = bytearray(valid)
            bad[i] ^= 1 << bit
            with pytest.raises(CLEAN_ERRORS):
                codec.decompress(bytes(bad))
            count += 1
    assert count == 8 * len(valid)


def test_trailing_garbage_is_an_error(codec, valid):
    with pytest.raises(FormatError, match="after the end"):
        codec.decompress(valid + b"\n")


@settings(
    derandomize=True, max_examples=300, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.binary(max_size=400), st.booleans())
def test_random_bytes_fail_cleanly(codec, blob, with_magic):
    data = (MAGIC + blob) if with_magic else blob
    with pytest.raises(CLEAN_ERRORS):
        codec.decompress(data)


@settings(derandomize=True, max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_random_splices_of_a_valid_file_fail_cleanly(codec, valid, data):
    """Overwrite a random span with random bytes: never a crash, never silent success."""
    start = data.draw(st.integers(0, len(valid) - 1))
    junk = data.draw(st.binary(min_size=1, max_size=16))
    bad = valid[:start] + junk + valid[start + len(junk):]
    if bad == valid:
        return
    with pytest.raises(CLEAN_ERRORS):
        codec.decompress(bad)
