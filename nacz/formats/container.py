"""The nacz container, version 3: byte layout, writer and validating reader.

Layout (all integers little-endian; FORMAT.md beside this file is the normative text)::

    magic        8   MAGIC
    version      u8  FORMAT_VERSION
    flags        u8  no flag is defined in versions 1 to 3: any set bit is refused
    body_length  u32 length of the header body that follows
    body         ... see ContainerHeader.to_body()
    header_crc   u32 CRC-32 of every byte before it (magic to end of body)
    payloads     ... the segments' payloads, back to back, in segment-table order
    (end of file: any byte after the last payload is an error)

Invariants:
- The reader never allocates from an unchecked length: every length is checked against
  a fixed limit and against the bytes actually remaining before anything is read.
- Every field is checked; any inconsistency raises a subclass of :class:`FormatError`
  with a message naming the field.
- Version 3 (written) differs from version 2 (still read) only in the body's identity
  fields: the model is named by the first 8 bytes of its SHA-256 instead of all 32, the
  numerics fingerprint has 8 bytes instead of 16, and the model's file name is optional
  (empty for the bundled default model). That is 63 bytes less per file: 10% of a 600-byte
  file. Version 2 differs from version 1 (still read) only in counts and lengths, LEB128
  varints instead of fixed-width integers (about 20 bytes less per segment). All three
  decode to the same ContainerHeader; ``model_id`` and ``numerics_fingerprint`` then have
  the length of the version that wrote them.
- Payloads can be read one at a time (:class:`PayloadReader`): a reader needs the header
  plus one payload in memory, never the whole file.
- This module knows nothing about models or codecs: config fields are opaque
  ``{id: bytes}`` pairs, interpreted by the caller.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from enum import IntEnum
from typing import BinaryIO

#: The first bytes of every nacz file. PNG-style: a high-bit byte catches 7-bit
#: transports, CR LF and ^Z catch text-mode newline and EOF mangling.
MAGIC = b"\x89NCZ\r\n\x1a\n"
FORMAT_VERSION = 3
#: Versions this reader understands (it writes FORMAT_VERSION only).
READABLE_VERSIONS = (1, 2, 3)
SUFFIX = ".nacz"

class SegmentKind(IntEnum):
    """Segment kinds, written to the segment table: fixed by hand, never renumbered. A
    member's name, lower-cased with '+' for '_', is the kind's name in ``nacz info``."""

    NEURAL = 0  #: token stream coded with the model
    STORED = 1  #: raw bytes
    ZSTD = 2  #: one zstandard frame
    LZMA2 = 3  #: raw LZMA2 stream (xz's codec without its container)
    X86_LZMA2 = 4  #: x86 branch-call filter, then LZMA2
    SPARC_LZMA2 = 5  #: SPARC branch-call filter, then LZMA2
    NEURAL_FOLD = 6  #: token stream of line-layout-folded text, plus its layout
    PPMD = 7  #: PPMd var. H (order, memory, range-coder stream; nacz.cm_codecs)
    ZPAQ = 8  #: one ZPAQ block without its locator tag (nacz.cm_codecs)


#: Kinds coded with the model: they have tokens and belong to a lockstep group.
NEURAL_KINDS = (SegmentKind.NEURAL, SegmentKind.NEURAL_FOLD)

_PREFIX = struct.Struct("<8sBBI")
_MAX_BODY = 64 << 20
_MAX_SEGMENTS = 1 << 20
_SEGMENT = struct.Struct("<BIQQQII")  # v1: kind, group, n_tokens, n_bytes, payload_len, payload_crc, data_crc
_MAX_VARINT = (1 << 63) - 1
#: Bytes of the model id and of the numerics fingerprint, by format version.
MODEL_ID_BYTES = {1: 32, 2: 32, 3: 8}
FINGERPRINT_BYTES = {1: 16, 2: 16, 3: 8}


def _varint(n: int) -> bytes:
    """Unsigned LEB128: 7 bits per byte, low bits first, high bit set on all but the last."""
    if not 0 <= n <= _MAX_VARINT:
        raise FormatError(f"value {n} does not fit a varint")
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)
_KNOWN_KINDS = frozenset(int(k) for k in SegmentKind)
_MAX_NAME = 255


class FormatError(ValueError):
    """The input is not a valid nacz file."""


class BadMagicError(FormatError):
    """The input does not start with the nacz magic bytes."""


class UnsupportedVersionError(FormatError):
    """The file uses a format version or flag this reader does not know."""


class TruncatedError(FormatError):
    """The file ends before its header or payloads do."""


class HeaderChecksumError(FormatError):
    """The header's CRC-32 does not match its bytes."""


