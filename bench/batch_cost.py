"""What one llama_decode call costs on this machine, by tokens per call and position.

The model's time per token sets nacz's speed, and the frontier (bench/frontier.py) asks
two questions this answers directly: how much does a call with k tokens cost against k
calls of one (what shards buy), and how much does a token cost at a long position (what
the window buys)? One sequence of real text (alice29.txt) in one llama.cpp context with
the codec's own parameters (LlamaBackend.context_params); the median of ``--reps``
calls per point; k tokens are fed as one sequence's next k positions with every row's
logits, as k co-batched streams would be.

Usage: python -m bench batch_cost [--positions 64,512,1024,1536,1984] [--k 1,2,3,4,8,16]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time


def decode_sequence(L, ctx, batch, pos: int, chunk) -> None:
    """One llama_decode of ``chunk`` as sequence 0's positions ``pos``, ``pos + 1``, ...,
    every row's logits computed (as co-batched streams would have them)."""
    for i, t in enumerate(chunk):
        batch.token[i], batch.pos[i] = t, pos + i
        batch.n_seq_id[i], batch.seq_id[i][0], batch.logits[i] = 1, 0, 1
    batch.n_tokens = len(chunk)
    if L.llama_decode(ctx, batch) != 0:
        raise SystemExit(f"llama_decode failed at position {pos}")


def median_decode_ms(L, mem, decode, toks, base: int, k: int, reps: int) -> float:
    """Median milliseconds of one call that decodes ``toks[base:base + k]`` after a context
    of ``base`` tokens (what came after it removed before each of ``reps`` calls)."""
    times = []
    for _ in range(reps):
        L.llama_memory_seq_rm(mem, 0, base, -1)
        t0 = time.perf_counter()
        decode(base, toks[base:base + k])
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--positions", default="64,512,1024,1536,1984")
    ap.add_argument("--k", default="1,2,3,4,8,16")
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--window", type=int, default=2048)
    args = ap.parse_args(argv)
    from bench.common import corpus_path

    from nacz.backend import LlamaBackend, _llama
    from nacz.model_file import resolve_model

    L = _llama()
    be = LlamaBackend(resolve_model(None))
    toks = be.tokenize(corpus_path("alice29.txt").read_bytes())[: args.window + 64]
    ks = [int(k) for k in args.k.split(",")]
    cp = be.context_params(1, args.window, max(ks + [64]), False)
    cp.kv_unified = False
    ctx = L.llama_init_from_model(be._model, cp)
    mem = L.llama_get_memory(ctx)
    batch = L.llama_batch_init(max(ks + [64]), 0, 1)

    def decode(pos: int, chunk) -> None:
        decode_sequence(L, ctx, batch, pos, chunk)

    filled = 0
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {be.threads} threads, "
          f"window {args.window}; ms per call (ms per token)\n")
    print("| position | " + " | ".join(f"k={k}" for k in ks) + " |")
    print("|---|" + "---|" * len(ks))
    for base in sorted(int(p) for p in args.positions.split(",")):
        while filled < base:  # the context up to base, in chunks
            n = min(64, base - filled)
            decode(filled, toks[filled:filled + n])
            filled += n
        cells = []
        for k in ks:
            ms = median_decode_ms(L, mem, decode, toks, base, k, args.reps)
            cells.append(f"{ms:.1f} ({ms / k:.1f})")
        L.llama_memory_seq_rm(mem, 0, base, -1)
        print(f"| {base} | " + " | ".join(cells) + " |", flush=True)
    L.llama_batch_free(batch)
    L.llama_free(ctx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
