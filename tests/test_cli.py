"""CLI behaviour: streams kept apart, errors as one line, files handled safely."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nacz.formats import MAGIC

TEXT = b"It was the best of times, it was the worst of times.\n" * 3


def _one_line_error(r):
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


def test_import_is_light():
    code = (
        "import sys, nacz; "
        "assert 'numba' not in sys.modules and 'llama_cpp' not in sys.modules, sys.modules.keys(); "
        "print(nacz.__version__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr


def test_compress_lists_its_options_in_the_order_they_always_had():
    # nacz.cli builds the bitstream options from CodecConfig's metadata; their ranks keep
    # the order of the hand-written options of 2026-12-04 around --level/--fast/--best.
    from nacz.cli import cli

    flags = [p.opts[-1] for p in cli.commands["compress"].params if p.opts[-1].startswith("-")]
    assert flags == [
        "--rm", "--ray", "--gpus", "--workers", "--threads", "--model", "--output",
        "--stdout", "--force", "--quiet", "--window", "--temperature", "--max-streams",
        "--min-shard-tokens", "--block-size", "--predictors", "--struct-contexts",
        "--layout", "--model-gate", "--offmodel", "--level", "--fast", "--best",
        "--bias-rate", "--skip-min-match",
    ]


def test_pipe_filter_and_clean_stdout(nacz_cli, tmp_path):
    r = nacz_cli("compress", input=TEXT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(MAGIC)
    f = tmp_path / "t.txt"
    f.write_bytes(TEXT)
    r2 = nacz_cli("compress", "-c", str(f))
    assert r2.stdout == r.stdout  # nothing but the payload on stdout
    r3 = nacz_cli("decompress", "-", input=r.stdout)
    assert r3.returncode == 0 and r3.stdout == TEXT


def test_file_mode_names_keep_input_and_refuse_overwrite(nacz_cli, tmp_path):
    f = tmp_path / "t.txt"
    f.write_bytes(TEXT)
    r = nacz_cli("compress", "t.txt")
    assert r.returncode == 0, r.stderr
    assert f.read_bytes() == TEXT
    packed = tmp_path / "t.txt.nacz"
    first = packed.read_bytes()
    r = nacz_cli("compress", "t.txt")
    assert r.returncode == 1
    assert "already exists" in _one_line_error(r)
    r = nacz_cli("compress", "-f", "t.txt")
    assert r.returncode == 0 and packed.read_bytes() == first
    r = nacz_cli("decompress", "t.txt.nacz")
    assert r.returncode == 1 and "already exists" in _one_line_error(r)
    r = nacz_cli("decompress", "t.txt.nacz", "-o", "back.txt")
    assert r.returncode == 0 and (tmp_path / "back.txt").read_bytes() == TEXT
    assert packed.read_bytes() == first


def test_outputs_keep_the_inputs_permissions_and_times(nacz_cli, tmp_path):
    """As with xz and zstd: a file written from a file takes its mode and modification time."""
    import os

    f = tmp_path / "t.txt"
    f.write_bytes(TEXT)
    os.chmod(f, 0o640)
    os.utime(f, ns=(1_500_000_000_123_456_789, 1_600_000_000_987_654_321))
    r = nacz_cli("compress", "t.txt")
    assert r.returncode == 0, r.stderr
    packed = tmp_path / "t.txt.nacz"
    assert packed.stat().st_mode & 0o777 == 0o640
    assert packed.stat().st_mtime_ns == 1_600_000_000_987_654_321
    os.chmod(packed, 0o604)
    os.utime(packed, ns=(1_400_000_000_000_000_000, 1_450_000_000_000_000_000))
    r = nacz_cli("decompress", "t.txt.nacz", "-o", "back.txt")
    assert r.returncode == 0, r.stderr
    back = tmp_path / "back.txt"
    assert back.read_bytes() == TEXT
    assert back.stat().st_mode & 0o777 == 0o604
    assert back.stat().st_mtime_ns == 1_450_000_000_000_000_000


def test_several_files_in_one_run(nacz_cli, tmp_path):
    """Like gzip and xz: each input gets its own output; decompress -c concatenates."""
    other = b"A second input, coded with the same loaded model.\n"
    (tmp_path / "a.txt").write_bytes(TEXT)
    (tmp_path / "b.txt").write_bytes(other)
    r = nacz_cli("compress", "a.txt", "b.txt")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b""
    assert [ln.split(":")[0] for ln in r.stderr.splitlines()] == ["a.txt", "b.txt"]
    r = nacz_cli("decompress", "-c", "a.txt.nacz", "b.txt.nacz")
    assert r.returncode == 0, r.stderr
    assert r.stdout == TEXT + other
    r = nacz_cli("test", "a.txt.nacz", "b.txt.nacz")
    assert r.returncode == 0 and r.stderr.splitlines() == ["a.txt.nacz: OK", "b.txt.nacz: OK"]


def test_one_bad_file_among_several(nacz_cli, tmp_path):
    """A failing input is reported by name and the others are still done; the status is
    non-zero and the bad input leaves no output."""
    (tmp_path / "a.txt").write_bytes(TEXT)
    assert nacz_cli("compress", "a.txt").returncode == 0
    (tmp_path / "a.txt").rename(tmp_path / "a.orig")
    (tmp_path / "bad.nacz").write_bytes(MAGIC + b"\x03 not really")
    (tmp_path / "c.txt.nacz").write_bytes((tmp_path / "a.txt.nacz").read_bytes())
    r = nacz_cli("decompress", "a.txt.nacz", "bad.nacz", "c.txt.nacz")
    assert r.returncode == 1
    assert _one_line_error(r).startswith("nacz: error: bad.nacz: ")
    assert (tmp_path / "a.txt").read_bytes() == TEXT
    assert (tmp_path / "c.txt").read_bytes() == TEXT
    assert not (tmp_path / "bad").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_model_that_cannot_load_stops_a_run_of_several_inputs(nacz_cli, tmp_path):
    """Reported once, not once per input; no input is touched and no output is left."""
    (tmp_path / "a.txt").write_bytes(TEXT)
    (tmp_path / "b.txt").write_bytes(TEXT)
    (tmp_path / "not-a-model.gguf").write_bytes(b"this is not a GGUF file\n")
    r = nacz_cli("compress", "--model", "not-a-model.gguf", "a.txt", "b.txt")
    assert r.returncode == 1 and r.stdout == b""
    assert "not a GGUF model file" in _one_line_error(r)
    r = nacz_cli("compress", "--gpus", "x", "a.txt", "b.txt")
    assert r.returncode == 2 and "--gpus takes device numbers" in _one_line_error(r)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt", "not-a-model.gguf"]
    assert (tmp_path / "a.txt").read_bytes() == TEXT


@pytest.mark.parametrize("args", [
    ("compress", "-c", "a", "b"),
    ("compress", "-o", "x", "a", "b"),
    ("decompress", "-o", "x", "a.nacz", "b.nacz"),
    ("decompress", "-", "a.nacz"),
])
def test_several_inputs_refuse_a_single_output(nacz_cli, args):
    r = nacz_cli(*args)
    assert r.returncode == 2 and r.stdout == b""
    assert "one input" in _one_line_error(r) or "only input" in r.stderr


def test_bad_input_one_line_errors(nacz_cli, tmp_path):
    (tmp_path / "junk.nacz").write_bytes(b"hello world")
    r = nacz_cli("decompress", "junk.nacz")
    assert r.returncode == 1 and "not a nacz file" in _one_line_error(r)
    assert not (tmp_path / "junk").exists()
    r = nacz_cli("decompress", "missing.nacz")
    assert r.returncode == 1 and "missing.nacz" in _one_line_error(r)
    (tmp_path / "plain").write_bytes(b"x")
    r = nacz_cli("decompress", "plain")
    assert r.returncode == 2 and "suffix" in _one_line_error(r)
    r = nacz_cli("compress", "--window", "3", "plain")
    assert r.returncode == 2


def test_corrupted_payload_is_refused(nacz_cli, tmp_path):
    r = nacz_cli("compress", input=TEXT)
    blob = bytearray(r.stdout)
    blob[-3] ^= 0x10
    (tmp_path / "bad.nacz").write_bytes(bytes(blob))
    r = nacz_cli("decompress", "bad.nacz")
    assert r.returncode == 1
    assert "checksum" in _one_line_error(r)
    assert not (tmp_path / "bad").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.nacz"]  # no temp files left
    blob2 = bytearray(nacz_cli("compress", input=TEXT).stdout)
    blob2[30] ^= 0x01  # inside the header
    r = nacz_cli("decompress", "-c", input=bytes(blob2))
    assert r.returncode == 1 and r.stdout == b""
    assert "checksum" in _one_line_error(r)


def test_wrong_model_is_refused_naming_both(nacz_cli, tmp_path):
    from nacz.model_file import default_model_path

    r = nacz_cli("compress", input=TEXT)
    (tmp_path / "t.nacz").write_bytes(r.stdout)
    other = tmp_path / "other-model.gguf"
    raw = bytearray(default_model_path().read_bytes())
    raw[-1] ^= 0xFF  # same size and format, different content
    other.write_bytes(bytes(raw))
    r = nacz_cli("decompress", "--model", str(other), "t.nacz")
    assert r.returncode == 1
    msg = _one_line_error(r)
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in msg and "other-model.gguf" in msg
    assert not (tmp_path / "t").exists()


def rec_of(nacz_cli, tmp_path, *options):
    """``info --json`` of TEXT compressed with ``options``, after checking its round trip."""
    import json

    r = nacz_cli("compress", *options, input=TEXT)
    assert r.returncode == 0, r.stderr
    (tmp_path / "o.nacz").write_bytes(r.stdout)
    assert nacz_cli("decompress", "-c", "o.nacz").stdout == TEXT
    return json.loads(nacz_cli("info", "--json", "o.nacz").stdout)


def test_info_and_test_commands(nacz_cli, tmp_path):
    r = nacz_cli("compress", input=TEXT)
    (tmp_path / "t.nacz").write_bytes(r.stdout)
    r = nacz_cli("info", "--json", "t.nacz")
    assert r.returncode == 0, r.stderr
    import json

    rec = json.loads(r.stdout)
    assert rec["original_bytes"] == len(TEXT)
    # version 3 records no name for the bundled model; info still gives it
    assert rec["model"] == "SmolLM2-135M-Instruct.Q4_1.gguf" and rec["model_bundled"] is True
    assert len(rec["model_sha256_prefix"]) == 16
    assert rec["config"]["window"] > 0
    assert rec["config"]["predictors"] == "bias,ngram,match,temp,apm,unigram,shared"
    assert rec["config"]["rate_bias"] == 0.08
    r = nacz_cli("compress", "--predictors", "bias,match", "--bias-rate", "0.05", input=TEXT)
    assert r.returncode == 0, r.stderr
    (tmp_path / "u.nacz").write_bytes(r.stdout)
    rec = json.loads(nacz_cli("info", "--json", "u.nacz").stdout)
    assert rec["config"]["predictors"] == "bias,match" and rec["config"]["rate_bias"] == 0.05
    assert nacz_cli("decompress", "-c", "u.nacz").stdout == TEXT
    r = nacz_cli("compress", "--predictors", "bias,magic", input=TEXT)
    assert r.returncode == 2 and "unknown predictor 'magic'" in r.stderr
    # --best: one stream, window 8192, unless told otherwise; --layout: recorded folds
    cfg = rec_of(nacz_cli, tmp_path, "--best")["config"]
    assert (cfg["window"], cfg["max_streams"], cfg["layout"]) == (8192, 1, 15)
    cfg = rec_of(nacz_cli, tmp_path, "--best", "--window", "4096", "--layout", "crlf,wrap")["config"]
    assert (cfg["window"], cfg["max_streams"], cfg["layout"]) == (4096, 1, 3)
    r = nacz_cli("compress", "--layout", "crlf,tabs", input=TEXT)
    assert r.returncode == 2 and "unknown layout fold 'tabs'" in r.stderr
    r = nacz_cli("test", "t.nacz")
    assert r.returncode == 0 and r.stdout == b""
