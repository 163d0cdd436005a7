"""Reversible line-layout folding: the text the model sees is prose, not typewriter layout.

A language model predicts running text; it predicts poorly where a line is broken to fit a
width, where a line ends in CR LF, or where a sentence ends in two spaces. Those are
decisions about layout, and a small model of the layout that knows the column and the
length of the next word predicts them far better. So a text segment may be *folded*
before it is tokenized:

- ``LayoutFold.CRLF``: every CR right before an LF is removed; one flag per LF restores it.
- ``LayoutFold.WRAP``: every LF between two non-blank characters (a soft line break) becomes a
  space; one flag per remaining single space between non-blank characters says whether
  it was a line break, predicted from the column the line would reach with the next word.
- ``LayoutFold.SPACES``: every two spaces between non-blank characters become one; one flag
  per such single space (not a line break) says whether it was two.
- ``LayoutFold.QUOTES``: every backquote (the typewriter opening quote of `this' style)
  becomes an apostrophe, which is what the model knows as an opening single quote; one
  flag per apostrophe of the folded text, in the context of its neighbours, restores it.

Invariants:
- ``unfold_layout(*fold_layout(data, mode)) == data`` for every byte string and mode; the
  folds only ever turn a whitespace run bounded by non-blank bytes into one space, so the
  flags sit exactly at the single spaces bounded by non-blank bytes of the folded text,
  which the decoder finds from the folded text alone.
- The flags are coded with integer-only adaptive counts and the
  project's arithmetic coder: no float arithmetic decides a bit, so both sides agree on
  every machine. Encoder, decoder and the cost estimate run the same loop
  (:func:`_code_flags`).
- The coded layout is decoded after the folded text: its contexts may look ahead (the
  length of the next word), since the decoder has the whole folded text by then.
"""

from __future__ import annotations

import math
import struct

import numpy as np

from .coder import TOTAL, ArithmeticDecoder, ArithmeticEncoder
from .components import AdaptiveBit
from .config import LayoutFold
from .errors import CorruptDataError

#: The known fold bits as a plain int, for ``mode & ~_ALL`` (``~`` of the IntFlag would
#: keep only its own bits).
_ALL = int(LayoutFold.ALL)

#: Bytes that end a word. Folds only touch runs bounded by bytes outside this set.
_BLANK = b" \t\n\r\x0b\x0c"
_IS_BLANK = np.zeros(256, dtype=bool)
_IS_BLANK[list(_BLANK)] = True