class PayloadChecksumError(FormatError):
    """A segment's payload does not match its CRC-32."""


class TrailingDataError(FormatError):
    """Bytes follow the last payload."""


@dataclass(frozen=True)
class Segment:
    """One independently coded piece of the original, in file order."""

    kind: int
    group: int  # segments of one group are coded in lockstep
    n_tokens: int
    n_bytes: int
    payload_length: int
    payload_crc32: int
    data_crc32: int  # CRC-32 of this segment's original bytes


@dataclass(frozen=True)
class ContainerHeader:
    #: The model file's SHA-256, or its first bytes (MODEL_ID_BYTES of the version).
    model_id: bytes
    #: The model's file name, informative; may be empty (the bundled default model).
    model_name: str
    #: The first bytes of the numerics probe's hash (FINGERPRINT_BYTES of the version).
    numerics_fingerprint: bytes
    original_length: int
    original_crc32: int
    config_fields: dict[int, bytes]
    segments: tuple[Segment, ...] = field(default_factory=tuple)

    @property
    def payload_length(self) -> int:
        return sum(s.payload_length for s in self.segments)

    def to_bytes(self) -> bytes:
        """The whole header: prefix, body and header CRC."""
        body = self._body()
        if len(body) > _MAX_BODY:
            raise FormatError("header too large")
        head = _PREFIX.pack(MAGIC, FORMAT_VERSION, 0, len(body)) + body
        return head + struct.pack("<I", zlib.crc32(head))

    def _body(self) -> bytes:
        n_id, n_fp = MODEL_ID_BYTES[FORMAT_VERSION], FINGERPRINT_BYTES[FORMAT_VERSION]
        if len(self.model_id) != n_id or len(self.numerics_fingerprint) != n_fp:
            raise FormatError(f"model id must be {n_id} bytes and fingerprint {n_fp} bytes")
        name = self.model_name.encode("utf-8")[:_MAX_NAME]
        out = [self.model_id, bytes([len(name)]), name, self.numerics_fingerprint]
        out.append(_varint(self.original_length) + struct.pack("<I", self.original_crc32))
        out.append(struct.pack("<B", len(self.config_fields)))
        for fid in sorted(self.config_fields):
            raw = self.config_fields[fid]
            if not (0 <= fid < 256 and len(raw) < 256):
                raise FormatError("config field id or value too large")
            out.append(struct.pack("<BB", fid, len(raw)) + raw)
        out.append(_varint(len(self.segments)))
        for s in self.segments:
            out.append(
                bytes([s.kind]) + _varint(s.group) + _varint(s.n_tokens) + _varint(s.n_bytes)
                + _varint(s.payload_length) + struct.pack("<II", s.payload_crc32, s.data_crc32)
            )
        return b"".join(out)


class _Cursor:
    def __init__(self, buf: bytes):
        self.buf = buf
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if n > len(self.buf) - self.pos:
            raise FormatError(f"header body ends inside {what}")
        b = self.buf[self.pos : self.pos + n]
        self.pos += n
        return b

    def unpack(self, st: str, what: str):
        return struct.unpack(st, self.take(struct.calcsize(st), what))

    def varint(self, what: str) -> int:
        n = 0
        for i in range(9):  # 9 x 7 bits = 63 bits
            (b,) = self.take(1, what)
            n |= (b & 0x7F) << (7 * i)
            if not b & 0x80:
                if b == 0 and i:
                    raise FormatError(f"{what} is not minimally encoded")
                return n
        raise FormatError(f"{what} is too long")


