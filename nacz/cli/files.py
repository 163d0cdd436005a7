"""File safety for the command line: inputs opened without reading them whole, outputs
written to a temporary name and renamed only on success, targets refused before any work.

Invariants: the input is never removed or altered (``--rm`` removes it only after the
output verified); an existing output is kept unless ``force``; nothing is written to a
terminal's stdout unless asked (the commands check).
"""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from ..errors import CorruptDataError, OutputExistsError, UsageError

SUFFIX = ".nacz"


@dataclass(frozen=True)
class RunOptions:
    """Where data comes from and goes to; nothing here changes the coded bits."""

    input: str  # "-" for stdin
    output: str | None  # None: derive from input; "-": stdout
    force: bool
    quiet: bool
    model: str | None
    threads: int | None


@contextmanager
def open_input(path: str) -> Iterator[BinaryIO]:
    """The input as a binary stream (stdin for '-'); never read whole."""
    if path == "-":
        yield sys.stdin.buffer
        return
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{path}: is a directory")
    with open(p, "rb") as f:
        yield f


class Discard:
    """A sink for ``nacz test``: decoded bytes are checked, then dropped."""

    def write(self, b) -> int:
        return len(b)


class CompareWriter:
    """A sink that checks decoded bytes against a file, chunk by chunk (``--rm``)."""

    def __init__(self, original: BinaryIO, error: str):
        self._original = original
        self._error = error

    def write(self, b) -> int:
        view = memoryview(b)
        pos = 0
        while pos < len(view):
            chunk = self._original.read(min(len(view) - pos, 1 << 20))
            if not chunk or chunk != view[pos : pos + len(chunk)]:
                raise CorruptDataError(self._error)
            pos += len(chunk)
        return len(view)

    def finish(self) -> None:
        if self._original.read(1):
            raise CorruptDataError(self._error)


@contextmanager
def output(target: str, force: bool, inputs: str) -> Iterator[BinaryIO]:
    """Yield a binary file for ``target``; commit it atomically only on success."""
    if target == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    out = Path(target)
    if inputs != "-" and os.path.exists(inputs) and out.exists() and out.samefile(inputs):
        raise UsageError(f"{target}: output would overwrite the input")
    if out.exists() and not force:
        raise OutputExistsError(f"{target} already exists; use -f to overwrite")
    directory = out.parent if str(out.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if inputs != "-":
            # like xz and zstd: the output keeps the input's permissions and times
            try:
                st = os.stat(inputs)
                os.chmod(tmp, st.st_mode & 0o777)
                os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
            except OSError:
                pass
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def check_target(file: str, target: str, force: bool) -> None:
    """Refuse early (before any work) what :func:`output` would refuse at the end."""
    if target == "-":
        return
    out = Path(target)
    if file != "-" and out.exists() and os.path.exists(file) and out.samefile(file):
        raise UsageError(f"{target}: output would overwrite the input")
    if out.exists() and not force:
        raise OutputExistsError(f"{target} already exists; use -f to overwrite")


def target_of(file: str, output: str | None, to_stdout: bool, derive) -> str:
    if to_stdout:
        if output not in (None, "-"):
            raise UsageError("-c and -o cannot be used together")
        return "-"
    if output is not None:
        return output
    if file == "-":
        return "-"
    return derive(file)


def run_options(file, output, to_stdout, derive, force, quiet, model, threads,
                 remove_input) -> RunOptions:
    target = target_of(file, output, to_stdout, derive)
    if remove_input and target == "-":
        raise UsageError("--rm needs an output file")
    return RunOptions(file, target, force, quiet, model, threads)


def input_list(files: tuple[str, ...], output: str | None, to_stdout: bool) -> list[str]:
    """The inputs in order: stdin when none is given. '-' must be the only input."""
    files = list(files) or ["-"]
    if len(files) > 1:
        if "-" in files:
            raise UsageError("'-' (standard input) must be the only input")
        if output is not None:
            raise UsageError("-o takes one input; without it each output is named after its input")
    return files


def remove_input(file: str) -> None:
    if file == "-":
        return
    os.unlink(file)
