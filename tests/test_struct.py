"""The structure contexts (``Predictor.STRUCT``): token table, line and column tracking, config
field 14, and bit-for-bit round trips with a golden digest, on the fake backend."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from _fake_backend import FakeBackend, synthetic_streams

from nacz import components as C
from nacz.codec import cdf_cost, decode_streams, encode_streams, token_models
from nacz.config import (
    DEFAULT_PREDICTORS,
    STRUCT_KINDS,
    CodecConfig,
    Predictor,
    config_from_fields,
    config_to_fields,
)
from nacz.errors import ConfigError, UsageError
from nacz.predictors import Predictors
from nacz.tokenizer import vocabulary_bytes

STRUCT_ALL = CodecConfig(predictors=DEFAULT_PREDICTORS | Predictor.STRUCT,
                         struct_contexts=tuple(STRUCT_KINDS.values()))


@pytest.fixture(scope="module")
def fake():
    return FakeBackend()


def _byte_ids(fake, text: bytes) -> np.ndarray:
    """``text`` as single-byte ids of the fake vocabulary (escape ids where it has none)."""
    index = {b: i for i, b in enumerate(vocabulary_bytes(fake)) if len(b) == 1}
    return np.array([index.get(bytes([c]), fake.n_vocab + c) for c in text], dtype=np.int64)


def _log_text(lines: int) -> bytes:
    return b"".join(b"2025-06-%02d 14:%02d:%02d status installed pkg-%s:amd64 %d.%d\n"
                    % (1 + i // 40, i % 60, (7 * i) % 60, b"abcdef"[i % 6:i % 6 + 2], i, i % 9)
                    for i in range(lines))


def test_token_table_describes_each_id():
    vocab = [b"ab", b"\n", b"x\n  ", b"123", b" 42", b"3f0a", b"dead", b"<", b"</", b"a<b"]
    tt = C.new_token_table(vocab)
    n = len(vocab)
    assert len(tt.length) == n + 256  # then the 256 escaped bytes
    assert list(tt.length[:n]) == [len(b) for b in vocab]
    assert list(tt.tail[:4]) == [-1, 0, 2, -1]
    assert tt.tail[n + 10] == 0 and tt.tail[n + 65] == -1  # escaped '\n', 'A'
    assert list(tt.klass[:n]) == [0, 0, 0, 1, 2, 3, 0, 0, 0, 0]
    assert list(tt.opens[:n]) == [0, 0, 0, 0, 0, 0, 0, 1, 1, 0]
    assert bytes(tt.data[tt.offsets[2]:tt.offsets[3]]) == b"x\n  "


def test_the_id_above_follows_the_column():
    vocab = [b"ab", b",", b"cd", b"\n", b"e", b"f", b"gh", b"\nab"]
    tt = C.new_token_table(vocab)
    cfg = CodecConfig(predictors=Predictor.ALL | Predictor.STRUCT)
    pr = Predictors(len(vocab), cfg, token_table=tt)
    st = pr.state.struct.state
    ring = pr.state.history.ring
    # line 0: "ab,cd\n"; line 1: "e" "f" "," "gh" -> columns 0, 1, 2, 3
    seen = []
    for tok in [0, 1, 2, 3, 4, 5, 1, 6]:
        pr.update(tok)
        seen.append((int(st[0]["col"]), vocab[ring[st[0]["above"]]]))
    assert seen[3:] == [(0, b"ab"), (1, b"ab"), (2, b","), (3, b"cd"), (5, b"\n")]
    # a line feed inside a token: "\nab" starts the next line at column 2
    pr.update(7)
    assert int(st[0]["col"]) == 2 and vocab[ring[st[0]["above"]]] == b","


def test_struct_config_is_recorded_in_field_14():
    fields = config_to_fields(STRUCT_ALL)
    assert fields[14] == bytes([7, 1, 2, 3, 4, 5, 6, 7])
    assert config_from_fields(fields) == STRUCT_ALL
    plain = config_to_fields(CodecConfig())
    assert 14 not in plain
    with pytest.raises(ConfigError, match="lacks the structure contexts"):
        config_from_fields({k: v for k, v in fields.items() if k != 14})
    with pytest.raises(ConfigError, match="no 'struct' predictor"):
        config_from_fields({**plain, 14: b"\x01\x01"})
    with pytest.raises(ConfigError, match="wrong length"):
        config_from_fields({**fields, 14: b"\x03\x01"})
    with pytest.raises(ConfigError, match="out of range"):
        config_from_fields({**fields, 14: b"\x01\x63"})  # kind 99 does not exist
    with pytest.raises(UsageError, match="distinct kinds"):
        CodecConfig(predictors=Predictor.ALL | Predictor.STRUCT, struct_contexts=(1, 1))
    with pytest.raises(UsageError, match="at most 12"):
        CodecConfig(predictors=Predictor.ALL | Predictor.STRUCT, ngram_orders=(1, 2, 3, 4, 5, 6),
                    struct_contexts=tuple(STRUCT_KINDS.values()))


def test_predictors_refuse_struct_without_a_token_table():
    with pytest.raises(ValueError, match="token table"):
        Predictors(400, STRUCT_ALL)
    with pytest.raises(ValueError, match="not this vocabulary's"):
        Predictors(400, STRUCT_ALL, token_table=C.new_token_table([b"a"] * 10))


def _digest(payloads) -> str:
    h = hashlib.sha256()
    for p in payloads:
        h.update(len(p).to_bytes(8, "little") + p)
    return h.hexdigest()


#: name -> (config, SHA-256 of the payloads of the log text and the synthetic streams), made
#: by the commit that added the structure contexts; regenerate only on purpose. The unshared
#: config takes the parallel step (nacz.predictors.StepPredictors), the shared one does not.
GOLDEN = {
    "struct-all-shared": (STRUCT_ALL,
        "40951cb9d5714167f19322233a165150bec303a42d5471499edc181178dfe940"),
    "struct-unshared": (CodecConfig(predictors=Predictor.ALL | Predictor.STRUCT,
                                    struct_contexts=(4, 2)),
        "c5c43e063729214a5a803362a5f32e7914aebccb80ce5626d440974863eeed20"),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_struct_round_trip_and_golden(fake, name):
    cfg, golden = GOLDEN[name]
    streams = [_byte_ids(fake, _log_text(40)), *synthetic_streams(fake.n_vocab, (900, 1))]
    payloads = encode_streams(fake, streams, cfg)
    decoded = decode_streams(fake, [len(s) for s in streams], payloads, cfg)
    for a, b in zip(streams, decoded):
        assert np.array_equal(a, b)
    assert _digest(payloads) == golden


def _cost(fake, ids: np.ndarray, cfg: CodecConfig) -> float:
    models = token_models(fake, 1, cfg)
    bits, prev = 0.0, 0
    for step, tok in enumerate(ids):
        tok = int(tok)
        if tok < fake.n_vocab:
            logits = fake.table[prev % 97] * np.float32(1 + step % 5)
            bits += cdf_cost(models.cdf(0, logits), tok)
        models.update(0, tok)
        prev = tok
    return bits


def test_struct_contexts_lower_the_cost_of_records(fake):
    ids = _byte_ids(fake, _log_text(60))
    without = _cost(fake, ids, CodecConfig())
    with_struct = _cost(fake, ids, CodecConfig(predictors=DEFAULT_PREDICTORS | Predictor.STRUCT))
    assert with_struct < 0.97 * without, (with_struct, without)


# -- with the real model -----------------------------------------------------------------

from _corpus import corpus_path  # noqa: E402


def test_struct_round_trip_on_real_text(codec):
    """xargs.1 (a troff manual: commands at line starts) and cp.html (markup), 3 KiB each,
    with every structure context, one file: the decoder rebuilds the config from field 14."""
    import nacz

    data = corpus_path("xargs.1").read_bytes()[:3072] + corpus_path("cp.html").read_bytes()[:3072]
    blob = codec.compress(data, STRUCT_ALL.replace(model_gate=0))
    assert codec.decompress(blob) == data
    import io

    assert nacz.read_info(io.BytesIO(blob)).config.struct_contexts == STRUCT_ALL.struct_contexts


def test_cli_struct_contexts(nacz_cli, tmp_path):
    import json

    data = corpus_path("grammar.lsp").read_bytes()[:2048]
    r = nacz_cli("compress", "--struct-contexts", "masked8,column", "--model-gate", "0",
                 input=data)
    assert r.returncode == 0, r.stderr
    (tmp_path / "s.nacz").write_bytes(r.stdout)
    back = nacz_cli("decompress", "-c", "s.nacz")
    assert back.returncode == 0 and back.stdout == data
    cfg = json.loads(nacz_cli("info", "--json", "s.nacz").stdout)["config"]
    assert cfg["predictors"].endswith("shared,struct")
    assert cfg["struct_contexts"] == "masked8,column"
    r = nacz_cli("compress", "--struct-contexts", "masked8,rows", input=data)
    assert r.returncode == 2 and "unknown structure context 'rows'" in r.stderr
    r = nacz_cli("compress", "--predictors", "none", "--struct-contexts", "word", input=data)
    assert r.returncode == 2 and "needs predictors" in r.stderr
    r = nacz_cli("compress", "--model-gate", "0", input=data[:200])
    (tmp_path / "p.nacz").write_bytes(r.stdout)
    plain = json.loads(nacz_cli("info", "--json", "p.nacz").stdout)["config"]
    assert "struct" not in plain["predictors"] and "struct_contexts" not in plain
