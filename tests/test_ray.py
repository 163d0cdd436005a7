"""nacz on Ray (``--ray``): the same bytes as ``--workers 1``, refused numerics, lost
workers, Ctrl-C, and the one-line error without Ray.

Groups come from a small ``--block-size`` (1,024 bytes: grammar.lsp makes four groups).
A local Ray instance and a simulated two-node cluster (``ray.cluster_utils.Cluster``, two
raylets on loopback) both run here; every file they write is compared byte for byte with
the in-process codec's and decoded back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from _corpus import corpus_path

ray = pytest.importorskip("ray", reason="the Ray tests need the [ray] extra (in [test])")

BLOCK = 1024


def _cfg():
    from nacz.config import CodecConfig

    return CodecConfig(block_size=BLOCK)


@pytest.fixture(scope="module")
def data():
    return corpus_path("grammar.lsp").read_bytes()


@pytest.fixture(scope="module")
def reference(codec, data):
    """The file as ``--workers 1`` writes it (several groups)."""
    from nacz.formats import NEURAL_KINDS, read_header

    blob = codec.compress(data, _cfg())
    groups = {s.group for s in read_header(blob).segments if s.kind in NEURAL_KINDS}
    assert len(groups) >= 3, groups
    return blob


@pytest.fixture(scope="module")
def local_ray():
    from nacz.ray_runner import init_ray

    # init_ray, not ray.init: from the repository root, Ray's workers would otherwise
    # import the source tree's nacz/ instead of the installed package.
    init_ray(num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level="ERROR")
    yield
    ray.shutdown()


def _ray_processes() -> list[str]:
    out = subprocess.run(["pgrep", "-af", "ray::"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "pgrep" not in line]


def test_local_ray_writes_the_bytes_of_one_worker_and_decodes(local_ray, data, reference):
    from nacz.api import Codec

    codec = Codec(workers=2, ray_address="auto")
    try:
        assert codec.compress(data, _cfg()) == reference
        assert codec.decompress(reference) == data
        assert not codec.runner.refused
    finally:
        codec.close()


def test_a_dead_actor_is_replaced_and_the_bytes_do_not_change(local_ray, data, reference):
    from nacz.api import Codec

    codec = Codec(workers=2, ray_address="auto")
    killed = []

    def kill_one():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            pids = list(codec.runner.actor_pids)
            if pids:
                time.sleep(1.0)  # in the middle of its first group
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
                return
            time.sleep(0.05)

    t = threading.Thread(target=kill_one, daemon=True)
    t.start()
    try:
        blob = codec.compress(data, _cfg())
        t.join()
        assert killed, "no actor was killed"
        assert codec.runner.replaced >= 1
        assert blob == reference
        assert codec.decompress(blob) == data
    finally:
        codec.close()


def test_actors_with_other_numerics_are_refused_naming_the_node(local_ray, data, reference):
    from nacz.api import Codec
    from nacz.errors import NumericsMismatchError

    codec = Codec(workers=1, ray_address="auto")
    try:
        with pytest.raises(NumericsMismatchError, match="numerics differ") as info:
            codec.runner.start(_cfg(), expected=b"\x00" * 8)
        assert "node id" in str(info.value)
    finally:
        codec.close()


def test_a_two_node_cluster_writes_the_same_bytes(data, reference):
    from ray.cluster_utils import Cluster

    from nacz.api import Codec

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    try:
        cluster.wait_for_nodes()
        codec = Codec(workers=2, ray_address=cluster.address)
        try:
            assert codec.compress(data, _cfg()) == reference
            nodes = {n.split(" node id ")[-1] for n in codec.runner.actor_nodes}
            assert len(nodes) == 2, codec.runner.actor_nodes  # one actor on each raylet
            assert codec.decompress(reference) == data
        finally:
            codec.close()
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_cli_ray_round_trip_and_ctrl_c_leaves_nothing(nacz_cli, tmp_path, data, reference):
    if ray.is_initialized():
        ray.shutdown()
    src = tmp_path / "g.lsp"
    src.write_bytes(data)
    r = nacz_cli("compress", "--ray=local", "--workers", "2", "--block-size", str(BLOCK),
                 "-c", "-q", str(src), timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stdout == reference
    (tmp_path / "g.nacz").write_bytes(r.stdout)
    r = nacz_cli("test", "--ray", "--workers", "2", str(tmp_path / "g.nacz"), timeout=600)
    assert r.returncode == 0, r.stderr

    # Ctrl-C in the middle: no output under the final name, no Ray processes left.
    big = tmp_path / "big.txt"
    # long enough (about 38,000 tokens) that it cannot finish before the Ctrl-C below
    big.write_bytes(corpus_path("alice29.txt").read_bytes())
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # Actors of an earlier test's Ray may take a while to exit: only this run's count.
    before = set(_ray_processes())
    p = subprocess.Popen([sys.executable, "-m", "nacz", "compress", "--ray=local",
                          "--workers", "2", "--block-size", str(BLOCK), str(big)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                         cwd=tmp_path)  # never the repo root: its nacz/ is not installed
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any("_GroupWorker" in x
                                                  for x in set(_ray_processes()) - before):
        time.sleep(0.5)
    time.sleep(3.0)  # the actors are coding
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        # Seen once in a full CI run (passed alone): keep what nacz said for the diagnosis.
        p.kill()
        out, err = p.communicate()
        pytest.fail("nacz --ray did not stop within 120 s of SIGINT; its stderr:\n"
                    + err.decode(errors="replace")[-3000:])
    assert p.returncode == 130, err.decode(errors="replace")
    assert b"interrupted" in err
    assert not (tmp_path / "big.txt.nacz").exists()
    assert big.exists()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and set(_ray_processes()) - before:
        time.sleep(0.5)
    assert not set(_ray_processes()) - before


def test_without_ray_the_option_fails_with_one_line(nacz_cli, tmp_path):
    fake = tmp_path / "noray"
    (fake / "ray").mkdir(parents=True)
    (fake / "ray" / "__init__.py").write_text("raise ImportError('no ray here')\n")
    src = tmp_path / "a.txt"
    src.write_bytes(b"hello\n" * 50)
    env = {"PYTHONPATH": str(fake)}
    r = nacz_cli("compress", "--ray=local", str(src), env=env)
    assert r.returncode == 2
    assert r.stdout == b""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'nacz[ray]'" in lines[0], r.stderr
    assert not (tmp_path / "a.txt.nacz").exists()


def test_a_file_name_is_not_taken_for_an_address(nacz_cli, tmp_path):
    src = tmp_path / "a.txt"
    src.write_bytes(b"hello\n")
    r = nacz_cli("compress", "--ray", str(src))
    assert r.returncode == 2
    assert "not a Ray address" in r.stderr
