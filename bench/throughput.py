"""One table: nacz against classic compressors, and nacz against the model's raw rate.

Usage:
    python -m bench throughput [--nacz-args "..."] [--png FILE] [--no-workers-check]
                               [--repeat N] FILE ...

For every file, in this order (never two model processes at once):

1. gzip -9, bzip2 -9, xz -9e, zstd -19 --long through their CLIs: compressed bytes, bits
   per byte, compress and decompress KB/s (wall clock, one run each).
2. ``--repeat`` times (default 1): ``nacz compress``/``decompress`` through the CLI (wall
   clock, peak RSS of the nacz process), then, right after, the raw batched forward rate:
   the same segments, shards and lockstep groups the codec makes for this file (same
   window, eviction, stream count and positions), driven by a plain loop of
   ``StreamSet.advance`` calls with every logits row requested, as the codec requests
   them, and nothing else: no CDFs, no predictors, no coder. Each nacz run is compared
   with the raw run next to it (shared machines drift over minutes); the table gives
   medians. Every round trip is checked byte for byte.
3. Unless ``--no-workers-check``: ``nacz compress --workers 2`` must give the very bytes of
   ``--workers 1`` (the runs above).

nacz's tokens/s (tokens of its neural segments over its wall time, model load included)
is then given as a fraction of the raw rate, and again without nacz's fixed start-up
(measured first, as the wall time of a run on a 12-byte input). The table goes to stdout as tab-separated
text; ``--png`` also draws bits per byte against compress and decompress speed (needs
matplotlib: ``pip install '.[bench]'``).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from bench.common import run as _run
from bench.compare import TOOLS, run


def run_measured(cmd: list[str], data: bytes) -> tuple[bytes, float, int]:
    """Run ``cmd`` on ``data``; (stdout, wall seconds, peak RSS in bytes of that process)."""
    r = _run(cmd, data, rss=True)
    return r.stdout, r.seconds, r.peak_rss


def codec_groups(codec, data: bytes, cfg) -> list[list[np.ndarray]]:
    """The token streams of each lockstep group, as ``Codec.compress`` plans them."""
    from nacz.codec import plan_shards
    from nacz.config import MODEL_GATE_NEVER
    from nacz.segmenter import plan_segments

    if cfg.model_gate == MODEL_GATE_NEVER:
        return []  # level 1: nothing goes to the model
    shards = []
    for seg in plan_segments(data):
        if seg.kind != "text":
            continue
        tokens = np.asarray(codec.tokenizer.encode(data[seg.start:seg.end]), dtype=np.int64)
        shards += [tokens[a:b] for a, b in plan_shards(len(tokens), cfg)]
    m = cfg.max_streams
    return [shards[g:g + m] for g in range(0, len(shards), m)]


def raw_forward_rate(codec, groups, cfg, max_steps: int | None = None) -> tuple[int, float]:
    """(tokens fed, seconds) of a plain lockstep decode loop over ``groups`` (over the
    first ``max_steps`` steps of each, when given)."""
    from nacz.codec import escape_standin

    backend = codec.backend
    V = backend.n_vocab
    standin = escape_standin(backend)
    tokens = 0
    seconds = 0.0
    for group in groups:
        lengths = np.array([len(t) for t in group], dtype=np.int64)
        fed_all = [np.where(t < V, t, standin) for t in group]
        t0 = time.perf_counter()
        with backend.open_streams(len(group), cfg.window, cfg.evict, cfg.flash_attn) as ss:
            ids = np.arange(len(group), dtype=np.int64)
            ss.advance(ids, np.full(len(ids), cfg.start_token, dtype=np.int64))
            tokens += len(ids)
            step = 0
            while max_steps is None or step < max_steps:
                # the codec feeds token `step` only if the stream has a token after it
                ids = ids[lengths[ids] > step + 1]
                if not len(ids):
                    break
                ss.advance(ids, np.array([fed_all[s][step] for s in ids], dtype=np.int64))
                tokens += len(ids)
                step += 1
        seconds += time.perf_counter() - t0
    return tokens, seconds


def plot(rows: list[dict], path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"no plot: matplotlib is not installed (pip install '.[bench]'); "
              f"{path} not written", file=sys.stderr)
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, key, title in ((axes[0], "c_kbs", "compress"), (axes[1], "d_kbs", "decompress")):
        for tool in dict.fromkeys(r["tool"] for r in rows):
            pts = [(r[key], r["bpb"]) for r in rows if r["tool"] == tool]
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], label=tool)
        ax.set_xscale("log")
        ax.set_xlabel(f"{title} speed, KB/s (log)")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("bits per byte")
    axes[1].legend(fontsize=8)
    fig.suptitle("nacz vs classic compressors: ratio against speed (one point per file)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot written to {path}", file=sys.stderr)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--nacz-args", default="", help="extra options for nacz compress")
    ap.add_argument("--png", default=None, help="write the ratio/speed plot here")
    ap.add_argument("--no-workers-check", action="store_true")
    ap.add_argument("--repeat", type=int, default=1,
                    help="nacz runs per file, each followed by a raw-rate run (medians)")
    args = ap.parse_args(argv)

    import shutil

    from nacz.api import Codec

    tools = {k: v for k, v in TOOLS.items() if shutil.which(v[0][0])}
    nacz = [sys.executable, "-m", "nacz"]
    extra = shlex.split(args.nacz_args)
    rows: list[dict] = []
    raw: list[str] = []
    # nacz's fixed start-up (interpreter, model load, Numba cache, numerics probe, tables):
    # one run each way on a 3-token input, so the table can also give the rate without it.
    tiny = b"hello world\n"
    starts = []
    for _ in range(args.repeat):
        tiny_packed, t_c, _ = run_measured(nacz + ["compress", "-q", *extra], tiny)
        _, t_d, _ = run_measured(nacz + ["decompress", "-q"], tiny_packed)
        starts.append((t_c, t_d))
    start_c = float(np.median([t[0] for t in starts]))
    start_d = float(np.median([t[1] for t in starts]))
    print(f"# nacz start-up (a {len(tiny)}-byte input, median of {len(starts)}): "
          f"compress {start_c:.2f} s, decompress {start_d:.2f} s", flush=True)
    print("file\ttool\tbytes\tcompressed\tbits_per_byte\tcompress_KB_s\tdecompress_KB_s"
          "\tpeak_RSS_MB", flush=True)
    for path in args.files:
        data = Path(path).read_bytes()
        name = Path(path).name
        kb = len(data) / 1024
        for tool, (c, d) in tools.items():
            packed, tc = run(c, data)
            back, td = run(d, packed)
            if back != data:
                raise SystemExit(f"{path}: {tool} round trip FAILED")
            rows.append(dict(file=name, tool=tool, bpb=8 * len(packed) / max(1, len(data)),
                             c_kbs=kb / tc, d_kbs=kb / td))
            print(f"{name}\t{tool}\t{len(data)}\t{len(packed)}\t{rows[-1]['bpb']:.4f}\t"
                  f"{kb / tc:.2f}\t{kb / td:.2f}\t", flush=True)
        # nacz, then the raw rate right after it (this machine is shared: its speed drifts
        # over minutes, so each nacz run is compared with a raw run next to it), --repeat
        # times; the table gives the median times.
        codec = groups = n_tok = None
        runs = []  # (tc, td, raw tokens/s)
        rss = 0
        for rep in range(args.repeat):
            packed, tc, rss_c = run_measured(nacz + ["compress", "-q", *extra], data)
            back, td, rss_d = run_measured(nacz + ["decompress", "-q"], packed)
            if back != data:
                raise SystemExit(f"{path}: nacz round trip FAILED")
            rss = max(rss, rss_c, rss_d)
            if codec is None:
                # The raw rate runs in this process, after the CLI runs (one model at a time).
                from nacz.config import config_from_fields
                from nacz.formats import read_header
                import io

                header = read_header(io.BytesIO(packed))
                cfg = config_from_fields(header.config_fields)
                n_tok = sum(s.n_tokens for s in header.segments)
                if n_tok:
                    codec = Codec()
                    groups = codec_groups(codec, data, cfg)
                    if sum(len(t) for g in groups for t in g) != n_tok:
                        raise SystemExit(f"{path}: the bench's shard plan differs from the codec's")
            rate = None
            if n_tok:
                tok, sec = raw_forward_rate(codec, groups, cfg)
                rate = tok / sec
            runs.append((tc, td, rate))
            if n_tok:
                print(f"# {name} run {rep + 1}: compress {tc:.1f} s, decompress {td:.1f} s, "
                      f"raw forward right after {rate:.1f} tokens/s", flush=True)
        tc = float(np.median([r[0] for r in runs]))
        td = float(np.median([r[1] for r in runs]))
        rows.append(dict(file=name, tool="nacz", bpb=8 * len(packed) / max(1, len(data)),
                         c_kbs=kb / tc, d_kbs=kb / td))
        print(f"{name}\tnacz\t{len(data)}\t{len(packed)}\t{rows[-1]['bpb']:.4f}\t"
              f"{kb / tc:.2f}\t{kb / td:.2f}\t{rss / 2**20:.0f}", flush=True)
        if not args.no_workers_check:
            two, _, _ = run_measured(nacz + ["compress", "-q", "--workers", "2", *extra], data)
            same = "identical" if two == packed else "DIFFERENT"
            print(f"# {name}: --workers 2 output is {same} to --workers 1", flush=True)
            if two != packed:
                return 1
        if n_tok:
            def med(values):
                return float(np.median(values))

            frac_c = med([n_tok / t_c / r for t_c, _, r in runs])
            frac_d = med([n_tok / t_d / r for _, t_d, r in runs])
            frac_c0 = med([n_tok / (t_c - start_c) / r for t_c, _, r in runs])
            frac_d0 = med([n_tok / (t_d - start_d) / r for _, t_d, r in runs])
            ratio = med([t_d / t_c for t_c, t_d, _ in runs])
            rate = med([r for _, _, r in runs])
            raw.append(
                f"{name}: {n_tok} tokens in {sum(len(g) for g in groups)} shards / "
                f"{len(groups)} group(s), window {cfg.window}, {len(runs)} run(s), medians: "
                f"raw forward {rate:.1f} tokens/s; "
                f"nacz compress {n_tok / tc:.1f} tokens/s ({frac_c:.2f} of raw), "
                f"decompress {n_tok / td:.1f} tokens/s ({frac_d:.2f} of raw); "
                f"decompress/compress time {ratio:.2f}; without the start-up: "
                f"compress {frac_c0:.2f}, decompress {frac_d0:.2f} of raw"
            )
            print("# " + raw[-1], flush=True)
        del codec
    print("\n# nacz against the model's raw batched forward rate (same run):")
    for line in raw:
        print("# " + line)
    if args.png:
        plot(rows, args.png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
