"""Splitting a file into text-like segments (for the model) and binary segments.

Invariants:
- ``plan_segments(data)`` covers ``data`` exactly: segments are contiguous, in order,
  non-empty, and neighbours differ in kind; empty input gives an empty plan.
- The plan depends only on the bytes (no randomness, no timing, no platform state), so
  the same input always gets the same plan.
- Text in any script is text: printable ASCII, the whitespace/format controls text uses,
  and every byte of a well-formed UTF-8 sequence count as text bytes. A stray invalid
  byte inside text does not split it (the neural path escapes such bytes).
- Binary islands shorter than :data:`MIN_BINARY_RUN` stay inside the text around them,
  text islands shorter than :data:`MIN_TEXT_RUN` stay inside the binary around them, so
  codecs do not alternate every few hundred bytes. A file with only such islands is one
  segment; an input shorter than :data:`SHORT_INPUT` is one segment of its majority kind.
- Cost is linear in the input: numpy over fixed-size chunks (memory bounded by the chunk,
  not the file) and a Python loop over runs of blocks only.
- Long inputs are planned one block at a time (``nacz.config.CodecConfig.block_size``);
  :func:`block_end` places each block's end from the bytes alone, so the plan never depends
  on how a stream delivered them.

How: every byte is classed good (text) or bad (other control bytes, NUL, bytes outside
well-formed UTF-8). A block of :data:`BLOCK` bytes is binary when more than
:data:`CONTROL_FRACTION` of its bytes are bad ASCII (control bytes) or more than
:data:`BINARY_FRACTION` are bad in all. Runs of equal blocks are smoothed (the
shortest run under its minimum flips kind first, then merges with its neighbours), and
each remaining boundary is moved from the block edge to the most likely byte within one
block either side (a maximum-likelihood change point between the two sides' bad rates).
"""

from __future__ import annotations

import codecs
import heapq
import math
from dataclasses import dataclass

import numpy as np

#: Classification block: small enough to find binary islands, large enough that a few
#: stray bytes do not make a block look binary.
BLOCK = 4096
#: A block is binary when more than CONTROL_FRACTION of its bytes are bad ASCII (NUL and
#: other control bytes: text has next to none, one in 50 bytes is already a NUL-separated
#: string table or a record format; executables and office files are full of them) or
#: more than BINARY_FRACTION are bad in all. The second threshold is lenient because
#: stray invalid high bytes are what legacy 8-bit Latin text looks like (a Latin-1 "é"
#: is a few percent of French text, rarely over 15%), while random or compressed data is
#: about 55% bad.
CONTROL_FRACTION = 0.02
BINARY_FRACTION = 0.30
#: Binary runs shorter than this stay in the text around them. Through the model a
#: binary byte costs a whole token (text averages ~4 bytes a token), so a big island is
#: slow; but splitting costs two segment entries, a classic-codec frame and restarting
#: the model's context for the text after it, which small islands do not repay (tar's
#: headers and its end-of-archive padding, at most 10 KiB, stay with the text).
MIN_BINARY_RUN = 3 * BLOCK
#: Text runs shorter than this stay in the binary around them. The model codes text far
#: better than xz does, but a model segment starts with a cold context and costs
#: segment entries, and cutting the binary around it loses the classic codec's matches
#: across the cut: a few KiB of strings inside an executable are not worth it.
MIN_TEXT_RUN = 2 * BLOCK
#: Inputs shorter than this are one segment of the majority kind (too little to judge).
SHORT_INPUT = 64
#: Bytes classified per numpy pass (a multiple of BLOCK): bounds temporary memory.
_CHUNK = 256 * BLOCK
#: A UTF-8 sequence is at most 4 bytes, so classifying a byte needs 3 bytes of context.
_CTX = 3

