"""Ablation of predictor configurations on cached LLM logits (structured texts, issue 21).

Two steps, so that many configurations cost one model pass:

    python -m bench struct_ablation cache DIR SPEC [SPEC ...]
    python -m bench struct_ablation run DIR [--configs a;b;...] [--out FILE.md]

``cache`` tokenizes each input (SPEC as in bench/ablation.py: ``PATH`` or ``PATH:N`` for
its first N bytes, optionally ``name=`` before it), runs all of them as streams of one
lockstep group through the codec's own loop (start token, window 2048 sliding by KV
shift), and stores each stream's tokens and float32 logits rows under DIR (about
200 KB per token). ``run`` then codes every input as one stream with each configuration's
own ``TokenModels`` and reports the exact arithmetic-coding cost of its integer CDFs
(-log2(freq / 2^24) per token plus the escape flags: what the coder writes, less at most 4
bytes of flush), in bits per byte of the raw input, and the predictor side's time per token.

What this leaves out: the container header, the line-layout folds and the model gate (the
texts are coded as they are, by the model, in one stream), so figures differ slightly from
``nacz compress``; the differences between configurations are exact.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from nacz.api import Codec
from nacz.codec import CodingStep, CostSide, TokenModels, lockstep, token_models
from nacz.config import (
    DEFAULT_STRUCT_CONTEXTS,
    STRUCT_KINDS,
    CodecConfig,
    Predictor,
)

#: name -> changes to the default CodecConfig (one stream, so shared/unshared is the same)
CONFIGS: dict[str, dict] = {
    "llm": dict(predictors=0),
    "default": dict(),
}


def _struct_configs() -> None:
    """The structure contexts, alone and together."""
    base = Predictor.ALL | Predictor.SHARED | Predictor.STRUCT
    for name, kind in STRUCT_KINDS.items():
        CONFIGS[f"+{name}"] = dict(predictors=base, struct_contexts=(kind,))
    CONFIGS["+struct (all kinds)"] = dict(predictors=base,
                                          struct_contexts=tuple(STRUCT_KINDS.values()))
    CONFIGS["+struct (default kinds)"] = dict(predictors=base,
                                              struct_contexts=DEFAULT_STRUCT_CONTEXTS)


def _load(spec: str) -> tuple[str, bytes]:
    name = None
    if "=" in spec.split("/")[0]:
        name, spec = spec.split("=", 1)
    if ":" in spec:
        path, n = spec.rsplit(":", 1)
        data = Path(path).read_bytes()[: int(n)]
    else:
        path, data = spec, Path(spec).read_bytes()
    return name or Path(path).name, data


def cache(args) -> int:
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    inputs = [_load(s) for s in args.inputs]
    codec = Codec(threads=args.threads)
    backend = codec.backend
    V = backend.n_vocab
    base = CodecConfig()
    streams = [np.asarray(codec.tokenizer.encode(d), dtype=np.int64) for _, d in inputs]
    rows = [np.lib.format.open_memmap(out / f"{i}.logits.npy", mode="w+", dtype=np.float32,
                                      shape=(len(t), V)) for i, t in enumerate(streams)]
    have = [np.zeros(len(t), dtype=bool) for t in streams]
    t0 = time.perf_counter()

    class Collect:
        """Keeps every logits row the model gives (a lockstep step that codes nothing)."""

        def __call__(self, s: int, row, step: int) -> int:
            if row is not None:
                rows[s][step] = row
                have[s][step] = True
            if step and step % 1000 == 0 and s == 0:
                print(f"step {step} {time.perf_counter() - t0:.0f} s", file=sys.stderr,
                      flush=True)
            return int(streams[s][step])

        def wants_logits(self, s: int) -> bool:
            return True

        def prepare(self, streams, logits, want) -> None:
            pass

        def coded_bits(self) -> int:
            return 0

    lengths = np.array([len(t) for t in streams])
    lockstep(backend, lengths, base, Collect())
    wall = time.perf_counter() - t0
    meta = []
    for i, ((name, data), toks) in enumerate(zip(inputs, streams)):
        rows[i].flush()
        np.save(out / f"{i}.tokens.npy", toks)
        np.save(out / f"{i}.have.npy", have[i])
        (out / f"{i}.bytes").write_bytes(data)
        meta.append(dict(name=name, bytes=len(data), tokens=int(len(toks))))
    (out / "meta.json").write_text(json.dumps(dict(inputs=meta, window=base.window,
                                                   wall_s=wall), indent=1))
    print(f"cached {len(inputs)} inputs, {int(lengths.sum())} tokens in {wall:.0f} s "
          f"({lengths.sum() / wall:.1f} tokens/s)")
    return 0


def _cost(models: TokenModels, toks: np.ndarray, logits: np.ndarray, V: int) -> tuple[float, float]:
    side = CostSide([toks])
    step = CodingStep(side, models, 1)
    t = time.perf_counter()
    for k, tok in enumerate(toks):
        step(0, logits[k] if tok < V else None, k)
    return float(side.bits[0].sum()), time.perf_counter() - t


def run(args) -> int:
    _struct_configs()
    src = Path(args.dir)
    meta = json.loads((src / "meta.json").read_text())["inputs"]
    names = [c for c in args.configs.split(";") if c] if args.configs else list(CONFIGS)
    unknown = [c for c in names if c not in CONFIGS]
    if unknown:
        raise SystemExit(f"unknown configs {unknown}; known: {list(CONFIGS)}")
    codec = Codec()
    V = codec.backend.n_vocab
    only = set(args.inputs.split(",")) if args.inputs else None
    results: dict[str, dict[str, float]] = {c: {} for c in names}
    times = {c: [0.0, 0] for c in names}
    for i, m in enumerate(meta):
        if only and m["name"] not in only:
            continue
        toks = np.load(src / f"{i}.tokens.npy")
        logits = np.load(src / f"{i}.logits.npy", mmap_mode="r")
        logits = np.ascontiguousarray(logits)  # into memory once, for every config
        for c in names:
            models = token_models(codec.backend, 1, CodecConfig().replace(**CONFIGS[c]))
            bits, secs = _cost(models, toks, logits, V)
            results[c][m["name"]] = bits / m["bytes"]
            times[c][0] += secs
            times[c][1] += len(toks)
            print(f"{m['name']:>12} {c:>28} {bits / m['bytes']:.4f} bpb "
                  f"{1e6 * secs / len(toks):.0f} us/token", file=sys.stderr, flush=True)
    cols = [m["name"] for m in meta if not only or m["name"] in only]
    ref = "default" if "default" in names else names[0]
    lines = ["| configuration | " + " | ".join(cols) + " | predictor µs/token |",
             "|---|" + "---|" * len(cols) + "---|"]
    for c in names:
        cells = []
        for n in cols:
            v = results[c][n]
            d = 100 * (v / results[ref][n] - 1) if c != ref else None
            cells.append(f"{v:.4f}" + (f" {d:+.2f}%" if d is not None else ""))
        us = 1e6 * times[c][0] / max(1, times[c][1])
        lines.append(f"| {c} | " + " | ".join(cells) + f" | {us:.0f} |")
    lines.append("")
    lines.append("tokens: " + ", ".join(f"{m['name']} {m['tokens']} ({m['bytes']} B)"
                                         for m in meta if not only or m["name"] in only))
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cache")
    c.add_argument("dir")
    c.add_argument("inputs", nargs="+")
    c.add_argument("--threads", type=int, default=None)
    r = sub.add_parser("run")
    r.add_argument("dir")
    r.add_argument("--configs", default=None, help="names separated by ';'")
    r.add_argument("--inputs", default=None, help="input names separated by ','")
    r.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    return cache(args) if args.cmd == "cache" else run(args)


if __name__ == "__main__":
    sys.exit(main())
