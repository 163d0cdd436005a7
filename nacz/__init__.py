"""nacz: a neural lossless compressor.

``import nacz`` is light: it loads neither llama_cpp nor numba. The heavy modules are
imported when the first compression or decompression runs.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .paths import point_numba_cache_here  # noqa: E402  (plain Python)

point_numba_cache_here()
del point_numba_cache_here

from .errors import (  # noqa: E402  (errors are plain Python)
    BinaryCodecError,
    ConfigError,
    CorruptDataError,
    FormatError,
    ModelError,
    ModelLoadError,
    ModelMismatchError,
    NaczError,
    NaczIOError,
    NumericsMismatchError,
    OutputExistsError,
    RayError,
    TokenizationError,
    UsageError,
)

__all__ = [
    "__version__",
    "open",
    "compress",
    "decompress",
    "compress_stream",
    "decompress_stream",
    "read_header",
    "read_info",
    "Codec",
    "CodecConfig",
    "BinaryCodecError",
    "ConfigError",
    "CorruptDataError",
    "FormatError",
    "ModelError",
    "ModelLoadError",
    "ModelMismatchError",
    "NaczError",
    "NaczIOError",
    "NumericsMismatchError",
    "OutputExistsError",
    "RayError",
    "TokenizationError",
    "UsageError",
    "MAGIC",
]

_LAZY = {
    "open": "fileobj",
    "compress": "api",
    "decompress": "api",
    "compress_stream": "api",
    "decompress_stream": "api",
    "read_header": "api",
    "read_info": "api",
    "Codec": "api",
    "CodecConfig": "config",
}


def __getattr__(name: str):
    if name == "MAGIC":
        from .formats import MAGIC

        return MAGIC
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'nacz' has no attribute {name!r}")
