"""Per-token time of the predictors alone (predict + quantize + update), no model.

Synthetic float32 logits at the real vocabulary size (49,152) and a token stream with
recurring phrases, through ``nacz.predictors.Predictors`` with the default config and
``nacz.coder.quantize_probabilities``: the work the codec does per token besides the LLM.
It uses only public names, so the same script times another checkout: point PYTHONPATH at
a directory whose ``nacz/`` holds that checkout (with ``coder/`` and ``formats/`` copied
into it as ``nacz/coder``, ``nacz/formats``).

    python -m bench predictor_time [--tokens 3000] [--repeat 5] [--json]

Prints the best and the median of ``--repeat`` runs in microseconds per token. Run it with
nothing else on the machine; compare two checkouts by alternating runs (drift is 10-20%
per hour here).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--vocab", type=int, default=49152)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    import nacz
    from nacz.coder import quantize_probabilities
    from nacz.config import CodecConfig
    from nacz.predictors import Predictors

    V, n = args.vocab, args.tokens
    rng = np.random.default_rng(3)
    phrases = [rng.integers(0, V, size=int(rng.integers(3, 14))) for _ in range(60)]
    toks = np.concatenate([phrases[int(i)] for i in rng.integers(0, 60, size=n)])[:n]
    rows = rng.normal(0.0, 2.0, size=(64, V)).astype(np.float32)
    for r in range(64):
        rows[r, (r * 977) % V] += np.float32(9.0)
    cfg = CodecConfig()
    cdf = np.empty(V + 1, dtype=np.int64)

    def run() -> float:
        pr = Predictors(V, cfg)
        t0 = time.perf_counter()
        for i in range(n):
            probs = pr.predict(rows[i % 64])
            quantize_probabilities(probs, out=cdf)
            pr.update(int(toks[i]))
        return (time.perf_counter() - t0) / n * 1e6

    run()  # compile / load the cache
    times = [run() for _ in range(args.repeat)]
    result = {"nacz": nacz.__file__, "tokens": n, "vocab": V,
              "best_us": round(min(times), 1), "median_us": round(statistics.median(times), 1)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['nacz']}: {n} tokens, V={V}: best {result['best_us']} us/token, "
              f"median {result['median_us']} us/token")
    return 0


if __name__ == "__main__":
    sys.exit(main())
