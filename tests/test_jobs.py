"""nacz.jobs.run_in_order, the ordered bounded pipeline both group runners use: results
in the order of the items, at most ``capacity`` pending, items taken lazily."""

from __future__ import annotations

import random

from nacz.jobs import run_in_order


def test_results_come_in_order_and_pending_stays_bounded():
    rng = random.Random(4)
    items = [(i, None if rng.random() < 0.3 else f"job{i}") for i in range(200)]
    started: list = []
    done: set = set()
    taken = 0
    most_pending = 0

    def lazily():
        nonlocal taken
        for item in items:
            taken += 1
            yield item

    def submit(job):
        started.append(job)
        return job

    def result(handle):
        nonlocal most_pending
        most_pending = max(most_pending, len(started) - len(done))
        done.add(handle)
        return handle.upper()

    out = []
    for tag, value in run_in_order(lazily(), submit, result, lambda: 3):
        out.append((tag, value))
        # taken lazily: never more than the bound ahead of what was yielded
        assert taken - len(out) <= 3
    assert out == [(i, None if job is None else job.upper()) for i, job in items]
    assert started == [job for _, job in items if job is not None]
    assert most_pending <= 3
