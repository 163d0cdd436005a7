"""bench.peers' tables from result rows: the checks of issue 32 read the right tools."""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ is not installed; appended, not prepended, so the installed nacz still comes first
sys.path.append(str(Path(__file__).resolve().parent.parent))
from bench.common import record  # noqa: E402
from bench.peers import checks, table  # noqa: E402


def _rows(default, gate0, fast, ppmd, zpaq):
    sizes = {"nacz": default, "nacz-gate0": gate0, "nacz-1": fast, "ppmd16": ppmd,
             "zpaq-m5": zpaq}
    return [record("peers", "t.txt", tool, 4096, n, 1.0, 2.0) for tool, n in sizes.items()]


def test_checks_compare_the_default_with_the_better_of_gate0_and_fast():
    out = checks(_rows(1000, 980, 1500, 1400, 1600)).splitlines()
    assert out[2].split(" | ")[4:6] == ["1.020", "yes"]
    out = checks(_rows(1040, 1000, 1500, 1400, 1600)).splitlines()
    assert out[2].split(" | ")[4:6] == ["1.040", "**no**"]
    out = checks(_rows(1500, 1600, 1500, 1400, 1600)).splitlines()
    assert out[2].split(" | ")[-1] == "1.071 |"


def test_table_has_a_cell_for_every_tool():
    out = table(_rows(1000, 980, 1500, 1400, 1600)).splitlines()
    assert out[0].count("|") == 8  # input, bytes and five tools
    assert "1,000 B, 1.953, 1.0 / 2.0 s" in out[2]
