"""Peak memory of streaming compression and decompression against input size.

Each measurement runs in a fresh process: random (incompressible, binary-path) input is
generated as it is read and compressed to a file, then decompressed into a hashing sink,
so neither the input nor the output is ever held whole. Prints, per input size, the
tracemalloc peak (Python and numpy allocations) and the process's peak RSS (everything,
including the model, liblzma and zstd) for each direction.

    python -m bench memory [--sizes 8,32] [--block-size BYTES]   # sizes in MB (10^6 bytes)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

_CHILD = r"""
import hashlib, json, os, random, resource, sys, tracemalloc
from nacz.api import Codec
from nacz.config import CodecConfig

n, block, direction, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]

class Src:
    def __init__(self):
        self.left, self.rng = n, random.Random(n)
    def read(self, k=-1):
        k = self.left if k < 0 else min(k, self.left)
        self.left -= k
        return self.rng.randbytes(k)

class Sink:
    def __init__(self):
        self.sha = hashlib.sha256()
    def write(self, b):
        self.sha.update(b)
        return len(b)

codec = Codec(threads=1)
codec.compress(b"\x00" * 100)  # model loaded before measuring
cfg = CodecConfig(block_size=block)
tracemalloc.start()
if direction == "compress":
    with open(path, "wb") as f:
        codec.compress_to(Src(), f, cfg)
else:
    with open(path, "rb") as f:
        codec.decompress_to(f, Sink())
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"traced": peak, "rss": rss}))
"""


def measure(n: int, block: int, direction: str, path: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(n), str(block), direction, path],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> int:
    from nacz.config import DEFAULT_BLOCK_SIZE

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="8,32", help="input sizes in MB, comma separated")
    ap.add_argument("--block-size", type=int, default=DEFAULT_BLOCK_SIZE)
    args = ap.parse_args(argv)
    print(f"block size {args.block_size} bytes; MiB: tracemalloc peak / peak RSS")
    print("| input | compress traced | compress RSS | decompress traced | decompress RSS |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for mb in (int(s) for s in args.sizes.split(",")):
            n = mb * 1_000_000
            path = f"{tmp}/{mb}.nacz"
            c = measure(n, args.block_size, "compress", path)
            d = measure(n, args.block_size, "decompress", path)
            mib = 1 << 20
            print(f"| {mb} MB | {c['traced'] / mib:.1f} | {c['rss'] / mib:.0f} | "
                  f"{d['traced'] / mib:.1f} | {d['rss'] / mib:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
