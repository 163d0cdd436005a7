"""Running lockstep groups in worker processes.

Invariants:
- A group's coded bytes depend only on its tokens (or payloads), the model and the config:
  every group opens a fresh llama.cpp context and makes the same calls wherever it runs.
  So the output is identical for any worker count, and any worker count can decode.
- Results come back in group order, whatever order the workers finish in.
- Each worker process loads its own model; threads are split between workers.
- Devices (``--gpus``): worker i runs on ``devices[i % len(devices)]`` (None: the CPU).
  Each worker takes its device from a queue when it starts, so every device gets its
  share of workers whatever order they start in. A device changes the numerics, never the
  plan: a file compressed on a GPU decodes only where the numerics fingerprint matches.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Sequence

import numpy as np

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


def _encode_job(streams, cfg):
    from .codec import encode_streams

    return encode_streams(_worker_backend, streams, cfg)


def _decode_job(lengths, payloads, cfg):
    from .codec import decode_streams

    return decode_streams(_worker_backend, lengths, payloads, cfg)


def run_encode_groups(
    backend, groups: Sequence[Sequence[np.ndarray]], cfg, workers: int,
    on_group: Callable[[int], None] | None = None,
    progress=None, devices: Sequence[int | None] | None = None,
) -> list[list[bytes]]:
    """Encode every group; ``on_group(i)`` is called as group i finishes (in order)."""
    from .codec import encode_streams

    if workers <= 1 or len(groups) <= 1:
        out = []
        for i, g in enumerate(groups):
            out.append(encode_streams(backend, g, cfg, progress(i) if progress else None))
            if on_group:
                on_group(i)
        return out
    return _pool(backend, workers, len(groups), on_group,
                 lambda ex: [ex.submit(_encode_job, list(g), cfg) for g in groups], devices)


def run_decode_groups(
    backend, jobs: Sequence[tuple[list[int], list[bytes]]], cfg, workers: int,
    on_group: Callable[[int], None] | None = None,
    progress=None, devices: Sequence[int | None] | None = None,
) -> list[list[np.ndarray]]:
    from .codec import decode_streams

    if workers <= 1 or len(jobs) <= 1:
        out = []
        for i, (lengths, payloads) in enumerate(jobs):
            out.append(decode_streams(backend, lengths, payloads, cfg,
                                      progress(i) if progress else None))
            if on_group:
                on_group(i)
        return out
    return _pool(backend, workers, len(jobs), on_group,
                 lambda ex: [ex.submit(_decode_job, l, p, cfg) for l, p in jobs], devices)


def _pool(backend, workers: int, n_jobs: int, on_group, submit_all, devices=None):
    import multiprocessing

    devices = list(devices) if devices else [backend.gpu] * workers
    workers = min(len(devices), n_jobs)
    devices = devices[:workers]
    # CPU workers split the cores; a GPU worker needs only a thread or two to feed it.
    n_cpu = sum(d is None for d in devices)
    threads = max(1, backend.threads // max(1, n_cpu))
    ctx = multiprocessing.get_context("spawn")  # llama.cpp state must not be forked
    slots = ctx.Queue()
    for d in devices:
        slots.put(d)
    with ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_init_worker,
        initargs=(str(backend.model_file.path), threads, slots),
    ) as ex:
        futures = submit_all(ex)
        out = []
        for i, fut in enumerate(futures):
            out.append(fut.result())
            if on_group:
                on_group(i)
        return out

