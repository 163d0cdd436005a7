"""Exact tokenization with the real model's vocabulary and tokenizer."""

from __future__ import annotations

import numpy as np
import pytest

from nacz.tokenizer import bytes_to_unicode

EDGE_CASES = {
    "empty": b"",
    "one byte": b"x",
    "all 256 byte values": bytes(range(256)),
    "invalid utf-8": b"caf\xe9 \xff\xfe\x80 ok \xc3\x28 \xed\xa0\x80 end",
    "300 spaces": b" " * 300,
    "crlf": b"line one\r\nline two\r\n\r\n",
    "special tokens": b"<|endoftext|><|im_start|>user\nhi<|im_end|> <repo_name>",
    "nul bytes": b"\x00" * 1000,
    "long pieces": b"\n" + b" " * 48 + b"-" * 80 + b"#" * 64 + b"=" * 70,
    "tokenless controls": b"a\x04b\x06c\x13d\x14e\x16f\x1dg",
}


def test_bytes_to_unicode_is_a_bijection():
    t = bytes_to_unicode()
    assert sorted(t) == list(range(256))
    assert len(set(t.values())) == 256


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases_round_trip(codec, name):
    data = EDGE_CASES[name]
    tok = codec.tokenizer
    ids = tok.encode(data)
    assert tok.decode(ids) == data


def test_special_strings_are_text(codec):
    ids = codec.tokenizer.encode(b"<|endoftext|>")
    assert 0 not in ids.tolist()  # not the control token
    assert len(ids) > 1


def test_every_vocabulary_token_has_bytes(codec):
    tok = codec.tokenizer
    assert all(len(b) > 0 for b in tok.token_bytes[: tok.n_vocab])


def test_bytes_without_token_become_escape_ids(codec):
    tok = codec.tokenizer
    ids = tok.encode(bytes(range(256)))
    escaped = sorted(int(i) - tok.n_vocab for i in ids if i >= tok.n_vocab)
    assert escaped  # this vocabulary lacks some single-byte tokens
    for b in escaped:
        assert tok.token_bytes[b + tok.n_vocab] == bytes([b])


def test_long_whitespace_token_survives(codec):
    # Token 9225 is newline + 48 spaces: llama.cpp's detokenizer drops such pieces.
    tok = codec.tokenizer
    assert tok.token_bytes[9225] == b"\n" + b" " * 48
    assert tok.decode(np.array([9225, 9225])) == (b"\n" + b" " * 48) * 2


def test_random_bytes_round_trip(codec):
    rng = np.random.default_rng(7)
    tok = codec.tokenizer
    for n in (1, 17, 1000, 5000):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert tok.decode(tok.encode(data)) == data
