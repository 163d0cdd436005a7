"""How ``--block-size`` trades ratio for parallelism (issue 17, item 6).

Blocks are planned and coded on their own (segments, shards and lockstep groups never span
a block), so a smaller block gives more groups that workers or Ray actors can code at once,
and costs ratio: every block starts its shards without context and its predictors without
what they learned. This script measures that cost on one text:

    python -m bench blocks TEXT [--bytes N] [--blocks 65536,262144,...] [--verify]
                                    [--workers N] [--jsonl FILE]

For each block size it runs ``nacz compress -c -q --block-size B`` as a fresh process
(one at a time; wall clock includes start-up), reads the header for the groups, shards and
tokens, and with ``--verify`` decompresses and compares byte for byte. ``--workers N`` is
passed to nacz: it changes the wall clock of a run of many groups, never its bytes. It prints a Markdown
table with bits per byte, the cost against the largest block given, and the extra bits
each additional block costs ((bits - bits of the largest) / (blocks - blocks of the
largest)): the figure behind the rule "for N workers use blocks of about input / 2N",
whose cost is then about (2N - 1) times that, over the whole input.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

from bench.common import cut, nacz_cmd, record, run, write_record
from bench.frontier import model_plan


def size(text: str) -> int:
    """``65536``, ``64K``, ``1M`` (binary units; nacz's --block-size itself takes bytes)."""
    units = {"K": 1 << 10, "M": 1 << 20}
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    return int(t[:-1]) * units[t[-1]] if t and t[-1] in units else int(t)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("text")
    ap.add_argument("--bytes", type=size, default=None, help="cut the text (at a newline)")
    ap.add_argument("--blocks", default="64K,256K,1M,8M")
    ap.add_argument("--verify", action="store_true", help="decompress and compare each")
    ap.add_argument("--workers", type=int, default=1, help="nacz --workers (bytes unchanged)")
    ap.add_argument("--jsonl", type=Path, default=None, help="append one JSON row per run")
    args = ap.parse_args(argv)
    from nacz.blocks import read_blocks

    data = Path(args.text).read_bytes()
    if args.bytes:
        data = cut(data, args.bytes)
    sizes = sorted({size(b) for b in args.blocks.split(",")}, reverse=True)
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {Path(args.text).name}, "
          f"{len(data)} bytes; block sizes {', '.join(map(str, sizes))}", flush=True)

    rows = []
    workers = ["--workers", str(args.workers)]
    for b in sizes:
        c = run(nacz_cmd("compress", "-c", "-q", *workers, "--block-size", str(b)), data)
        blob, tc = c.stdout, c.seconds
        td = None
        if args.verify:
            d = run(nacz_cmd("decompress", "-c", "-q", *workers), blob)
            back, td = d.stdout, d.seconds
            if back != data:
                raise SystemExit(f"round trip failed at block size {b}")
        groups, shards, tokens = model_plan(blob)
        row = record(
            "blocks", Path(args.text).name, f"nacz --block-size {b}", len(data), len(blob),
            round(tc, 1), None if td is None else round(td, 1),
            text=Path(args.text).name, bytes=len(data), block_size=b,
            blocks=sum(1 for _ in read_blocks(io.BytesIO(data), b)),
            groups=groups, shards=shards, tokens=tokens,
            compressed=len(blob), workers=args.workers, compress_s=round(tc, 1),
            decompress_s=None if td is None else round(td, 1), round_trip=bool(args.verify))
        rows.append(row)
        print(f"block {b}: {row['groups']} groups, {row['shards']} shards, {len(blob)} bytes, "
              f"{row['bits_per_byte']:.4f} bits/byte, compress {tc:.0f} s"
              + ("" if td is None else f", decompress {td:.0f} s, round trip OK"), flush=True)
        write_record(args.jsonl, row)

    # Groups, not blocks, are what a worker pool shares out (a block of many shards may
    # hold several groups); the cost is counted per block, since each block restarts.
    base = rows[0]
    print("\n| block size | blocks | groups | shards | bits/byte | vs largest | bits per extra "
          "block | compress s | decompress s |\n|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        extra = r["blocks"] - base["blocks"]
        per = (8 * (r["compressed"] - base["compressed"]) / extra) if extra > 0 else None
        print(f"| {r['block_size']} | {r['blocks']} | {r['groups']} | {r['shards']} | "
              f"{r['bits_per_byte']:.4f} | "
              f"{100 * (r['compressed'] / base['compressed'] - 1):+.2f}% | "
              f"{'' if per is None else f'{per:,.0f}'} | {r['compress_s']:.0f} | "
              f"{'' if r['decompress_s'] is None else round(r['decompress_s'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
