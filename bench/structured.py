"""nacz against paq8px -8L and xz -9e on structured texts from outside the corpus (issue 21).

Usage:
    python -m bench structured [--bytes N] [--paq8px PATH] [--nacz-args "..."]
                               [--canterbury] [--jsonl FILE] [NAME=PATH[:N] ...]

Without texts it finds its own on this kind of machine (what exists is used, what does not
is said): a package-manager log, an XML file, a JSON resource file, a CSV table, an HTML
page, Python source, Korean prose and Japanese prose, each cut to its first ``--bytes``
(default 16,384); ``--canterbury`` adds the corpus's texts (corpora/fetch.py) at the same
cut. Every tool runs as a user would, one file at a time, one job at a time; each round trip
is checked byte for byte and a failed one stops the run.

paq8px is not on PyPI and this machine reaches no other network, so it is taken from
``--paq8px``, ``$PAQ8PX`` or PATH; where none exists its column says so. It is called as
``paq8px -8L IN OUT`` and ``paq8px -d OUT BACK`` (the command line of paq8px v2xx).

Prints one markdown table: bits per byte of each tool, nacz against paq8px and xz, and
seconds to compress with each.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from bench.common import CORPORA, nacz_cmd, record, round_trip, run, write_record

_PY = Path(sys.executable).resolve().parents[1] / "lib"
_RUST = Path.home() / ".rustup/toolchains"


def _first(*candidates) -> Path | None:
    for c in candidates:
        for p in sorted(Path("/").glob(str(c).lstrip("/"))):
            if p.is_file() and p.stat().st_size > 4096:
                return p
    return None


def default_texts() -> list[tuple[str, Path | None]]:
    """(name, path or None where this machine lacks one) of the structured texts."""
    import tarfile

    return [
        ("log", _first("/var/log/dpkg.log", "/var/log/apt/history.log")),
        ("xml", _first("/usr/share/X11/xkb/rules/evdev.xml", "/usr/share/xml/iso-codes/*.xml")),
        ("json", _first("/root/.pyenv/versions/*/lib/python3*/site-packages/boto3/data/ec2/"
                        "2016-11-15/resources-1.json", "/usr/share/iso-codes/json/*.json")),
        ("csv", _first("/root/.pyenv/versions/*/lib/python3*/site-packages/numpy/_core/tests/"
                       "data/umath-validation-set-log2.csv", "/usr/share/distro-info/*.csv")),
        ("html", _first(f"{_RUST}/*/share/doc/rust/html/book/ch04-01-what-is-ownership.html",
                        "/usr/share/doc/*/*.html")),
        ("python", Path(tarfile.__file__)),
        ("korean", _first("/usr/share/vim/vim*/tutor/tutor.ko.utf-8")),
        ("japanese", _first("/usr/share/vim/vim*/tutor/tutor.ja.utf-8")),
    ]


CANTERBURY = ("alice29.txt", "asyoulik.txt", "lcet10.txt", "plrabn12.txt", "cp.html",
              "fields.c", "grammar.lsp", "xargs.1")


def _run(cmd, data: bytes | None = None, cwd=None) -> tuple[bytes, float]:
    r = run(cmd, data, cwd=cwd)
    return r.stdout, r.seconds


def xz(data: bytes, tmp: Path) -> tuple[int, float, float]:
    return round_trip(["xz", "-9e", "-c"], ["xz", "-d", "-c"], data, what="xz")


def paq8px(exe: str, data: bytes, tmp: Path) -> tuple[int, float, float]:
    src, out, back = tmp / "in", tmp / "in.paq", tmp / "back"
    src.write_bytes(data)
    for p in (out, back):
        p.unlink(missing_ok=True)
    _, tc = _run([exe, "-8L", str(src), str(out)], cwd=tmp)
    _, td = _run([exe, "-d", str(out), str(back)], cwd=tmp)
    if back.read_bytes() != data:
        raise SystemExit("paq8px round trip differs")
    return out.stat().st_size, tc, td


def nacz(args: list[str], data: bytes, tmp: Path) -> tuple[int, float, float]:
    return round_trip(nacz_cmd("compress", "-q", *args, "-c", "-"),
                      nacz_cmd("decompress", "-q", "-c", "-"), data, cwd=tmp, what="nacz")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("texts", nargs="*", help="NAME=PATH[:N]; default: the machine's own")
    ap.add_argument("--bytes", type=int, default=16384)
    ap.add_argument("--paq8px", default=os.environ.get("PAQ8PX") or shutil.which("paq8px"))
    ap.add_argument("--nacz-args", default="")
    ap.add_argument("--canterbury", action="store_true")
    ap.add_argument("--jsonl", default=None, help="append one row per text and tool here")
    args = ap.parse_args(argv)

    texts: list[tuple[str, bytes | None]] = []
    if args.texts:
        for spec in args.texts:
            name, path = spec.split("=", 1)
            n = args.bytes
            if ":" in path:
                path, cut = path.rsplit(":", 1)
                n = int(cut)
            texts.append((name, cut(Path(path).read_bytes(), n, at_newline=False)))
    else:
        # a plain prefix, as STRUCTURED.md's tables were measured
        for name, path in default_texts():
            texts.append((name, cut(path.read_bytes(), args.bytes, at_newline=False)
                          if path else None))
    if args.canterbury:
        for f in CANTERBURY:
            p = CORPORA / f
            texts.append((f, cut(p.read_bytes(), args.bytes, at_newline=False)
                          if p.exists() else None))

    nacz_args = shlex.split(args.nacz_args)
    tools = {"xz -9e": xz, "nacz": lambda d, t: nacz(nacz_args, d, t)}
    if args.paq8px:
        tools = {"paq8px -8L": lambda d, t: paq8px(args.paq8px, d, t), **tools}
    print(f"paq8px: {args.paq8px or 'not found (not on PyPI; --paq8px PATH or $PAQ8PX)'}",
          file=sys.stderr)
    rows = []
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        for name, data in texts:
            if data is None:
                print(f"{name}: no such text on this machine, left out", file=sys.stderr)
                continue
            row = {"text": name, "bytes": len(data)}
            for tool, fn in tools.items():
                size, tc, tdec = fn(data, tmp)
                row[tool] = dict(bpb=8 * size / len(data), compress_s=tc, decompress_s=tdec)
                print(f"{name} {tool}: {8 * size / len(data):.4f} bpb, {tc:.1f} s / "
                      f"{tdec:.1f} s", file=sys.stderr, flush=True)
                write_record(args.jsonl, record(
                    "structured", name, tool, len(data), size, tc, tdec, text=name,
                    bytes=len(data), nacz_args=args.nacz_args, **row[tool]))
            rows.append(row)
    has_paq = "paq8px -8L" in tools
    head = ["text", "bytes"] + (["paq8px -8L"] if has_paq else []) + ["xz -9e", "nacz"]
    head += (["nacz vs paq8px"] if has_paq else []) + ["nacz vs xz", "nacz c / d s"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        cells = [r["text"], str(r["bytes"])]
        if has_paq:
            cells.append(f"{r['paq8px -8L']['bpb']:.3f}")
        cells += [f"{r['xz -9e']['bpb']:.3f}", f"{r['nacz']['bpb']:.3f}"]
        if has_paq:
            cells.append(f"{100 * (r['nacz']['bpb'] / r['paq8px -8L']['bpb'] - 1):+.1f}%")
        cells.append(f"{100 * (r['nacz']['bpb'] / r['xz -9e']['bpb'] - 1):+.1f}%")
        cells.append(f"{r['nacz']['compress_s']:.0f} / {r['nacz']['decompress_s']:.0f}")
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
