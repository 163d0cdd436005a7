"""Hostile input through the real decompression path: always a clean, named error."""

from __future__ import annotations

import io
import struct

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


# -- context-mixing payloads (kinds 7 and 8) through the whole decompression path --------

_TABLE = b"".join(struct.pack("<IHhf", i * 37, (i * i) % 65521, -i, i / 7) for i in range(400))


@pytest.fixture(scope="module", params=["ppmd", "zpaq"])
def offmodel_file(codec, request):
    from nacz.config import level_config
    from nacz.formats import SegmentKind

    data = {"ppmd": SAMPLE[:43] * 6, "zpaq": _TABLE}[request.param]
    blob = codec.compress(data, level_config(1))
    header, _ = _split(blob)
    want = {"ppmd": SegmentKind.PPMD, "zpaq": SegmentKind.ZPAQ}[request.param]
    assert [s.kind for s in header.segments] == [want]
    assert codec.decompress(blob) == data
    return blob, data


def test_every_truncation_of_an_offmodel_file_fails_cleanly(codec, offmodel_file):
    blob, _ = offmodel_file
    for n in range(len(blob)):
        with pytest.raises(CLEAN_ERRORS):
            codec.decompress(blob[:n])


def test_every_bit_flip_of_an_offmodel_file_is_detected(codec, offmodel_file):
    blob, _ = offmodel_file
    step = max(1, len(blob) // 300)  # at most ~300 bytes: the ZPAQ file is 1.2 KB
    for i in range(0, len(blob), step):
        for bit in range(8):
            bad = bytearray(blob)
            bad[i] ^= 1 << bit
            with pytest.raises(CLEAN_ERRORS):
                codec.decompress(bytes(bad))


def _with_payload(blob: bytes, payload: bytes) -> bytes:
    """The file with its one payload replaced and the payload's CRC-32 made to match, so
    the damage reaches the segment's decoder instead of the container's check."""
    import zlib
    from dataclasses import replace

    header, _ = _split(blob)
    seg = replace(header.segments[0], payload_length=len(payload),
                  payload_crc32=zlib.crc32(payload))
    return replace(header, segments=(seg,)).to_bytes() + payload


@settings(derandomize=True, max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_forged_offmodel_payloads_with_valid_crcs_fail_cleanly(codec, offmodel_file, data):
    """Flipped, truncated or random payloads whose CRC-32 matches: the decoder itself (in
    its child process) must fail cleanly, or the data CRC-32 catch wrong bytes. (A flip
    may leave the output intact, e.g. PPMd's order 16 -> 17 on a short text: then the
    original comes back, which is no loss.)"""
    blob, original = offmodel_file
    _, payload = _split(blob)
    how = data.draw(st.sampled_from(["flip", "truncate", "random"]))
    if how == "flip":
        bad = bytearray(payload)
        i = data.draw(st.integers(0, len(bad) - 1))
        bad[i] ^= data.draw(st.integers(1, 255))
    elif how == "truncate":
        bad = payload[: data.draw(st.integers(0, len(payload) - 1))]
    else:
        bad = payload[:2] + data.draw(st.binary(min_size=0, max_size=400))
    if bytes(bad) == payload:
        return
    try:
        out = codec.decompress(_with_payload(blob, bytes(bad)))
    except CLEAN_ERRORS as exc:
        assert "\n" not in str(exc)
        return
    assert out == original
