"""nacz under load: N processes started together, and nacz beside CPU-bound programs.

For each case, N ``nacz compress -c FILE`` processes start at the same moment; each one's
wall time is compared with one run alone at the same thread count, and against the bound
issue 16 sets: every run finishes within 1.25 x max(1, N*T/C) of one alone (T threads each,
C cores). "Beside a hog" runs one nacz next to H busy-looping processes that are not nacz;
its bound is 1.25 x max(1, (T + H)/C). Every run's output must equal the run alone's,
byte for byte (the wait policy and thread count never change the bits).

Usage: python -m bench load [--file F] [--threads 1,2] [--n 1,2,4] [--hogs 1,2]
           [--env NAME=VALUE] [--markdown]
``--env`` sets a variable for every nacz run (e.g. OMP_WAIT_POLICY=ACTIVE for the
spinning wait nacz used before). Run it with nothing else on the machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOG = "import time\nt = time.time() + {secs}\nwhile time.time() < t: pass\n"


def cores() -> int:
    return len(os.sched_getaffinity(0))


def start_nacz(path: str, threads: int, env: dict, out) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "nacz", "compress", "-c", "-q", "--threads", str(threads),
           path]
    return subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, env=env)


def run_together(path: str, threads: int, n: int, env: dict, hogs: int = 0,
                 hog_secs: float = 3600) -> list[tuple[float, bytes]]:
    """Start ``n`` nacz runs (and ``hogs`` busy loops) at once; (wall s, output) each."""
    hog_procs = [subprocess.Popen([sys.executable, "-c", HOG.format(secs=hog_secs)])
                 for _ in range(hogs)]
    try:
        if hogs:
            time.sleep(0.5)  # the hogs are running before nacz starts
        outs = [tempfile.TemporaryFile() for _ in range(n)]
        t0 = time.perf_counter()
        procs = [start_nacz(path, threads, env, o) for o in outs]
        results = []
        ends = {}
        while len(ends) < n:
            for i, p in enumerate(procs):
                if i not in ends and p.poll() is not None:
                    ends[i] = time.perf_counter() - t0
            time.sleep(0.05)
        for i, (p, o) in enumerate(zip(procs, outs)):
            err = p.stderr.read().decode(errors="replace").strip()
            if p.returncode != 0:
                raise SystemExit(f"nacz failed ({p.returncode}): {err}")
            o.seek(0)
            results.append((ends[i], o.read()))
            o.close()
        return results
    finally:
        for h in hog_procs:
            h.kill()
            h.wait()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", default=str(ROOT / "corpora" / "grammar.lsp"))
    ap.add_argument("--threads", default="2")
    ap.add_argument("--n", default="1,2,4")
    ap.add_argument("--hogs", default="1,2")
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)
    env = dict(os.environ)
    for item in args.env:
        k, _, v = item.partition("=")
        env[k] = v
    C = cores()
    rows = []
    label = " ".join(args.env) or "defaults"
    print(f"# {args.file} ({os.path.getsize(args.file)} bytes), {C} cores, {label}",
          flush=True)
    for T in (int(t) for t in args.threads.split(",")):
        (alone, ref), = run_together(args.file, T, 1, env)
        print(f"T={T} alone: {alone:.1f} s", flush=True)
        cases = [(n, 0) for n in (int(x) for x in args.n.split(",")) if n > 1]
        cases += [(1, h) for h in (int(x) for x in args.hogs.split(",") if x) if h > 0]
        rows.append(dict(T=T, n=1, hogs=0, times=[alone], alone=alone,
                         bound=1.25, same=True))
        for n, hogs in cases:
            res = run_together(args.file, T, n, env, hogs)
            times = [t for t, _ in res]
            same = all(out == ref for _, out in res)
            demand = (n * T + hogs) / C
            bound = 1.25 * max(1.0, demand)
            rows.append(dict(T=T, n=n, hogs=hogs, times=times, alone=alone, bound=bound,
                             same=same))
            print(f"T={T} n={n} hogs={hogs}: {', '.join(f'{t:.1f}' for t in times)} s; "
                  f"worst {max(times) / alone:.2f}x alone (bound {bound:.2f}x); "
                  f"bytes {'identical' if same else 'DIFFER'}", flush=True)
    if args.markdown:
        print(f"\n{label}, {Path(args.file).name}, {C} cores:\n")
        print("| threads T | nacz runs N | busy loops beside | wall s (each) | worst / alone "
              "| bound 1.25 x max(1, (N·T+H)/C) | within | bytes |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            worst = max(r["times"]) / r["alone"]
            print(f"| {r['T']} | {r['n']} | {r['hogs']} | "
                  f"{', '.join(f'{t:.1f}' for t in r['times'])} | {worst:.2f} | "
                  f"{r['bound']:.2f} | {'yes' if worst <= r['bound'] else 'NO'} | "
                  f"{'identical' if r['same'] else 'DIFFER'} |")
    ok = all(r["same"] for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
