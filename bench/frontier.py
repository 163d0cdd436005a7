"""The speed/ratio frontier: configurations that set the model's work per byte, measured.

For each configuration and each text, one run of ``nacz compress`` and one of
``nacz decompress`` through the CLI (wall clock including start-up, one model job at a
time), the round trip checked byte for byte, and right after them the model's raw
batched forward rate on the same shards (a plain lockstep decode loop over the first
``--raw-steps`` steps of each group, no coding). Prints one Markdown table, and with
``--png`` a plot of bits per byte against KB/s per text.

Usage: python -m bench frontier [--bytes N] [--png PATH] [--jsonl PATH]
       [--configs "NAME::ARGS;;NAME::ARGS" | --levels 1,6,9] TEXT...
A TEXT is a path; each is cut to its first N bytes (default 8192) at a newline.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from bench.common import cut, nacz_cmd, read_records, record, run, write_record
from bench.throughput import codec_groups, raw_forward_rate

#: name -> extra `nacz compress` arguments: the sweep of 2026-12-01 (bench/FRONTIER.md).
#: "today" is the default before 2026-12-01 (config preset 2).
CONFIGS = {
    "today (1 stream <16k tokens, window 2048)": "--model-gate 0",
    "shards of 1024+ tokens": "--model-gate 0 --min-shard-tokens 1024",
    "shards of 512+ tokens": "--model-gate 0 --min-shard-tokens 512",
    "shards of 512+ tokens, own predictor state":
        "--model-gate 0 --min-shard-tokens 512 --predictors bias,ngram,match,temp,apm,unigram",
    "window 1024": "--model-gate 0 --window 1024",
    "window 512": "--model-gate 0 --window 512",
    "confidence skip (match of 8+ tokens)": "--model-gate 0 --skip-min-match 8",
    "new default (model gate on, config preset 3)": "",
}


def model_plan(blob: bytes) -> tuple[int, int, int]:
    """(lockstep groups, shards, tokens) of a file's model-coded segments, from its header."""
    from nacz.formats import NEURAL_KINDS, read_header

    neural = [s for s in read_header(blob).segments if s.kind in NEURAL_KINDS]
    return len({s.group for s in neural}), len(neural), sum(s.n_tokens for s in neural)


def raw_rate(codec, groups, cfg, max_steps: int) -> float:
    """Tokens per second of a plain lockstep decode over the first steps of each group."""
    tokens, seconds = raw_forward_rate(codec, groups, cfg, max_steps)
    return tokens / seconds


def config_of(args: str):
    """The CodecConfig the CLI builds from these arguments."""
    from nacz.cli import parse_predictors

    from nacz.config import DEFAULT_LEVEL, level_config

    words = shlex.split(args)
    keys = {"--min-shard-tokens": "min_shard_tokens", "--window": "window",
            "--max-streams": "max_streams", "--skip-min-match": "skip_min_match",
            "--model-gate": "model_gate", "--predictors": "predictors"}
    changes = {}
    level = DEFAULT_LEVEL
    for i, w in enumerate(words):
        if w in keys:
            v = words[i + 1]
            changes[keys[w]] = parse_predictors(v) if w == "--predictors" else int(v)
        elif w == "--level":
            level = int(words[i + 1])
    return level_config(level, **changes)


