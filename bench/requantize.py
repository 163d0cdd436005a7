"""The bundled model requantized by llama.cpp: cost per llama_decode call and ratio.

A question for issue 16 (a ratio-neutral speed-up): does another weight type of the same
model run faster here at the same bits per byte? Each TYPE is made from the bundled Q4_1
GGUF with llama.cpp's own ``llama_model_quantize`` (requantizing, so the new weights carry
Q4_1's error plus their own) into OUT_DIR, then measured as bench/batch_cost.py does (one
sequence of alice29.txt, median of 7 calls, k tokens per call at positions 64 and 1536),
plus the LLM's own bits/byte on alice29.txt tokens 2000-4000 in one batched evaluation.
Research only: nacz's bitstream names its model by SHA-256, so a requantized default would
be a new model.

    python -m bench requantize OUT_DIR q4_1 q8_0 q4_0 [f16 q5_0 q4_k_s]
"""

from __future__ import annotations

import ctypes
import os
import sys

FTYPES = {"q4_0": 2, "f16": 1, "q8_0": 7, "q5_0": 8, "q4_k_s": 14}


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2 or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args[:1] in (["-h"], ["--help"]) else 2
    out_dir, types = args[0], args[1:]
    from bench.batch_cost import decode_sequence, median_decode_ms  # batch_cost.py's own calls
    from bench.common import corpus_path

    from nacz.backend import LlamaBackend, _llama
    from nacz.model_file import resolve_model

    L = _llama()
    src = str(resolve_model(None).path)
    os.makedirs(out_dir, exist_ok=True)
    for name in types:
        path = src
        if name != "q4_1":
            path = os.path.join(out_dir, f"model-{name}.gguf")
            if not os.path.exists(path):
                p = L.llama_model_quantize_default_params()
                p.ftype, p.allow_requantize, p.nthread = FTYPES[name], True, 2
                if L.llama_model_quantize(src.encode(), path.encode(), ctypes.byref(p)):
                    raise SystemExit(f"llama_model_quantize failed for {name}")
        be = LlamaBackend(resolve_model(path))
        toks = be.tokenize(corpus_path("alice29.txt").read_bytes())
        bits = be.sequence_cost_bits(toks[2000:4000], 0)
        n_bytes = sum(len(be.token_texts[t]) for t in toks[2000:4000])
        cp = be.context_params(1, 2048, 64, False)
        ctx = L.llama_init_from_model(be._model, cp)
        mem = L.llama_get_memory(ctx)
        batch = L.llama_batch_init(64, 0, 1)

        def decode(pos, chunk):
            decode_sequence(L, ctx, batch, pos, chunk)

        cells = []
        for base in (64, 1536):
            L.llama_memory_clear(mem, True)
            for a in range(0, base, 64):
                decode(a, toks[a:min(a + 64, base)])
            for k in (1, 4, 16):
                ms = median_decode_ms(L, mem, decode, toks, base, k, 7)
                cells.append(f"pos {base} k={k}: {ms:.1f} ms ({ms / k:.1f}/token)")
        print(f"{name}: {os.path.getsize(path):,} bytes, {bits / n_bytes:.4f} bits/byte; "
              + "; ".join(cells), flush=True)
        L.llama_batch_free(batch)
        L.llama_free(ctx)
        be.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
