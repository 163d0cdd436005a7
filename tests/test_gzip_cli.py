"""The gzip-style command line beside the subcommands, tried with the real programs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nacz.cli import gzip_style_argv
from nacz.errors import UsageError

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("argv,prog,want", [
    ([], "nacz", ["compress", "--stdout", "--quiet", "--", "-"]),
    (["-d"], "nacz", ["decompress", "--stdout", "--quiet", "--", "-"]),
    (["-dc", "a.nacz", "b.nacz"], "nacz", ["decompress", "--stdout", "--quiet", "--",
                                           "a.nacz", "b.nacz"]),
    (["-tv", "x.nacz"], "nacz", ["test", "--", "x.nacz"]),
    (["-t", "x.nacz"], "nacz", ["test", "--quiet", "--", "x.nacz"]),
    (["-l", "a", "b"], "nacz", ["list", "--", "a", "b"]),
    (["-kfT", "2", "f"], "nacz", ["compress", "--force", "--threads", "2", "--quiet", "--",
                                  "f"]),
    (["f", "-v", "--rm"], "nacz", ["compress", "--rm", "--", "f"]),
    (["-o", "out", "-z", "f"], "nacz", ["compress", "--output", "out", "--quiet", "--", "f"]),
    (["-d", "--best", "f.nacz"], "nacz", ["decompress", "--quiet", "--", "f.nacz"]),
    (["--", "compress"], "nacz", ["compress", "--quiet", "--", "compress"]),
    (["x.nacz"], "unnacz", ["decompress", "--quiet", "--", "x.nacz"]),
    (["a.nacz", "b.nacz"], "naczcat", ["decompress", "--stdout", "--quiet", "--", "a.nacz",
                                       "b.nacz"]),
    (["-V"], "nacz", ["--version"]),
    (["-h"], "nacz", None),
])
def test_gzip_style_lines_mean_subcommand_lines(argv, prog, want):
    assert gzip_style_argv(argv, prog) == want


@pytest.mark.parametrize("argv,match", [
    (["-x"], "-x not recognized"), (["--fastest", "f"], "not recognized"),
    (["-tc", "f"], "writes nothing"), (["-l", "-o", "o", "f"], "writes nothing"),
])
def test_gzip_style_refusals(argv, match):
    with pytest.raises(UsageError, match=match):
        gzip_style_argv(argv)


def _run(args, input=b"", cwd=None):
    env = dict(os.environ)
    env.pop("NACZ_DEBUG", None)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # tar must find nacz
    p = subprocess.run(args, input=input, capture_output=True, cwd=cwd, env=env,
                       timeout=3600)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def test_entry_points_are_installed():
    for name in ("nacz", "unnacz", "naczcat"):
        assert (BIN / name).exists(), f"{name} is not installed next to {sys.executable}"


def test_help_version_and_usage_errors():
    rc, out, err = _run([str(BIN / "nacz"), "-h"])
    assert rc == 0 and out.startswith(b"Usage: nacz [OPTION]") and err == ""
    rc, out, err = _run([str(BIN / "nacz"), "-V"])
    assert rc == 0 and b"0." in out
    rc, out, err = _run([str(BIN / "nacz"), "-9x", "f"])
    assert rc == 2 and out == b"" and err.count("\n") == 1 and "-x not recognized" in err
    rc, out, err = _run([str(BIN / "nacz"), "compress", "--help"])  # subcommands unchanged
    assert rc == 0 and b"--window" in out


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A small directory of text and binary files."""
    root = tmp_path_factory.mktemp("tar") / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "readme.txt").write_text("A small tree for tar -I nacz.\n" * 3)
    (root / "sub" / "notes.md").write_text("# Notes\n\n- one\n- two\n")
    (root / "sub" / "blob.bin").write_bytes(bytes(range(256)) * 4)
    return root


def _same_tree(a: Path, b: Path) -> None:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*"))
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*"))
    for rel in files_a:
        if (a / rel).is_file():
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