def config_header_bytes(cfg) -> int:
    """Bytes the config takes in the header: 4 for a preset, about 60 field by field.
    On an 8 KB text 56 bytes are 0.055 bits/byte, which a new preset would not pay."""
    from nacz.config import config_to_fields

    fields = config_to_fields(cfg, compact=True)
    return 1 + sum(2 + len(raw) for raw in fields.values())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("texts", nargs="+")
    ap.add_argument("--bytes", type=int, default=8192)
    ap.add_argument("--raw-steps", type=int, default=400)
    ap.add_argument("--png", default=None)
    ap.add_argument("--configs", default=None,
                    help="NAME::ARGS;;NAME::ARGS (default: the built-in sweep)")
    ap.add_argument("--levels", default=None,
                    help="measure these compression levels instead, e.g. 1,6,9")
    ap.add_argument("--jsonl", default=None,
                    help="append each row here, and reuse the rows already in it")
    ap.add_argument("--report", action="store_true",
                    help="only print the tables (and PNG) from the rows in --jsonl")
    args = ap.parse_args(argv)
    configs = CONFIGS if not args.configs else dict(
        c.split("::", 1) for c in args.configs.split(";;") if c)
    if args.levels:
        configs = {f"level {n}": f"--level {n}" for n in args.levels.split(",")}
    done = {}
    if args.jsonl and Path(args.jsonl).exists():
        for r in read_records(args.jsonl):
            done[r["config"], r["text"]] = r
    from nacz.api import Codec

    codec = Codec()
    texts = {Path(t).name: cut(Path(t).read_bytes(), args.bytes) for t in args.texts}
    rows = []
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{len(texts)} texts of <= {args.bytes} bytes", flush=True)
    for name, extra in configs.items():
        cfg = config_of(extra)
        for tname, data in texts.items():
            if (name, tname) in done and done[name, tname]["bytes"] == len(data):
                rows.append(done[name, tname])
                continue
            if args.report:
                continue
            c = run(nacz_cmd("compress", "-c", "-q", *shlex.split(extra)), data)
            d = run(nacz_cmd("decompress", "-c", "-q"), c.stdout)
            blob, tc, back, td = c.stdout, c.seconds, d.stdout, d.seconds
            if back != data:
                raise SystemExit(f"{name} / {tname}: round trip FAILED")
            groups = codec_groups(codec, data, cfg)
            n_tok = sum(len(t) for g in groups for t in g)
            n_shards = sum(len(g) for g in groups)
            raw = raw_rate(codec, groups, cfg, args.raw_steps) if groups else float("nan")
            # the common record, then frontier's own keys (read back by the tables below
            # and by --report on the results kept from before the common record)
            row = record("frontier", tname, f"nacz {extra}".strip(), len(data), len(blob),
                         tc, td, config=name, text=tname, bytes=len(data), size=len(blob),
                         bpb=8 * len(blob) / len(data), tc=tc, td=td,
                         kbc=len(data) / 1000 / tc, kbd=len(data) / 1000 / td,
                         tokens=n_tok, shards=n_shards, raw=raw)
            rows.append(row)
            write_record(args.jsonl, row)
            print(f"{name} | {tname}: {row['bpb']:.4f} bits/byte, compress {tc:.1f} s "
                  f"({row['kbc']:.3f} KB/s), decompress {td:.1f} s ({row['kbd']:.3f} KB/s), "
                  f"d/c {td / tc:.2f}, {n_shards} shards, {n_tok} tokens, raw {raw:.1f} tok/s",
                  flush=True)
    extra = {name: config_header_bytes(config_of(a)) - 4 for name, a in configs.items()}
    for r in rows:
        r["bpb_cfg"] = 8 * (r["size"] - extra[r["config"]]) / r["bytes"]
    print("\n| config | text | bytes | shards | bits/byte | the same, config as a preset | "
          "compress s | decompress s | KB/s c / d | d/c | raw forward tok/s | nacz tok/s c / d |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['config']} | {r['text']} | {r['bytes']} | {r['shards']} | {r['bpb']:.4f} | "
              f"{r['bpb_cfg']:.4f} | "
              f"{r['tc']:.1f} | {r['td']:.1f} | {r['kbc']:.3f} / {r['kbd']:.3f} | "
              f"{r['td'] / r['tc']:.2f} | {r['raw']:.1f} | "
              f"{r['tokens'] / r['tc']:.1f} / {r['tokens'] / r['td']:.1f} |")
    print("\n| config | input bytes | bits/byte (all texts) | KB/s compress | KB/s decompress |"
          " worst Δ bits/byte vs first (config as a preset) | speed vs first c / d |"
          " worst d/c |")
    print("|---|---|---|---|---|---|---|---|")
    first = list(configs)[0]
    base = {r["text"]: r for r in rows if r["config"] == first}
    for name in configs:
        rs = [r for r in rows if r["config"] == name]
        nb = sum(r["bytes"] for r in rs)
        bits = sum(8 * r["size"] for r in rs)
        tc = sum(r["tc"] for r in rs)
        td = sum(r["td"] for r in rs)
        if not rs:
            continue
        worst = max(r["bpb_cfg"] / base[r["text"]]["bpb_cfg"] - 1 for r in rs)
        worst_dc = max(r["td"] / r["tc"] for r in rs)
        btc = sum(base[r["text"]]["tc"] for r in rs)
        btd = sum(base[r["text"]]["td"] for r in rs)
        print(f"| {name} | {nb} | {bits / nb:.4f} | {nb / 1000 / tc:.3f} | {nb / 1000 / td:.3f} "
              f"| {100 * worst:+.2f}% | {btc / tc:.2f}x / {btd / td:.2f}x | {worst_dc:.2f} |")
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(9, 6))
        markers = "os^vDPX*<>"
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        names = list(configs)
        for ti, tname in enumerate(texts):
            for r in (r for r in rows if r["text"] == tname):
                ci = names.index(r["config"])
                ax.scatter(r["kbc"], r["bpb_cfg"], color=colours[ti % len(colours)],
                           marker=markers[ci % len(markers)], s=45)
        for ti, tname in enumerate(texts):
            ax.scatter([], [], color=colours[ti % len(colours)], marker="o", label=tname)
        for ci, name in enumerate(names):
            ax.scatter([], [], color="grey", marker=markers[ci % len(markers)], label=name)
        ax.set_xscale("log")
        ax.set_xlabel("compress KB/s, log scale (2 cores, wall clock with start-up, one run at a time)")
        ax.set_ylabel("bits per byte (config header counted as a preset's)")
        ax.set_title(f"nacz speed/ratio, {args.bytes // 1024} KB texts (colour: text, marker: config)",
                     fontsize=9)
        ax.legend(fontsize=7, loc="center right")
        fig.tight_layout()
        fig.savefig(args.png, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
