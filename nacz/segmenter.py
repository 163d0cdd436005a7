"""Splitting a file into text-like and binary segments.

Invariants:
- The plan covers the input exactly: segments are contiguous, in order, non-empty.
- The decision depends only on the bytes (deterministic, no randomness, no timing).
- Text in any script is text: bytes that form valid UTF-8 count as text; a stray invalid
  byte inside text does not split it (the neural path escapes such bytes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Classification block. Small enough to find binary islands, large enough to be robust.
BLOCK = 4096
#: A block is binary when more than this fraction of its bytes are control bytes or
#: bytes outside valid UTF-8.
BINARY_FRACTION = 0.10
#: Runs shorter than these are absorbed by their neighbours: switching codecs for a small
#: island costs more than it saves.
MIN_BINARY_RUN = 4 * BLOCK
MIN_TEXT_RUN = 4 * BLOCK

# Control bytes that plain text uses.
_TEXT_CONTROLS = {0x09, 0x0A, 0x0C, 0x0D, 0x1B}
_IS_CONTROL = np.zeros(256, dtype=bool)
_IS_CONTROL[[b for b in range(32) if b not in _TEXT_CONTROLS] + [0x7F]] = True


@dataclass(frozen=True)
class SegmentPlan:
    start: int
    end: int
    kind: str  # "text" or "binary"


def _bad_utf8_mask(data: bytes) -> np.ndarray:
    """True at every byte that is not part of a valid UTF-8 sequence."""
    mask = np.zeros(len(data), dtype=bool)
    text = data.decode("utf-8", errors="surrogateescape")
    # Undecodable bytes become lone surrogates U+DC80..U+DCFF; map them back to offsets.
    codes = np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32)
    bad_chars = (codes >= 0xDC80) & (codes <= 0xDCFF)
    if not bad_chars.any():
        return mask
    # Byte length of each character, to find byte offsets of the bad ones.
    lengths = np.where(codes < 0x80, 1, np.where(codes < 0x800, 2, np.where(codes < 0x10000, 3, 4)))
    lengths[bad_chars] = 1
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    mask[offsets[bad_chars]] = True
    return mask


def plan_segments(data: bytes) -> list[SegmentPlan]:
    n = len(data)
    if n == 0:
        return []
    arr = np.frombuffer(data, dtype=np.uint8)
    bad = _IS_CONTROL[arr] | _bad_utf8_mask(data)
    n_blocks = (n + BLOCK - 1) // BLOCK
    padded = np.zeros(n_blocks * BLOCK, dtype=bool)
    padded[:n] = bad
    counts = padded.reshape(n_blocks, BLOCK).sum(axis=1)
    sizes = np.full(n_blocks, BLOCK)
    sizes[-1] = n - (n_blocks - 1) * BLOCK
    binary = counts > BINARY_FRACTION * sizes
    runs = _runs(binary)
    runs = _absorb(runs, sizes)
    plans = []
    for start_block, end_block, is_bin in runs:
        start = start_block * BLOCK
        end = min(n, end_block * BLOCK)
        plans.append(SegmentPlan(start, end, "binary" if is_bin else "text"))
    return plans


def _runs(flags: np.ndarray) -> list[list]:
    runs: list[list] = []
    for i, f in enumerate(flags.tolist()):
        if runs and runs[-1][2] == f:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1, f])
    return runs


def _absorb(runs: list[list], sizes: np.ndarray) -> list[list]:
    """Merge runs too short to be worth their own codec into their neighbours."""
    changed = True
    while changed and len(runs) > 1:
        changed = False
        for i, (a, b, is_bin) in enumerate(runs):
            length = int(sizes[a:b].sum())
            limit = MIN_BINARY_RUN if is_bin else MIN_TEXT_RUN
            if length < limit:
                runs[i][2] = not is_bin
                changed = True
                break
        # Coalesce neighbours of the same kind.
        merged: list[list] = []
        for r in runs:
            if merged and merged[-1][2] == r[2]:
                merged[-1][1] = r[1]
            else:
                merged.append(list(r))
        runs = merged
    return runs
