"""Locate verified corpus files for tests (plain helper module, not a test file).

    from _corpus import corpus_path
    data = corpus_path("alice29.txt").read_bytes()

``corpus_path`` returns ``<repo>/corpora/<name>`` when that file exists and
matches corpora/MANIFEST.tsv (size and sha256); otherwise it calls
``pytest.skip`` with a reason that says how to fetch it, so a missing corpus
is always a visible skip, never a silent pass.  Needs ``tests/`` on sys.path
(see tests/conftest.py).
"""

from __future__ import annotations

import importlib.util
import sys
from functools import lru_cache
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPORA_DIR = REPO_ROOT / "corpora"
FETCH_PY = CORPORA_DIR / "fetch.py"
MANIFEST = CORPORA_DIR / "MANIFEST.tsv"

_MODULE_NAME = "_nacz_corpora_fetch"


def load_fetch_module():
    """Import corpora/fetch.py by path (corpora/ is not a package)."""
    mod = sys.modules.get(_MODULE_NAME)
    if mod is not None:
        return mod
    spec = importlib.util.spec_from_file_location(_MODULE_NAME, FETCH_PY)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[_MODULE_NAME] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[_MODULE_NAME]
        raise
    return mod


@lru_cache(maxsize=None)
def _entries() -> dict:
    fetch = load_fetch_module()
    return {e.name: e for e in fetch.load_manifest(MANIFEST)}


def _fetch_hint(name: str) -> str:
    if name == "enwik8":
        return "python corpora/fetch.py --enwik8 (or --only enwik8 --from DIR)"
    return "python corpora/fetch.py --from ../shared/corpora/canterbury"


# Verification results keyed by (name, size, mtime_ns) so enwik8 is hashed once.
_verified: dict[tuple, bool] = {}


def corpus_path(name: str) -> Path:
    """Path of a verified copy of corpus file ``name``, or pytest.skip."""
    entries = _entries()
    if name not in entries:
        raise KeyError(f"{name!r} is not in {MANIFEST}")
    path = CORPORA_DIR / name
    try:
        st = path.stat()
    except OSError:
        pytest.skip(f"corpus file {name} not fetched: run {_fetch_hint(name)}")
    key = (name, st.st_size, st.st_mtime_ns)
    ok = _verified.get(key)
    if ok is None:
        ok = _verified[key] = load_fetch_module().verify(path, entries[name])
    if not ok:
        pytest.skip(f"corpus file {name} does not match corpora/MANIFEST.tsv: "
                    f"re-run {_fetch_hint(name)}")
    return path
