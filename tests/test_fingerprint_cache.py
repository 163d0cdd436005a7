"""The numerics fingerprint is cached per key, and the key covers what the probe depends on."""

from __future__ import annotations

import json

import pytest

from nacz.codec import cached_numerics_fingerprint, numerics_cache_key, numerics_fingerprint
from nacz.config import CodecConfig

CACHE_FILE = "numerics-fingerprints.json"


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("NACZ_NO_CACHE", raising=False)
    return tmp_path / "nacz"


def test_cached_value_is_the_probe_result_and_is_read_back(codec, cache_home, monkeypatch):
    cfg = CodecConfig()
    probed = numerics_fingerprint(codec.backend, cfg)
    assert cached_numerics_fingerprint(codec.backend, cfg) == probed  # cold: runs the probe
    table = json.loads((cache_home / CACHE_FILE).read_text())
    key = numerics_cache_key(codec.backend, cfg)
    assert table == {key: probed.hex()}
    # warm: the stored value is what comes back (a planted one proves the probe did not run)
    table[key] = "ab" * 16
    (cache_home / CACHE_FILE).write_text(json.dumps(table))
    assert cached_numerics_fingerprint(codec.backend, cfg) == bytes.fromhex("ab" * 16)
    # NACZ_NO_CACHE ignores the file and writes nothing
    monkeypatch.setenv("NACZ_NO_CACHE", "1")
    assert cached_numerics_fingerprint(codec.backend, cfg) == probed
    assert json.loads((cache_home / CACHE_FILE).read_text())[key] == "ab" * 16


@pytest.mark.parametrize("junk", [b"", b"not json", b"[1, 2]", b'{"k": 5}', b"\xff\xfe"])
def test_a_damaged_cache_file_only_costs_time(codec, cache_home, junk):
    cfg = CodecConfig()
    cache_home.mkdir(parents=True)
    (cache_home / CACHE_FILE).write_bytes(junk)
    assert cached_numerics_fingerprint(codec.backend, cfg) == numerics_fingerprint(codec.backend, cfg)


def test_the_key_changes_with_what_the_probe_depends_on(codec, monkeypatch):
    base = numerics_cache_key(codec.backend, CodecConfig())
    assert numerics_cache_key(codec.backend, CodecConfig()) == base
    assert numerics_cache_key(codec.backend, CodecConfig(temperature=0.9)) != base
    assert numerics_cache_key(codec.backend, CodecConfig(predictors=0)) != base
    for var in ("GGML_SCHED_MAX_COPIES", "NUMBA_CPU_NAME", "OMP_NUM_THREADS"):
        monkeypatch.setenv(var, "1")
        assert numerics_cache_key(codec.backend, CodecConfig()) != base, var
        monkeypatch.delenv(var)
    assert numerics_cache_key(codec.backend, CodecConfig()) == base


def test_output_is_the_same_with_a_cold_and_a_warm_cache(nacz_cli, tmp_path):
    text = b"A warm cache must not change a single output byte.\n" * 3
    (tmp_path / "in.txt").write_bytes(text)
    env_home = tmp_path / "home"
    outs = []
    for _ in range(2):  # first run fills the cache, second reads it
        r = nacz_cli("compress", "-c", "in.txt", env={"XDG_CACHE_HOME": str(env_home)})
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout)
    assert (env_home / "nacz" / CACHE_FILE).is_file()
    r = nacz_cli("compress", "-c", "in.txt", env={"NACZ_NO_CACHE": "1"})
    assert r.returncode == 0, r.stderr
    assert outs[0] == outs[1] == r.stdout
    (tmp_path / "in.nacz").write_bytes(outs[0])
    r = nacz_cli("decompress", "-c", "in.nacz", env={"XDG_CACHE_HOME": str(env_home)})
    assert r.returncode == 0 and r.stdout == text


@pytest.mark.parametrize("failing", ["dump", "replace"])
def test_a_failed_cache_write_leaves_no_temporary_file(cache_home, monkeypatch, failing):
    """A full disk (say) while the table is written: the old table stays, nothing else."""
    import nacz.model_file as mf

    mf.write_cache_table("t.json", {"k": "old"})
    assert sorted(p.name for p in cache_home.iterdir()) == ["t.json"]

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    if failing == "dump":
        monkeypatch.setattr(mf.json, "dump", fail)
    else:
        monkeypatch.setattr(mf.os, "replace", fail)
    mf.write_cache_table("t.json", {"k": "new"})
    assert sorted(p.name for p in cache_home.iterdir()) == ["t.json"]
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home.parent))
    assert mf.read_cache_table("t.json") == {"k": "old"}