# Byte tables. ASCII text: printable, plus BS (nroff overstrike), TAB, LF, VT, FF, CR and
# ESC (ANSI colours in logs). Every other byte below 0x80, and DEL, is bad on its own.
_ASCII_GOOD = np.zeros(256, dtype=bool)
_ASCII_GOOD[0x20:0x7F] = True
_ASCII_GOOD[[0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1B]] = True
# Bad bytes of a stretch known to be valid UTF-8: only the bad ASCII controls.
_BAD_IN_VALID_UTF8 = ~_ASCII_GOOD
_BAD_IN_VALID_UTF8[0x80:] = False
# Lead byte classes (0: not a lead; C0, C1 and F5..FF never lead). Leads >= 2 need a
# third byte, leads >= 5 a fourth; E0, ED, F0 and F4 restrict the second byte.
_LEAD = np.zeros(256, dtype=np.uint8)
_LEAD[0xC2:0xE0] = 1
_LEAD[0xE0:0xF0] = 2
_LEAD[0xE0], _LEAD[0xED] = 3, 4
_LEAD[0xF0:0xF5] = 5
_LEAD[0xF0], _LEAD[0xF4] = 6, 7
# Continuation byte classes: 0 not a continuation, 1: 80..8F, 2: 90..9F, 3: A0..BF.
_CONT = np.zeros(256, dtype=np.uint8)
_CONT[0x80:0x90], _CONT[0x90:0xA0], _CONT[0xA0:0xC0] = 1, 2, 3
# _SECOND_OK[lead << 2 | cont]: the byte after this lead may start a well-formed sequence
# (excludes overlongs E0 80..9F and F0 80..8F, surrogates ED A0..BF, > U+10FFFF F4 90..).
_SECOND_OK = np.zeros(32, dtype=bool)
for _lead, _ok in {1: (1, 2, 3), 2: (1, 2, 3), 3: (3,), 4: (1, 2), 5: (1, 2, 3),
                   6: (2, 3), 7: (1,)}.items():
    _SECOND_OK[[_lead << 2 | c for c in _ok]] = True
del _lead, _ok

TEXT = "text"
BINARY = "binary"

#: A block ends after the last newline in this many final bytes of the block, if any.
BLOCK_END_SEARCH = 64 << 10


