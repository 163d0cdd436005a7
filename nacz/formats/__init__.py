"""The nacz file container (installed as ``nacz.formats``).

Imports only the standard library: it never imports ``nacz`` or ``nacz.coder``.
"""

from .container import (
    FINGERPRINT_BYTES,
    FORMAT_VERSION,
    MODEL_ID_BYTES,
    READABLE_VERSIONS,
    MAGIC,
    NEURAL_KINDS,
    SUFFIX,
    BadMagicError,
    ContainerHeader,
    FormatError,
    HeaderChecksumError,
    PayloadChecksumError,
    PayloadReader,
    Segment,
    SegmentKind,
    TrailingDataError,
    TruncatedError,
    UnsupportedVersionError,
    read_header,
    read_payloads,
    write_container,
)

__all__ = [
    "FINGERPRINT_BYTES",
    "FORMAT_VERSION",
    "MODEL_ID_BYTES",
    "READABLE_VERSIONS",
    "MAGIC",
    "NEURAL_KINDS",
    "SUFFIX",
    "BadMagicError",
    "ContainerHeader",
    "FormatError",
    "HeaderChecksumError",
    "PayloadChecksumError",
    "PayloadReader",
    "Segment",
    "SegmentKind",
    "TrailingDataError",
    "TruncatedError",
    "UnsupportedVersionError",
    "read_header",
    "read_payloads",
    "write_container",
]
