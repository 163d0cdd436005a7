"""Issue 19's device check, the measuring half (``bench/device_check.sh`` sets up the builds).

    python -m bench device_check roundtrip OUT [--gpus 0] [--bytes N] TEXT...
    python -m bench device_check streams OUT [--gpus 0] --streams 16,64,256 [--bytes N] TEXT
    python -m bench device_check portability OUT DIR
    python -m bench device_check refusal OUT DIR

Every step appends rows to ``OUT/<step>.tsv`` (a header line first), each row naming the
llama.cpp build in use (``NACZ_DC_BUILD``: cpu or gpu), and runs nacz as a user does:
``python -m nacz`` in a subprocess, wall clock with start-up.

- ``roundtrip``: compress and decompress each TEXT (its first N bytes, cut at a line end),
  checked byte for byte; the compressed files go to ``OUT/made/`` (or ``NACZ_DC_MADE``)
  with a MANIFEST.json
  (the format of tests/golden/MANIFEST.json) for ``refusal`` to use on another build.
- ``streams``: one TEXT coded as exactly S shards in one lockstep group, for each S
  (``--max-streams S --min-shard-tokens tokens//S``), both ways, beside the model's raw
  batched forward rate on the same shards measured right after (no coding).
- ``portability``: decode every ``.nacz`` in DIR (made on another machine) and compare with
  the SHA-256 its MANIFEST.json records: bit-exact, refused (exit 1, no output), or WRONG.
- ``refusal``: the same over files that must be refused here (GPU-made files on the CPU
  build): passes when nacz exits 1 with the numerics message and writes no byte.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

BUILD = os.environ.get("NACZ_DC_BUILD", "cpu")

COLUMNS = {
    "roundtrip": ["build", "gpus", "text", "bytes", "compressed", "bits_per_byte",
                  "compress_s", "decompress_s", "exact"],
    "streams": ["build", "gpus", "text", "predictors", "streams", "min_shard_tokens", "tokens",
                "bytes",
                "bits_per_byte", "compress_s", "decompress_s", "tokens_per_s_c",
                "tokens_per_s_d", "kb_per_s_c", "kb_per_s_d", "raw_tokens_per_s", "exact"],
    "portability": ["build", "file", "result", "seconds", "message"],
    "refusal": ["build", "file", "result", "seconds", "message"],
}


def nacz(args: list[str], data: bytes = b"") -> tuple[int, bytes, str, float]:
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "nacz", *args], input=data, capture_output=True,
                       cwd="/", timeout=3000)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace"), time.perf_counter() - t0


def cut(data: bytes, n: int | None) -> bytes:
    if n is None or len(data) <= n:
        return data
    end = data.rfind(b"\n", 0, n)
    return data[: end + 1] if end > 0 else data[:n]


def append(out: Path, step: str, row: dict) -> None:
    path = out / f"{step}.tsv"
    cols = COLUMNS[step]
    new = not path.exists()
    with open(path, "a") as f:
        if new:
            f.write("\t".join(cols) + "\n")
        f.write("\t".join(_cell(row[c]) for c in cols) + "\n")
    print(f"{step}: " + ", ".join(f"{c}={_cell(row[c])}" for c in cols[1:]), flush=True)


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v).replace("\t", " ").replace("\n", " ")


def gpu_args(gpus: str | None) -> list[str]:
    return ["--gpus", gpus] if gpus else []


def roundtrip(out: Path, texts: list[str], gpus: str | None, n_bytes: int | None) -> int:
    made = Path(os.environ.get("NACZ_DC_MADE") or out / "made")
    made.mkdir(parents=True, exist_ok=True)
    manifest_path = made / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    failed = 0
    for text in texts:
        data = cut(Path(text).read_bytes(), n_bytes)
        rc, blob, err, tc = nacz(["compress", "-c", "-q", *gpu_args(gpus)], data)
        if rc:
            raise SystemExit(f"compress {text} failed: {err.strip()}")
        rc, back, err, td = nacz(["decompress", "-c", "-q", *gpu_args(gpus)], blob)
        exact = rc == 0 and back == data
        failed += not exact
        name = f"{Path(text).name}.{BUILD}.nacz"
        (made / name).write_bytes(blob)
        manifest[name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                          "file_sha256": hashlib.sha256(blob).hexdigest()}
        append(out, "roundtrip", dict(build=BUILD, gpus=gpus or "-", text=Path(text).name,
                                      bytes=len(data), compressed=len(blob),
                                      bits_per_byte=8 * len(blob) / max(1, len(data)),
                                      compress_s=tc, decompress_s=td,
                                      exact="yes" if exact else f"NO ({err.strip()[:200]})"))
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return 1 if failed else 0


#: --modes: predictor settings of the streams step (``--predictors`` values). "shared" is the
#: default (one stream after another per step); "sync" computes a step's predictions in
#: parallel threads (Predictor.SYNC, issue 19 item 1), which is what a GPU's CPU side needs.
MODES = {"shared": "all", "sync": "all,sync"}


def streams(out: Path, text: str, counts: list[int], gpus: str | None, n_bytes: int | None,
            raw_steps: int, modes: list[str] = ("shared",)) -> int:
    from nacz.api import Codec

    data = cut(Path(text).read_bytes(), n_bytes)
    codec = Codec(gpus=tuple(int(g) for g in gpus.split(",")) if gpus else ())
    n_tokens = len(codec.tokenizer.encode(data))
    failed = 0
    for mode in modes:
        for s in counts:
            failed += _streams_row(out, codec, data, text, n_tokens, s, gpus, raw_steps, mode)
    return 1 if failed else 0


def _streams_row(out, codec, data, text, n_tokens, s, gpus, raw_steps, mode) -> int:
    # Run by path (device_check.sh), so the repository root is not on sys.path: put it
    # last, where bench.* is found and an installed nacz still comes before ./nacz.
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.append(root)
    from bench.throughput import codec_groups, raw_forward_rate

    from nacz.cli import parse_predictors
    from nacz.config import CodecConfig

    min_shard = max(1, n_tokens // s)
    cfg = CodecConfig(max_streams=s, min_shard_tokens=min_shard,
                      predictors=parse_predictors(MODES[mode]))
    opts = ["--max-streams", str(s), "--min-shard-tokens", str(min_shard),
            "--predictors", MODES[mode]]
    rc, blob, err, tc = nacz(["compress", "-c", "-q", *opts, *gpu_args(gpus)], data)
    if rc:
        raise SystemExit(f"compress with {s} streams ({mode}) failed: {err.strip()}")
    rc, back, err, td = nacz(["decompress", "-c", "-q", *gpu_args(gpus)], blob)
    exact = rc == 0 and back == data
    groups = codec_groups(codec, data, cfg)
    coded = sum(len(t) for g in groups for t in g)
    fed, seconds = raw_forward_rate(codec, groups, cfg, raw_steps)
    append(out, "streams", dict(
        build=BUILD, gpus=gpus or "-", text=Path(text).name, predictors=mode,
        streams=sum(map(len, groups)), min_shard_tokens=min_shard, tokens=coded,
        bytes=len(data), bits_per_byte=8 * len(blob) / len(data), compress_s=tc,
        decompress_s=td, tokens_per_s_c=coded / tc, tokens_per_s_d=coded / td,
        kb_per_s_c=len(data) / 1000 / tc, kb_per_s_d=len(data) / 1000 / td,
        raw_tokens_per_s=fed / seconds, exact="yes" if exact else "NO"))
    return 0 if exact else 1


def decode_each(out: Path, step: str, folder: Path) -> list[tuple[str, str, str]]:
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    results = []
    for name in sorted(manifest):
        blob = (folder / name).read_bytes()
        if hashlib.sha256(blob).hexdigest() != manifest[name]["file_sha256"]:
            raise SystemExit(f"{name}: the carried file is not the one its manifest names")
        rc, back, err, t = nacz(["decompress", "-c", "-q"], blob)
        if rc == 0 and hashlib.sha256(back).hexdigest() == manifest[name]["sha256"]:
            result, message = "bit-exact", ""
        elif rc == 0:
            result, message = "WRONG BYTES", f"{len(back)} bytes with exit status 0"
        elif not back:
            result, message = "refused", err.strip()
        else:
            result, message = f"failed after {len(back)} bytes", err.strip()
        append(out, step, dict(build=BUILD, file=name, result=result, seconds=t,
                               message=message))
        results.append((name, result, message))
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=sorted(COLUMNS))
    ap.add_argument("out")
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--gpus", default=None)
    ap.add_argument("--bytes", type=int, default=None)
    ap.add_argument("--streams", default="16,64,256")
    ap.add_argument("--modes", default="shared", help="comma list of " + ", ".join(MODES))
    ap.add_argument("--raw-steps", type=int, default=64)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.step == "roundtrip":
        return roundtrip(out, args.inputs, args.gpus, args.bytes)
    if args.step == "streams":
        return streams(out, args.inputs[0], [int(s) for s in args.streams.split(",")],
                       args.gpus, args.bytes, args.raw_steps, args.modes.split(","))
    results = decode_each(out, args.step, Path(args.inputs[0]))
    if args.step == "portability":
        return 0 if all(r in ("bit-exact", "refused") for _, r, _ in results) else 1
    # refusal: every file refused with the numerics message, before writing any byte
    ok = all(r == "refused" and "numerics" in m for _, r, m in results)
    return 0 if ok and results else 1


if __name__ == "__main__":
    sys.exit(main())
