"""The container: magic, header round trip, and hostile input (no model needed)."""

from __future__ import annotations

import io
import zlib
from dataclasses import replace

import pytest

from nacz import formats
from nacz.formats import (
    MAGIC,
    BadMagicError,
    ContainerHeader,
    FormatError,
    HeaderChecksumError,
    PayloadChecksumError,
    Segment,
    TrailingDataError,
    TruncatedError,
    UnsupportedVersionError,
    read_header,
    read_payloads,
)


def test_magic_is_public_and_fixed():
    assert MAGIC == b"\x89NCZ\r\n\x1a\n"
    assert formats.FORMAT_VERSION == 3
    assert formats.READABLE_VERSIONS == (1, 2, 3)


def _legacy_bytes(header: ContainerHeader, version: int) -> bytes:
    """The version-1 or version-2 layout, written independently of the module.

    Both have a 32-byte model SHA-256 and a 16-byte fingerprint; version 1 has fixed-width
    integers where version 2 has varints."""
    import struct

    from nacz.formats.container import _varint

    assert len(header.model_id) == 32 and len(header.numerics_fingerprint) == 16
    name = header.model_name.encode()
    body = header.model_id + bytes([len(name)]) + name + header.numerics_fingerprint
    if version == 1:
        body += struct.pack("<QI", header.original_length, header.original_crc32)
    else:
        body += _varint(header.original_length) + struct.pack("<I", header.original_crc32)
    body += bytes([len(header.config_fields)])
    for fid in sorted(header.config_fields):
        raw = header.config_fields[fid]
        body += struct.pack("<BB", fid, len(raw)) + raw
    if version == 1:
        body += struct.pack("<I", len(header.segments))
    else:
        body += _varint(len(header.segments))
    for s in header.segments:
        if version == 1:
            body += struct.pack("<BIQQQII", s.kind, s.group, s.n_tokens, s.n_bytes,
                                s.payload_length, s.payload_crc32, s.data_crc32)
        else:
            body += (bytes([s.kind]) + _varint(s.group) + _varint(s.n_tokens)
                     + _varint(s.n_bytes) + _varint(s.payload_length)
                     + struct.pack("<II", s.payload_crc32, s.data_crc32))
    head = MAGIC + struct.pack("<BBI", version, 0, len(body)) + body
    return head + struct.pack("<I", zlib.crc32(head))


@pytest.mark.parametrize("version", [1, 2])
def test_older_versions_still_read(version):
    header, payloads, blob = _sample()
    old = replace(header, model_id=bytes(range(32)), numerics_fingerprint=b"F" * 16)
    legacy = _legacy_bytes(old, version) + b"".join(payloads)
    src = io.BytesIO(legacy)
    assert read_header(src) == old
    assert read_payloads(src, old) == payloads
    # version 3: 24 bytes less of model id and 8 of fingerprint; version 2: varints
    # instead of 8-byte lengths in every segment entry
    assert len(blob) == len(_legacy_bytes(old, 2) + b"".join(payloads)) - 32
    if version == 1:
        assert len(blob) < len(legacy) - 32 - 2 * 20


def test_writer_refuses_identity_fields_of_another_version():
    header, payloads, _ = _sample()
    for bad in (replace(header, model_id=bytes(32)),
                replace(header, numerics_fingerprint=bytes(16))):
        with pytest.raises(FormatError, match="8 bytes"):
            formats.write_container(io.BytesIO(), bad, payloads)


def test_model_name_may_be_empty():
    header, payloads, blob = _sample()
    unnamed = replace(header, model_name="")
    buf = io.BytesIO()
    formats.write_container(buf, unnamed, payloads)
    assert len(buf.getvalue()) == len(blob) - len("model.gguf")
    assert read_header(buf.getvalue()) == unnamed


