"""bench/device_check.sh in its CPU mode: the parts of issue 19's device check that run on
this project's machines (the carried-file check against this machine, a round trip, a
streams row beside the raw rate, the result files). The GPU mode runs on a GPU machine."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _rows(path: Path) -> list[dict]:
    lines = path.read_text().splitlines()
    cols = lines[0].split("\t")
    return [dict(zip(cols, line.split("\t"))) for line in lines[1:]]


def test_device_check_cpu_mode(tmp_path):
    out = tmp_path / "dc"
    env = dict(os.environ, PYTHON=sys.executable, NACZ_DC_BYTES="1200", NACZ_DC_STREAMS="2",
               NACZ_DC_MODES="sync")  # the default mode runs in every other test
    env.pop("NACZ_DEBUG", None)
    p = subprocess.run(["bash", str(ROOT / "bench" / "device_check.sh"), "--cpu", str(out)],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=1800)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    names = {f.name for f in out.iterdir() if f.is_file()}
    assert {"log.txt", "env.txt", "portability.tsv", "roundtrip.tsv", "streams.tsv",
            "summary.md"} <= names and len(names) <= 8  # what the device tool brings back

    golden = json.loads((ROOT / "tests" / "golden" / "MANIFEST.json").read_text())
    portability = _rows(out / "portability.tsv")
    assert sorted(r["file"] for r in portability) == sorted(golden)
    assert all(r["result"] == "bit-exact" and r["build"] == "cpu" for r in portability)

    roundtrip = _rows(out / "roundtrip.tsv")
    assert len(roundtrip) == 2 and all(r["exact"] == "yes" for r in roundtrip)
    assert all(0 < float(r["bits_per_byte"]) < 4 for r in roundtrip)
    made = json.loads((out / "made" / "MANIFEST.json").read_text())
    assert sorted(made) == sorted(f"{r['text']}.cpu.nacz" for r in roundtrip)

    (streams,) = _rows(out / "streams.tsv")
    assert streams["streams"] == "2" and streams["exact"] == "yes"
    assert streams["predictors"] == "sync"
    assert float(streams["raw_tokens_per_s"]) > 0 and float(streams["tokens_per_s_c"]) > 0

    log = (out / "log.txt").read_text()
    assert "step refusal: skipped" in log and "failed steps: none" in log
    assert "| bit-exact |" in (out / "summary.md").read_text()
