"""Worker and device placement (issue 5): --gpus on a machine without GPUs."""

from __future__ import annotations

import pytest

from nacz.errors import UsageError
from nacz.workers import parse_gpus, place_workers


def test_parse_gpus():
    assert parse_gpus(None) == () and parse_gpus("") == ()
    assert parse_gpus("0") == (0,)
    assert parse_gpus("0,1,3") == (0, 1, 3)
    for bad in ("a", "0,,1", "-1", "0,256", "1.5"):
        with pytest.raises(UsageError):
            parse_gpus(bad)


def test_place_workers_round_robin_at_least_one_per_gpu():
    assert place_workers(1, ()) == [None]
    assert place_workers(3, ()) == [None, None, None]
    assert place_workers(1, (0, 1)) == [0, 1]  # every listed GPU gets a worker
    assert place_workers(4, (0, 1)) == [0, 1, 0, 1]
    assert place_workers(3, (2,)) == [2, 2, 2]


def test_codec_devices_follow_the_placement():
    from nacz.api import Codec

    assert Codec(workers=2).devices == [None, None]
    c = Codec(workers=1, gpus=(0, 1))
    assert c.devices == [0, 1] and c.workers == 2


def _gpu_build() -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


def test_gpus_without_gpu_support_is_a_clear_refusal(nacz_cli, tmp_path):
    if _gpu_build():
        pytest.skip("this llama-cpp-python has GPU support; the refusal cannot happen here")
    f = tmp_path / "a.txt"
    f.write_bytes(b"hello, devices\n" * 20)
    r = nacz_cli("compress", "--gpus", "0", str(f))
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "built without GPU support" in lines[0]
    assert not (tmp_path / "a.txt.nacz").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]  # no temporary left
    r = nacz_cli("compress", "--gpus", "x", str(f))
    assert r.returncode == 2 and "--gpus takes device numbers" in r.stderr
