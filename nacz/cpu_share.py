"""How many CPU threads the model may use right now: the cores other programs leave free.

llama.cpp splits every graph node across its threads with a barrier after each node, and
its OpenMP threads spin at those barriers. That is fastest on idle cores and a collapse on
busy ones: when a thread is descheduled, its partner spins through the time slice it is
waiting for (measured on 2 cores: two nacz runs at 2 threads each took 4.6-6.8x one alone,
one run beside a busy loop 4.2x). A passive wait avoids the collapse but costs about 30%
alone (a futex sleep and wake per barrier, hundreds per token). So instead nacz watches the
cores: every ``interval`` seconds it measures how much CPU time programs other than
itself used on the cores it may run on, and gives the model only the cores left free
(at least one thread, at most the cap). Two nacz runs side by side settle at one thread
each; a nacz alone on an idle machine keeps them all.

Invariants:
- The thread count changes how fast logits come, never their bits (llama.cpp's CPU
  results do not depend on it; tested with the count switched at every step), so this
  module may read the clock and the machine's load: nothing it decides reaches a file.
- It never raises: where /proc/stat cannot be read, the cap is used.
"""

from __future__ import annotations

import os
import time

#: Seconds between two looks at the machine's load (each look costs about 50 us).
INTERVAL = 0.5
#: Other programs' use, in cores, below which a core counts as free (a little slack for
#: the shell, the terminal and the kernel).
FREE_SLACK = 0.4


def allowed_cpus() -> set[int] | None:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def _busy_ticks(cpus: set[int] | None) -> int | None:
    """Busy clock ticks summed over ``cpus`` (all CPUs when None), from /proc/stat."""
    try:
        with open("/proc/stat", "rb") as f:
            text = f.read().decode("ascii", errors="replace")
    except OSError:
        return None
    total = 0
    found = False
    for line in text.splitlines():
        if not line.startswith("cpu") or line.startswith("cpu "):
            continue
        name, *vals = line.split()
        try:
            idx = int(name[3:])
            v = [int(x) for x in vals[:8]]
        except ValueError:
            continue
        if cpus is not None and idx not in cpus:
            continue
        user, nice, system, _idle, _iowait, irq, softirq, steal = (v + [0] * 8)[:8]
        total += user + nice + system + irq + softirq + steal
        found = True
    return total if found else None


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


class CpuShare:
    """The thread count for the next model call: ``cap`` minus the cores kept busy by
    other programs in the last interval (at least 1).

    ``probe`` returns other programs' CPU seconds so far on our cores, or None; ``clock``
    the wall seconds; tests pass their own. Between two looks a call only reads the clock.
    """

    def __init__(self, cap: int, interval: float = INTERVAL, probe=None,
                 clock=time.monotonic):
        self.cap = max(1, int(cap))
        self.interval = interval
        self._cpus = allowed_cpus()
        self._hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._probe = probe or self._proc_probe
        self._clock = clock
        self._current = self.cap
        others = self._probe() if self.cap > 1 else None
        self._last = None if others is None else (self._clock(), others)
        #: How many times the count changed (for benchmarks and tests).
        self.changes = 0

    def _proc_probe(self):
        busy = _busy_ticks(self._cpus)
        if busy is None:
            return None
        return busy / self._hz - _own_cpu_seconds()

    def threads(self) -> int:
        if self._last is None:
            return self._current
        t = self._clock()
        wall = t - self._last[0]
        if wall < self.interval:
            return self._current
        others_cpu = self._probe()
        if others_cpu is None:
            self._last = None
            self._current = self.cap
            return self._current
        others = max(0.0, (others_cpu - self._last[1]) / wall)  # cores used by others
        self._last = (t, others_cpu)
        n_cpus = len(self._cpus) if self._cpus else self.cap
        free = n_cpus - others
        target = max(1, min(self.cap, int(free + FREE_SLACK)))
        if target != self._current:
            self._current = target
            self.changes += 1
        return self._current
