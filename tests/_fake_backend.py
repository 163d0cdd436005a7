"""A deterministic stand-in for :class:`nacz.backend.LlamaBackend`, with no llama.cpp.

Its logits depend only on the last token fed to a stream and that stream's position, the
way a real model's depend only on the stream's own tokens: encoder and decoder feed the
same tokens, so they see the same logits. The rows have a strongly preferred token, and a
sharpness that cycles with the position, so every LLM-confidence bucket of the predictors
is visited.
"""

from __future__ import annotations

import numpy as np

from nacz.tokenizer import ESCAPE_STANDIN_BYTE, bytes_to_unicode

#: Rows of the fake model's logit table; a token picks row ``token % _ROWS``.
_ROWS = 97
#: Sharpness per position (mod 7): from nearly flat to nearly certain.
_SCALES = np.array([0.2, 0.5, 1.0, 1.5, 2.5, 4.0, 8.0], dtype=np.float32)


def synthetic_vocabulary(n_vocab: int) -> list[bytes]:
    """Token texts as a GPT-2 vocabulary spells them: the 256 single bytes except a few
    (whose bytes then travel as escape ids), then two- and three-byte tokens."""
    enc = bytes_to_unicode()
    missing = {0x04, 0xC0, 0xFF}
    texts = [enc[b].encode() for b in range(256) if b not in missing]
    k = 0
    while len(texts) < n_vocab:
        a, b, c = 97 + k % 26, 97 + (k // 26) % 26, 32 + (k * 7) % 90
        texts.append(("".join(enc[x] for x in ((a, b) if k % 3 else (a, b, c)))).encode())
        k += 1
    return texts


class FakeStreams:
    def __init__(self, backend: "FakeBackend", n_streams: int):
        self._backend = backend
        self._pos = np.zeros(n_streams, dtype=np.int64)
        self._out = np.empty((n_streams, backend.n_vocab), dtype=np.float32)

    def advance(self, stream_ids, tokens, want_logits=None) -> np.ndarray:
        table = self._backend.table
        n_out = 0
        for k in range(len(stream_ids)):
            s = int(stream_ids[k])
            pos = int(self._pos[s])
            self._pos[s] += 1
            if want_logits is not None and not want_logits[k]:
                continue
            row = table[int(tokens[k]) % _ROWS]
            np.multiply(row, _SCALES[pos % len(_SCALES)], out=self._out[n_out])
            n_out += 1
        if n_out == 0:
            n_out = 1  # as llama.cpp: one row computed anyway, ignored by the caller
        self._backend.calls += 1
        return self._out[:n_out]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


class FakeBackend:
    """Enough of LlamaBackend for the codec's lockstep loop."""

    def __init__(self, n_vocab: int = 400, seed: int = 7):
        self.n_vocab = n_vocab
        self.token_texts = synthetic_vocabulary(n_vocab)
        rng = np.random.default_rng(seed)
        table = rng.normal(0.0, 1.0, size=(_ROWS, n_vocab)).astype(np.float32)
        for r in range(_ROWS):
            table[r, (r * 31 + 5) % n_vocab] += np.float32(6.0)
        self.table = table
        self.calls = 0
        assert ESCAPE_STANDIN_BYTE not in (0x04, 0xC0, 0xFF)

    def open_streams(self, n_streams: int, window: int, evict: int, flash_attn: bool):
        return FakeStreams(self, n_streams)


def synthetic_streams(n_vocab: int, lengths, seed: int = 11) -> list[np.ndarray]:
    """Id streams with what text has: recurring phrases (matches, n-gram contexts), a
    skewed unigram, and now and then an escape id (``n_vocab + byte``)."""
    rng = np.random.default_rng(seed)
    phrases = [rng.integers(0, n_vocab, size=int(rng.integers(3, 14))) for _ in range(40)]
    weights = 1.0 / np.arange(1, len(phrases) + 1)
    weights /= weights.sum()
    out = []
    for n in lengths:
        parts, have = [], 0
        while have < n:
            if rng.random() < 0.15:
                part = rng.integers(0, n_vocab, size=int(rng.integers(1, 5)))
            else:
                part = phrases[int(rng.choice(len(phrases), p=weights))]
            parts.append(part)
            have += len(part)
        ids = np.concatenate(parts)[:n].astype(np.int64)
        escapes = rng.random(n) < 0.01
        ids[escapes] = n_vocab + rng.choice([0x04, 0xC0, 0xFF], size=int(escapes.sum()))
        out.append(ids)
    return out
