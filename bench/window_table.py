"""Bits per byte and tokens/s of the pure model at several window sizes, one stream.

Usage: python bench/window_table.py FILE [WINDOW ...]

Codes FILE as one stream (no sharding) through the real codec with each window and prints
one row per window: compressed size, bits per byte, seconds, tokens/s. The coded size is
the model's own cost (plus a few bytes of header), so this is the pure-model table.
"""

import sys
import time

from nacz.api import Codec
from nacz.config import CodecConfig


def main() -> None:
    path = sys.argv[1]
    windows = [int(w) for w in sys.argv[2:]] or [2048, 4096, 8192]
    data = open(path, "rb").read()
    codec = Codec()
    n_tokens = len(codec.tokenizer.encode(data))
    print(f"# {path}: {len(data)} bytes, {n_tokens} tokens, threads={codec.backend.threads}")
    print("window\tbytes\tbits_per_byte\tseconds\ttokens_per_s", flush=True)
    for w in windows:
        cfg = CodecConfig(window=w, min_shard_tokens=2**31 - 1)
        t0 = time.perf_counter()
        blob = codec.compress(data, cfg, hybrid=False)
        dt = time.perf_counter() - t0
        print(f"{w}\t{len(blob)}\t{8 * len(blob) / len(data):.4f}\t{dt:.1f}\t{n_tokens / dt:.1f}",
              flush=True)


if __name__ == "__main__":
    main()
