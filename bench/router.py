"""The router's estimate against the real cost, text segment by text segment (issue 32).

    python -m bench router --actual DIR [--jsonl FILE] TEXT ...

For every text segment of every TEXT (nacz.segmenter's plan): bytes, tokens per byte,
whether the router samples it, the cold sample's bits per byte, the router's calibrated
estimate of the model's cost, the model's real cost (the segment's neural payloads in
DIR/NAME.nacz, a file made by ``nacz compress --model-gate 0``; made here when absent,
which takes minutes per 16 KiB), the best off-model codec's bits per byte and which one,
the decision, and what the decision costs against the better of model and off-model
("regret": 0 when it chose the smaller). The estimate is the library's own
(``Codec.gate_estimate`` with the default config), so this measures what nacz decides.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

from bench.common import nacz_cmd, record, run, write_record

METHOD_NAMES = {0: "stored", 1: "zstd", 2: "lzma2", 3: "x86+lzma2", 4: "sparc+lzma2",
                5: "ppmd", 6: "zpaq"}


def model_bits(nacz_file: Path, start: int, end: int) -> int:
    """Bits of the neural payloads that code bytes [start, end) of the original."""
    from nacz.formats import NEURAL_KINDS

    import nacz

    header = nacz.read_info(io.BytesIO(nacz_file.read_bytes())).header
    offset = bits = 0
    for seg in header.segments:
        if seg.kind in NEURAL_KINDS and start <= offset < end:
            bits += 8 * seg.payload_length
        offset += seg.n_bytes
    return bits


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("texts", nargs="+", type=Path)
    ap.add_argument("--actual", type=Path, required=True,
                    help="folder of NAME.nacz made with --model-gate 0 (made when absent)")
    ap.add_argument("--jsonl", type=Path)
    args = ap.parse_args(argv)
    from nacz.api import Codec
    from nacz.config import CodecConfig
    from nacz.model_gate import ROUTER_KEEP_SHARE
    from nacz.segmenter import plan_segments

    codec = Codec()
    cfg = CodecConfig()
    args.actual.mkdir(parents=True, exist_ok=True)
    print("| text | bytes | tokens/byte | sampled | sample bits/byte | estimate | actual "
          "(gate 0) | estimate / actual | off-model | codec | decision | regret |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for path in args.texts:
        data = path.read_bytes()
        made = args.actual / f"{path.name}.nacz"
        if not made.exists() or made.stat().st_size == 0:
            made.write_bytes(run(nacz_cmd("compress", "-c", "--model-gate", "0", str(path)),
                                 None).stdout)
        for seg in plan_segments(data):
            if seg.kind != "text":
                continue
            piece = data[seg.start:seg.end]
            tokens = codec.tokenizer.encode(piece)
            t0 = time.perf_counter()
            est, off = codec.gate_estimate(piece, tokens, cfg)
            secs = time.perf_counter() - t0
            if off is None:  # not sampled: make the off-model payload for the table
                from nacz.blocks import offmodel_payload

                off = offmodel_payload(piece, cfg)
            off_bpb = 8 * len(off[1]) / len(piece)
            actual = model_bits(made, seg.start, seg.end) / len(piece)
            model = est.model_pays
            chosen = actual if model else off_bpb
            row = record(
                "router", path.name, "nacz router estimate", len(piece), None, None, None,
                **{"text": path.name, "start": seg.start, "bytes": len(piece),
                "tokens_per_byte": est.tokens_per_byte, "sampled": est.needs_sample,
                "sample_bpb": est.sample_bits_per_byte, "estimate_bpb": est.model_bits_per_byte,
                "actual_bpb": actual, "offmodel_bpb": off_bpb,
                "offmodel_codec": METHOD_NAMES[off[0]], "decision": "model" if model else "off",
                "regret": chosen / min(actual, off_bpb) - 1, "estimate_s": round(secs, 2),
                "keep_share": ROUTER_KEEP_SHARE})
            write_record(args.jsonl, row)
            fmt = (lambda v: "–" if v is None else f"{v:.3f}")
            ratio = (row["estimate_bpb"] / actual) if row["estimate_bpb"] else None
            print(f"| {path.name}{'' if seg.start == 0 else f' @{seg.start}'} | {len(piece):,} "
                  f"| {row['tokens_per_byte']:.3f} | {'yes' if est.needs_sample else 'no'} "
                  f"| {fmt(row['sample_bpb'])} | {fmt(row['estimate_bpb'])} | {actual:.3f} "
                  f"| {fmt(ratio)} | {off_bpb:.3f} | {row['offmodel_codec']} "
                  f"| {row['decision']} | {100 * row['regret']:+.1f}% |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
