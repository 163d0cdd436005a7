"""Numba's compiled kernels go to the user cache directory, never into the package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nacz


def _numba_files_in_package() -> dict:
    """Numba's cache files (index .nbi, data .nbc) under the installed package. Python's
    own bytecode (.pyc) may appear there on a first import; that is Python's business."""
    roots = {Path(nacz.__file__).parent, Path(nacz.coder.__file__).parent}
    return {p: p.stat().st_mtime_ns for r in roots for p in r.rglob("*")
            if p.suffix in (".nbi", ".nbc")}


def test_numba_cache_goes_to_nacz_cache_dir(tmp_path):
    import nacz.coder  # noqa: F401  (for its path)

    before = _numba_files_in_package()
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["NACZ_CACHE_DIR"] = str(tmp_path)
    code = ("import nacz.components as C, nacz.coder as K, numpy as np; "
            "C.portable_log(2.0); K.quantize_probabilities(np.full(8, 0.125))")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=600,
                   cwd=tmp_path)  # never the repo root: ./nacz there is not the package
    cached = list((tmp_path / "numba").rglob("*.nbi"))
    assert cached, "no Numba index under NACZ_CACHE_DIR/numba"
    assert _numba_files_in_package() == before, "Numba wrote its cache into the package"


def test_a_users_numba_cache_dir_is_kept(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "mine"))
    out = subprocess.run(
        [sys.executable, "-c", "import nacz, os; print(os.environ['NUMBA_CACHE_DIR'])"],
        env=env, check=True, capture_output=True, text=True, timeout=120, cwd=tmp_path).stdout.strip()
    assert out == str(tmp_path / "mine")
