"""Classic compression for binary segments: the smaller of zstandard and xz, or stored.

Invariants:
- Method ids are fixed by hand and never renumbered: METHOD_STORED 0, METHOD_ZSTD 1,
  METHOD_LZMA2 2 (raw LZMA2, no .xz container: the container's checks are ours),
  METHOD_X86_LZMA2 3 and METHOD_SPARC_LZMA2 4 (branch-call filters for executables).
- Decompression never produces or allocates more than the expected length (+ slack):
  a forged payload cannot exhaust memory. Any mismatch raises BinaryCodecError.
"""

from __future__ import annotations

import lzma

import zstandard

METHOD_STORED = 0
METHOD_ZSTD = 1
METHOD_LZMA2 = 2
METHOD_X86_LZMA2 = 3
METHOD_SPARC_LZMA2 = 4

ZSTD_LEVEL = 19
_LZMA2 = {"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}
_FILTERS = {
    METHOD_LZMA2: [_LZMA2],
    METHOD_X86_LZMA2: [{"id": lzma.FILTER_X86}, _LZMA2],
    METHOD_SPARC_LZMA2: [{"id": lzma.FILTER_SPARC}, _LZMA2],
}
#: The branch-call filters are tried only on segments up to this size (each try costs
#: a full xz-strength compression).
BCJ_TRY_LIMIT = 4 << 20


class BinaryCodecError(ValueError):
    """A binary segment's payload is corrupt or inconsistent."""


def _zstd(data: bytes) -> bytes:
    window_log = max(10, min(27, (max(1, len(data)) - 1).bit_length()))
    params = zstandard.ZstdCompressionParameters.from_level(
        ZSTD_LEVEL, source_size=len(data), window_log=window_log,
        enable_ldm=True, write_content_size=True, write_checksum=False,
    )
    return zstandard.ZstdCompressor(compression_params=params).compress(data)


def _lzma(data: bytes, method: int) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_RAW, filters=_FILTERS[method])


def compress_binary(data: bytes) -> tuple[int, bytes]:
    """(method, payload): the smallest of zstd, LZMA2 (xz -9e), and the raw bytes."""
    candidates = [
        (METHOD_STORED, bytes(data)),
        (METHOD_LZMA2, _lzma(data, METHOD_LZMA2)),
        (METHOD_ZSTD, _zstd(data)),
    ]
    if len(data) <= BCJ_TRY_LIMIT:
        candidates += [(m, _lzma(data, m)) for m in (METHOD_X86_LZMA2, METHOD_SPARC_LZMA2)]
    return min(candidates, key=lambda c: (len(c[1]), c[0]))


def decompress_binary(method: int, payload: bytes, expected_length: int) -> bytes:
    if method == METHOD_STORED:
        out = bytes(payload)
    elif method == METHOD_ZSTD:
        try:
            dctx = zstandard.ZstdDecompressor(max_window_size=1 << 27)
            reader = dctx.stream_reader(payload, read_across_frames=False)
            chunks, got = [], 0
            while got <= expected_length:  # bounded: one byte past the expected length
                chunk = reader.read(expected_length + 1 - got)
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
            out = b"".join(chunks)
        except zstandard.ZstdError as exc:
            raise BinaryCodecError(f"zstd segment is corrupt: {exc}") from None
    elif method in _FILTERS:
        d = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_FILTERS[method])
        try:
            out = d.decompress(payload, max_length=expected_length + 1)
        except lzma.LZMAError as exc:
            raise BinaryCodecError(f"LZMA2 segment is corrupt: {exc}") from None
        if not d.eof:
            raise BinaryCodecError("LZMA2 segment is truncated or longer than recorded")
        if d.unused_data:
            raise BinaryCodecError("LZMA2 segment has trailing data")
    else:
        raise BinaryCodecError(f"unknown binary method {method}")
    if len(out) != expected_length:
        raise BinaryCodecError(
            f"binary segment decoded to {len(out)} bytes, expected {expected_length}"
        )
    return out
