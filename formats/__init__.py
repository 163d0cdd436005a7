"""The nacz file container (installed as ``nacz.formats``).

Imports only the standard library: it never imports ``nacz`` or ``nacz.coder``.
"""

from .container import (
    FORMAT_VERSION,
    READABLE_VERSIONS,
    MAGIC,
    SEGMENT_NEURAL,
    SEGMENT_LZMA2,
    SEGMENT_SPARC_LZMA2,
    SEGMENT_STORED,
    SEGMENT_X86_LZMA2,
    SEGMENT_ZSTD,
    SUFFIX,
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
    write_container,
)

__all__ = [
    "FORMAT_VERSION",
    "READABLE_VERSIONS",
    "MAGIC",
    "SEGMENT_NEURAL",
    "SEGMENT_LZMA2",
    "SEGMENT_SPARC_LZMA2",
    "SEGMENT_STORED",
    "SEGMENT_X86_LZMA2",
    "SEGMENT_ZSTD",
    "SUFFIX",
    "BadMagicError",
    "ContainerHeader",
    "FormatError",
    "HeaderChecksumError",
    "PayloadChecksumError",
    "Segment",
    "TrailingDataError",
    "TruncatedError",
    "UnsupportedVersionError",
    "read_header",
    "read_payloads",
    "write_container",
]