# A fold pays only if its flags cost less than the model saves per fold. Measured on the
# first 40,000 bytes of alice29.txt with all predictors on (bench/ABLATION_NOTES.md): 0.8
# bits saved per CR LF line end, 2.8 per soft line break, 1.45 per two spaces folded into
# one. A fold is chosen when its flags cost at most half of that per fold, and it folds
# at least _MIN_FOLDS; the folds must together be expected to save more than the prefix
# of a folded payload (5 bytes) and the end of the layout code (up to 4 bytes).
_SAVED_PER_CR = 0.8
_SAVED_PER_BREAK = 2.8
_SAVED_PER_SPACE = 1.45
_SAVED_PER_QUOTE = 0.9
_MIN_FOLDS = 8
_FOLD_OVERHEAD_BITS = 8 * 9
# Contexts of the line-break flag: the column the line would reach with the next word,
# capped; of the two-space flag: the punctuation before the space (looking past one
# closing quote or bracket), whether there was such a closer, and whether the next byte
# is a capital letter or an opening mark (typewriter style puts two spaces between
# sentences and after colons).
_MAX_COLUMN = 255
_PUNCT_CLASS = np.zeros(256, dtype=np.int64)
_PUNCT_CLASS[list(b".")] = 1
_PUNCT_CLASS[list(b"!?")] = 2
_PUNCT_CLASS[list(b":;")] = 3
_PUNCT_CLASS[list(b",")] = 4
_N_PUNCT = 5
_CLOSER = np.zeros(256, dtype=bool)
_CLOSER[list(b"'\")]\"")] = True
_OPENER_OR_CAPITAL = np.zeros(256, dtype=bool)
_OPENER_OR_CAPITAL[list(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ`'\"([")] = True
# Counts are halved past this total so the flags follow a layout that changes.
_COUNT_LIMIT = 1 << 12


def _flag_model(n_contexts: int) -> AdaptiveBit:
    """Layout flags are nearly deterministic in most contexts (no line break far left of the
    margin), so the prior is sharper than Krichevsky-Trofimov's 1/2, P(1) = (n1 + 1/16) /
    (n + 1/8): measured on six texts, the line-break flags cost 20-70% less than with KT."""
    return AdaptiveBit(n_contexts, scale=16, count_limit=_COUNT_LIMIT)


class _CostSink:
    """Stands in for a coder: adds up what the flags would cost."""

    def __init__(self):
        self.bits = 0.0

    def code(self, cdf: np.ndarray, bit: int) -> int:
        self.bits -= math.log2((int(cdf[bit + 1]) - int(cdf[bit])) / TOTAL)
        return bit


class _EncoderSink:
    def __init__(self):
        self.encoder = ArithmeticEncoder(256)

    def code(self, cdf: np.ndarray, bit: int) -> int:
        self.encoder.encode(cdf, bit)
        return bit


class _DecoderSink:
    def __init__(self, data: bytes):
        self.decoder = ArithmeticDecoder(data)

    def code(self, cdf: np.ndarray, bit: int) -> int:
        return self.decoder.decode(cdf)


def _flag_sites(text: bytes) -> np.ndarray:
    """Positions of the single spaces with a non-blank byte on both sides."""
    a = np.frombuffer(text, dtype=np.uint8)
    if len(a) < 3:
        return np.zeros(0, dtype=np.int64)
    blank = _IS_BLANK[a]
    mid = (a[1:-1] == 0x20) & ~blank[:-2] & ~blank[2:]
    return np.flatnonzero(mid) + 1


def _fold_runs(text: bytes, mode: int) -> tuple[bytes, np.ndarray]:
    """Fold ``text`` (LF line ends); returns the folded text and, for each flag site of
    it, what stood there: 0 a space, 1 a line break, 2 two spaces."""
    a = np.frombuffer(text, dtype=np.uint8)
    n = len(a)
    if n < 3:
        return text, np.zeros(0, dtype=np.int8)
    blank = _IS_BLANK[a]
    left = ~blank[:-2]  # non-blank before position i (i = 1 .. n-2)
    lf = (a[1:-1] == 0x0A) & left & ~blank[2:] if mode & LayoutFold.WRAP else None
    keep = np.ones(n, dtype=bool)
    kind = np.zeros(n, dtype=np.int8)  # 0 space, 1 line break, 2 two spaces
    out = a.copy()
    if lf is not None:
        at = np.flatnonzero(lf) + 1
        out[at] = 0x20
        kind[at] = 1
    if mode & LayoutFold.SPACES and n >= 4:
        two = (a[1:-2] == 0x20) & (a[2:-1] == 0x20) & ~blank[:-3] & ~blank[3:]
        at = np.flatnonzero(two) + 1
        keep[at + 1] = False
        kind[at] = 2
    folded = out[keep].tobytes()
    return folded, kind[keep][_flag_sites(folded)]


def _code_flags(folded: bytes, mode: int, sink, kinds: np.ndarray | None) -> np.ndarray:
    """Code (or decode, when ``kinds`` is None) the wrap/space flag of every site."""
    sites = _flag_sites(folded)
    a = np.frombuffer(folded, dtype=np.uint8)
    # End of the word after each site: the next blank byte, or the end of the text.
    blank_at = np.append(np.flatnonzero(_IS_BLANK[a]), len(a))
    word_end = blank_at[np.searchsorted(blank_at, sites + 1)]
    lf_at = np.flatnonzero(a == 0x0A)
    last_lf = np.searchsorted(lf_at, sites) - 1  # index into lf_at of the last LF before
    out = np.zeros(len(sites), dtype=np.int64)
    breaks = _flag_model(_MAX_COLUMN + 1)
    doubles = _flag_model(_N_PUNCT * 4)
    wrap = bool(mode & LayoutFold.WRAP)
    spaces = bool(mode & LayoutFold.SPACES)
    before = a[sites - 1]
    closed = _CLOSER[before] & (sites >= 2)
    before = np.where(closed, a[np.maximum(sites - 2, 0)], before)
    space_ctx = ((_PUNCT_CLASS[before] * 2 + closed) * 2
                 + _OPENER_OR_CAPITAL[a[sites + 1]]).tolist()
    lf_list = lf_at.tolist()
    shift = 0  # bytes the unfolded text has gained so far (a two-space flag adds one)
    line_start = 0  # unfolded position where the current line starts
    prev_site = -1
    for k, (j, end, h) in enumerate(zip(sites.tolist(), word_end.tolist(), last_lf.tolist())):
        if h >= 0 and lf_list[h] > prev_site:
            line_start = lf_list[h] + shift + 1
        value = 0 if kinds is None else int(kinds[k])
        if wrap:
            # The column the line reaches if the next word stays on it.
            ctx = min(end + shift - line_start, _MAX_COLUMN)
            bit = sink.code(breaks.cdf(ctx), int(value == 1))
            breaks.update(ctx, bit)
            if bit:
                value = 1
                line_start = j + shift + 1
        if spaces and value != 1:
            bit = sink.code(doubles.cdf(space_ctx[k]), int(value == 2))
            doubles.update(space_ctx[k], bit)
            value = 2 if bit else 0
            shift += bit
        out[k] = value
        prev_site = j
    return out


def _code_crs(lf_text: bytes, sink, has_cr: np.ndarray | None) -> np.ndarray:
    """Code (or decode) for every LF of ``lf_text`` whether a CR stood before it."""
    n = lf_text.count(b"\n")
    out = np.zeros(n, dtype=np.int64)
    model = _flag_model(2)
    prev = 1
    for k in range(n):
        bit = sink.code(model.cdf(prev), 0 if has_cr is None else int(has_cr[k]))
        model.update(prev, bit)
        out[k] = prev = bit
    return out


_QUOTE_BEFORE = np.full(256, 3, dtype=np.int64)  # 0 blank, 1 opener, 2 alphanumeric, 3 other
_QUOTE_BEFORE[list(_BLANK)] = 0
_QUOTE_BEFORE[list(b"([{<'\"")] = 1
_QUOTE_BEFORE[list(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")] = 2
_QUOTE_AFTER = np.full(256, 2, dtype=np.int64)  # 0 alphanumeric, 1 blank, 2 other
_QUOTE_AFTER[list(_BLANK)] = 1
_QUOTE_AFTER[list(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")] = 0


def _code_quotes(folded: bytes, sink, was_backquote: np.ndarray | None) -> np.ndarray:
    """Code (or decode) for every apostrophe of ``folded`` whether it was a backquote."""
    a = np.frombuffer(folded, dtype=np.uint8)
    at = np.flatnonzero(a == 0x27)
    padded = np.concatenate(([0x20], a, [0x20])).astype(np.int64)  # text edges are blank
    ctx = (_QUOTE_BEFORE[padded[at]] * 3 + _QUOTE_AFTER[padded[at + 2]]).tolist()
    model = _flag_model(12)
    out = np.zeros(len(at), dtype=np.int64)
    for k, c in enumerate(ctx):
        bit = sink.code(model.cdf(c), 0 if was_backquote is None else int(was_backquote[k]))
        model.update(c, bit)
        out[k] = bit
    return out


def _fold_quotes(text: bytes) -> tuple[bytes, np.ndarray]:
    folded = text.replace(b"`", b"'")
    a = np.frombuffer(text, dtype=np.uint8)
    return folded, a[np.frombuffer(folded, dtype=np.uint8) == 0x27] == 0x60


def _fold_crlf(data: bytes) -> tuple[bytes, np.ndarray]:
    a = np.frombuffer(data, dtype=np.uint8)
    lf = np.flatnonzero(a == 0x0A)
    has_cr = np.zeros(len(lf), dtype=np.int64)
    inner = lf > 0
    has_cr[inner] = a[lf[inner] - 1] == 0x0D
    return data.replace(b"\r\n", b"\n"), has_cr


def _flag_cost(text: bytes, mode: int) -> tuple[float, np.ndarray]:
    """Bits the wrap/space flags of ``text`` (LF line ends) folded by ``mode`` cost, and
    what each site was."""
    folded, kinds = _fold_runs(text, mode)
    cost = _CostSink()
    if mode & (LayoutFold.WRAP | LayoutFold.SPACES):
        _code_flags(folded, mode, cost, kinds)
    return cost.bits, kinds


def choose_layout(data: bytes, allowed: int = LayoutFold.ALL) -> int:
    """The folds worth using on ``data``, among ``allowed``: a function of the bytes alone.

    A fold is kept when its flags cost at most half of what the model was measured to
    save per fold, on this very text; and the folds are used at all only when what they
    are expected to save so (half the measured saving, less the flags) pays for the
    folded payload's prefix and the layout code's own end.
    """
    mode = 0
    gain = 0.0
    if allowed & LayoutFold.CRLF and b"\r\n" in data:
        mode |= LayoutFold.CRLF
        gain += 0.5 * _SAVED_PER_CR * data.count(b"\r\n")
        data = data.replace(b"\r\n", b"\n")
    base = 0.0
    for fold, kind, saved_bits in ((LayoutFold.SPACES, 2, _SAVED_PER_SPACE),
                                   (LayoutFold.WRAP, 1, _SAVED_PER_BREAK)):
        if not allowed & fold:
            continue
        cost, kinds = _flag_cost(data, mode | fold)
        n_folds = int((kinds == kind).sum())
        fold_gain = 0.5 * saved_bits * n_folds - (cost - base)
        if n_folds >= _MIN_FOLDS and fold_gain >= 0:
            mode |= fold
            base = cost
            gain += fold_gain
    if allowed & LayoutFold.QUOTES and data.count(b"`") >= _MIN_FOLDS:
        quoted, was_backquote = _fold_quotes(data)
        cost = _CostSink()
        _code_quotes(quoted, cost, was_backquote)
        quote_gain = 0.5 * _SAVED_PER_QUOTE * int(was_backquote.sum()) - cost.bits
        if quote_gain >= 0:
            mode |= LayoutFold.QUOTES
            gain += quote_gain
    return int(mode) if gain > _FOLD_OVERHEAD_BITS else 0


def fold_layout(data: bytes, mode: int) -> tuple[bytes, bytes]:
    """Fold ``data`` by ``mode``; returns the folded text and the coded layout."""
    if mode & ~_ALL:
        raise ValueError(f"unknown layout bits {mode:#x}")
    sink = _EncoderSink()
    has_cr = None
    if mode & LayoutFold.CRLF:
        data, has_cr = _fold_crlf(data)
    runs_folded, kinds = _fold_runs(data, mode)
    folded = runs_folded
    if mode & LayoutFold.QUOTES:
        folded, was_backquote = _fold_quotes(runs_folded)
        _code_quotes(folded, sink, was_backquote)
    if mode & (LayoutFold.WRAP | LayoutFold.SPACES):
        _code_flags(runs_folded, mode, sink, kinds)
    if has_cr is not None:
        _code_crs(data, sink, has_cr)
    return folded, sink.encoder.finish()


def unfold_layout(folded: bytes, mode: int, coded: bytes) -> bytes:
    """Inverse of :func:`fold_layout`. Damaged input gives wrong bytes (the segment's CRC
    catches them) or :class:`CorruptDataError`, never a hang."""
    if mode & ~_ALL:
        raise CorruptDataError(f"segment uses unknown layout bits {mode:#x}")
    sink = _DecoderSink(coded)
    if mode & LayoutFold.QUOTES:
        was_backquote = _code_quotes(folded, sink, None)
        a = np.frombuffer(folded, dtype=np.uint8).copy()
        a[np.flatnonzero(a == 0x27)[was_backquote == 1]] = 0x60
        folded = a.tobytes()
    text = folded
    if mode & (LayoutFold.WRAP | LayoutFold.SPACES):
        kinds = _code_flags(folded, mode, sink, None)
        sites = _flag_sites(folded)
        pieces = []
        prev = 0
        changed = kinds != 0
        for j, kind in zip(sites[changed].tolist(), kinds[changed].tolist()):
            pieces.append(folded[prev:j])
            pieces.append(b"\n" if kind == 1 else b"  ")
            prev = j + 1
        pieces.append(folded[prev:])
        text = b"".join(pieces)
    if mode & LayoutFold.CRLF:
        has_cr = _code_crs(text, sink, None)
        lines = text.split(b"\n")
        ends = [b"\r\n" if c else b"\n" for c in has_cr.tolist()]
        text = b"".join(x for pair in zip(lines, ends) for x in pair) + lines[-1]
    return text


# A folded segment's payload: u8 layout bits, u32 (LE) length of the coded layout, the
# coded layout, then the token stream's arithmetic code as in a plain neural segment.
_PAYLOAD_PREFIX = struct.Struct("<BI")


def pack_folded_payload(mode: int, layout: bytes, tokens_payload: bytes) -> bytes:
    return _PAYLOAD_PREFIX.pack(mode, len(layout)) + layout + tokens_payload


def split_folded_payload(payload: bytes) -> tuple[int, bytes, bytes]:
    """(layout bits, coded layout, token payload) of a folded segment's payload."""
    n = _PAYLOAD_PREFIX.size
    if len(payload) < n:
        raise CorruptDataError("folded segment payload is shorter than its prefix")
    mode, length = _PAYLOAD_PREFIX.unpack_from(payload)
    if mode == 0 or mode & ~_ALL:
        raise CorruptDataError(f"folded segment has invalid layout bits {mode:#x}")
    if length > len(payload) - n:
        raise CorruptDataError("folded segment's layout runs past its payload")
    return mode, payload[n : n + length], payload[n + length :]
