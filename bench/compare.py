"""Ratio and speed of nacz against classic compressors on the same files.

Usage: python bench/compare.py [--nacz-args "..."] FILE [FILE ...]

For every file and tool: compressed bytes, bits per byte, compress and decompress KB/s
(wall clock, one run each; the machine is shared, so treat speeds as rough). Every
round trip is checked byte for byte. Prints a tab-separated table on stdout.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

TOOLS = {
    "gzip -9": (["gzip", "-9", "-c"], ["gzip", "-d", "-c"]),
    "bzip2 -9": (["bzip2", "-9", "-c"], ["bzip2", "-d", "-c"]),
    "xz -9e": (["xz", "-9e", "-c"], ["xz", "-d", "-c"]),
    "zstd -19 --long": (["zstd", "-19", "--long", "-c", "-q"], ["zstd", "-d", "--long", "-c", "-q"]),
}


def run(cmd: list[str], data: bytes) -> tuple[bytes, float]:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, input=data, capture_output=True, check=True)
    return p.stdout, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nacz-args", default="", help="extra options for nacz compress")
    ap.add_argument("--no-nacz", action="store_true")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    tools = {k: v for k, v in TOOLS.items() if shutil.which(v[0][0])}
    if not args.no_nacz:
        nacz = [sys.executable, "-m", "nacz"]
        tools["nacz"] = (
            nacz + ["compress", "-q", *shlex.split(args.nacz_args)],
            nacz + ["decompress", "-q"],
        )
    print("file\ttool\tbytes\tcompressed\tbits_per_byte\tcompress_KB_s\tdecompress_KB_s")
    cwd = tempfile.mkdtemp()
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
