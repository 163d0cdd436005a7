"""Ratio and speed of nacz against classic compressors on the same files.

Usage: python -m bench compare [--nacz-args "..."] [--jsonl PATH] FILE [FILE ...]

For every file and tool: compressed bytes, bits per byte, compress and decompress KB/s
(wall clock, one run each; the machine is shared, so treat speeds as rough). Every
round trip is checked byte for byte. Prints a tab-separated table on stdout; with
``--jsonl`` also one results record (bench.common.record) per file and tool.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys

from bench.common import nacz_cmd, record, write_record
from bench.common import run as _run

TOOLS = {
    "gzip -9": (["gzip", "-9", "-c"], ["gzip", "-d", "-c"]),
    "bzip2 -9": (["bzip2", "-9", "-c"], ["bzip2", "-d", "-c"]),
    "xz -9e": (["xz", "-9e", "-c"], ["xz", "-d", "-c"]),
    "zstd -19 --long": (["zstd", "-19", "--long", "-c", "-q"], ["zstd", "-d", "--long", "-c", "-q"]),
}


def run(cmd: list[str], data: bytes) -> tuple[bytes, float]:
    r = _run(cmd, data)
    return r.stdout, r.seconds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nacz-args", default="", help="extra options for nacz compress")
    ap.add_argument("--no-nacz", action="store_true")
    ap.add_argument("--jsonl", default=None, help="append one record per file and tool here")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args(argv)
    tools = {k: v for k, v in TOOLS.items() if shutil.which(v[0][0])}
    if not args.no_nacz:
        tools["nacz"] = (
            nacz_cmd("compress", "-q", *shlex.split(args.nacz_args)),
            nacz_cmd("decompress", "-q"),
        )
    print("file\ttool\tbytes\tcompressed\tbits_per_byte\tcompress_KB_s\tdecompress_KB_s")
    for path in args.files:
        data = open(path, "rb").read()
        for name, (c, d) in tools.items():
            packed, tc = run(c, data)
            back, td = run(d, packed)
            if back != data:
                print(f"{path}: {name} round trip FAILED", file=sys.stderr)
                return 1
            kb = len(data) / 1024
            print(
                f"{os.path.basename(path)}\t{name}\t{len(data)}\t{len(packed)}\t"
                f"{8 * len(packed) / max(1, len(data)):.4f}\t{kb / tc:.2f}\t{kb / td:.2f}",
                flush=True,
            )
            write_record(args.jsonl, record("compare", os.path.basename(path), name, len(data),
                                            len(packed), tc, td, nacz_args=args.nacz_args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
