"""Writes the golden files of tests/test_golden_files.py (regenerate only on purpose).

The committed files were written by the code of commit 842d24e (before issue 18's
restructuring), run as ``PYTHONPATH=<that checkout, with coder/ and formats/ copied into
nacz/> python tests/golden/make_golden.py tests/golden``; later code must decode them and
write them again byte for byte. The inputs are made here, from this text (no corpus data).
"""
import hashlib
import json
import sys

from nacz.api import Codec
from nacz.config import PRED_ALL, CodecConfig

text = ("Golden inputs for nacz. Each file below was written by the code of commit 842d24e,\n"
        "before the predictors became components and the codec was split, and must decode\n"
        "bit for bit with every later version. The quick brown fox jumps over the lazy dog;\n"
        "the quick brown fox jumps over the lazy dog again, and a third time: the quick\n"
        "brown fox jumps over the lazy dog.\n").encode()
crlf = (text * 24).replace(b"\n", b"\r\n")
mixed = text * 3 + bytes(range(256)) * 3 + text * 3
cases = {
    "default.nacz": (text, CodecConfig()),
    "sharded.nacz": (text * 3, CodecConfig(min_shard_tokens=40, model_gate=0)),
    "llm-alone.nacz": (text, CodecConfig(predictors=0)),
    "unshared-skip-temp.nacz": (text * 2, CodecConfig(predictors=PRED_ALL, skip_min_match=6,
                                                       skip_confidence=0.6, temperature=0.8,
                                                       min_shard_tokens=60)),
    "crlf-folded.nacz": (crlf, CodecConfig(model_gate=0)),
    "mixed-binary.nacz": (mixed, CodecConfig(block_size=2048, model_gate=0)),
}
codec = Codec(threads=1)
out = {}
for name, (data, cfg) in cases.items():
    blob = codec.compress(data, cfg)
    assert codec.decompress(blob) == data
    open(f"{sys.argv[1]}/{name}", "wb").write(blob)
    out[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                 "file_sha256": hashlib.sha256(blob).hexdigest()}
json.dump(out, open(f"{sys.argv[1]}/MANIFEST.json", "w"), indent=1, sort_keys=True)
print(json.dumps(out, indent=1))