def test_varints_round_trip_at_their_limits():
    from nacz.formats.container import _Cursor, _varint

    for n in (0, 1, 127, 128, 16383, 16384, 2**32, 2**63 - 1):
        raw = _varint(n)
        c = _Cursor(raw)
        assert c.varint("x") == n and c.pos == len(raw)
    with pytest.raises(FormatError):
        _varint(2**63)
    with pytest.raises(FormatError, match="not minimally encoded"):
        _Cursor(b"\x80\x00").varint("x")
    with pytest.raises(FormatError, match="too long"):
        _Cursor(b"\xff" * 10).varint("x")


def _sample():
    payloads = [b"abc" * 7, b"\x00\xff" * 5]
    segs = tuple(
        Segment(formats.SegmentKind.NEURAL, 0, 3, 10, len(p), zlib.crc32(p), 1234 + i)
        for i, p in enumerate(payloads)
    )
    header = ContainerHeader(
        model_id=bytes(range(8)),
        model_name="model.gguf",
        numerics_fingerprint=b"F" * 8,
        original_length=20,
        original_crc32=99,
        config_fields={1: b"\x00\x08\x00\x00", 3: b"x" * 8},
        segments=segs,
    )
    buf = io.BytesIO()
    formats.write_container(buf, header, payloads)
    return header, payloads, buf.getvalue()


def test_header_round_trip_without_decoding():
    header, payloads, blob = _sample()
    src = io.BytesIO(blob)
    assert read_header(src) == header
    assert read_payloads(src, header) == payloads
    assert read_header(blob) == header  # bytes work too


def test_trailing_garbage_is_an_error():
    header, _, blob = _sample()
    src = io.BytesIO(blob + b"\x00")
    h = read_header(src)
    with pytest.raises(TrailingDataError):
        read_payloads(src, h)


def test_bad_magic_and_version():
    _, _, blob = _sample()
    with pytest.raises(BadMagicError):
        read_header(b"PK\x03\x04" + blob[4:])
    bumped = bytearray(blob)
    bumped[8] = 4
    with pytest.raises(UnsupportedVersionError):
        read_header(bytes(bumped))
    flagged = bytearray(blob)
    flagged[9] = 0x80
    with pytest.raises(UnsupportedVersionError):
        read_header(bytes(flagged))


def test_every_truncation_is_detected():
    _, _, blob = _sample()
    for n in range(len(blob)):
        src = io.BytesIO(blob[:n])
        with pytest.raises(FormatError):
            h = read_header(src)
            read_payloads(src, h)


def test_every_single_bit_flip_is_detected():
    _, _, blob = _sample()
    for i in range(len(blob)):
        for bit in range(8):
            bad = bytearray(blob)
            bad[i] ^= 1 << bit
            src = io.BytesIO(bytes(bad))
            with pytest.raises(FormatError):
                h = read_header(src)
                read_payloads(src, h)


def test_header_crc_named():
    _, _, blob = _sample()
    bad = bytearray(blob)
    bad[20] ^= 1
    with pytest.raises(HeaderChecksumError, match="header checksum"):
        read_header(bytes(bad))


def test_payload_crc_named():
    header, _, blob = _sample()
    bad = bytearray(blob)
    bad[-1] ^= 1
    src = io.BytesIO(bytes(bad))
    h = read_header(src)
    with pytest.raises(PayloadChecksumError, match="segment 1"):
        read_payloads(src, h)


def test_huge_length_fields_do_not_allocate():
    # A forged body length far beyond the limit is refused before reading.
    for version in formats.READABLE_VERSIONS:
        forged = MAGIC + bytes([version, 0]) + (0xFFFFFFFF).to_bytes(4, "little")
        with pytest.raises(FormatError):
            read_header(forged)


def test_random_bytes_never_crash():
    import random

    rng = random.Random(1234)
    for _ in range(2000):
        n = rng.randrange(0, 200)
        blob = bytes(rng.randrange(256) for _ in range(n))
        if rng.random() < 0.5:
            blob = MAGIC + blob
        src = io.BytesIO(blob)
        with pytest.raises(FormatError):
            h = read_header(src)
            read_payloads(src, h)
        assert isinstance(TruncatedError("x"), FormatError)
