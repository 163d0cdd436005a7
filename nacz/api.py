"""The Python API: one-shot ``compress``/``decompress`` and streaming variants.

Invariants:
- ``decompress(compress(data)) == data`` for all bytes, or an exception: never wrong bytes.
  Every decoded segment is checked against its CRC-32 and length, then the whole output.
- Decompression takes every bitstream setting from the file header, never from arguments;
  arguments only choose where the model comes from and how many threads run it.
- The model and tokenizer load lazily, once per :class:`Codec`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import BinaryIO, Callable

import numpy as np

from . import formats
from .config import CodecConfig, ConfigError, config_from_fields, config_to_fields
from .errors import (
    CorruptDataError,
    ModelMismatchError,
    NumericsMismatchError,
    TokenizationError,
)
from .model_file import ModelFile, resolve_model

#: Called as progress(bytes_done, bytes_total, coded_bits).
ProgressFn = Callable[[int, int, int], None]


@dataclass(eq=False)
class _Part:
    """One planned segment while compressing."""

    kind: int
    data: bytes
    tokens: np.ndarray | None = None
    payload: bytes = b""
    group: int = 0


# Segment kinds <-> nacz.binary_codec method ids (both fixed by hand).
_KIND_OF_METHOD = {
    0: formats.SEGMENT_STORED,
    1: formats.SEGMENT_ZSTD,
    2: formats.SEGMENT_LZMA2,
    3: formats.SEGMENT_X86_LZMA2,
    4: formats.SEGMENT_SPARC_LZMA2,
}
_METHOD_OF_KIND = {k: m for m, k in _KIND_OF_METHOD.items()}


class Codec:
    """A loaded model plus what compression and decompression need around it."""

    def __init__(
        self, model: str | None = None, threads: int | None = None, verbose: bool = False,
        workers: int = 1, gpus: tuple[int, ...] = (),
    ):
        from .workers import place_workers

        self.model_file: ModelFile = resolve_model(model)
        self._threads = threads
        #: The device of each worker (None: CPU); with GPUs, at least one worker per GPU.
        self.devices = place_workers(max(1, int(workers)), tuple(gpus))
        #: Worker processes for independent stream groups; never changes the plan.
        self.workers = len(self.devices)
        self._verbose = verbose
        self._backend = None
        self._tokenizer = None
        self._fingerprints: dict[CodecConfig, bytes] = {}

    @property
    def backend(self):
        if self._backend is None:
            from .backend import LlamaBackend

            self._backend = LlamaBackend(self.model_file, self._threads, self._verbose,
                                         gpu=self.devices[0])
        return self._backend

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from .tokenizer import ByteTokenizer, token_texts_to_bytes

            be = self.backend
            self._tokenizer = ByteTokenizer(token_texts_to_bytes(be.token_texts), be.tokenize)
        return self._tokenizer

    def fingerprint(self, cfg: CodecConfig) -> bytes:
        if cfg not in self._fingerprints:
            from .codec import numerics_fingerprint

            self._fingerprints[cfg] = numerics_fingerprint(self.backend, cfg)
        return self._fingerprints[cfg]

    # -- compression -------------------------------------------------------------------

    def compress(
        self, data: bytes, config: CodecConfig | None = None, progress: ProgressFn | None = None,
        hybrid: bool = True,
    ) -> bytes:
        """Compress ``data``; ``hybrid=False`` sends every byte through the model."""
        header, payloads = self._compress_parts(
            bytes(data), config or CodecConfig(), progress, hybrid
        )
        return header.to_bytes() + b"".join(payloads)

    def compress_to(
        self, data: bytes, dst: BinaryIO, config: CodecConfig | None = None,
        progress: ProgressFn | None = None,
    ) -> int:
        header, payloads = self._compress_parts(bytes(data), config or CodecConfig(), progress)
        return formats.write_container(dst, header, payloads)

    def _compress_parts(self, data: bytes, cfg: CodecConfig, progress: ProgressFn | None,
                        hybrid: bool = True):
        from .codec import plan_shards

        if cfg.start_token >= self.backend.n_vocab:
            raise TokenizationError(f"start token {cfg.start_token} is not in the vocabulary")
        if not data:
            plans = []
        elif hybrid:
            from .segmenter import plan_segments

            plans = [(p.start, p.end, p.kind) for p in plan_segments(data)]
        else:
            plans = [(0, len(data), "text")]
        parts: list[_Part] = []
        for start, end, kind in plans:
            piece = data[start:end]
            if kind == "text":
                tokens = self.tokenizer.encode(piece)
                for a, b in plan_shards(len(tokens), cfg):
                    shard = tokens[a:b]
                    parts.append(_Part(formats.SEGMENT_NEURAL, self.tokenizer.decode(shard), shard))
            else:
                from .binary_codec import compress_binary

                method, payload = compress_binary(piece)
                parts.append(_Part(_KIND_OF_METHOD[method], piece, payload=payload))
        neural = [p for p in parts if p.kind == formats.SEGMENT_NEURAL]
        groups = [neural[g : g + cfg.max_streams] for g in range(0, len(neural), cfg.max_streams)]
        base = [sum(len(p.data) for p in parts if p.kind != formats.SEGMENT_NEURAL)]
        total = len(data)

        def group_progress(i):
            return lambda t, b, bits: progress(base[0] + b, total, bits)

        def group_done(i):
            base[0] += sum(len(m.data) for m in groups[i])
            if progress is not None:
                progress(base[0], total, 0)

        from .workers import run_encode_groups

        results = run_encode_groups(
            self.backend, [[m.tokens for m in g] for g in groups], cfg, self.workers,
            group_done, group_progress if progress is not None else None, self.devices,
        )
        for gi, (members, payloads) in enumerate(zip(groups, results)):
            for m, payload in zip(members, payloads):
                m.payload = payload
                m.group = gi
        segments = []
        group = 0
        for p in parts:
            # Binary segments carry the group number of the neural segments around them,
            # keeping the table's groups in order.
            group = p.group if p.kind == formats.SEGMENT_NEURAL else group
            segments.append(
                formats.Segment(
                    kind=p.kind,
                    group=group,
                    n_tokens=len(p.tokens) if p.tokens is not None else 0,
                    n_bytes=len(p.data),
                    payload_length=len(p.payload),
                    payload_crc32=zlib.crc32(p.payload),
                    data_crc32=zlib.crc32(p.data),
                )
            )
        header = formats.ContainerHeader(
            model_sha256=self.model_file.sha256,
            model_name=self.model_file.name,
            # Only neural segments depend on the model's numerics (the decoder checks the
            # fingerprint only then), so binary-only files skip the probe.
            numerics_fingerprint=self.fingerprint(cfg) if neural else bytes(16),
            original_length=len(data),
            original_crc32=zlib.crc32(data),
            config_fields=config_to_fields(cfg, compact=True),
            segments=tuple(segments),
        )
        return header, [p.payload for p in parts]

    # -- decompression -----------------------------------------------------------------

    def check_model(self, header: formats.ContainerHeader) -> None:
        if header.model_sha256 != self.model_file.sha256:
            raise ModelMismatchError(
                f"file was compressed with model {header.model_name} "
                f"(sha256 {header.model_sha256.hex()[:16]}...) but the model in use is "
                f"{self.model_file.name} (sha256 {self.model_file.sha256.hex()[:16]}...) "
                f"at {self.model_file.path}; pass --model with the original model"
            )

    def decompress_from(self, src: BinaryIO, progress: ProgressFn | None = None) -> bytes:
        header = formats.read_header(src)
        try:
            cfg = config_from_fields(header.config_fields)
        except ConfigError as exc:
            raise formats.FormatError(str(exc)) from None
        self.check_model(header)
        payloads = formats.read_payloads(src, header)
        if not header.segments:
            if header.original_length:
                raise CorruptDataError("header claims data but holds no segments")
            return b""
        has_neural = any(s.kind == formats.SEGMENT_NEURAL for s in header.segments)
        if has_neural and self.fingerprint(cfg) != header.numerics_fingerprint:
            raise NumericsMismatchError(
                "this machine's model numerics differ from those of the machine that "
                "compressed the file (different CPU kind, GPU, or llama.cpp build); "
                "decoding here would produce garbage"
            )
        total = header.original_length
        segs = header.segments
        pieces: list[bytes | None] = [None] * len(segs)
        for i, seg in enumerate(segs):
            if seg.kind != formats.SEGMENT_NEURAL:
                from .binary_codec import decompress_binary

                pieces[i] = decompress_binary(_METHOD_OF_KIND[seg.kind], payloads[i], seg.n_bytes)
        groups: dict[int, list[int]] = {}
        for i, seg in enumerate(segs):
            if seg.kind == formats.SEGMENT_NEURAL:
                groups.setdefault(seg.group, []).append(i)
        member_lists = list(groups.values())
        if any(len(m) > cfg.max_streams for m in member_lists):
            raise formats.FormatError("a segment group has more streams than max_streams")
        base = [sum(len(p) for p in pieces if p is not None)]

        def group_progress(gi):
            return lambda t, b, bits: progress(base[0] + b, total, bits)

        def group_done(gi):
            base[0] += sum(segs[i].n_bytes for i in member_lists[gi])

        from .workers import run_decode_groups

        results = run_decode_groups(
            self.backend,
            [([segs[i].n_tokens for i in m], [payloads[i] for i in m]) for m in member_lists],
            cfg, self.workers, group_done, group_progress if progress is not None else None,
            self.devices,
        )
        for members, tokens in zip(member_lists, results):
            for i, toks in zip(members, tokens):
                pieces[i] = self.tokenizer.decode(toks)
        for i, (seg, piece) in enumerate(zip(segs, pieces)):
            if len(piece) != seg.n_bytes or zlib.crc32(piece) != seg.data_crc32:
                raise CorruptDataError(f"segment {i} decoded to wrong data (checksum mismatch)")
        data = b"".join(pieces)
        if len(data) != header.original_length or zlib.crc32(data) != header.original_crc32:
            raise CorruptDataError("decoded data fails the length or checksum check")
        return data

    def decompress(self, blob: bytes, progress: ProgressFn | None = None) -> bytes:
        import io

        return self.decompress_from(io.BytesIO(bytes(blob)), progress)


def compress(
    data: bytes,
    *,
    model: str | None = None,
    config: CodecConfig | None = None,
    threads: int | None = None,
) -> bytes:
    """Compress ``data`` with the model (the bundled one by default)."""
    return Codec(model, threads).compress(data, config)


def decompress(blob: bytes, *, model: str | None = None, threads: int | None = None) -> bytes:
    """Decompress a whole nacz file held in memory."""
    return Codec(model, threads).decompress(blob)


def compress_stream(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    model: str | None = None,
    config: CodecConfig | None = None,
    threads: int | None = None,
) -> int:
    """Compress everything readable from ``src`` into ``dst``; returns bytes written.

    The input is read whole before coding (shards are planned over all tokens).
    """
    return Codec(model, threads).compress_to(src.read(), dst, config)


def decompress_stream(
    src: BinaryIO, dst: BinaryIO, *, model: str | None = None, threads: int | None = None
) -> int:
    """Decompress a nacz stream from ``src`` into ``dst``; returns bytes written."""
    data = Codec(model, threads).decompress_from(src)
    dst.write(data)
    return len(data)
