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


class Codec:
    """A loaded model plus what compression and decompression need around it."""

    def __init__(self, model: str | None = None, threads: int | None = None, verbose: bool = False):
        self.model_file: ModelFile = resolve_model(model)
        self._threads = threads
        self._verbose = verbose
        self._backend = None
        self._tokenizer = None
        self._fingerprints: dict[CodecConfig, bytes] = {}

    @property
    def backend(self):
        if self._backend is None:
            from .backend import LlamaBackend

            self._backend = LlamaBackend(self.model_file, self._threads, self._verbose)
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
        self, data: bytes, config: CodecConfig | None = None, progress: ProgressFn | None = None
    ) -> bytes:
        header, payloads = self._compress_parts(bytes(data), config or CodecConfig(), progress)
        return header.to_bytes() + b"".join(payloads)

    def compress_to(
        self, data: bytes, dst: BinaryIO, config: CodecConfig | None = None,
        progress: ProgressFn | None = None,
    ) -> int:
        header, payloads = self._compress_parts(bytes(data), config or CodecConfig(), progress)
        return formats.write_container(dst, header, payloads)

    def _compress_parts(self, data: bytes, cfg: CodecConfig, progress: ProgressFn | None):
        from .codec import encode_streams, plan_shards

        if cfg.start_token >= self.backend.n_vocab:
            raise TokenizationError(f"start token {cfg.start_token} is not in the vocabulary")
        tokens = self.tokenizer.encode(data) if data else np.zeros(0, dtype=np.int32)
        shards = plan_shards(len(tokens), cfg)
        streams = [tokens[a:b] for a, b in shards]
        total = len(data)
        cb = (lambda t, b, bits: progress(b, total, bits)) if progress else None
        payloads = encode_streams(self.backend, streams, cfg, cb) if streams else []
        segments = []
        for stream, payload in zip(streams, payloads):
            piece = self.tokenizer.decode(stream)
            segments.append(
                formats.Segment(
                    kind=formats.SEGMENT_NEURAL,
                    group=0,
                    n_tokens=len(stream),
                    n_bytes=len(piece),
                    payload_length=len(payload),
                    payload_crc32=zlib.crc32(payload),
                    data_crc32=zlib.crc32(piece),
                )
            )
        header = formats.ContainerHeader(
            model_sha256=self.model_file.sha256,
            model_name=self.model_file.name,
            numerics_fingerprint=self.fingerprint(cfg),
            original_length=len(data),
            original_crc32=zlib.crc32(data),
            config_fields=config_to_fields(cfg),
            segments=tuple(segments),
        )
        return header, payloads

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
        from .codec import decode_streams

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
        if self.fingerprint(cfg) != header.numerics_fingerprint:
            raise NumericsMismatchError(
                "this machine's model numerics differ from those of the machine that "
                "compressed the file (different CPU kind, GPU, or llama.cpp build); "
                "decoding here would produce garbage"
            )
        total = header.original_length
        cb = (lambda t, b, bits: progress(b, total, bits)) if progress else None
        segs = header.segments
        tokens = decode_streams(
            self.backend, [s.n_tokens for s in segs], payloads, cfg, cb
        )
        pieces = []
        for i, (seg, toks) in enumerate(zip(segs, tokens)):
            piece = self.tokenizer.decode(toks)
            if len(piece) != seg.n_bytes or zlib.crc32(piece) != seg.data_crc32:
                raise CorruptDataError(f"segment {i} decoded to wrong data (checksum mismatch)")
            pieces.append(piece)
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
