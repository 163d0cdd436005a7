"""Hostile input through the real decompression path: always a clean, named error."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nacz.errors import FormatError, NaczError
from nacz.formats import MAGIC

#: Every failure the decoder reports is one of nacz's own errors (issue 18: a caller that
#: catches NaczError sees them all, whatever layer found the damage).
CLEAN_ERRORS = NaczError
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


TEXT = b"The fingerprint guards every neural segment: one wrong logit, and the rest is noise.\n"


@pytest.fixture(scope="module")
def neural(codec):
    blob = codec.compress(TEXT)
    header, _ = _split(blob)
    assert [s.kind for s in header.segments] == [0]  # one neural segment
    return blob


def _split(blob: bytes):
    from nacz.formats import read_header

    src = io.BytesIO(blob)
    header = read_header(src)
    return header, src.read()


def test_other_numerics_are_refused_before_decoding(codec, neural):
    """A file whose fingerprint is not this machine's (another CPU kind, GPU, llama.cpp
    build) is refused with a message saying why, never decoded to garbage."""
    from dataclasses import replace

    from nacz.errors import NumericsMismatchError

    assert codec.decompress(neural) == TEXT
    header, payloads = _split(neural)
    fp = bytearray(header.numerics_fingerprint)
    fp[0] ^= 1
    other = replace(header, numerics_fingerprint=bytes(fp)).to_bytes() + payloads
    with pytest.raises(NumericsMismatchError, match="numerics differ"):
        codec.decompress(other)


def test_a_file_of_another_model_is_refused_by_name(codec, neural, nacz_cli, tmp_path):
    """A file made with another model is refused before decoding, naming both models; the
    bundled model (an empty name in the file) is named too."""
    from dataclasses import replace

    from nacz.errors import ModelMismatchError

    header, payloads = _split(neural)
    other_id = bytes(b ^ 0xFF for b in header.model_id)
    named = replace(header, model_id=other_id, model_name="other-model.gguf").to_bytes()
    with pytest.raises(ModelMismatchError, match="compressed with model other-model.gguf"):
        codec.decompress(named + payloads)
    bundled = replace(header, model_id=other_id).to_bytes()
    with pytest.raises(ModelMismatchError, match=r"Q4_1\.gguf \(bundled\)"):
        codec.decompress(bundled + payloads)
    (tmp_path / "other.nacz").write_bytes(named + payloads)
    r = nacz_cli("decompress", "-c", "other.nacz")
    assert r.returncode != 0 and r.stdout == b""
    assert "other-model.gguf" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("version", [1, 2])
def test_files_of_older_versions_still_decode(codec, neural, version):
    """Versions 1 and 2 keep the whole model SHA-256, a 16-byte fingerprint and the model's
    name; the same payloads decode from them, and a wrong fingerprint is still refused."""
    from dataclasses import replace

    from nacz.config import config_from_fields
    from nacz.errors import NumericsMismatchError
    from test_formats import _legacy_bytes

    header, payloads = _split(neural)
    cfg = config_from_fields(header.config_fields)
    old = replace(header, model_id=codec.model_file.sha256, model_name=codec.model_file.name,
                  numerics_fingerprint=codec.fingerprint(cfg))
    assert codec.decompress(_legacy_bytes(old, version) + payloads) == TEXT
    bad = replace(old, numerics_fingerprint=bytes(16))
    with pytest.raises(NumericsMismatchError):
        codec.decompress(_legacy_bytes(bad, version) + payloads)
