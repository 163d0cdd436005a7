"""Exact byte <-> token conversion for a GPT-2 style byte-level vocabulary.

Invariants:
- ``decode(encode(data)) == data`` for every byte string; ``encode`` checks this before
  returning and raises :class:`TokenizationError` rather than hand back a stream that
  would not decode.
- Decoding never uses llama.cpp's detokenizer (it drops vocabulary pieces longer than
  32 bytes); bytes come from each token's vocabulary text through the inverse of GPT-2's
  bytes_to_unicode table.
- Special-token strings in the input are plain text (tokenized with parse_special off).
- Bytes that are not valid UTF-8, and NUL, travel as the vocabulary's single-byte tokens.
  This vocabulary has no single-byte token for 21 byte values (0x04, 0xC0, 0xFF, ...): such
  a byte travels as an *escape id* ``n_vocab + byte``, outside the model's vocabulary; the
  codec codes it with an escape flag and a uniform byte, and feeds the model
  :data:`ESCAPE_STANDIN_BYTE`'s token in its place.
"""

from __future__ import annotations

import re
from typing import Callable, Sequence

import numpy as np

from .errors import TokenizationError

# Pieces handed to the model's tokenizer at once; cut at a newline when possible so the
# cut rarely changes how the text around it is split.
_CHUNK = 1 << 20
#: The model sees this byte's token where an escaped byte stands: ASCII SUB, "substitute".
ESCAPE_STANDIN_BYTE = 0x1A


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table."""
    keep = list(range(ord("!"), ord("~") + 1))
    keep += list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    table = {b: chr(b) for b in keep}
    n = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + n)
            n += 1
    return table


def token_texts_to_bytes(texts: Sequence[bytes]) -> list[bytes]:
    """Map each vocabulary text (UTF-8 of GPT-2 characters) to the bytes it stands for.

    A text with a character outside the table (a control token such as ``<|im_start|>``
    is all ASCII and maps to itself) is taken as its own UTF-8 bytes.
    """
    # One str.translate per text instead of a Python loop per character (about 50 times
    # faster over the vocabulary, which every run converts at start-up). Table characters
    # become the byte they stand for (below 256); the other characters below 256 become
    # U+FFFF, and every character from 256 up that is not in the table stays as it is, so
    # exactly the texts with a character outside the table fail to encode as Latin-1.
    table = {ord(c): b for b, c in bytes_to_unicode().items()}
    table.update({x: 0xFFFF for x in range(256) if x not in table})
    out = []
    for raw in texts:
        try:
            out.append(raw.decode("utf-8", errors="surrogateescape").translate(table)
                       .encode("latin-1"))
        except UnicodeEncodeError:
            out.append(raw)
    return out


def vocabulary_bytes(backend) -> list[bytes]:
    """The bytes of every vocabulary token of ``backend`` (anything with ``token_texts``),
    converted once and kept on the backend: the codec and the tokenizer share one copy."""
    cached = getattr(backend, "_nacz_token_bytes", None)
    if cached is None:
        cached = token_texts_to_bytes(backend.token_texts)
        backend._nacz_token_bytes = cached
    return cached


class ByteTokenizer:
    """Turns bytes into token ids and back, exactly."""

    def __init__(self, token_bytes: Sequence[bytes], tokenize: Callable[[bytes], list[int]]):
        #: Real vocabulary size; ids n_vocab .. n_vocab+255 are escape ids for raw bytes.
        self.n_vocab = len(token_bytes)
        self.token_bytes = list(token_bytes) + [bytes([i]) for i in range(256)]
        self._tokenize = tokenize
        by_bytes: dict[bytes, int] = {}
        for tid, b in enumerate(self.token_bytes):
            if len(b) == 1 and b not in by_bytes:
                by_bytes[b] = tid
        self.byte_tokens = np.array([by_bytes[bytes([i])] for i in range(256)], dtype=np.int32)
        if self.byte_tokens[ESCAPE_STANDIN_BYTE] >= self.n_vocab:
            raise TokenizationError("vocabulary lacks a token for the escape stand-in byte")
        self.escape_standin = int(self.byte_tokens[ESCAPE_STANDIN_BYTE])
        # Characters the model's tokenizer is not asked to handle: NUL (ends C strings),
        # ASCII bytes without a token of their own, and undecodable bytes (as surrogates).
        tokenless = [b for b in range(1, 128) if self.byte_tokens[b] >= self.n_vocab]
        cls = "".join(re.escape(chr(b)) for b in [0] + tokenless)
        self._opaque = re.compile(f"[{cls}\udc80-\udcff]+")
        lengths = np.array([len(b) for b in self.token_bytes], dtype=np.int64)
        self._offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=self._offsets[1:])
        self._flat = np.frombuffer(b"".join(self.token_bytes), dtype=np.uint8)

    def encode(self, data: bytes) -> np.ndarray:
        """Token ids (int32) whose bytes concatenate to ``data``; verified."""
        text = data.decode("utf-8", errors="surrogateescape")
        parts: list[np.ndarray] = []
        pos = 0
        for m in self._opaque.finditer(text):
            if m.start() > pos:
                parts.extend(self._encode_text(text[pos : m.start()]))
            raw = m.group().encode("utf-8", errors="surrogateescape")
            parts.append(self.byte_tokens[np.frombuffer(raw, dtype=np.uint8)])
            pos = m.end()
        if pos < len(text):
            parts.extend(self._encode_text(text[pos:]))
        tokens = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
        if self.decode(tokens) != data:
            raise TokenizationError("tokenization does not reproduce the input; refusing to code it")
        return tokens

    def _encode_text(self, text: str) -> list[np.ndarray]:
        out = []
        start = 0
        while start < len(text):
            end = min(len(text), start + _CHUNK)
            if end < len(text):
                nl = text.rfind("\n", start + _CHUNK // 2, end)
                if nl >= 0:
                    end = nl + 1
            out.extend(self._encode_piece(text[start:end].encode("utf-8")))
            start = end
        return out

    def _encode_piece(self, raw: bytes) -> list[np.ndarray]:
        toks = np.asarray(self._tokenize(raw), dtype=np.int32)
        if self.decode(toks) == raw:
            return [toks]
        # The model's tokenizer did not reproduce this piece: narrow down the part it
        # gets wrong by halving (at a character boundary), and send that part byte by byte.
        if len(raw) <= 64:
            return [self.byte_tokens[np.frombuffer(raw, dtype=np.uint8)]]
        mid = len(raw) // 2
        while mid < len(raw) and (raw[mid] & 0xC0) == 0x80:
            mid += 1
        return self._encode_piece(raw[:mid]) + self._encode_piece(raw[mid:])

    def decode(self, tokens) -> bytes:
        """The bytes of a token sequence; raises on an id outside the vocabulary."""
        toks = np.asarray(tokens, dtype=np.int64)
        if toks.size == 0:
            return b""
        if toks.min() < 0 or toks.max() >= len(self.token_bytes):
            raise TokenizationError("token id outside the vocabulary")
        starts = self._offsets[toks]
        ends = self._offsets[toks + 1]
        lens = ends - starts
        # Gather every token's byte range in one vectorised pass.
        idx = np.repeat(starts - np.concatenate(([0], np.cumsum(lens)[:-1])), lens)
        idx += np.arange(int(lens.sum()), dtype=np.int64)
        return self._flat[idx].tobytes()