@pytest.mark.skipif(shutil.which("tar") is None, reason="needs tar")
def test_tar_dash_I_round_trip_and_the_gzip_style_filters(tree):
    work = tree.parent
    rc, _, err = _run(["tar", "-I", "nacz", "-cf", "docs.tar.nacz", "docs"], cwd=work)
    assert rc == 0, err
    out = work / "out"
    out.mkdir()
    rc, _, err = _run(["tar", "-I", "nacz", "-xf", str(work / "docs.tar.nacz")], cwd=out)
    assert rc == 0, err
    _same_tree(tree, out / "docs")
    # --use-compress-program, the long form
    out2 = work / "out2"
    out2.mkdir()
    rc, _, err = _run(["tar", "--use-compress-program=nacz", "-xf",
                       str(work / "docs.tar.nacz")], cwd=out2)
    assert rc == 0, err
    _same_tree(tree, out2 / "docs")
    # nacz FILE, then nacz -dc FILE.nacz | cmp FILE -
    rc, _, err = _run(["tar", "-cf", "plain.tar", "docs"], cwd=work)
    assert rc == 0, err
    rc, _, err = _run([str(BIN / "nacz"), "plain.tar"], cwd=work)
    assert rc == 0 and err == "" and (work / "plain.tar.nacz").exists()
    rc, tar_bytes, err = _run([str(BIN / "nacz"), "-dc", "plain.tar.nacz"], cwd=work)
    assert rc == 0 and err == ""
    rc, _, err = _run(["cmp", "plain.tar", "-"], input=tar_bytes, cwd=work)
    assert rc == 0, err
    # naczcat of two files, unnacz, -t, -l
    readme = tree / "readme.txt"
    rc, _, err = _run([str(BIN / "nacz"), "-k", str(readme), str(tree / "sub" / "notes.md")])
    assert rc == 0 and err == "", err
    rc, both, err = _run([str(BIN / "naczcat"), f"{readme}.nacz",
                          str(tree / "sub" / "notes.md.nacz")])
    assert rc == 0 and both == readme.read_bytes() + (tree / "sub" / "notes.md").read_bytes()
    rc, out_list, err = _run([str(BIN / "nacz"), "-l", f"{readme}.nacz",
                              str(tree / "sub" / "notes.md.nacz")])
    lines = out_list.decode().splitlines()
    assert rc == 0 and len(lines) == 4 and lines[0].split()[:3] == ["compressed",
                                                                    "uncompressed", "ratio"]
    assert lines[1].split()[1] == str(readme.stat().st_size)
    assert lines[-1].endswith("(totals)")
    rc, _, err = _run([str(BIN / "nacz"), "-tv", f"{readme}.nacz"])
    assert rc == 0 and err.strip().endswith(": OK")
    os.unlink(readme)
    rc, _, err = _run([str(BIN / "unnacz"), f"{readme}.nacz"])
    assert rc == 0 and readme.read_text().startswith("A small tree")
    for p in (f"{readme}.nacz", str(tree / "sub" / "notes.md.nacz")):
        os.unlink(p)
    # a damaged file: a one-line error and status 1, nothing on stdout
    bad = bytearray((work / "docs.tar.nacz").read_bytes())
    bad[len(bad) // 2] ^= 0x10
    rc, out_bad, err = _run([str(BIN / "nacz"), "-dc"], input=bytes(bad))
    assert out_bad == b"" and rc == 1 and err.count("\n") == 1 and err.startswith("nacz: error:")


def test_no_file_to_a_terminal_is_refused_without_f():
    """`nacz` alone with stdout on a terminal would spray binary: refused, as gzip does."""
    pty = pytest.importorskip("pty")
    code = ("import os, sys, pty, subprocess\n"
            "m, s = pty.openpty()\n"
            f"p = subprocess.run([{str(BIN / 'nacz')!r}], stdin=subprocess.DEVNULL, "
            "stdout=s, stderr=subprocess.PIPE, timeout=600)\n"
            "print(p.returncode, p.stderr.decode().strip())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600).stdout
    assert pty and out.startswith("2 ") and "terminal" in out
