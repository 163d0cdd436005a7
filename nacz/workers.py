"""Running lockstep groups in worker processes.

Invariants:
- A group's coded bytes depend only on its tokens (or payloads), the model and the config:
  every group opens a fresh llama.cpp context and makes the same calls wherever it runs.
  So the output is identical for any worker count, and any worker count can decode.
- Results come back in group order, whatever order the workers finish in.
- Bounded: groups are taken from a lazy iterable and at most one per worker is pending,
  so memory does not grow with the number of groups (the input's length).
- Each worker process loads its own model; threads are split between workers.
- Devices (``--gpus``): worker i runs on ``devices[i % len(devices)]`` (None: the CPU).
  Each worker takes its device from a queue when it starts, so every device gets its
  share of workers whatever order they start in. A device changes the numerics, never the
  plan: a file compressed on a GPU decodes only where the numerics fingerprint matches.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Iterable, Iterator, Sequence

from . import interrupts
from .jobs import run_in_order

_worker_backend = None  # this worker process's model, set once by _init_worker


def parse_gpus(text: str | None) -> tuple[int, ...]:
    """``"0,1"`` -> (0, 1); empty or None -> () (CPU only)."""
    from .errors import UsageError

    if not text:
        return ()
    try:
        ids = tuple(int(w) for w in text.split(","))
    except ValueError:
        raise UsageError(f"--gpus takes device numbers separated by commas, got {text!r}")
    if any(not 0 <= i < 256 for i in ids):
        raise UsageError(f"GPU device numbers must be in 0..255, got {text!r}")
    return ids


def place_workers(workers: int, gpus: Sequence[int]) -> list[int | None]:
    """The device of each worker: round robin over ``gpus``, at least one worker per GPU;
    all None (CPU) without GPUs."""
    if not gpus:
        return [None] * max(1, workers)
    return [gpus[i % len(gpus)] for i in range(max(workers, len(gpus)))]


def _init_worker(model_path: str, threads: int, devices) -> None:
    global _worker_backend
    from .backend import LlamaBackend
    from .model_file import resolve_model

    device = devices.get()  # one slot per worker: see place_workers
    _worker_backend = LlamaBackend(resolve_model(model_path), threads, gpu=device)


def run_job(backend, job, progress=None):
    """Run one lockstep group (a :class:`nacz.jobs.EncodeJob` or ``DecodeJob``)."""
    return job.run(backend, progress)


def _worker_job(job):
    return run_job(_worker_backend, job)


def run_groups(
    backend, items: Iterable[tuple[Any, tuple | None]], workers: int,
    devices: Sequence[int | None] | None = None,
    progress: Callable[[Any], Callable] | None = None,
) -> Iterator[tuple[Any, Any]]:
    """Yield ``(tag, result)`` for each ``(tag, job)`` of ``items``, in their order.

    ``items`` is consumed lazily, so the caller can produce jobs as it reads its input. A
    job of None has the result None; it only keeps its place in the order. With workers,
    at most ``workers`` items are pending at once, so memory holds that many groups
    whatever the input's length. ``progress(tag)`` gives a progress callback for a group
    run in this process (worker processes report nothing until a group is done).
    """
    if workers <= 1:
        for tag, job in items:
            cb = progress(tag) if progress is not None and job is not None else None
            yield tag, None if job is None else run_job(backend, job, cb)
        return
    it = iter(items)
    # Look ahead until `workers` jobs are known: a single job runs here, as fast as in a
    # worker, without starting processes and loading models for nothing.
    ahead = []
    n_jobs = 0
    for tag, job in it:
        ahead.append((tag, job))
        n_jobs += job is not None
        if n_jobs == workers:
            break
    if n_jobs <= 1:
        yield from run_groups(backend, ahead, 1, progress=progress)
        return
    ex, limit = _pool(backend, min(workers, n_jobs), devices)
    try:
        yield from run_in_order(itertools.chain(ahead, it),
                                lambda job: ex.submit(_worker_job, job), _result,
                                lambda: limit)
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


def _result(fut):
    """``fut.result()``, looking every second for a Ctrl-C that a callback swallowed."""
    from concurrent.futures import TimeoutError as FutureTimeout

    return interrupts.wait(lambda: fut.result(timeout=1.0), FutureTimeout)


def _pool(backend, workers: int, devices=None) -> tuple[ProcessPoolExecutor, int]:
    import multiprocessing

    devices = list(devices) if devices else [backend.gpu] * workers
    devices = devices[: min(len(devices), workers)]
    # CPU workers split the cores; a GPU worker needs only a thread or two to feed it.
    n_cpu = sum(d is None for d in devices)
    threads = max(1, backend.threads // max(1, n_cpu))
    ctx = multiprocessing.get_context("spawn")  # llama.cpp state must not be forked
    slots = ctx.Queue()
    for d in devices:
        slots.put(d)
    ex = ProcessPoolExecutor(
        len(devices), mp_context=ctx, initializer=_init_worker,
        initargs=(str(backend.model_file.path), threads, slots),
    )
    return ex, len(devices)


class LocalGroupRunner:
    """Runs a codec's groups in this process and in its worker processes (see
    :func:`run_groups`); the numerics are this machine's. A
    :class:`nacz.jobs.GroupRunner`, as :class:`nacz.ray_runner.RayGroupRunner` is."""

    def __init__(self, codec):
        self._codec = codec

    def fingerprint(self, cfg) -> bytes:
        return self._codec.fingerprint(cfg)

    def check_numerics(self, cfg, recorded: bytes) -> None:
        """Refuse a file whose recorded fingerprint is not this machine's."""
        from .errors import NumericsMismatchError

        if self.fingerprint(cfg)[: len(recorded)] != recorded:
            raise NumericsMismatchError(
                "this machine's model numerics differ from those of the machine that "
                "compressed the file (different CPU kind, GPU, or llama.cpp build); "
                "decoding here would produce garbage"
            )

    def run_groups(self, items, expected: bytes | None = None, progress=None):
        codec = self._codec
        return run_groups(codec.backend, items, codec.workers, codec.devices, progress)

    def close(self) -> None:
        pass
