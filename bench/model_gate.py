"""What the model gate (nacz.model_gate) sees and decides, text by text.

For each input, the whole file as one text segment: bytes, tokens per byte, whether the
rule samples it, the model's sample cost (LLM alone, cold, 512 tokens from the middle),
the classic codecs' bits per byte, their ratio against KEEP_RATIO, and the decision. With
``--full``, the whole text is also coded by nacz with the gate off, to show what the
sample's estimate would have been compared with (slow: minutes per 32 KB).

Usage: python -m bench model_gate FILE[:BYTES] ... [--full]
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--full", action="store_true")
    args = ap.parse_args(argv)
    from nacz.api import Codec
    from nacz.config import CodecConfig
    from nacz.model_gate import KEEP_RATIO

    codec = Codec()
    print(f"| text | bytes | tokens/byte | sampled | sample bits/byte (LLM, cold) "
          f"| classic bits/byte | ratio (keep if <= {KEEP_RATIO}) | to | estimate s |"
          + (" nacz gate off bits/byte | nacz s |" if args.full else ""))
    print("|---|---|---|---|---|---|---|---|---|" + ("---|---|" if args.full else ""))
    for spec in args.inputs:
        path, _, limit = spec.partition(":")
        with open(path, "rb") as f:
            data = f.read(int(limit)) if limit else f.read()
        tokens = codec.tokenizer.encode(data)
        t0 = time.perf_counter()
        est, _ = codec.gate_estimate(data, tokens)
        secs = time.perf_counter() - t0
        ratio = (est.sample_bits_per_byte / est.classic_bits_per_byte
                 if est.needs_sample else None)
        row = (f"| {path.rsplit('/', 1)[-1]} | {len(data)} | {est.tokens_per_byte:.3f} | "
               f"{'yes' if est.needs_sample else 'no'} | "
               f"{est.sample_bits_per_byte or 0:.3f} | {est.classic_bits_per_byte or 0:.3f} | "
               f"{'' if ratio is None else f'{ratio:.3f}'} | "
               f"{'model' if est.model_pays else 'classic'} | {secs:.1f} |")
        if args.full:
            t0 = time.perf_counter()
            blob = codec.compress(data, CodecConfig(model_gate=0))
            row += f" {8 * len(blob) / len(data):.3f} | {time.perf_counter() - t0:.0f} |"
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
