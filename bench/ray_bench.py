"""nacz on Ray, measured: start-up, throughput against ``--workers 1``, identical bytes.

Every run is a fresh ``nacz`` process (wall clock, start-up included), one at a time:

1. start-up: ``compress --ray=local`` of a one-line text (Ray's start, the actors' start
   and model load, the numerics probe) against the same without Ray;
2. the TEXT (cut to ``--bytes`` at a newline) with ``--block-size`` small enough to make
   several groups, compressed and decompressed with ``--workers 1`` and with
   ``--ray=local --workers N`` for each N of ``--actors``; the outputs must be identical
   and every round trip byte-exact;
3. a simulated two-node cluster (``ray.cluster_utils.Cluster``: two raylets on loopback,
   one CPU each): the same compression through it, which must write the same bytes.

Usage: python -m bench ray TEXT [--bytes 8192] [--block-size 2048] [--actors 1,2]
Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench.common import cut, nacz_cmd, run
from bench.frontier import model_plan


def nacz(args: list[str], data: bytes) -> tuple[bytes, float]:
    r = run(nacz_cmd(*args), data)
    return r.stdout, r.seconds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("text")
    ap.add_argument("--bytes", type=int, default=8192)
    ap.add_argument("--block-size", type=int, default=2048)
    ap.add_argument("--actors", default="1,2")
    args = ap.parse_args(argv)
    data = cut(Path(args.text).read_bytes(), args.bytes)
    bs = ["--block-size", str(args.block_size)]
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {Path(args.text).name}, "
          f"{len(data)} bytes, blocks of {args.block_size} bytes", flush=True)

    tiny = b"A one-line text for the start-up.\n"
    _, t_plain = nacz(["compress", "-c", "-q"], tiny)
    _, t_ray = nacz(["compress", "--ray=local", "-c", "-q"], tiny)
    print("\n| start-up (a one-line text) | wall s |\n|---|---|")
    print(f"| nacz compress | {t_plain:.1f} |\n| nacz compress --ray=local (1 actor) | {t_ray:.1f} |")
    print(f"| Ray's own start-up | {t_ray - t_plain:.1f} |", flush=True)

    ref, tc1 = nacz(["compress", "-c", "-q", *bs], data)
    back, td1 = nacz(["decompress", "-c", "-q"], ref)
    assert back == data, "round trip failed (workers 1)"
    groups, _, tokens = model_plan(ref)
    rows = [("--workers 1 (no Ray)", tc1, td1, True)]
    for n in [int(x) for x in args.actors.split(",")]:
        ray = ["--ray=local", "--workers", str(n)]
        blob, tc = nacz(["compress", "-c", "-q", *ray, *bs], data)
        back, td = nacz(["decompress", "-c", "-q", *ray], blob)
        assert back == data, f"round trip failed ({n} actors)"
        rows.append((f"--ray=local --workers {n}", tc, td, blob == ref))
        print(f"{n} actors: compress {tc:.1f} s, decompress {td:.1f} s, "
              f"same bytes: {blob == ref}", flush=True)
    print(f"\n{groups} groups, {tokens} tokens, {len(ref)} bytes "
          f"({8 * len(ref) / len(data):.4f} bits/byte)\n")
    print("| run | compress s | decompress s | tokens/s c / d | same bytes as --workers 1 |")
    print("|---|---|---|---|---|")
    for name, tc, td, same in rows:
        print(f"| {name} | {tc:.1f} | {td:.1f} | {tokens / tc:.1f} / {tokens / td:.1f} | "
              f"{'yes' if same else 'NO'} |")

    import ray
    from ray.cluster_utils import Cluster

    from nacz.api import Codec
    from nacz.config import CodecConfig

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    try:
        cluster.wait_for_nodes()
        codec = Codec(workers=2, ray_address=cluster.address)
        try:
            t0 = time.perf_counter()
            blob = codec.compress(data, CodecConfig(block_size=args.block_size))
            t = time.perf_counter() - t0
            nodes = sorted(set(codec._ray.actor_nodes))
            same = blob == ref
            ok = codec.decompress(blob) == data
        finally:
            codec.close()
    finally:
        ray.shutdown()
        cluster.shutdown()
    print(f"\nSimulated two-node cluster (2 raylets, 1 CPU each): compress {t:.1f} s "
          f"in-process, actors on {len(nodes)} nodes, same bytes: {same}, round trip: {ok}")
    return 0 if all(r[3] for r in rows) and same and ok else 1


if __name__ == "__main__":
    sys.exit(main())
