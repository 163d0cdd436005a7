"""Running lockstep groups in worker processes.

Invariants:
- A group's coded bytes depend only on its tokens (or payloads), the model and the config:
  every group opens a fresh llama.cpp context and makes the same calls wherever it runs.
  So the output is identical for any worker count, and any worker count can decode.
- Results come back in group order, whatever order the workers finish in.
- Each worker process loads its own model; threads are split between workers.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Sequence

import numpy as np

_worker_backend = None  # this worker process's model, set once by _init_worker


def _init_worker(model_path: str, threads: int) -> None:
    global _worker_backend
    from .backend import LlamaBackend
    from .model_file import resolve_model

    _worker_backend = LlamaBackend(resolve_model(model_path), threads)


def _encode_job(streams, cfg):
    from .codec import encode_streams

    return encode_streams(_worker_backend, streams, cfg)


def _decode_job(lengths, payloads, cfg):
    from .codec import decode_streams

    return decode_streams(_worker_backend, lengths, payloads, cfg)


def run_encode_groups(
    backend, groups: Sequence[Sequence[np.ndarray]], cfg, workers: int,
    on_group: Callable[[int], None] | None = None,
    progress=None,
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
                 lambda ex: [ex.submit(_encode_job, list(g), cfg) for g in groups])


def run_decode_groups(
    backend, jobs: Sequence[tuple[list[int], list[bytes]]], cfg, workers: int,
    on_group: Callable[[int], None] | None = None,
    progress=None,
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
                 lambda ex: [ex.submit(_decode_job, l, p, cfg) for l, p in jobs])


def _pool(backend, workers: int, n_jobs: int, on_group, submit_all):
    import multiprocessing

    workers = min(workers, n_jobs)
    threads = max(1, backend.threads // workers)
    ctx = multiprocessing.get_context("spawn")  # llama.cpp state must not be forked
    with ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_init_worker,
        initargs=(str(backend.model_file.path), threads),
    ) as ex:
        futures = submit_all(ex)
        out = []
        for i, fut in enumerate(futures):
            out.append(fut.result())
            if on_group:
                on_group(i)
        return out

