"""nacz: a neural lossless compressor.

``import nacz`` is light: it loads neither llama_cpp nor numba. The heavy modules are
imported when the first compression or decompression runs.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import (  # noqa: E402  (errors are plain Python)
    CorruptDataError,
    ModelError,
    ModelLoadError,
    ModelMismatchError,
    NaczError,
    NumericsMismatchError,
    TokenizationError,
    UsageError,
)

__all__ = [
    "__version__",
    "compress",
    "decompress",
    "compress_stream",
    "decompress_stream",
    "read_header",
    "Codec",
    "CodecConfig",
    "CorruptDataError",
    "ModelError",
    "ModelLoadError",
    "ModelMismatchError",
    "NaczError",
    "NumericsMismatchError",
    "TokenizationError",
    "UsageError",
]

_LAZY = {
    "compress": "api",
    "decompress": "api",
    "compress_stream": "api",
    "decompress_stream": "api",
    "Codec": "api",
    "CodecConfig": "config",
}


def __getattr__(name: str):
    if name == "read_header":
        from .formats import read_header

        return read_header
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'nacz' has no attribute {name!r}")
