"""Tokens/s of the codec's CPU side alone, by threads and streams (issue 19, item 1).

What a GPU leaves to the CPU per lockstep step: every stream's predictors (predict over
49,152 logits), CDF quantizer, arithmetic encoder and update. Synthetic float32 logits
(rows with one strong token, picked by the last token as a model would) and id streams with
recurring phrases; no model. Each thread count runs in its own process, whose Numba pool
holds at least that many threads (``NUMBA_NUM_THREADS``); thread counts beyond the
machine's cores are oversubscribed and say so.

Configs: ``sync`` (shared state, ``Predictor.SYNC``: a step's predictions in parallel),
``unshared`` (each stream its own state: in parallel, the sequential bits), ``shared`` (the
default: one stream after another, whatever the thread count).

    python -m bench cpu_side [--threads 1,2,16] [--streams 16,64,256] [--steps 12]
                             [--configs sync,shared] [--markdown]

Run it with nothing else on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

V = 49152


def _child(threads: int, streams: list[int], steps: int, configs: list[str]) -> list[dict]:
    import numba

    from nacz.codec import CodingStep, EncodeSide, TokenModels
    from nacz.config import CodecConfig, Predictor

    cfgs = {"sync": CodecConfig(predictors=Predictor.ALL | Predictor.SHARED | Predictor.SYNC),
            "unshared": CodecConfig(predictors=Predictor.ALL),
            "shared": CodecConfig()}
    rng = np.random.default_rng(3)
    table = rng.normal(0.0, 2.0, size=(64, V)).astype(np.float32)
    for r in range(64):
        table[r, (r * 977) % V] += np.float32(9.0)
    phrases = [rng.integers(0, V, size=int(rng.integers(3, 14))) for _ in range(60)]
    out = []
    for name in configs:
        cfg = cfgs[name]
        for n in streams:
            ids = [np.concatenate([phrases[int(i)] for i in rng.integers(0, 60, size=steps)])
                   [:steps + 1] for _ in range(n)]
            models = TokenModels(n, V, cfg, threads=threads)
            coding = CodingStep(EncodeSide(ids), models, n)
            order = np.arange(n, dtype=np.int64)
            want = np.ones(n, dtype=bool)
            logits = np.empty((n, V), dtype=np.float32)

            def step(t: int, coding) -> None:
                for s in range(n):
                    logits[s] = table[int(ids[s][t - 1]) % 64 if t else 0]
                coding.prepare(order, logits, want)
                for s in range(n):
                    coding(s, logits[s], t)

            step(0, coding)  # compile or load the cache, touch every buffer
            t0 = time.perf_counter()
            for t in range(1, steps + 1):
                step(t, coding)
            dt = time.perf_counter() - t0
            out.append({"config": name, "threads": threads, "streams": n, "steps": steps,
                        "pool": numba.config.NUMBA_NUM_THREADS,
                        "tokens_per_s": round(n * steps / dt, 1),
                        "us_per_token": round(dt / (n * steps) * 1e6, 1)})
            del models, coding
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2,16")
    ap.add_argument("--streams", default="16,64,256")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--configs", default="sync,unshared,shared")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--out", default=None, help="write the table here instead of stdout")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    streams = [int(x) for x in args.streams.split(",")]
    configs = args.configs.split(",")
    if args.child is not None:
        print(json.dumps(_child(args.child, streams, args.steps, configs)))
        return 0
    cores = len(os.sched_getaffinity(0))
    rows = []
    for t in (int(x) for x in args.threads.split(",")):
        env = dict(os.environ, NUMBA_NUM_THREADS=str(max(t, cores)))
        r = subprocess.run([sys.executable, __file__, "--child", str(t), "--streams",
                            args.streams, "--steps", str(args.steps), "--configs",
                            args.configs], capture_output=True, text=True, env=env)
        if r.returncode != 0:
            sys.stderr.write(r.stderr)
            return 1
        rows += json.loads(r.stdout.strip().splitlines()[-1])
    lines = []
    add = lines.append
    if args.markdown:
        add(f"CPU side alone, V = {V}, {args.steps} steps, {cores} cores "
              f"({os.uname().machine}); tokens/s (us per token)\n")
        ts = sorted({r["threads"] for r in rows})
        add("| config | streams | " + " | ".join(
            f"{t} thread{'s' if t > 1 else ''}{' (oversubscribed)' if t > cores else ''}"
            for t in ts) + " |")
        add("|---|---|" + "---|" * len(ts))
        for name in configs:
            for n in streams:
                cells = []
                for t in ts:
                    r = next(r for r in rows if (r["config"], r["streams"], r["threads"])
                             == (name, n, t))
                    cells.append(f"{r['tokens_per_s']:,.0f} ({r['us_per_token']:.0f})")
                add(f"| {name} | {n} | " + " | ".join(cells) + " |")
    else:
        for r in rows:
            add(json.dumps(r))
    text = "\n".join(lines) + "\n"
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