def _read_exact(src: BinaryIO, n: int, what: str) -> bytes:
    chunks = []
    left = n
    while left:
        b = src.read(min(left, 1 << 20))
        if not b:
            raise TruncatedError(f"file truncated: it ends inside the {what}")
        chunks.append(b)
        left -= len(b)
    return b"".join(chunks)


def read_header(src: BinaryIO | bytes) -> ContainerHeader:
    """Read and validate the header from a binary stream (or bytes), without decoding.

    On return a stream is positioned at the first payload byte.
    """
    if isinstance(src, (bytes, bytearray, memoryview)):
        import io

        src = io.BytesIO(bytes(src))
    first = src.read(_PREFIX.size)
    if len(first) < len(MAGIC) or first[: len(MAGIC)] != MAGIC:
        if MAGIC.startswith(first):
            raise TruncatedError("file truncated: it ends inside the magic bytes")
        raise BadMagicError("not a nacz file (bad magic bytes)")
    if len(first) < _PREFIX.size:
        raise TruncatedError("file truncated: it ends inside the header")
    magic, version, flags, body_len = _PREFIX.unpack(first)
    if version not in READABLE_VERSIONS:
        raise UnsupportedVersionError(
            f"unsupported nacz format version {version} (this nacz reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}; a newer nacz may read it)"
        )
    if flags:
        raise UnsupportedVersionError(f"unknown header flags 0x{flags:02x}")
    if body_len > _MAX_BODY:
        raise FormatError(f"header body length {body_len} exceeds the limit")
    body = _read_exact(src, body_len, "header")
    crc_raw = _read_exact(src, 4, "header checksum")
    (crc,) = struct.unpack("<I", crc_raw)
    if zlib.crc32(first + body) != crc:
        raise HeaderChecksumError("header checksum mismatch: the file header is corrupted")
    return _parse_body(body, version)


