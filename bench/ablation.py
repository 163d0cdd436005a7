"""Ablation of the predictors on the codec's own logits, many configurations in one pass.

Usage:
    python -m bench ablation [--window W] [--configs a,b,...] [--out FILE.md] SPEC [SPEC ...]

SPEC is ``PATH`` (whole file), ``PATH:N`` (its first N bytes) or ``twice:PATH:N`` (its first
N bytes pasted twice: a repetitive input); ``fold:SPEC`` is that input with the line-layout
folds the codec would choose for it (``nacz.layout``): the model codes the folded text, and
the coded layout plus its 5-byte prefix is added to every configuration's cost. Each input becomes one stream; all streams
advance through the codec's own loop (``nacz.codec.lockstep``: start token at position 0,
window sliding by KV shift), so each stream sees the logits the codec sees
for a one-shard file. Every configuration codes the same token sequence with its own
``TokenModels`` (the codec's class), and its cost is the exact arithmetic-coding cost of
its integer CDFs, -log2(freq / 2^24) per token, plus the escape flags: what the coder
writes, less at most 4 bytes of flush per stream. A configuration with the confidence skip
codes skipped tokens from the cheap distribution, as the codec does (the logits are still
computed here, for the other configurations; the codec would not compute them).

Reported per input and configuration: bits per byte and the change against the LLM alone;
per configuration: predictor seconds (predict + quantize + update) per 1,000 tokens and the
fraction of tokens skipped; and the model's own time (tokens/s of the lockstep calls).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from nacz.api import Codec
from nacz.codec import CodingStep, CostSide, TokenModels, lockstep
from nacz.config import (
    CodecConfig,
    Predictor,
)

#: name -> changes to the default CodecConfig
CONFIGS: dict[str, dict] = {
    "llm": dict(predictors=0),
    # each component alone
    "bias": dict(predictors=Predictor.BIAS),
    "ngram": dict(predictors=Predictor.NGRAM),
    "match": dict(predictors=Predictor.MATCH),
    # added one at a time
    "bias+ngram": dict(predictors=Predictor.BIAS | Predictor.NGRAM),
    "bias+ngram+match": dict(predictors=Predictor.BIAS | Predictor.NGRAM | Predictor.MATCH),
    "+temp": dict(predictors=Predictor.BIAS | Predictor.NGRAM | Predictor.MATCH
                  | Predictor.TEMP),
    "+unigram": dict(predictors=Predictor.ALL & ~Predictor.APM),
    "+apm (all)": dict(predictors=Predictor.ALL),
    # variants of all
    "all, bias rate 0.04": dict(predictors=Predictor.ALL, rate_bias=0.04),
    "all + skip (match>=16)": dict(predictors=Predictor.ALL, skip_min_match=16),
    # shards of a group share learned state (meaningful with --sharded)
    "all, shared": dict(predictors=Predictor.ALL | Predictor.SHARED),
}


def load(spec: str) -> tuple[str, bytes, int, float]:
    """(name, bytes the model codes, original length, bits coded outside the model)."""
    if spec.startswith("fold:"):
        from nacz.layout import choose_layout, fold_layout

        name, data, _, _ = load(spec[len("fold:"):])
        mode = choose_layout(data)
        folded, layout = fold_layout(data, mode)
        return f"{name} folded {mode}", folded, len(data), 8.0 * (len(layout) + 5) if mode else 0.0
    if spec.startswith("twice:"):
        _, path, n = spec.split(":")
        data = Path(path).read_bytes()[: int(n)]
        return f"{Path(path).name}[:{n}]x2", data + data, 2 * len(data), 0.0
    if ":" in spec:
        path, n = spec.rsplit(":", 1)
        data = Path(path).read_bytes()[: int(n)]
        return f"{Path(path).name}[:{n}]", data, len(data), 0.0
    data = Path(spec).read_bytes()
    return Path(spec).name, data, len(data), 0.0


def _token_lengths_of(backend) -> np.ndarray:
    from nacz.codec import token_lengths

    return token_lengths(backend)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--window", type=int, default=CodecConfig().window)
    ap.add_argument("--configs", default=";".join(CONFIGS), help="names separated by ';'")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=None, help="also write the table (markdown) here")
    ap.add_argument("--sharded", action="store_true",
                    help="split the one input into the shards the codec would make (its "
                         "default shard plan) and code them as one lockstep group")
    args = ap.parse_args(argv)

    names = [c for c in args.configs.split(";") if c]
    unknown = [c for c in names if c not in CONFIGS]
    if unknown:
        ap.error(f"unknown configs {unknown}; known: {list(CONFIGS)}")
    base = CodecConfig(window=args.window)
    cfgs = [base.replace(**CONFIGS[c]) for c in names]
    inputs = [load(s) for s in args.inputs]

    codec = Codec(threads=args.threads)
    backend = codec.backend
    V = backend.n_vocab
    streams = [np.asarray(codec.tokenizer.encode(d), dtype=np.int64) for _, d, _, _ in inputs]
    shard_sizes = None
    if args.sharded:
        if len(inputs) != 1:
            ap.error("--sharded takes exactly one input")
        from nacz.codec import plan_shards

        toks = streams[0]
        plan = plan_shards(len(toks), base)
        streams = [toks[a:b] for a, b in plan]
        # bytes per shard, for per-shard figures; the table reports the whole input
        tb = _token_lengths_of(backend)
        shard_sizes = [int(tb[t].sum()) for t in streams]
        name, _, _, outside = inputs[0]
        if outside:
            ap.error("--sharded does not take a fold: input")
        inputs = [(f"{name} shard {i}", b"", n, 0.0) for i, n in enumerate(shard_sizes)]
    n_s = len(streams)
    lengths = np.array([len(t) for t in streams])
    models = [TokenModels(n_s, V, c) for c in cfgs]
    # one measuring step per configuration, all driven by one lockstep over the same calls
    sides = [CostSide(streams) for _ in cfgs]
    steps = [CodingStep(side, m, n_s) for side, m in zip(sides, models)]
    esc_bits = np.array([outside for _, _, _, outside in inputs], dtype=float)
    pred_time = np.zeros(len(cfgs))
    t_start = time.perf_counter()

    class Measure:
        """Every configuration's step on each id; the model's logits come for all."""

        def __call__(self, s: int, row, step: int) -> int:
            for c, sub in enumerate(steps):
                tc = time.perf_counter()
                tok = sub(s, row if sub.wants_logits(s) else None, step)
                pred_time[c] += time.perf_counter() - tc
            if step and step % 2000 == 0 and s == n_s - 1:
                el = time.perf_counter() - t_start
                print(f"step {step}/{lengths.max()} {el:.0f} s", file=sys.stderr, flush=True)
            return tok

        def wants_logits(self, s: int) -> bool:
            return True

        def prepare(self, streams, logits, want) -> None:
            pass

        def coded_bits(self) -> int:
            return 0

    lockstep(backend, lengths, base, Measure())
    bits = np.array([[float(b.sum()) for b in side.bits] for side in sides])
    wall = time.perf_counter() - t_start
    model_time = wall - pred_time.sum()  # the lockstep calls, plus the loop's own upkeep

    total_tokens = int(lengths.sum())
    sizes = [size for _, _, size, _ in inputs]
    lines = [
        f"window {base.window}, {n_s} streams in lockstep, {total_tokens} tokens, "
        f"wall {wall:.0f} s; model calls and loop {model_time:.0f} s "
        f"({total_tokens / model_time:.1f} tokens/s batched)",
        "",
        "| configuration | " + " | ".join(f"{n} bpb | Δ" for n, _, _, _ in inputs)
        + " | predictor ms/token | skipped |",
        "|---|" + "---|---|" * n_s + "---|---|",
    ]
    llm_row = names.index("llm") if "llm" in names else None
    for c, name in enumerate(names):
        cells = []
        for s in range(n_s):
            bpb = (bits[c, s] + esc_bits[s]) / sizes[s]
            cells.append(f"{bpb:.4f}")
            if llm_row is not None and c != llm_row:
                ref = (bits[llm_row, s] + esc_bits[s]) / sizes[s]
                cells.append(f"{100 * (bpb / ref - 1):+.2f}%")
            else:
                cells.append("")
        skipped = models[c].skipped / total_tokens
        lines.append(
            f"| {name} | " + " | ".join(cells)
            + f" | {1000 * pred_time[c] / total_tokens:.2f} | {100 * skipped:.1f}% |"
        )
    lines.append("")
    lines.append("tokens: " + ", ".join(f"{n} {len(t)}" for (n, _, _, _), t in zip(inputs, streams)))
    if shard_sizes is not None:
        lines.append("")
        lines.append(f"whole input, {n_s} shards in one group:")
        for c, name in enumerate(names):
            bpb = (bits[c].sum() + esc_bits.sum()) / sum(shard_sizes)
            lines.append(f"- {name}: {bpb:.4f} bits/byte")
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
