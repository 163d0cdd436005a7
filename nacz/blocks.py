"""Planning a block of input: segments, shards, lockstep groups, and the off-model payloads.

Invariants:
- The input is cut into blocks by :func:`nacz.segmenter.block_end`, and only once more
  than ``block_size`` bytes are buffered: the cuts depend on the bytes alone, never on how
  ``src.read`` splits them, and an input of at most one block is a single block.
- A block's plan depends only on its bytes, the model (tokenizer and, for the model gate,
  its costs) and the config: never on workers, threads or where the groups will run.
- Shards and groups never span blocks; a block's neural segments form groups of at most
  ``max_streams`` in table order, and binary segments are coded here, while planning.
- A part keeps its input's length and CRC, not its bytes; its tokens stay only until its
  group is coded.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterator

import numpy as np

from . import formats
from .config import MODEL_GATE_NEVER, MODEL_GATE_ROUTER, OFFMODEL_CM, CodecConfig

#: Bytes asked of ``src.read`` at a time while filling a block.
READ_SIZE = 1 << 20

# Segment kinds <-> nacz.binary_codec method ids (both fixed by hand).
KIND_OF_METHOD = {
    0: formats.SegmentKind.STORED,
    1: formats.SegmentKind.ZSTD,
    2: formats.SegmentKind.LZMA2,
    3: formats.SegmentKind.X86_LZMA2,
    4: formats.SegmentKind.SPARC_LZMA2,
    5: formats.SegmentKind.PPMD,
    6: formats.SegmentKind.ZPAQ,
}
METHOD_OF_KIND = {k: m for m, k in KIND_OF_METHOD.items()}


@dataclass(eq=False)
class Part:
    """One planned segment while compressing."""

    kind: int
    n_bytes: int
    data_crc32: int
    tokens: np.ndarray | None = None
    n_tokens: int = 0
    payload: bytes = b""
    group: int = 0  # within its block until the block is written
    #: What a folded neural segment's payload starts with: its layout (nacz.layout).
    prefix: bytes = b""


@dataclass(eq=False)
class Block:
    """One block of input, planned: its parts in order and its lockstep groups."""

    parts: list[Part]
    groups: list[list[Part]]
    n_bytes: int


class BlockCutter:
    """The one rule that cuts input into blocks, fed push-style (``nacz.open``'s writer)
    or pull-style (:func:`read_blocks`): the cuts depend on the bytes alone."""

    def __init__(self, block_size: int):
        self.block_size = block_size
        self._buf = bytearray()

    @property
    def wanted(self) -> int:
        """Bytes to read before the next cut can be made (at least 1)."""
        return max(1, self.block_size + 1 - len(self._buf))

    def feed(self, data) -> Iterator[bytes]:
        """Take ``data``; yield every block that is now complete."""
        from .segmenter import block_end

        self._buf += data
        while len(self._buf) > self.block_size:
            # block_end reads at most block_size + 1 bytes, however many are buffered.
            end = block_end(self._buf, self.block_size)
            yield bytes(self._buf[:end])
            del self._buf[:end]

    def finish(self) -> Iterator[bytes]:
        """The last block (none for an empty input)."""
        if self._buf:
            yield bytes(self._buf)
            self._buf.clear()


def read_blocks(src: BinaryIO, block_size: int) -> Iterator[bytes]:
    """The input, cut into blocks (see the module's invariants); never more than one block
    and one byte are buffered."""
    cutter = BlockCutter(block_size)
    while chunk := src.read(min(READ_SIZE, cutter.wanted)):
        yield from cutter.feed(chunk)
    yield from cutter.finish()


class BlockPlanner:
    """Plans blocks for one config: ``plan(data)`` segments, tokenizes, shards and groups a
    block, and codes its binary segments (and the text the model gate refuses)."""

    def __init__(self, backend, tokenizer, cfg: CodecConfig, hybrid: bool = True):
        self.backend = backend
        self.tokenizer = tokenizer
        self.cfg = cfg
        self.hybrid = hybrid

    def plan(self, data: bytes) -> Block:
        from .codec import plan_shards

        cfg = self.cfg
        if not data:
            plans = []
        elif self.hybrid:
            from .segmenter import plan_segments

            plans = [(p.start, p.end, p.kind) for p in plan_segments(data)]
        else:
            plans = [(0, len(data), "text")]
        parts: list[Part] = []
        for start, end, kind in plans:
            piece = data[start:end]
            if kind != "text" or cfg.model_gate == MODEL_GATE_NEVER:
                parts.append(self._classic_part(piece, offmodel_payload(piece, cfg)))
                continue
            tokens = self.tokenizer.encode(piece)
            if cfg.model_gate:
                estimate, classic = gate_estimate(self.backend, piece, tokens, cfg)
                if not estimate.model_pays:
                    # Not worth the model's time (nacz.model_gate): the off-model codecs'
                    # payload, made for the estimate, is the segment.
                    parts.append(self._classic_part(piece, classic))
                    continue
            for a, b in plan_shards(len(tokens), cfg):
                shard = tokens[a:b]
                parts.append(self._neural_part(self.tokenizer.decode(shard), shard))
        neural = [p for p in parts if p.kind in formats.NEURAL_KINDS]
        step = cfg.max_streams
        groups = [neural[g : g + step] for g in range(0, len(neural), step)]
        for gi, members in enumerate(groups):
            for m in members:
                m.group = gi
        return Block(parts, groups, len(data))

    @staticmethod
    def _classic_part(piece: bytes, classic: tuple[int, bytes]) -> Part:
        method, payload = classic
        return Part(KIND_OF_METHOD[method], len(piece), zlib.crc32(piece), payload=payload)

    def _neural_part(self, raw: bytes, tokens: np.ndarray) -> Part:
        """A shard of text as a neural segment, its line layout folded if that pays."""
        mode = 0
        if self.cfg.layout:
            from .layout import choose_layout

            mode = choose_layout(raw, self.cfg.layout)
        if not mode:
            return Part(formats.SegmentKind.NEURAL, len(raw), zlib.crc32(raw), tokens=tokens,
                        n_tokens=len(tokens))
        from .layout import fold_layout, pack_folded_payload

        folded, layout = fold_layout(raw, mode)
        tokens = self.tokenizer.encode(folded)
        return Part(formats.SegmentKind.NEURAL_FOLD, len(raw), zlib.crc32(raw), tokens=tokens,
                    n_tokens=len(tokens), prefix=pack_folded_payload(mode, layout, b""))


def offmodel_payload(piece: bytes, cfg: CodecConfig) -> tuple[int, bytes]:
    """(method, payload) of ``piece`` off the model, by ``cfg``'s off-model codec set."""
    from .binary_codec import compress_binary, compress_offmodel

    return compress_offmodel(piece) if cfg.offmodel == OFFMODEL_CM else compress_binary(piece)


def gate_estimate(backend, piece: bytes, tokens: np.ndarray, cfg: CodecConfig | None = None):
    """(``GateEstimate``, off-model (method, payload) or None) for a text segment: what
    :mod:`nacz.model_gate` decides from under ``cfg``'s rule (the default config's when
    None). The off-model payload is made only when the rule needs a sample. The sample
    starts from ``cfg``'s start token."""
    from .model_gate import GateEstimate, needs_estimate, sample_span

    cfg = cfg or CodecConfig()
    gate = MODEL_GATE_ROUTER if cfg.model_gate == MODEL_GATE_ROUTER else 1
    if not needs_estimate(len(piece), len(tokens)):
        return GateEstimate(len(piece), len(tokens), gate=gate), None
    from .codec import escape_standin, token_lengths

    classic = offmodel_payload(piece, cfg)
    a, b, c = sample_span(len(tokens))
    window = np.asarray(tokens[a:c], dtype=np.int64)
    n_vocab = backend.n_vocab
    sample_bytes = int(token_lengths(backend)[window[b - a:]].sum())
    fed = np.where(window < n_vocab, window, escape_standin(backend))
    bits = backend.sequence_cost_bits(fed, cfg.start_token, b - a)
    learning = None
    if gate == MODEL_GATE_ROUTER:
        learning = _learning_factor(piece, tokens, a, b, c, token_lengths(backend))
    return GateEstimate(len(piece), len(tokens), bits / max(1, sample_bytes),
                        8 * len(classic[1]) / len(piece), gate, learning), classic


def _learning_factor(piece: bytes, tokens, a: int, b: int, c: int, lengths) -> float:
    """PPMd's bits per byte on the whole of ``piece`` over its bits per byte on the sample's
    bytes (tokens [b, c)) after the sample's context (tokens [a, b)): how much a coder that
    learns from the whole segment gains over what the sample saw (nacz.model_gate)."""
    from .cm_codecs import compress_ppmd

    def nbytes(i: int, j: int) -> int:
        return int(lengths[np.asarray(tokens[i:j], dtype=np.int64)].sum())

    start, context, sample = nbytes(0, a), nbytes(a, b), nbytes(b, c)
    span = piece[start : start + context + sample]
    sample_bits = 8 * (len(compress_ppmd(span)) - len(compress_ppmd(span[:context])))
    whole = 8 * len(compress_ppmd(piece)) / len(piece)
    return whole / (max(8, sample_bits) / max(1, sample))
