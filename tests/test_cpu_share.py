"""Threads follow the free cores, and no thread setting changes the bytes.

The first tests drive ``CpuShare`` with a fake load probe (no model). The others run the
real model: the thread count switched at every llama_decode call, fixed counts, and
OpenMP's wait policies in fresh processes must all write the same file.
"""

from __future__ import annotations

import hashlib
import os

import pytest

from _corpus import corpus_path
from nacz.cpu_share import CpuShare


class FakeLoad:
    """A clock and other programs' CPU seconds: ``advance`` moves both."""

    def __init__(self):
        self.t = 0.0
        self.cpu = 0.0
        self.rate = 0.0

    def advance(self, seconds: float, rate: float) -> None:
        self.t += seconds
        self.cpu += seconds * rate

    def __call__(self):
        return self.cpu


def share_on(n_cpus: int, cap: int, load: FakeLoad) -> CpuShare:
    share = CpuShare(cap, interval=0.5, probe=load, clock=lambda: load.t)
    share._cpus = set(range(n_cpus))
    return share


def test_idle_machine_keeps_the_cap():
    load = FakeLoad()
    share = share_on(2, 2, load)
    for _ in range(10):
        load.advance(0.6, 0.1)
        assert share.threads() == 2


def test_busy_cores_are_left_to_their_programs_and_taken_back_when_free():
    load = FakeLoad()
    share = share_on(2, 2, load)
    load.advance(0.6, 1.0)  # another program keeps one core busy
    assert share.threads() == 1
    load.advance(0.6, 2.0)  # both busy: nacz still runs, on one thread
    assert share.threads() == 1
    load.advance(0.6, 0.0)
    assert share.threads() == 2
    assert share.changes == 2


def test_load_is_only_read_once_per_interval():
    load = FakeLoad()
    share = share_on(4, 4, load)
    load.advance(0.2, 3.0)
    assert share.threads() == 4  # too soon to judge
    load.advance(0.4, 3.0)
    assert share.threads() == 1  # others used 3 of the 4 cores over 0.6 s
    load.advance(0.1, 0.0)
    assert share.threads() == 1  # and it stays so until the next interval
    load.advance(0.5, 1.2)
    assert share.threads() == 3  # 4 - 1.0 used over the last 0.6 s


def test_unreadable_load_and_a_cap_of_one_use_the_cap():
    assert CpuShare(1, probe=lambda: 0.0).threads() == 1
    share = CpuShare(3, probe=lambda: None)
    assert share.threads() == 3


def test_proc_probe_reads_this_machine():
    share = CpuShare(2)
    for _ in range(3):
        assert 1 <= share.threads() <= 2


class Alternating:
    """A CpuShare stand-in that switches between 1 and 2 threads at every call."""

    def __init__(self):
        self.calls = 0

    def threads(self) -> int:
        self.calls += 1
        return 1 + self.calls % 2


def test_switching_threads_at_every_call_gives_the_same_bytes():
    from nacz.api import Codec
    from nacz.config import CodecConfig

    data = corpus_path("alice29.txt").read_bytes()[:2500]
    cfg = CodecConfig(min_shard_tokens=150, max_streams=3)
    blobs = []
    for threads, alternate in ((1, False), (2, False), (2, True)):
        codec = Codec(threads=threads)
        codec.backend.cpu_share = Alternating() if alternate else CpuShare(threads,
                                                                           probe=lambda: None)
        blobs.append(codec.compress(data, cfg))
        if alternate:
            assert codec.backend.cpu_share.calls > 100
            assert codec.decompress(blobs[-1]) == data
    assert blobs[0] == blobs[1] == blobs[2]


@pytest.mark.parametrize("policy", ["PASSIVE", "ACTIVE"])
def test_openmp_wait_policy_does_not_change_the_bytes(nacz_cli, policy, tmp_path):
    data = corpus_path("grammar.lsp").read_bytes()[:1200]
    default = nacz_cli("compress", "-c", "--threads", "2", input=data)
    assert default.returncode == 0, default.stderr
    run = nacz_cli("compress", "-c", "--threads", "2", input=data,
                   env={"OMP_WAIT_POLICY": policy})
    assert run.returncode == 0, run.stderr
    assert hashlib.sha256(run.stdout).digest() == hashlib.sha256(default.stdout).digest()
    back = nacz_cli("decompress", "-c", input=run.stdout, env={"OMP_WAIT_POLICY": policy})
    assert back.returncode == 0 and back.stdout == data
