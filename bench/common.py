"""What the benches share: one cut rule, one timed run of a command (the nacz CLI or a
peer), one results record, and where corpus files and results live.

    from bench.common import cut, read_spec, run, nacz_cmd, record, write_record
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ROOT / "corpora"
#: every results file (JSON lines) and plot the benches keep
RESULTS = Path(__file__).resolve().parent / "results"


# -- inputs -----------------------------------------------------------------------------

def cut(data: bytes, n: int | None, *, at_newline: bool = True) -> bytes:
    """The first ``n`` bytes of ``data`` (all of it when ``n`` is None or not smaller).

    The one rule: end just after the last newline before ``n`` when that newline lies in
    the second half of the cut, else cut at ``n`` exactly (a text of long lines keeps its
    length). ``at_newline=False`` is the plain prefix ``data[:n]`` that the published
    tables of ablation, structured, struct, model_gate and peers were measured with."""
    if n is None or len(data) <= n:
        return data
    if not at_newline:
        return data[:n]
    nl = data.rfind(b"\n", 0, n)
    return data[: nl + 1] if nl > n // 2 else data[:n]


def read_spec(spec: str, *, at_newline: bool = False) -> tuple[str, bytes, int | None]:
    """``PATH`` or ``PATH:N``: (PATH, its bytes cut to N, N or None). The benches that take
    ``PATH:N`` have always cut a plain prefix, hence ``at_newline=False`` by default."""
    path, _, n = spec.rpartition(":")
    if not path or not n.isdigit():
        path, n = spec, ""
    limit = int(n) if n else None
    return path, cut(Path(path).read_bytes(), limit, at_newline=at_newline), limit


def corpus_path(name: str) -> Path:
    """``corpora/NAME``, or SystemExit saying how to fetch it (bench's counterpart of
    tests/_corpus.py, without pytest)."""
    path = CORPORA / name
    if not path.is_file():
        raise SystemExit(f"corpus file {name} not fetched: run python corpora/fetch.py "
                         f"--from ../shared/corpora/canterbury")
    return path


# -- running a command ------------------------------------------------------------------

def nacz_cmd(*args: str) -> list[str]:
    """The nacz CLI of this interpreter, with ``args``."""
    return [sys.executable, "-m", "nacz", *args]


@dataclass
class Ran:
    stdout: bytes
    seconds: float
    returncode: int = 0
    stderr: bytes = b""
    peak_rss: int = 0  # bytes, of that process alone (with rss=True)


def run(cmd: list[str], data: bytes | None = b"", *, cwd=None, check: bool = True,
        timeout: float | None = None, rss: bool = False, env=None) -> Ran:
    """Run ``cmd`` with ``data`` on stdin; wall clock around the process, start-up
    included. ``check``: a non-zero exit raises SystemExit with the command and the end
    of its stderr. ``rss``: also the peak RSS of that process (os.wait4)."""
    if rss:
        return _run_rss(cmd, data, cwd=cwd, check=check, env=env)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, input=data, capture_output=True, cwd=cwd, timeout=timeout,
                       env=env)
    secs = time.perf_counter() - t0
    if check and p.returncode:
        _fail(cmd, p.stderr)
    return Ran(p.stdout, secs, p.returncode, p.stderr)


def _fail(cmd, stderr: bytes):
    raise SystemExit(f"{shlex.join(map(str, cmd))} failed: "
                     f"{stderr.decode(errors='replace').strip()[-2000:]}")


def _run_rss(cmd, data, *, cwd, check, env) -> Ran:
    import tempfile

    with tempfile.TemporaryFile() as src, tempfile.TemporaryFile() as dst, \
            tempfile.TemporaryFile() as err:
        src.write(data or b"")
        src.seek(0)
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdin=src, stdout=dst, stderr=err, cwd=cwd, env=env)
        _, status, usage = os.wait4(p.pid, 0)  # wait4: this child's own rusage
        secs = time.perf_counter() - t0
        code = os.waitstatus_to_exitcode(status)
        p.returncode = code
        err.seek(0)
        stderr = err.read()
        if check and code:
            _fail(cmd, stderr)
        dst.seek(0)
        return Ran(dst.read(), secs, code, stderr, usage.ru_maxrss * 1024)


def round_trip(compress: list[str], decompress: list[str], data: bytes, *, cwd=None,
               what: str = "") -> tuple[int, float, float]:
    """(compressed bytes, compress s, decompress s), the round trip checked byte for byte."""
    packed = run(compress, data, cwd=cwd)
    back = run(decompress, packed.stdout, cwd=cwd)
    if back.stdout != data:
        raise SystemExit(f"{what or compress[0]} round trip FAILED")
    return len(packed.stdout), packed.seconds, back.seconds


# -- results ----------------------------------------------------------------------------

#: the keys every results record has, in this order (None where a bench has no value)
KEYS = ("bench", "file", "tool", "bytes_in", "bytes_out", "bits_per_byte",
        "seconds_compress", "seconds_decompress", "date", "machine")


def machine() -> str:
    return f"{platform.node()} {platform.machine()} {len(os.sched_getaffinity(0))} cores"


def record(bench: str, file: str, tool: str | None, bytes_in: int | None,
           bytes_out: int | None = None, seconds_compress: float | None = None,
           seconds_decompress: float | None = None, **extra) -> dict:
    """One measurement: the fixed KEYS first, then the bench's own fields."""
    bpb = 8 * bytes_out / max(1, bytes_in) if bytes_out is not None and bytes_in else None
    rec = dict(bench=bench, file=file, tool=tool, bytes_in=bytes_in, bytes_out=bytes_out,
               bits_per_byte=bpb, seconds_compress=seconds_compress,
               seconds_decompress=seconds_decompress,
               date=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
               machine=machine())
    rec.update(extra)
    return rec


def write_record(path: str | Path | None, rec: dict) -> None:
    """Append ``rec`` as one JSON line to ``path`` (nothing when ``path`` is None)."""
    if path is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(rec) + "\n")


def read_records(*paths: str | Path) -> list[dict]:
    return [json.loads(line) for p in paths for line in Path(p).read_text().splitlines()
            if line.strip()]
