"""Shared fixtures. Tests run against the installed package, never the source tree."""

from __future__ import annotations

import contextlib
import inspect
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for `from _corpus import ...`

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    returncode: int
    stdout: bytes
    stderr: str


@pytest.fixture
def nacz_cli(tmp_path):
    """Run the `nacz` command in a subprocess: nacz_cli(*args, input=bytes) -> Run."""

    def run(*args: str, input: bytes | None = None, cwd: Path | None = None, timeout=3600,
            env: dict[str, str] | None = None):
        extra = env or {}
        env = dict(os.environ)
        env.pop("NACZ_DEBUG", None)
        env.update(extra)
        p = subprocess.run(
            [sys.executable, "-m", "nacz", *args],
            input=input if input is not None else b"",
            capture_output=True,
            cwd=cwd or tmp_path,  # never the repo root: ./nacz there is not the installed package
            env=env,
            timeout=timeout,
        )
        return Run(p.returncode, p.stdout, p.stderr.decode("utf-8", errors="replace"))

    return run


@pytest.fixture(scope="session")
def codec():
    """One loaded model for the in-process tests."""
    from nacz.api import Codec

    return Codec()


# -- needs_model: marked from what a test and its fixtures do ------------------------------

#: Source words of a test or fixture that loads the model: a Codec, the one-shot API, a
#: backend, the command line or a bench script in a subprocess (the guard below sees only
#: this process, so these words err on the side of marking).
_MODEL_WORDS = ("Codec(", "nacz.compress(", "nacz.decompress(", "compress_stream(",
                "decompress_stream(", "LlamaBackend(", '"-m", "nacz"', 'BIN / "nacz"',
                '"-I", "nacz"', "device_check.sh", "cpu_side.py")


def _source_loads_model(func) -> bool:
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        return False
    return any(word in source for word in _MODEL_WORDS)


def _needs_model(item) -> bool:
    if _source_loads_model(getattr(item, "function", None)):
        return True
    info = getattr(item, "_fixtureinfo", None)
    for defs in (info.name2fixturedefs.values() if info is not None else ()):
        if any(_source_loads_model(d.func) for d in defs):
            return True
    return False


def pytest_collection_modifyitems(config, items):
    """Mark every test that loads the model ``needs_model``, from its own source and its
    fixtures' (all of them: pytest's closure), so ``pytest -m "not needs_model"`` runs
    the model-free part. ``_model_guard`` fails an unmarked test that loads it anyway."""
    for item in items:
        if _needs_model(item):
            item.add_marker(pytest.mark.needs_model)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    with _model_guard(item):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    with _model_guard(item):
        yield


@contextlib.contextmanager
def _model_guard(item):
    """A test not marked ``needs_model`` must not load the model in this process: the
    marking above missed it, and ``-m "not needs_model"`` would be slow or fail. (Hooks,
    not an autouse fixture: hypothesis refuses function-scoped fixtures.)"""
    if item.get_closest_marker("needs_model") is not None:
        yield
        return
    from nacz.backend import LlamaBackend

    def refuse(self, *args, **kwargs):
        raise AssertionError(f"{item.nodeid} loads the model but is not marked "
                             "needs_model (tests/conftest.py: _MODEL_WORDS)")

    saved = LlamaBackend.__init__
    LlamaBackend.__init__ = refuse
    try:
        yield
    finally:
        LlamaBackend.__init__ = saved


_MEASUREMENTS: list[str] = []


@pytest.fixture
def record_measurement():
    """Lines recorded here are printed in pytest's terminal summary (measured figures)."""
    return _MEASUREMENTS.append


def pytest_terminal_summary(terminalreporter):
    if _MEASUREMENTS:
        terminalreporter.section("nacz measurements")
        for line in _MEASUREMENTS:
            terminalreporter.write_line(line)
