"""Offline ablation of nacz.predictors on logits dumped by bench/dump_logits.py.

Usage: nice -n 10 python bench/ablation_offline.py [DUMP ...] [--configs a,b,...] [--limit N]

For every configuration, runs predict -> quantize_probabilities -> update over the dumped
tokens and sums the ideal code length -log2(freq / 2**24) of each actual token, i.e.
exactly what the arithmetic coder would pay for the token ids (escape ids, if any, are
charged 8 bits in every configuration). Prints bits per byte of the dumped tokens and
the predictor overhead in microseconds per token (predict + update, not quantization).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from nacz.coder import PRECISION_BITS, quantize_logits, quantize_probabilities  # noqa: E402
from nacz import predictors as P  # noqa: E402

DUMP_DIR = "/tmp/nacz_dumps"

B, N, M, T, A, U = (P.USE_BIAS, P.USE_NGRAM, P.USE_MATCH, P.USE_TEMP, P.USE_APM,
                    P.USE_UNI)
CONFIGS = {
    "mixer-off": dict(flags=0),
    "+bias(lr .002)": dict(flags=B, lr_b=0.002),
    "+bias(lr .08)": dict(flags=B),
    "+temp": dict(flags=T),
    "+uni": dict(flags=U),
    "+ngram": dict(flags=N),
    "+match": dict(flags=M),
    "+ngram+match linear(w=1)": dict(flags=N | M, lr_w=0.0, w0_ngram=1.0, w0_match=1.0),
    "+ngram+match": dict(flags=N | M),
    "+apm": dict(flags=A),
    "all-bias": dict(flags=N | M | T | A | U),
    "all-apm": dict(flags=B | N | M | T | U),
    "all": dict(flags=B | N | M | T | A | U),
}


def load(name):
    d = np.load(os.path.join(DUMP_DIR, name + ".npz"))
    return d["tokens"].astype(np.int64), d["logits"], d["tbytes"]


def run_llm(tokens, logits, V):
    cdf = np.empty(V + 1, dtype=np.int64)
    bits = 0.0
    for i, t in enumerate(tokens):
        if t >= V:
            bits += 8.0
            continue
        quantize_logits(logits[i].astype(np.float32), 1.0, out=cdf)
        bits += PRECISION_BITS - np.log2(float(cdf[t + 1] - cdf[t]))
    return bits


def run_cfg(tokens, logits, V, cfg, skip=None):
    pr = P.Predictors(V, cfg)
    cdf = np.empty(V + 1, dtype=np.int64)
    bits = 0.0
    tpred = 0.0
    per_tok = np.zeros(len(tokens))
    skip_stats = []
    for i, t in enumerate(tokens):
        lg = logits[i].astype(np.float32)
        if t >= V:
            bits += 8.0
            t0 = time.perf_counter()
            pr.update(int(t))
            tpred += time.perf_counter() - t0
            continue
        if skip is not None:
            mlen, q = pr.match_state()
            if mlen >= skip[0] and q >= skip[1]:
                quantize_probabilities(pr.predict_cheap(), out=cdf)
                cheap = PRECISION_BITS - np.log2(float(cdf[t + 1] - cdf[t]))
                skip_stats.append((i, cheap))
        t0 = time.perf_counter()
        probs = pr.predict(lg)
        tpred += time.perf_counter() - t0
        quantize_probabilities(probs, out=cdf)
        b = PRECISION_BITS - np.log2(float(cdf[t + 1] - cdf[t]))
        bits += b
        per_tok[i] = b
        t0 = time.perf_counter()
        pr.update(int(t))
        tpred += time.perf_counter() - t0
    return bits, tpred / len(tokens) * 1e6, per_tok, skip_stats, pr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dumps", nargs="*", default=["alice", "asyoulik", "fields2x"])
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], help="cfg field=value override")
    ap.add_argument("--skip", default="16,0.95", help="match len,q threshold for skip analysis")
    a = ap.parse_args()
    over = {}
    for kv in a.set:
        k, v = kv.split("=")
        over[k] = type(getattr(P.PredictorConfig(), k))(eval(v))
    sk = tuple(float(x) for x in a.skip.split(","))
    for name in a.dumps:
        tokens, logits, tbytes = load(name)
        if a.limit:
            tokens, logits = tokens[: a.limit], logits[: a.limit]
        V = logits.shape[1]
        nbytes = int(tbytes[tokens].sum())
        print(f"== {name}: {len(tokens)} tokens, {nbytes} bytes")
        base = run_llm(tokens, logits, V)
        print(f"  {'LLM only (quantize_logits)':28s} {base / nbytes:.4f} bpb  {base:10.0f} bits")
        for cname in a.configs.split(","):
            cfg = dataclasses.replace(P.PredictorConfig(**CONFIGS[cname]), **over)
            bits, us, per_tok, sst, pr = run_cfg(tokens, logits, V, cfg,
                                                 skip=sk if cname == "all" else None)
            print(f"  {cname:28s} {bits / nbytes:.4f} bpb  {bits:10.0f} bits "
                  f"{100 * (bits - base) / base:+6.2f}%  {us:6.0f} us/tok", flush=True)
            if name.endswith("2x"):
                h = len(tokens) // 2
                print(f"    first half {per_tok[:h].sum():.0f} bits, second half {per_tok[h:].sum():.0f} bits")
            if sst:
                idx = np.array([s[0] for s in sst])
                cheap = np.array([s[1] for s in sst])
                full = per_tok[idx].sum()
                print(f"    skip (match len>={sk[0]:.0f}, q>={sk[1]}): {len(idx)} tokens "
                      f"({100 * len(idx) / len(tokens):.1f}%) cheap {cheap.sum():.0f} bits vs "
                      f"mixed {full:.0f} bits -> total {(bits - full + cheap.sum()) / nbytes:.4f} bpb")


if __name__ == "__main__":
    main()
