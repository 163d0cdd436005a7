"""Writes the golden files of tests/test_golden_files.py (regenerate only on purpose).

The committed files were written by the code of commit 842d24e (before issue 18's
restructuring), run as ``PYTHONPATH=<that checkout, with coder/ and formats/ copied into
nacz/> python tests/golden/make_golden.py tests/golden``; later code must decode them and
write them again byte for byte. The inputs are made here, from this text (no corpus data).

The configs are spelled out in full (``_P3``, the defaults of 2026-12-01 that those files
were written with), so the table still names them after the defaults move. The files of
``later`` were written by the commit that added them (its message says which), with
``python tests/golden/make_golden.py tests/golden NAME ...``: only the files named are
written, and the manifest keeps the others' entries.
"""
import hashlib
import json
import struct
import sys

from nacz.api import Codec
from nacz.config import CodecConfig, Predictor

text = ("Golden inputs for nacz. Each file below was written by the code of commit 842d24e,\n"
        "before the predictors became components and the codec was split, and must decode\n"
        "bit for bit with every later version. The quick brown fox jumps over the lazy dog;\n"
        "the quick brown fox jumps over the lazy dog again, and a third time: the quick\n"
        "brown fox jumps over the lazy dog.\n").encode()
crlf = (text * 24).replace(b"\n", b"\r\n")
mixed = text * 3 + bytes(range(256)) * 3 + text * 3
_P3 = CodecConfig(model_gate=1, offmodel=0)  # config preset 3, the defaults of 2026-12-01
cases = {
    "default.nacz": (text, _P3),
    "sharded.nacz": (text * 3, _P3.replace(min_shard_tokens=40, model_gate=0)),
    "llm-alone.nacz": (text, _P3.replace(predictors=0)),
    "unshared-skip-temp.nacz": (text * 2, _P3.replace(predictors=Predictor.ALL, skip_min_match=6,
                                                      skip_confidence=0.6, temperature=0.8,
                                                      min_shard_tokens=60)),
    "crlf-folded.nacz": (crlf, _P3.replace(model_gate=0)),
    "mixed-binary.nacz": (mixed, _P3.replace(block_size=2048, model_gate=0)),
}
# Written later, by the commit that added them (issue 32: context mixing off the model).
table = b"".join(struct.pack("<IHhf", i * 37, (i * i) % 65521, -i, i / 7) for i in range(400))
later = {
    "router-default.nacz": (text, CodecConfig(model_gate=3, offmodel=1)),  # config preset 12
    "cm-ppmd-text.nacz": (text * 3, CodecConfig(model_gate=2, offmodel=1)),  # level 1: PPMd
    "cm-zpaq-table.nacz": (table, CodecConfig(model_gate=2, offmodel=1)),  # level 1: ZPAQ
}
cases.update(later)
codec = Codec(threads=1)
wanted = sys.argv[2:] or list(cases)
try:
    out = json.load(open(f"{sys.argv[1]}/MANIFEST.json"))
except FileNotFoundError:
    out = {}
for name, (data, cfg) in cases.items():
    if name not in wanted:
        continue
    blob = codec.compress(data, cfg)
    assert codec.decompress(blob) == data
    open(f"{sys.argv[1]}/{name}", "wb").write(blob)
    out[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                 "file_sha256": hashlib.sha256(blob).hexdigest()}
json.dump(out, open(f"{sys.argv[1]}/MANIFEST.json", "w"), indent=1, sort_keys=True)
print(json.dumps(out, indent=1))
