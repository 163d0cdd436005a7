"""Where nacz keeps files of its own: the user cache directory (plain Python, no imports).

Invariants:
- Everything nacz caches (model digests, numerics fingerprints, Numba's compiled
  kernels) lives under :func:`user_cache_dir`: ``$NACZ_CACHE_DIR``, else
  ``$XDG_CACHE_HOME/nacz``, else ``~/.cache/nacz``. Nothing is ever written into the
  installed package: Numba's default would put its cache next to the sources, and a
  ``site-packages/nacz/__pycache__`` left behind by one install can turn a later one into
  a namespace package.
"""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir() -> Path:
    own = os.environ.get("NACZ_CACHE_DIR")
    if own:
        return Path(own)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nacz"


def numba_cache_dir() -> Path:
    return user_cache_dir() / "numba"


def point_numba_cache_here() -> None:
    """Make Numba cache nacz's kernels under :func:`numba_cache_dir`, unless the user chose
    a place (``NUMBA_CACHE_DIR``). Called by ``import nacz``, before any kernel is
    defined; if Numba was imported already, its config is set too."""
    import sys

    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    where = str(numba_cache_dir())
    os.environ["NUMBA_CACHE_DIR"] = where
    config = sys.modules.get("numba.core.config")
    if config is not None:
        config.CACHE_DIR = where
