"""python -m bench VERB [ARGS]: every benchmark of nacz, one entry (run from the repository
root; corpus files come from ``python corpora/fetch.py``; results under bench/results/).

``python -m bench`` or ``--help`` lists the verbs; ``python -m bench VERB --help`` shows a
verb's own options. The verbs with defaults (compare, ablation, layout, ...) run what
bench.sh ran; the others pass ARGS to their module's main() unchanged.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

C = "corpora"
RESULTS = "bench/results"


def _held_out() -> list[str]:
    """Text that is not in the Canterbury corpus (defaults must hold for text in general):
    the GPL-3 licence text and Python's own argparse.py, where the machine has them."""
    import argparse

    out = []
    if os.path.isfile("/usr/share/common-licenses/GPL-3"):
        out.append("/usr/share/common-licenses/GPL-3")
    if os.path.isfile(argparse.__file__):
        out.append(f"{argparse.__file__}:65536")
    return out


def _help(argv: list[str]) -> bool:
    return any(a in ("-h", "--help") for a in argv)


def _module(name: str):
    return importlib.import_module(f"bench.{name}")


def _main(name: str, argv: list[str]) -> int:
    return _module(name).main(argv) or 0


def _need(argv: list[str], n: int, usage: str) -> None:
    if len(argv) < n:
        raise SystemExit(f"usage: python -m bench {usage}")


# -- the verbs with bench.sh's defaults ---------------------------------------------------

def compare(argv):
    return _main("compare", argv if argv else [f"{C}/alice29.txt"])


def ablation(argv):
    if _help(argv):
        return _main("ablation", argv)
    w = argv[0] if argv else "2048"
    return _main("ablation", ["--window", w, f"{C}/alice29.txt", f"{C}/asyoulik.txt",
                              f"{C}/lcet10.txt:65536", f"{C}/plrabn12.txt:65536",
                              f"twice:{C}/fields.c:11150", *_held_out()])


def layout(argv):
    if _help(argv):
        return _main("ablation", argv)
    ins = [f"{C}/alice29.txt", f"{C}/lcet10.txt:65536", f"{C}/asyoulik.txt:65536"]
    if os.path.isfile("/usr/share/common-licenses/GPL-3"):
        ins.append("/usr/share/common-licenses/GPL-3")
    specs = [s for i in ins for s in (i, f"fold:{i}")]
    return _main("ablation", ["--window", argv[0] if argv else "2048",
                              "--configs", "llm;+apm (all)", *specs])


def throughput(argv):
    if _help(argv):
        return _main("throughput", argv)
    return _main("throughput", ["--png", f"{RESULTS}/throughput.png",
                                *(argv or [f"{C}/alice29.txt"])])


def windows(argv):
    if _help(argv):
        return _main("ablation", argv)
    for w in ("2048", "4096", "8192"):
        rc = _main("ablation", ["--window", w, "--configs", "llm;+apm (all)",
                                argv[0] if argv else f"{C}/alice29.txt"])
        if rc:
            return rc
    return 0


def load(argv):
    return _main("load", argv if argv else ["--n", "2,4", "--hogs", "1,2", "--markdown"])


def frontier(argv):
    if _help(argv):
        return _main("frontier", argv)
    return _main("frontier", ["--bytes", "8192", "--jsonl", f"{RESULTS}/frontier.jsonl",
                              "--png", f"{RESULTS}/frontier.png", *argv])


def predictors(argv):
    """Three rounds of the predictors' time; with CHECKOUT, alternating with that one."""
    if _help(argv):
        return _main("predictor_time", argv)
    me = Path(__file__).resolve().parent / "predictor_time.py"
    for _ in range(3):
        rc = subprocess.call([sys.executable, "-m", "bench.predictor_time", "--json"])
        if rc:
            return rc
        if argv:
            env = dict(os.environ, PYTHONPATH=argv[0])
            rc = subprocess.call([sys.executable, str(me), "--json"], cwd="/tmp", env=env)
            if rc:
                return rc
    return 0


def batch(argv):
    return _main("batch_cost", argv)


def ray(argv):
    if _help(argv) or (argv and argv[0].startswith("-")):
        return _main("ray_bench", argv)
    return _main("ray_bench", [argv[0] if argv else f"{C}/alice29.txt", *argv[1:]])


def blocks(argv):
    if _help(argv):
        return _main("block_size", argv)
    _need(argv, 1, "blocks TEXT [SIZES]")
    return _main("block_size", [argv[0], "--blocks", argv[1] if len(argv) > 1
                                else "64K,256K,1M,8M", "--verify"])


def structured(argv):
    if _help(argv):
        return _main("structured", argv)
    return _main("structured", ["--bytes", argv[0] if argv else "8192", "--canterbury"])


def struct(argv):
    if _help(argv):
        return _main("struct_ablation", argv)
    _need(argv, 1, "struct DIR")
    from bench.structured import default_texts

    specs = [f"{n}={p}:16384" for n, p in default_texts()[:7] if p]
    rc = _main("struct_ablation", ["cache", argv[0], *specs, f"alice29={C}/alice29.txt:16384"])
    return rc or _main("struct_ablation", ["run", argv[0]])


def texts(argv):
    if _help(argv):
        return _main("texts", argv)
    _need(argv, 1, "texts DIR [BYTES]")
    return _main("texts", [argv[0], "--bytes", argv[1] if len(argv) > 1 else "16384"])


