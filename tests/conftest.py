"""Shared fixtures. Tests run against the installed package, never the source tree."""

from __future__ import annotations

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
