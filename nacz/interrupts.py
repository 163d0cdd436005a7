"""Ctrl-C (SIGINT) and SIGTERM stop nacz even where a callback swallowed them.

Python raises KeyboardInterrupt in whatever the main thread runs when the signal arrives.
Inside a ctypes callback (llvmlite's object cache while Numba compiles or loads machine code,
for one) the exception is printed as "Exception ignored" and dropped, and the run went on
to its end: seen with a Ctrl-C one second into ``nacz compress --ray``. The command line
installs :func:`on_signal`, which also records the signal; the loops that run long (each
lockstep step, each wait for a Ray actor) call :func:`check`, which raises it again.

Calls into Ray run inside :func:`deferred`: there the handler only records the signal, and
the loop around the call raises it at its next :func:`check`. A KeyboardInterrupt raised
inside ``ray.init`` left Ray's processes behind (they were started, but the driver had not
yet recorded them, so ``ray.shutdown`` did not stop them), and one raised inside a wait
for an actor was followed, in 2 of about 16 tries, by a segmentation fault as the driver
exited. A second signal while deferred raises at once: a user who presses Ctrl-C again
does not wait for Ray.

Invariants: nothing here runs unless the command line called :func:`install` (a program
that imports nacz keeps its own handlers); once a signal is recorded, every later
:func:`check` raises, so a swallowed interrupt ends the run at the next step.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager

_received = False
_deferring = 0  # depth of deferred() blocks


def on_signal(signum, frame) -> None:
    global _received
    first = not _received
    _received = True
    if _deferring and first:
        return  # raised by the next check(), once the call in progress has returned
    raise KeyboardInterrupt  # unwinds through the temp-file cleanup


@contextmanager
def deferred():
    """Within the block a signal is only recorded (see the module's docstring); the
    caller's next :func:`check` raises it."""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1


def install() -> None:
    """Handle SIGINT and SIGTERM as above (from the main thread only)."""
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


def check() -> None:
    """Raise KeyboardInterrupt if a signal arrived (and was perhaps swallowed)."""
    if _received:
        raise KeyboardInterrupt


def wait(get, timeout_error: type[BaseException]):
    """``get()`` (a call that gives up after about a second by raising ``timeout_error``),
    repeated until it returns, with a :func:`check` before each try."""
    while True:
        check()
        try:
            return get()
        except timeout_error:
            continue
