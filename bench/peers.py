"""nacz against its peers, side by side on the same inputs (issue 32, item 4).

    python -m bench peers [--tools LIST] [--jsonl FILE] FILE[:N] ...
    python -m bench peers --table FILE.jsonl [FILE.jsonl ...]
    python -m bench peers --checks FILE.jsonl [FILE.jsonl ...]

For every input (its first N bytes when given) and tool: compressed bytes, bits per byte,
seconds to compress and to decompress (wall clock, one run each, whole processes: model
loads and interpreter start-ups included), and a byte-for-byte check of the round trip
(a failed one stops the run). Tools, in this order:

    nacz            the default (level 6: the calibrated router, context mixing off the model)
    nacz-1          level 1 (no model: PPMd, ZPAQ, LZMA2 or zstd by trial)
    nacz-gate0      --model-gate 0 (every text segment on the model)
    xz-9e, zstd-19  xz -9e, zstd -19 --long
    ppmd16          PPMd var. H order 16, 16 MiB (pyppmd, as py7zr uses it)
    zpaq-m5         zpaq 7.15 -m5 -t1 (Debian's zpaq; the archive's size)

Each result is one JSON row (``--jsonl`` appends them); ``--table`` prints the rows of one
or more runs as the README's markdown table. Run one model job at a time: the nacz rows
use both cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench.common import nacz_cmd, read_records, read_spec, record, run, write_record

NACZ = nacz_cmd()
_PPMD = ("import sys, pyppmd; d = sys.stdin.buffer.read(); "
         "sys.stdout.buffer.write({})")
TOOLS: dict[str, tuple[list[str], list[str]]] = {
    "nacz": (NACZ + ["-c"], NACZ + ["-dc"]),
    "nacz-1": (NACZ + ["-1", "-c"], NACZ + ["-dc"]),
    "nacz-gate0": (NACZ + ["compress", "-c", "--model-gate", "0"], NACZ + ["-dc"]),
    "xz-9e": (["xz", "-9e", "-c"], ["xz", "-dc"]),
    "zstd-19": (["zstd", "-19", "--long", "-c", "-q"], ["zstd", "-d", "--long", "-c", "-q"]),
    "ppmd16": ([sys.executable, "-c", _PPMD.format(
                   "pyppmd.compress(d, max_order=16, mem_size=16 << 20)")],
               [sys.executable, "-c", _PPMD.format(
                   "pyppmd.decompress(d, max_order=16, mem_size=16 << 20)")]),
    "zpaq-m5": (["zpaq"], ["zpaq"]),  # file-based: see _zpaq
}


def _read(spec: str) -> tuple[str, bytes]:
    # PATH:N is a plain prefix of N bytes, as PEERS.md's table was measured
    path, data, limit = read_spec(spec, at_newline=False)
    return Path(path).name + (f":{limit}" if limit else ""), data


def _zpaq(data: bytes) -> tuple[int, float, float, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        src, arc, out = Path(tmp, "in"), Path(tmp, "a.zpaq"), Path(tmp, "out")
        src.write_bytes(data)
        tc = run(["zpaq", "a", str(arc), "in", "-m5", "-t1"], None, cwd=tmp).seconds
        out.mkdir()
        td = run(["zpaq", "x", str(arc), "-to", str(out), "-t1"], None, cwd=tmp).seconds
        return arc.stat().st_size, tc, td, (out / "in").read_bytes()


def measure(name: str, data: bytes, tool: str) -> dict:
    if tool == "zpaq-m5":
        size, tc, td, back = _zpaq(data)
    else:
        enc, dec = TOOLS[tool]
        packed = run(enc, data)
        back = run(dec, packed.stdout)
        size, tc, td, back = len(packed.stdout), packed.seconds, back.seconds, back.stdout
    if back != data:
        raise RuntimeError(f"{name}: {tool} round trip FAILED")
    return record("peers", name, tool, len(data), size, round(tc, 3), round(td, 3))


def _legacy(r: dict) -> dict:
    """A row of the results kept from before the common record (input, bytes, compressed,
    compress_s, decompress_s), in the common keys."""
    if "bytes_in" in r:
        return r
    return record("peers", r["input"], r["tool"], r["bytes"], r["compressed"],
                  r["compress_s"], r["decompress_s"], date=r.get("date"), machine=None)


def table(rows: list[dict]) -> str:
    tools = [t for t in TOOLS if any(r["tool"] == t for r in rows)]
    rows = [_legacy(r) for r in rows]
    inputs = list(dict.fromkeys(r["file"] for r in rows))
    by = {(r["file"], r["tool"]): r for r in rows}
    lines = ["| input | bytes | " + " | ".join(tools) + " |",
             "|---|---|" + "---|" * len(tools)]
    for name in inputs:
        cells = []
        for t in tools:
            r = by.get((name, t))
            cells.append("–" if r is None else
                         f"{r['bytes_out']:,} B, {r['bits_per_byte']:.3f}, "
                         f"{r['seconds_compress']:.1f} / {r['seconds_decompress']:.1f} s")
        n = next(r["bytes_in"] for r in rows if r["file"] == name)
        lines.append(f"| {name} | {n:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def checks(rows: list[dict]) -> str:
    """Issue 32's two promises, input by input: the default at most 3% larger than the
    better of ``--model-gate 0`` and ``-1``; and where the default is the off-model path
    (its size equals ``-1``'s), no larger than the smaller of PPMd order 16 and zpaq -m5."""
    rows = [_legacy(r) for r in rows]
    by = {(r["file"], r["tool"]): r["bytes_out"] for r in rows}
    lines = ["| input | default B | gate 0 B | -1 B | default / better | ≤ 1.03 | "
             "PPMd, zpaq B | -1 / smaller peer |",
             "|---|---|---|---|---|---|---|---|"]
    for name in dict.fromkeys(r["file"] for r in rows):
        d, g, f = by.get((name, "nacz")), by.get((name, "nacz-gate0")), by.get((name, "nacz-1"))
        if None in (d, g, f):
            continue
        ratio = d / min(g, f)
        peers = [by[(name, t)] for t in ("ppmd16", "zpaq-m5") if (name, t) in by]
        peer = f"{f / min(peers):.3f}" if peers else "–"
        lines.append(f"| {name} | {d:,} | {g:,} | {f:,} | {ratio:.3f} | "
                     f"{'yes' if ratio <= 1.03 else '**no**'} | "
                     f"{', '.join(f'{p:,}' for p in peers) or '–'} | {peer} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="*")
    ap.add_argument("--tools", default=",".join(TOOLS), help="comma list of " + ", ".join(TOOLS))
    ap.add_argument("--jsonl", type=Path)
    ap.add_argument("--table", nargs="+", type=Path, metavar="JSONL")
    ap.add_argument("--checks", nargs="+", type=Path, metavar="JSONL",
                    help="the default against gate 0 and -1, and -1 against PPMd and zpaq")
    args = ap.parse_args(argv)
    if args.table or args.checks:
        rows = read_records(*(args.table or args.checks))
        print(table(rows) if args.table else checks(rows))
        return 0
    tools = [t for t in args.tools.split(",") if t]
    unknown = [t for t in tools if t not in TOOLS]
    if unknown:
        ap.error(f"unknown tools: {', '.join(unknown)}")
    missing = [t for t in tools if not shutil.which(TOOLS[t][0][0])]
    if missing:
        print(f"skipped (not installed): {', '.join(missing)}", file=sys.stderr)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    rows = []
    for spec in args.inputs:
        name, data = _read(spec)
        for tool in tools:
            if tool in missing:
                continue
            row = measure(name, data, tool)
            rows.append(row)
            print(json.dumps(row), flush=True)
            write_record(args.jsonl, row)
    print(table(rows), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