def _texts_dir(d: str) -> list[str]:
    rc = _main("texts", [f"{d}/texts"])
    if rc:
        raise SystemExit(rc)
    return sorted(str(p) for p in Path(d, "texts").iterdir())


def router(argv):
    """The router's estimate against the real cost (--model-gate 0 files made in DIR/actual)."""
    if _help(argv):
        return _main("router", argv)
    _need(argv, 1, "router DIR")
    d = argv[0]
    return _main("router", ["--actual", f"{d}/actual", "--jsonl", f"{d}/router.jsonl",
                            *_texts_dir(d)])


def peers(argv):
    """nacz (default, -1, --model-gate 0) against xz, zstd, PPMd and zpaq on the Canterbury
    files and DIR's texts; with options first (``peers --tools ... FILE[:N] ...``), the
    module's own command line."""
    if _help(argv) or (argv and argv[0].startswith("-")):
        return _main("peers", argv)
    _need(argv, 1, "peers DIR")
    d = argv[0]
    cut = [f"{C}/{f}:8192" for f in ("alice29.txt", "asyoulik.txt", "cp.html", "fields.c",
                                     "grammar.lsp", "lcet10.txt", "plrabn12.txt", "xargs.1")]
    return _main("peers", ["--jsonl", f"{d}/peers.jsonl", "--tools",
                           "nacz,nacz-1,nacz-gate0,xz-9e,zstd-19,ppmd16,zpaq-m5",
                           f"{C}/kennedy.xls", f"{C}/ptt5", f"{C}/sum", *cut, *_texts_dir(d)])


def _plain(name: str):
    return lambda argv: _main(name, argv)


#: verb -> (what it runs, one line)
VERBS = {
    "compare": (compare, "nacz vs gzip/bzip2/xz/zstd, tab-separated (default: alice29.txt)"),
    "ablation": (ablation, "[WINDOW] predictor ablation on alice29, asyoulik, cuts of lcet10 "
                           "and plrabn12, fields.c twice, held-out texts"),
    "layout": (layout, "[WINDOW] LLM alone and all predictors, as is and with line-layout "
                       "folds"),
    "throughput": (throughput, "[FILE ...] nacz vs classic tools: bits/byte, KB/s, RSS, "
                               "raw forward rate; plot in bench/results/"),
    "windows": (windows, "[FILE[:N]] LLM alone and all predictors at windows 2048/4096/8192"),
    "load": (load, "N nacz runs together, and nacz beside busy loops (grammar.lsp)"),
    "frontier": (frontier, "TEXT ... the speed/ratio sweep on 8 KB cuts "
                           "(rows in bench/results/frontier.jsonl)"),
    "batch": (batch, "one llama_decode by tokens per call and position"),
    "predictors": (predictors, "[CHECKOUT] the predictors' own time per token (no model), "
                               "3 rounds"),
    "ray": (ray, "[TEXT] Ray start-up, 1 and 2 actors vs --workers 1, a two-node cluster"),
    "structured": (structured, "[N] paq8px, xz -9e and nacz on structured and Canterbury "
                               "texts, first N bytes"),
    "blocks": (blocks, "TEXT [SIZES] how --block-size trades ratio for parallelism"),
    "struct": (struct, "DIR the structure contexts' ablation (logits cached in DIR)"),
    "texts": (texts, "DIR [BYTES] cut the diverse set and this machine's texts into DIR"),
    "router": (router, "DIR the router's estimate vs the real cost on those texts"),
    "peers": (peers, "DIR nacz vs xz, zstd, PPMd, zpaq on Canterbury and DIR's texts"),
    # modules bench.sh never reached: ARGS go to their main() as they are
    "model_gate": (_plain("model_gate"), "FILE[:BYTES] ... the model gate's decisions and "
                                         "cost"),
    "memory": (_plain("memory"), "peak memory of streaming compress/decompress by size"),
    "requantize": (_plain("requantize"), "OUT_DIR TYPE ... the model requantized: cost per "
                                         "call and ratio"),
    "hidden_probe": (_plain("hidden_probe"), "dump|eval ... online adaptation on the "
                                             "hidden state (research)"),
    "device_check": (_plain("device_check"), "STEP OUT ... one step of the device check "
                                             "(bench/device_check.sh runs them all)"),
    "predictor_time": (_plain("predictor_time"), "one round of the predictors' time per "
                                                 "token"),
    "block_size": (_plain("block_size"), "TEXT [--blocks ...] block_size.py with its own "
                                         "options"),
    "cpu_side": (_plain("cpu_side"), "the CPU side alone by threads and streams (no model)"),
    "struct_ablation": (_plain("struct_ablation"), "cache|run ... struct_ablation.py with "
                                                   "its own options"),
    "ray_bench": (_plain("ray_bench"), "TEXT [...] ray_bench.py with its own options"),
    "batch_cost": (_plain("batch_cost"), "batch_cost.py with its own options"),
}


def usage() -> str:
    width = max(map(len, VERBS))
    lines = [__doc__.strip(), "", "verbs:"]
    lines += [f"  {v:<{width}}  {line}" for v, (_, line) in VERBS.items()]
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    verb, rest = argv[0], argv[1:]
    if verb not in VERBS:
        print(f"unknown verb {verb!r}\n\n{usage()}", file=sys.stderr)
        return 2
    return VERBS[verb][0](rest) or 0


if __name__ == "__main__":
    sys.exit(main())
