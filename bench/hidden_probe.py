"""Research probe (issue 3): does online adaptation on the LLM's final hidden state pay?

Dumps, for a few inputs coded as one lockstep group exactly as the codec drives a stream
(start token at position 0, window sliding by KV shift), each position's logits and final
hidden state (llama.cpp embeddings, pooling none: the normed state the output layer reads).
Then, offline, compares the exact (unquantized) coding cost of:

- the LLM alone;
- the codec's predictors (``nacz.predictors.Predictors``, default config, one stream each);
- either of those times exp(delta), where delta_v = e_v . h is an online correction of
  the output embedding row of token v, trained by SGD on the coding loss
  (e_v += lr * (onehot - p_v) * h), restricted to the target and the top-K tokens of
  each step ("dynamic evaluation" of the output layer only).

Usage: python -m bench hidden_probe dump OUT.npz FILE[:MAXTOKENS] ...
       python -m bench hidden_probe eval OUT.npz
"""

from __future__ import annotations

import sys
import time

import numpy as np


def dump(out: str, specs: list[str]) -> None:
    from nacz.api import Codec
    from nacz.codec import escape_standin
    from nacz.config import CodecConfig

    cfg = CodecConfig()
    import os
    codec = Codec(threads=int(os.environ.get('NACZ_THREADS', '1')))
    be = codec.backend
    streams = []
    for spec in specs:
        path, _, cap = spec.partition(":")
        toks = np.asarray(codec.tokenizer.encode(open(path, "rb").read()), dtype=np.int64)
        streams.append(toks[: int(cap)] if cap else toks)
    V = be.n_vocab
    standin = escape_standin(be)
    n = max(len(t) for t in streams)
    logits = [np.empty((len(t), V), dtype=np.float16) for t in streams]
    hidden: list = [None] * len(streams)
    t0 = time.perf_counter()
    with be.open_streams(len(streams), cfg.window, cfg.evict, cfg.flash_attn) as ss:
        ss.enable_hidden_states()
        ids = np.arange(len(streams), dtype=np.int64)
        rows = ss.advance(ids, np.full(len(ids), cfg.start_token, dtype=np.int64))
        for step in range(n):
            h = ss.hidden_states(len(ids))
            for k, s in enumerate(ids):
                if hidden[s] is None:
                    hidden[s] = np.empty((len(streams[s]), h.shape[1]), dtype=np.float32)
                logits[s][step] = rows[k]
                hidden[s][step] = h[k]
            ids = ids[[len(streams[s]) > step + 1 for s in ids]]
            if not len(ids):
                break
            fed = np.array([int(streams[s][step]) if streams[s][step] < V else standin
                            for s in ids], dtype=np.int64)
            rows = ss.advance(ids, fed)
            if step % 500 == 0:
                print(f"step {step}/{n} {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    arrays = {}
    for i, t in enumerate(streams):
        arrays[f"tokens{i}"] = t
        arrays[f"logits{i}"] = logits[i]
        arrays[f"hidden{i}"] = hidden[i]
    np.savez(out, names=np.array(specs), **arrays)
    print(f"dumped {sum(len(t) for t in streams)} tokens in {time.perf_counter() - t0:.0f}s",
          file=sys.stderr)


def _adapted_cost(base_probs_fn, tokens, hidden, lr, top_k, V, norm_h=True):
    """Bits of coding ``tokens`` with base probs times exp(e_v . h), e learned online."""
    n_embd = hidden.shape[1]
    E = np.zeros((min(V, 65536), n_embd), dtype=np.float64)  # rows in activation order
    row_of = np.full(V, -1, dtype=np.int64)
    act = np.zeros(V, dtype=np.int64)  # token of each row
    n_act = 0
    bits = 0.0
    for i, tok in enumerate(tokens):
        p = base_probs_fn(i)
        h = hidden[i].astype(np.float64)
        if norm_h:
            h = h / (np.linalg.norm(h) + 1e-9)
        if n_act:
            q = p.copy()
            q[act[:n_act]] *= np.exp(E[:n_act] @ h)
            q /= q.sum()
        else:
            q = p
        if tok < V:
            bits -= np.log2(max(q[tok], 1e-12))
            cand = np.argpartition(q, -top_k)[-top_k:]
            upd = np.union1d(cand, [tok])
            g = -q[upd]
            g[upd == tok] += 1.0
            for v, gv in zip(upd, g):
                r = row_of[v]
                if r < 0:
                    r = row_of[v] = n_act
                    act[n_act] = v
                    n_act += 1
                E[r] += (lr * gv) * h
        base_probs_fn.update(tok)
    return bits


class _LLMProbs:
    def __init__(self, logits):
        self.logits = logits

    def __call__(self, i):
        x = self.logits[i].astype(np.float64)
        x -= x.max()
        p = np.exp(x)
        return p / p.sum()

    def update(self, tok):
        pass


class _PredictorProbs:
    def __init__(self, logits, V):
        from nacz.config import CodecConfig
        from nacz.predictors import Predictors

        self.pr = Predictors(V, CodecConfig())
        self.logits = logits

    def __call__(self, i):
        return np.array(self.pr.predict(self.logits[i].astype(np.float32)), dtype=np.float64)

    def update(self, tok):
        self.pr.update(int(tok))


def evaluate(path: str, lrs=(0.0, 0.5, 1.0, 2.0), top_k=32) -> None:
    z = np.load(path)
    names = list(z["names"])
    for i, name in enumerate(names):
        tokens, logits, hidden = z[f"tokens{i}"], z[f"logits{i}"], z[f"hidden{i}"]
        V = logits.shape[1]
        for base in ("llm", "predictors"):
            for lr in lrs:
                fn = _LLMProbs(logits) if base == "llm" else _PredictorProbs(logits, V)
                t0 = time.perf_counter()
                bits = _adapted_cost(fn, tokens, hidden, lr, top_k, V)
                print(f"{name}\t{base}\tlr={lr}\ttopk={top_k}\t{bits / len(tokens):.4f} bits/token"
                      f"\t{time.perf_counter() - t0:.0f}s", flush=True)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2 or argv[0] not in ("dump", "eval"):
        print(__doc__)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    if argv[0] == "dump":
        dump(argv[1], argv[2:])
    else:
        lrs = tuple(float(x) for x in argv[2].split(",")) if len(argv) > 2 else (0.0, 0.5, 1.0, 2.0)
        evaluate(argv[1], lrs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
