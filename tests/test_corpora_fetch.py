"""Tests for corpora/fetch.py and tests/_corpus.py (no network, no nacz import)."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
FETCH_PY = REPO_ROOT / "corpora" / "fetch.py"
MANIFEST = REPO_ROOT / "corpora" / "MANIFEST.tsv"
SHARED_CANTERBURY = (REPO_ROOT / ".." / "shared" / "corpora" / "canterbury").resolve()

CANTERBURY = [
    "alice29.txt", "asyoulik.txt", "cp.html", "fields.c", "grammar.lsp", "kennedy.xls",
    "lcet10.txt", "plrabn12.txt", "ptt5", "sum", "xargs.1",
]
CANTERBURY_URL = "https://corpus.canterbury.ac.nz/resources/cantrbry.tar.gz"
ENWIK8_URL = "http://mattmahoney.net/dc/enwik8.zip"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


fetch = _load("_test_corpora_fetch_module", FETCH_PY)


# ---------------------------------------------------------------- helpers

FAKE = {
    "a.txt": b"hello corpus\n" * 100,
    "b.bin": bytes(range(256)) * 7,
    "big": b"x" * 3000,  # stands in for an optional (enwik8-like) file
}


def _write_manifest(path: Path, files: dict[str, bytes], sources: dict[str, str] | None = None):
    sources = sources or {}
    lines = ["name\tsize\tsha256\tsource"]
    for name, data in files.items():
        src = sources.get(name, "https://example.invalid/fake.tar.gz")
        lines.append(f"{name}\t{len(data)}\t{hashlib.sha256(data).hexdigest()}\t{src}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _mirror(tmp_path: Path, files: dict[str, bytes]) -> Path:
    m = tmp_path / "mirror"
    m.mkdir()
    for name, data in files.items():
        (m / name).write_bytes(data)
    return m


def _leftovers(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.iterdir() if p.name.startswith("."))


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(FETCH_PY), *args],
                          capture_output=True, text=True, timeout=120)


def _make_tar(path: Path, files: dict[str, bytes], prefix: str = "") -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


# ---------------------------------------------------------------- manifest


def test_manifest_parses_12_rows():
    entries = fetch.load_manifest(MANIFEST)
    assert len(entries) == 12
    assert [e.name for e in entries] == CANTERBURY + ["enwik8"]
    for e in entries:
        assert re.fullmatch(r"[0-9a-f]{64}", e.sha256), e
        assert e.size > 0
    by = {e.name: e for e in entries}
    assert by["enwik8"].size == 100_000_000
    assert by["enwik8"].sha256 == (
        "2b49720ec4d78c3c9fabaee6e4179a5e997302b3a70029f30f2d582218c024a8")
    assert by["enwik8"].source == ENWIK8_URL
    assert by["enwik8"].archive_name == "enwik8.zip"
    assert all(by[n].source == CANTERBURY_URL for n in CANTERBURY)
    assert by["alice29.txt"].size == 152089
    assert by["alice29.txt"].archive_name == "cantrbry.tar.gz"


def test_manifest_agrees_with_shared_sha256sums():
    sums = SHARED_CANTERBURY.parent / "SHA256SUMS.canterbury"
    if not sums.is_file():
        pytest.skip(f"{sums} not present; cannot cross-check the manifest")
    expected = {}
    for line in sums.read_text().splitlines():
        digest, name = line.split()
        expected[name] = digest
    by = {e.name: e.sha256 for e in fetch.load_manifest(MANIFEST)}
    assert {n: by[n] for n in CANTERBURY} == expected


def test_default_selection_excludes_enwik8():
    entries = fetch.load_manifest(MANIFEST)
    assert fetch.select(entries) == CANTERBURY
    assert fetch.select(entries, enwik8=True) == CANTERBURY + ["enwik8"]
    assert fetch.select(entries, ["enwik8"]) == ["enwik8"]
    with pytest.raises(fetch.FetchError):
        fetch.select(entries, ["nope.txt"])


@pytest.mark.parametrize("bad", [
    "name\tsize\tsha\tsource\n",                              # wrong header
    "name\tsize\tsha256\tsource\nx\t1\tABC\tu\n",            # bad hash
    "name\tsize\tsha256\tsource\nx\tone\t" + "0" * 64 + "\tu\n",  # bad size
    "name\tsize\tsha256\tsource\n../x\t1\t" + "0" * 64 + "\tu\n",  # path in name
    "name\tsize\tsha256\tsource\nfetch.py\t1\t" + "0" * 64 + "\tu\n",  # reserved
])
def test_bad_manifest_rejected(tmp_path, bad):
    p = tmp_path / "M.tsv"
    p.write_text(bad)
    with pytest.raises(fetch.ManifestError):
        fetch.load_manifest(p)


# ---------------------------------------------------------------- fetching (API)


def test_fetch_from_mirror(tmp_path):
    manifest = _write_manifest(tmp_path / "M.tsv", FAKE)
    mirror = _mirror(tmp_path, FAKE)
    dest = tmp_path / "dest"
    entries = {e.name: e for e in fetch.load_manifest(manifest)}
    lines: list[str] = []
    got = fetch.fetch(list(FAKE), src_dir=mirror, dest=dest, manifest=manifest, log=lines.append)
    assert got == [dest / n for n in FAKE]
    for name, data in FAKE.items():
        assert (dest / name).read_bytes() == data
        assert fetch.verify(dest / name, entries[name])
    assert len(lines) == 3 and all("verified" in ln for ln in lines)
    assert _leftovers(dest) == []

    # Second run: everything already present and verified, nothing copied.
    lines.clear()
    mtimes = {n: (dest / n).stat().st_mtime_ns for n in FAKE}
    fetch.fetch(list(FAKE), src_dir=mirror, dest=dest, manifest=manifest, log=lines.append)
    assert all("already present" in ln for ln in lines) and len(lines) == 3
    assert mtimes == {n: (dest / n).stat().st_mtime_ns for n in FAKE}


def test_verify(tmp_path):
    manifest = _write_manifest(tmp_path / "M.tsv", FAKE)
    e = {x.name: x for x in fetch.load_manifest(manifest)}["a.txt"]
    p = tmp_path / "a.txt"
    assert not fetch.verify(p, e)            # missing
    p.write_bytes(FAKE["a.txt"])
    assert fetch.verify(p, e)
    p.write_bytes(FAKE["a.txt"][:-1] + b"!")  # same size, other content
    assert not fetch.verify(p, e)
    p.write_bytes(FAKE["a.txt"] + b"!")       # other size
    assert not fetch.verify(p, e)


@pytest.mark.parametrize("bad", [b"hello corpus\n" * 99 + b"hello corpuS\n", b"short"])
def test_wrong_content_rejected(tmp_path, bad):
    manifest = _write_manifest(tmp_path / "M.tsv", FAKE)
    mirror = _mirror(tmp_path, {**FAKE, "a.txt": bad})
    dest = tmp_path / "dest"
    with pytest.raises(fetch.FetchError) as ei:
        fetch.fetch(["a.txt"], src_dir=mirror, dest=dest, manifest=manifest)
    msg = str(ei.value)
    assert "a.txt" in msg and "\n" not in msg
    assert hashlib.sha256(FAKE["a.txt"]).hexdigest() in msg   # expected hash
    assert hashlib.sha256(bad).hexdigest() in msg             # actual hash
    assert not (dest / "a.txt").exists()
    assert _leftovers(dest) == []


def test_bad_existing_copy_is_replaced(tmp_path):
    manifest = _write_manifest(tmp_path / "M.tsv", FAKE)
    mirror = _mirror(tmp_path, FAKE)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "a.txt").write_bytes(b"corrupted")
    lines: list[str] = []
    fetch.fetch(["a.txt"], src_dir=mirror, dest=dest, manifest=manifest, log=lines.append)
    assert (dest / "a.txt").read_bytes() == FAKE["a.txt"]
    assert len(lines) == 1 and "replaced" in lines[0]


def test_bad_existing_copy_removed_when_refetch_fails(tmp_path):
    manifest = _write_manifest(tmp_path / "M.tsv", FAKE)
    mirror = _mirror(tmp_path, {"a.txt": b"also wrong"})
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "a.txt").write_bytes(b"corrupted")
    with pytest.raises(fetch.FetchError):
        fetch.fetch(["a.txt"], src_dir=mirror, dest=dest, manifest=manifest)
    assert not (dest / "a.txt").exists()
    assert _leftovers(dest) == []


def test_missing_source_in_mirror(tmp_path):
    manifest = _write_manifest(tmp_path / "M.tsv", FAKE)
    mirror = _mirror(tmp_path, {"b.bin": FAKE["b.bin"]})
    dest = tmp_path / "dest"
    with pytest.raises(fetch.FetchError, match=r"a\.txt: not found in mirror"):
        fetch.fetch(["a.txt"], src_dir=mirror, dest=dest, manifest=manifest)
    assert not (dest / "a.txt").exists()


def test_mirror_holding_archives(tmp_path):
    tar_files = {"a.txt": FAKE["a.txt"], "b.bin": FAKE["b.bin"]}
    sources = {"a.txt": "https://example.invalid/x/pack.tar.gz",
               "b.bin": "https://example.invalid/x/pack.tar.gz",
               "big": "http://example.invalid/big.zip"}
    manifest = _write_manifest(tmp_path / "M.tsv", FAKE, sources)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    _make_tar(mirror / "pack.tar.gz", tar_files, prefix="./")
    with zipfile.ZipFile(mirror / "big.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big", FAKE["big"])
    dest = tmp_path / "dest"
    fetch.fetch(list(FAKE), src_dir=mirror, dest=dest, manifest=manifest)
    for name, data in FAKE.items():
        assert (dest / name).read_bytes() == data
    assert _leftovers(dest) == []


def test_download_from_file_url(tmp_path):
    # urllib handles file:// URLs, which exercises the download path offline.
    archive = _make_tar(tmp_path / "pack.tar.gz", {"a.txt": FAKE["a.txt"]}, prefix="pack/")
    manifest = _write_manifest(tmp_path / "M.tsv", {"a.txt": FAKE["a.txt"]},
                               {"a.txt": archive.as_uri()})
    dest = tmp_path / "dest"
    fetch.fetch(["a.txt"], dest=dest, manifest=manifest)
    assert (dest / "a.txt").read_bytes() == FAKE["a.txt"]
    assert _leftovers(dest) == []  # downloaded archive cleaned up


# ---------------------------------------------------------------- command line


def test_cli_success_and_quiet(tmp_path):
    manifest = _write_manifest(tmp_path / "M.tsv", FAKE)
    mirror = _mirror(tmp_path, FAKE)
    dest = tmp_path / "dest"
    r = _run("--manifest", str(manifest), "--from", str(mirror), "--dest", str(dest),
             "--only", "a.txt", "b.bin")
    assert r.returncode == 0, r.stderr
    assert len(r.stderr.splitlines()) == 2
    assert (dest / "a.txt").read_bytes() == FAKE["a.txt"]
    r = _run("--manifest", str(manifest), "--from", str(mirror), "--dest", str(dest),
             "--only", "a.txt", "b.bin", "--quiet")
    assert r.returncode == 0 and r.stderr == ""


def test_cli_missing_source_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    dest = tmp_path / "dest"
    r = _run("--from", str(empty), "--dest", str(dest), "--only", "alice29.txt")
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert "alice29.txt" in lines[0] and "Traceback" not in r.stderr
    assert not (dest / "alice29.txt").exists()


def test_cli_wrong_content_exit_1(tmp_path):
    manifest = _write_manifest(tmp_path / "M.tsv", FAKE)
    mirror = _mirror(tmp_path, {"a.txt": b"nope"})
    dest = tmp_path / "dest"
    r = _run("--manifest", str(manifest), "--from", str(mirror), "--dest", str(dest),
             "--only", "a.txt", "--quiet")
    assert r.returncode == 1
    assert len(r.stderr.splitlines()) == 1
    assert hashlib.sha256(b"nope").hexdigest() in r.stderr
    assert not (dest / "a.txt").exists()


def test_cli_download_failure_one_line(tmp_path):
    # Port 9 on localhost: connection refused at once; no real network needed.
    manifest = _write_manifest(tmp_path / "M.tsv", FAKE,
                               {n: "http://127.0.0.1:9/pack.tar.gz" for n in FAKE})
    dest = tmp_path / "dest"
    r = _run("--manifest", str(manifest), "--dest", str(dest))
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert "cannot download http://127.0.0.1:9/pack.tar.gz" in lines[0]
    assert "Traceback" not in r.stderr
    assert not any(dest.iterdir())


def test_cli_unknown_name_is_usage_error(tmp_path):
    r = _run("--dest", str(tmp_path), "--only", "no-such-file")
    assert r.returncode == 2
    assert "no-such-file" in r.stderr


# ---------------------------------------------------------------- real mirror


def test_fetch_alice_from_shared_mirror(tmp_path):
    if not SHARED_CANTERBURY.is_dir():
        pytest.skip(f"shared Canterbury mirror {SHARED_CANTERBURY} is absent")
    dest = tmp_path / "dest"
    r = _run("--from", str(SHARED_CANTERBURY), "--dest", str(dest), "--only", "alice29.txt")
    assert r.returncode == 0, r.stderr
    entry = {e.name: e for e in fetch.load_manifest(MANIFEST)}["alice29.txt"]
    assert fetch.verify(dest / "alice29.txt", entry)
    assert sorted(p.name for p in dest.iterdir()) == ["alice29.txt"]


# ---------------------------------------------------------------- tests/_corpus.py


def test_corpus_path_helper():
    helper = _load("_test_corpus_helper", Path(__file__).with_name("_corpus.py"))
    with pytest.raises(KeyError):
        helper.corpus_path("not-a-corpus-file")
    # Either a verified path, or a visible skip telling how to fetch.
    p = helper.corpus_path("alice29.txt")
    assert p == REPO_ROOT / "corpora" / "alice29.txt"
    assert p.stat().st_size == 152089