def block_end(buf, block_size: int) -> int:
    """Length of the next block, given ``buf``: more than ``block_size`` bytes of input.

    After the last newline in the block's final stretch (at most BLOCK_END_SEARCH bytes,
    and at most a quarter of the block), so a line of text and a CR LF stay whole;
    without one, at ``block_size`` moved back over at most 3 UTF-8 continuation bytes, so
    a well-formed character is never cut. Always more than ``3 * block_size // 4``.
    """
    if len(buf) <= block_size:
        raise ValueError("block_end needs more than one block of input")
    search = min(BLOCK_END_SEARCH, block_size // 4)
    nl = buf.rfind(b"\n", block_size - search, block_size)
    if nl >= 0:
        return nl + 1
    end = block_size
    while end > block_size - 3 and 0x80 <= buf[end] < 0xC0:
        end -= 1
    return end


@dataclass(frozen=True)
class SegmentPlan:
    """Bytes ``data[start:end]`` go to the ``kind`` path ("text" or "binary")."""

    start: int
    end: int
    kind: str


def _bad_bytes(arr: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Bool mask over arr[lo:hi]: True where the byte is not text (see module doc).

    Looks up to 3 bytes beyond each end, so the answer for a byte does not depend on
    where the caller cut the array (chunking and refinement agree exactly).
    """
    piece = arr[lo:hi]
    try:
        # Fast path for text: CPython's decoder checks well-formedness at GB/s. If the
        # whole piece decodes, every byte >= 0x80 in it belongs to a valid sequence that
        # lies inside the piece, which is exactly what the general path would find.
        codecs.utf_8_decode(piece, "strict", True)
    except UnicodeDecodeError:
        pass
    else:
        return np.take(_BAD_IN_VALID_UTF8, piece)
    a0, a1 = max(0, lo - _CTX), min(len(arr), hi + _CTX)
    a = arr[a0:a1]
    m = len(a)
    good = np.take(_ASCII_GOOD, a)
    lead = np.take(_LEAD, a)
    # Continuation classes of a[i + k] for k = 1..3 are slices of one padded lookup.
    cont = np.zeros(m + _CTX, dtype=np.uint8)
    np.take(_CONT, a, out=cont[:m])
    ok = np.take(_SECOND_OK, (lead << 2) | cont[1 : m + 1])  # false unless a lead
    ok &= (lead < 2) | (cont[2 : m + 2] != 0)
    ok &= (lead < 5) | (cont[3 : m + 3] != 0)
    # A well-formed sequence makes its lead and its continuation bytes good.
    good |= ok
    good[1:] |= ok[:-1]
    ok &= lead >= 2
    good[2:] |= ok[:-2]
    ok &= lead >= 5
    good[3:] |= ok[:-3]
    return ~good[lo - a0 : hi - a0]


def _block_counts(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bad bytes, bad bytes below 0x80) in each BLOCK of arr (the last may be partial)."""
    n = len(arr)
    n_blocks = -(-n // BLOCK)
    bad_counts = np.empty(n_blocks, dtype=np.int64)
    ctl_counts = np.empty(n_blocks, dtype=np.int64)
    for c0 in range(0, n, _CHUNK):
        c1 = min(n, c0 + _CHUNK)
        bad = _bad_bytes(arr, c0, c1)
        ctl = bad & (arr[c0:c1] < 0x80)
        b0, m = c0 // BLOCK, c1 - c0
        full = m // BLOCK
        for mask, counts in ((bad, bad_counts), (ctl, ctl_counts)):
            if full:
                counts[b0 : b0 + full] = (
                    mask[: full * BLOCK].reshape(full, BLOCK).sum(axis=1, dtype=np.int64)
                )
            if full * BLOCK < m:
                counts[b0 + full] = int(np.count_nonzero(mask[full * BLOCK :]))
    return bad_counts, ctl_counts


def _merge_runs(flags: np.ndarray, sizes: np.ndarray) -> list[list]:
    """Runs [first_block, end_block, is_binary, n_bytes] after smoothing.

    Repeatedly takes the shortest run below its kind's minimum (leftmost on ties), gives
    it the other kind and merges it with its neighbours, until every run is long enough
    or one run is left. A heap keeps this O(R log R) in the number of runs R.
    """
    change = np.flatnonzero(flags[1:] != flags[:-1]) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [len(flags)]))
    csum = np.concatenate(([0], np.cumsum(sizes)))
    runs = [
        [int(s), int(e), bool(flags[s]), int(csum[e] - csum[s])]
        for s, e in zip(starts.tolist(), ends.tolist())
    ]
    prev = list(range(-1, len(runs) - 1))
    nxt = list(range(1, len(runs) + 1))
    nxt[-1] = -1
    alive = [True] * len(runs)

    def short(i: int) -> bool:
        return runs[i][3] < (MIN_BINARY_RUN if runs[i][2] else MIN_TEXT_RUN)

    heap = [(r[3], i) for i, r in enumerate(runs) if short(i)]
    heapq.heapify(heap)
    n_alive = len(runs)
    while heap and n_alive > 1:
        length, i = heapq.heappop(heap)
        if not alive[i] or runs[i][3] != length or not short(i):
            continue  # stale entry: the run grew or was merged away
        runs[i][2] = not runs[i][2]
        # Absorb same-kind neighbours into run i.
        for j in (prev[i], nxt[i]):
            if j >= 0 and runs[j][2] == runs[i][2]:
                runs[i][0] = min(runs[i][0], runs[j][0])
                runs[i][1] = max(runs[i][1], runs[j][1])
                runs[i][3] += runs[j][3]
                alive[j] = False
                n_alive -= 1
                if j == prev[i]:
                    prev[i] = prev[j]
                    if prev[i] >= 0:
                        nxt[prev[i]] = i
                else:
                    nxt[i] = nxt[j]
                    if nxt[i] >= 0:
                        prev[nxt[i]] = i
        if short(i):
            heapq.heappush(heap, (runs[i][3], i))
    return [r for i, r in enumerate(runs) if alive[i]]


def _refine(arr: np.ndarray, boundary: int, lo: int, hi: int, left_binary: bool,
            counts: np.ndarray) -> int:
    """Most likely byte position of a text/binary change point in [lo, hi].

    ``counts`` holds the bad bytes per block. Each side is modelled as bytes that are bad
    independently with its own rate (taken from the two blocks next to ``boundary``,
    clamped away from 0 and 1); the position
    maximising the likelihood is an argmin/argmax of a cumulative sum of per-byte
    log-likelihood ratios. Ties go to the leftmost position.
    """
    b = boundary // BLOCK
    n = len(arr)

    def rate(block: int) -> float:
        size = min(BLOCK, n - block * BLOCK)
        return float(counts[block]) / size

    r_left, r_right = rate(b - 1), rate(b)
    r_bin, r_text = (r_left, r_right) if left_binary else (r_right, r_left)
    # Clamped so that both sides stay possible and binary stays the worse side.
    r_text = min(BINARY_FRACTION, max(0.002, r_text))
    r_bin = min(0.95, max(0.2, 2 * r_text, r_bin))
    # Evidence for "binary" of one byte: log P(byte | binary) - log P(byte | text), in
    # integer 1/64ths so the sums below are exact on every platform.
    w_bad = round(64 * math.log(r_bin / r_text))
    w_good = round(64 * math.log((1 - r_bin) / (1 - r_text)))
    bad = _bad_bytes(arr, lo, hi)
    w = np.where(bad, np.int64(w_bad), np.int64(w_good))
    # c[k] = evidence for "binary" in arr[lo : lo + k]; the binary side should hold the
    # most evidence, so the split at lo + k maximises +c[k] (binary left) or -c[k].
    c = np.concatenate(([0], np.cumsum(w, dtype=np.int64)))
    k = int(np.argmax(c)) if left_binary else int(np.argmin(c))
    return lo + k


def plan_segments(data: bytes) -> list[SegmentPlan]:
    """Plan text and binary segments covering ``data`` (see the module docstring)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    n = len(arr)
    if n == 0:
        return []
    if n < SHORT_INPUT:
        n_bad = int(np.count_nonzero(_bad_bytes(arr, 0, n)))
        return [SegmentPlan(0, n, BINARY if 2 * n_bad > n else TEXT)]
    counts, controls = _block_counts(arr)
    sizes = np.full(len(counts), BLOCK, dtype=np.int64)
    sizes[-1] = n - (len(counts) - 1) * BLOCK
    flags = (controls > CONTROL_FRACTION * sizes) | (counts > BINARY_FRACTION * sizes)
    runs = _merge_runs(flags, sizes)
    if len(runs) == 1:
        return [SegmentPlan(0, n, BINARY if runs[0][2] else TEXT)]
    # Move each boundary from its block edge to the likeliest byte, searching one block
    # either side but never past the middle of a neighbouring run.
    edges = [r[0] * BLOCK for r in runs[1:]]
    cuts = [0]
    for i, edge in enumerate(edges):
        left_start = runs[i][0] * BLOCK
        right_end = min(n, runs[i + 1][1] * BLOCK)
        lo = max(edge - BLOCK, (left_start + edge) // 2)
        hi = min(edge + BLOCK, (edge + right_end) // 2)
        cuts.append(_refine(arr, edge, lo, hi, runs[i][2], counts))
    cuts.append(n)
    plans: list[SegmentPlan] = []
    for i, r in enumerate(runs):
        start, end = cuts[i], cuts[i + 1]
        if end <= start:
            continue
        kind = BINARY if r[2] else TEXT
        if plans and plans[-1].kind == kind:
            plans[-1] = SegmentPlan(plans[-1].start, end, kind)
        else:
            plans.append(SegmentPlan(start, end, kind))
    return plans
