"""Files written by earlier code decode, and are written again byte for byte.

``tests/golden/*.nacz`` were written by commit 842d24e (``tests/golden/make_golden.py``
says how); the inputs are rebuilt here from the same definitions. Regenerate them only on
purpose, never to make this test pass.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

import nacz

GOLDEN = Path(__file__).parent / "golden"
MANIFEST = json.loads((GOLDEN / "MANIFEST.json").read_text())


@pytest.fixture(scope="module")
def cases():
    # the generator's case table, without running its main part
    src = (GOLDEN / "make_golden.py").read_text()
    table = src.split("codec = Codec(")[0]
    scope: dict = {}
    exec(compile(table, str(GOLDEN / "make_golden.py"), "exec"), scope)
    return scope["cases"]


def test_manifest_lists_every_file():
    assert sorted(MANIFEST) == sorted(p.name for p in GOLDEN.glob("*.nacz"))
    assert len(MANIFEST) >= 6


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_golden_file_decodes_and_is_rewritten_byte_for_byte(codec, cases, name):
    blob = (GOLDEN / name).read_bytes()
    want = MANIFEST[name]
    assert hashlib.sha256(blob).hexdigest() == want["file_sha256"]
    data, cfg = cases[name]
    assert hashlib.sha256(data).hexdigest() == want["sha256"]
    assert codec.decompress(blob) == data
    info = nacz.read_info(io.BytesIO(blob))
    assert info.config == cfg
    assert codec.compress(data, info.config) == blob