def _parse_body(body: bytes, version: int) -> ContainerHeader:
    c = _Cursor(body)
    model_id = c.take(MODEL_ID_BYTES[version], "model id")
    (name_len,) = c.unpack("<B", "model name length")
    try:
        name = c.take(name_len, "model name").decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("model name is not UTF-8") from None
    fingerprint = c.take(FINGERPRINT_BYTES[version], "numerics fingerprint")
    if version == 1:
        original_length, original_crc = c.unpack("<QI", "original length")
    else:
        original_length = c.varint("original length")
        (original_crc,) = c.unpack("<I", "original checksum")
    (n_fields,) = c.unpack("<B", "config field count")
    fields: dict[int, bytes] = {}
    last = -1
    for _ in range(n_fields):
        fid, flen = c.unpack("<BB", "config field")
        if fid <= last:
            raise FormatError("config fields out of order or repeated")
        last = fid
        if fid in fields:
            raise FormatError(f"config field {fid} appears twice")
        fields[fid] = c.take(flen, "config field value")
    if version == 1:
        (n_seg,) = c.unpack("<I", "segment count")
    else:
        n_seg = c.varint("segment count")
    # A v2/v3 entry takes at least 13 bytes (kind, four 1-byte varints, two CRCs).
    min_entry = _SEGMENT.size if version == 1 else 13
    if n_seg > _MAX_SEGMENTS or n_seg * min_entry > len(body) - c.pos:
        raise FormatError(f"segment count {n_seg} does not fit the header")
    segments = []
    total_bytes = 0
    for i in range(n_seg):
        if version == 1:
            kind, group, n_tok, n_bytes, plen, pcrc, dcrc = c.unpack(_SEGMENT.format,
                                                                     "segment table")
        else:
            (kind,) = c.unpack("<B", "segment table")
            group = c.varint("segment group")
            n_tok = c.varint("segment token count")
            n_bytes = c.varint("segment length")
            plen = c.varint("segment payload length")
            pcrc, dcrc = c.unpack("<II", "segment checksums")
        if kind not in _KNOWN_KINDS:
            raise UnsupportedVersionError(f"segment {i} has unknown kind {kind}")
        if kind in NEURAL_KINDS:
            if n_tok > n_bytes:
                raise FormatError(f"segment {i} claims more tokens than bytes")
            if not n_tok or not n_bytes:
                raise FormatError(f"neural segment {i} is empty")
        else:
            if n_tok:
                raise FormatError(f"segment {i} is not neural but has tokens")
            if not n_bytes:
                raise FormatError(f"segment {i} is empty")
            if kind == SegmentKind.STORED and plen != n_bytes:
                raise FormatError(f"stored segment {i} has a payload of the wrong length")
        total_bytes += n_bytes
        segments.append(Segment(SegmentKind(kind), group, n_tok, n_bytes, plen, pcrc, dcrc))
    if c.pos != len(body):
        raise FormatError("header body has unexpected extra bytes")
    if total_bytes != original_length:
        raise FormatError(
            f"segments hold {total_bytes} bytes but the header says {original_length}"
        )
    groups = [s.group for s in segments]
    if groups != sorted(groups):
        raise FormatError("segment groups are out of order")
    return ContainerHeader(
        model_id=model_id,
        model_name=name,
        numerics_fingerprint=fingerprint,
        original_length=original_length,
        original_crc32=original_crc,
        config_fields=fields,
        segments=tuple(segments),
    )


class PayloadReader:
    """Reads the payloads that follow :func:`read_header`, one segment at a time.

    Streaming: only the payload asked for is in memory. Each is read in chunks (a forged
    length cannot make us allocate more than the file holds) and checked against its CRC
    before it is returned; :meth:`finish` checks that the file ends after the last one.
    """

    def __init__(self, src: BinaryIO, header: ContainerHeader):
        self._src = src
        self._segments = header.segments
        self.next_index = 0

    def read(self) -> bytes:
        """The next segment's payload, in table order."""
        i = self.next_index
        if i >= len(self._segments):
            raise IndexError("every payload has been read")
        seg = self._segments[i]
        data = _read_exact(self._src, seg.payload_length, f"payload of segment {i}")
        if zlib.crc32(data) != seg.payload_crc32:
            raise PayloadChecksumError(f"payload checksum mismatch in segment {i}: data corrupted")
        self.next_index = i + 1
        return data

    def finish(self) -> None:
        """Read any payloads left (checking them), then refuse bytes after the last one."""
        while self.next_index < len(self._segments):
            self.read()
        if self._src.read(1):
            raise TrailingDataError("unexpected data after the end of the nacz stream")


def read_payloads(src: BinaryIO, header: ContainerHeader) -> list[bytes]:
    """Every segment payload after :func:`read_header`, each CRC and the end verified.

    Holds them all in memory: :class:`PayloadReader` reads one at a time.
    """
    reader = PayloadReader(src, header)
    out = [reader.read() for _ in header.segments]
    reader.finish()
    return out


def write_container(dst: BinaryIO, header: ContainerHeader, payloads: list[bytes]) -> int:
    """Write header and payloads; returns the number of bytes written."""
    if len(payloads) != len(header.segments):
        raise FormatError("one payload per segment is required")
    for seg, p in zip(header.segments, payloads):
        if len(p) != seg.payload_length or zlib.crc32(p) != seg.payload_crc32:
            raise FormatError("payload does not match its segment entry")
    head = header.to_bytes()
    dst.write(head)
    for p in payloads:
        dst.write(p)
    return len(head) + sum(len(p) for p in payloads)
