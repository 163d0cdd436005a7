"""What the user reads, and the exit status: the one place that maps errors to exit codes
(:func:`classify`), progress bars and messages on stderr, and running several inputs
where each failure is reported and the worst status wins (:func:`each_file`).

Exit codes: 0 success, 1 a failure nacz detected (bad or corrupt input, model mismatch,
I/O error), 2 a usage error, 3 a bug, 130 interrupted.
"""

from __future__ import annotations

import sys

import click

from ..errors import ModelLoadError, NaczError, OutputExistsError, UsageError
from .files import RunOptions


class ProgressBar:
    """tqdm on stderr, only when stderr is a terminal and not quiet."""

    def __init__(self, enabled: bool, desc: str):
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                total=0, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                file=sys.stderr, leave=False, dynamic_ncols=True,
            )

    def __call__(self, done: int, total: int, bits: int) -> None:
        if self._bar is None:
            return
        if self._bar.total != total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)
        if done:
            self._bar.set_postfix_str(f"{bits / done:.3f} bits/byte", refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def progress_bar(opts: RunOptions, desc: str) -> ProgressBar:
    return ProgressBar(not opts.quiet and sys.stderr.isatty(), desc)


def say(opts: RunOptions, msg: str) -> None:
    if not opts.quiet:
        click.echo(msg, err=True)


def error_message(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        name = f"{exc.filename}: " if exc.filename else ""
        return f"{name}{exc.strerror or exc}"
    return str(exc) or type(exc).__name__


def is_broken_pipe(exc: BaseException) -> bool:
    """The reader of our output went away (``BrokenPipeError``, or the library's
    ``NaczIOError`` standing for one)."""
    import errno

    return isinstance(exc, OSError) and exc.errno == errno.EPIPE


def classify(exc: BaseException) -> tuple[int | None, str]:
    """(exit code, one-line message) for an error nacz reports, (None, "") for a bug."""
    if isinstance(exc, UsageError):
        return (1 if isinstance(exc, OutputExistsError) else 2), str(exc)
    if isinstance(exc, (NaczError, OSError)):
        return 1, error_message(exc)
    if isinstance(exc, MemoryError):
        return 1, "out of memory"
    return None, ""


def each_file(files: list[str], work) -> None:
    """Run ``work(file)`` for each input. With one input its error propagates as is; with
    several, each failure is reported (named by its file) and the others still run, as
    gzip and xz do; the exit status is then the worst one. A model that cannot be loaded
    stops the run, reported once: every further input would fail the same way."""
    if len(files) == 1:
        work(files[0])
        return
    worst = 0
    for file in files:
        try:
            work(file)
        except ModelLoadError:
            raise  # the model is gone: nothing more can be done
        except Exception as exc:
            if is_broken_pipe(exc):
                raise  # the reader is gone
            code, message = classify(exc)
            if code is None:
                raise
            if not message.startswith(f"{file}:"):
                message = f"{file}: {message}"
            click.echo(f"nacz: error: {message}", err=True)
            worst = max(worst, code)
    if worst:
        raise click.exceptions.Exit(worst)
