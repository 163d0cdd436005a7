"""What a group runner runs: one lockstep group's job, and the runner's interface.

Invariants:
- A job's result depends only on the job (its config and tokens, or lengths and payloads),
  the model and the numerics of whoever runs it: every job opens a fresh llama.cpp context
  (``nacz.codec.lockstep``), so any runner, any worker and any retry gives the same bytes.
- Jobs are plain frozen data: they cross process and Ray boundaries by pickling.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .config import CodecConfig

#: Called with one line for the user (the CLI writes it to stderr as "nacz: ray: ...").
WarnFn = Callable[[str], None]


@dataclass(frozen=True, eq=False)
class EncodeJob:
    """Code one lockstep group: its streams of ids -> one payload per stream."""

    cfg: CodecConfig
    streams: list[np.ndarray]

    def run(self, backend, progress=None) -> list[bytes]:
        from .codec import encode_streams

        return encode_streams(backend, self.streams, self.cfg, progress)


@dataclass(frozen=True, eq=False)
class DecodeJob:
    """Decode one lockstep group: each stream's id count and payload -> its ids."""

    cfg: CodecConfig
    lengths: list[int]
    payloads: list[bytes]

    def run(self, backend, progress=None) -> list[np.ndarray]:
        from .codec import decode_streams

        return decode_streams(backend, self.lengths, self.payloads, self.cfg, progress)


Job = EncodeJob | DecodeJob


def run_in_order(items: Iterable[tuple[Any, Job | None]], submit: Callable[[Job], Any],
                 result: Callable[[Any], Any], capacity: Callable[[], int],
                 ) -> Iterator[tuple[Any, Any]]:
    """The ordered bounded pipeline both runners share: yield ``(tag, result)`` for each
    ``(tag, job)`` of ``items`` in their order, where ``submit(job)`` starts a job and
    returns a handle and ``result(handle)`` waits for its result (a job of None yields
    None in its place, with nothing started).

    ``items`` is taken lazily; once ``capacity()`` entries are pending (jobs of None
    included, since their tags may hold data), the oldest is waited for before another
    is taken, so memory holds that many whatever the input's length. Results that finish
    early wait only behind the entries before them.
    """
    pending: deque = deque()

    def due(drain: bool):
        while pending and (drain or pending[0][1] is None or len(pending) >= capacity()):
            tag, handle = pending.popleft()
            yield tag, None if handle is None else result(handle)

    for tag, job in items:
        pending.append((tag, None if job is None else submit(job)))
        yield from due(drain=False)
    yield from due(drain=True)


class GroupRunner(Protocol):
    """Where a codec's groups run: this process and worker processes
    (:class:`nacz.workers.LocalGroupRunner`) or Ray actors
    (:class:`nacz.ray_runner.RayGroupRunner`)."""

    def fingerprint(self, cfg: CodecConfig) -> bytes:
        """The numerics fingerprint of whoever runs ``cfg``'s groups."""

    def check_numerics(self, cfg: CodecConfig, recorded: bytes) -> None:
        """Refuse (NumericsMismatchError) a file whose fingerprint this runner cannot
        reproduce, where that can be known before any job runs."""

    def run_groups(self, items: Iterable[tuple[Any, Job | None]],
                   expected: bytes | None = None,
                   progress: Callable[[Any], Callable] | None = None,
                   ) -> Iterator[tuple[Any, Any]]:
        """Yield ``(tag, job.run(...))`` for each ``(tag, job)`` of ``items``, in their
        order, taking ``items`` lazily and keeping a bounded number pending; a job of None
        yields None in its place."""

    def close(self) -> None:
        """Release what the runner holds (processes, actors, a Ray instance)."""
