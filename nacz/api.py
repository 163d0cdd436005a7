"""The Python API: one-shot ``compress``/``decompress`` and streaming variants.

Invariants:
- ``decompress(compress(data)) == data`` for all bytes, or an exception: never wrong bytes.
  Every decoded segment is checked against its CRC-32 and length, then the whole output.
- Decompression takes every bitstream setting from the file header, never from arguments;
  arguments only choose where the model comes from and how many threads run it.
- Decompression streams: the header, then one group's payloads at a time; each segment's
  bytes are verified before they are written, the whole output's CRC and length, and
  then the end of the file, after the last segment.
- Memory is bounded, independent of the input's length: compression reads the input a
  block at a time (``CodecConfig.block_size``; shards and groups never span blocks),
  spools payloads (memory, then a temporary file) and writes the header, which lists
  them, at the end; with workers, at most one group per worker is pending. The segment
  table is the only thing that grows with the input (a few dozen bytes per block).
- An input of at most one block is coded exactly as a whole-input plan codes it.
- The model and tokenizer load lazily, once per :class:`Codec`.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator

from . import formats
from .blocks import METHOD_OF_KIND, READ_SIZE, BlockCutter, BlockPlanner, read_blocks
from .config import CodecConfig
from .errors import (
    CorruptDataError,
    TokenizationError,
    UsageError,
    public_errors,
    raises_public_errors,
)
from .header import CheckedHeader, SegmentTable, check_header, check_model, make_header
from .jobs import DecodeJob, EncodeJob, WarnFn
from .model_file import ModelFile, resolve_model

#: Called as progress(bytes_done, bytes_total, coded_bits).
ProgressFn = Callable[[int, int, int], None]

#: Payloads are spooled until the header (which lists them) is written: this much in
#: memory, the rest in a temporary file.
SPOOL_MEMORY = 4 << 20


def _remaining_size(src) -> int | None:
    """Bytes left in ``src`` if it is a regular file (for progress), else None."""
    import os
    import stat

    try:
        st = os.fstat(src.fileno())
        return st.st_size - src.tell() if stat.S_ISREG(st.st_mode) else None
    except (AttributeError, OSError, ValueError):
        return None


class _Meter:
    """Progress over a run: bytes and bits of the finished blocks (or units), plus what
    the group being coded here reports."""

    def __init__(self, progress: ProgressFn | None, total: int | None):
        self.progress = progress
        self.total = total or 0
        self.done_bytes = 0
        self.done_bits = 0

    def for_group(self, tag):
        """A callback for ``run_job``: progress(tokens, bytes, bits) within one group."""
        return lambda t, b, bits: self.progress(self.done_bytes + b, self.total,
                                                self.done_bits + bits)

    def advance(self, n_bytes: int, n_bits: int = 0) -> None:
        self.done_bytes += n_bytes
        self.done_bits += n_bits
        self.total = max(self.total, self.done_bytes)
        if self.progress is not None:
            self.progress(self.done_bytes, self.total, self.done_bits)

    @property
    def group_callbacks(self):
        return self.for_group if self.progress is not None else None


class _CountingBlocks:
    """Blocks passing by, their length and CRC added to ``into`` (a :class:`_Spool`)."""

    def __init__(self, blocks, into: _Spool):
        self._blocks = blocks
        self._into = into

    def __iter__(self) -> Iterator[bytes]:
        for data in self._blocks:
            self._into.count_input(data)
            yield data


class _Spool:
    """One compression's coded blocks: their payloads wait here (memory, then a temporary
    file) until the header, which lists them, can be written."""

    def __init__(self, codec: Codec, cfg: CodecConfig, meter: _Meter):
        import tempfile

        self._codec, self._cfg, self._meter = codec, cfg, meter
        self._table = SegmentTable()
        self._file = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)
        self.n_bytes = 0
        self.crc32 = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self._file.close()

    def count_input(self, data: bytes) -> None:
        self.n_bytes += len(data)
        self.crc32 = zlib.crc32(data, self.crc32)

    def add(self, block) -> None:
        """A coded block (:meth:`Codec.code_blocks`), in input order."""
        payloads = self._table.add_block(block)
        for payload in payloads:
            self._file.write(payload)
        self._meter.advance(block.n_bytes, 8 * sum(map(len, payloads)))

    def write_file(self, dst: BinaryIO) -> int:
        """Write the nacz file (header, then the payloads) to ``dst``; its length."""
        import shutil

        cfg, table = self._cfg, self._table
        fingerprint = self._codec.runner.fingerprint(cfg) if table.has_neural else None
        header = make_header(self._codec.model_file, fingerprint, cfg, table, self.n_bytes,
                             self.crc32)
        head = header.to_bytes()
        dst.write(head)
        self._file.seek(0)
        shutil.copyfileobj(self._file, dst, READ_SIZE)
        return len(head) + header.payload_length


@dataclass(frozen=True)
class FileInfo:
    """What a nacz file's header says, read without decoding (:func:`read_info`)."""

    header: formats.ContainerHeader
    config: CodecConfig
    #: The file's size: the header, the payloads and anything after them.
    compressed_bytes: int


@raises_public_errors
def read_header(src) -> formats.ContainerHeader:
    """The container header of a nacz file (bytes or a binary file), without decoding."""
    return formats.read_header(src)


@raises_public_errors
def read_info(src: BinaryIO) -> FileInfo:
    """The header of the nacz file read from ``src`` (a pipe will do) and its decoded
    config, plus the file's size: ``src`` is read to its end, a chunk at a time."""
    from .config import config_from_fields

    counted = _CountingReader(src)
    header = formats.read_header(counted)
    while counted.read(READ_SIZE):
        pass
    return FileInfo(header, config_from_fields(header.config_fields), counted.count)


class _CountingReader:
    """Counts the bytes read through it."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        b = self._raw.read(n)
        self.count += len(b)
        return b


class Codec:
    """A loaded model plus what compression and decompression need around it.

    The parts with one job each: :class:`nacz.blocks.BlockPlanner` plans blocks, a group
    runner (:class:`nacz.workers.LocalGroupRunner` or
    :class:`nacz.ray_runner.RayGroupRunner`) codes their groups, :mod:`nacz.header`
    writes and checks the header. The codec owns the model's life and the numerics
    fingerprints, and joins the parts.
    """

    @raises_public_errors
    def __init__(
        self, model: str | None = None, threads: int | None = None, verbose: bool = False,
        workers: int = 1, gpus: tuple[int, ...] = (), ray_address: str | None = None,
        warn: WarnFn | None = None,
    ):
        """``ray_address``: None codes groups here (and in ``workers`` processes);
        ``"local"`` starts a local Ray instance, ``"auto"`` or an address joins a cluster
        (``workers`` Ray actors, one GPU each when ``gpus`` is given; nacz.ray_runner).
        ``warn(line)``: what the runner tells the user (refused actors, fewer actors than
        asked for); by default a :class:`RuntimeWarning`."""
        from .workers import LocalGroupRunner, place_workers

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
        if ray_address is not None:
            from .ray_runner import RayGroupRunner

            self.runner = RayGroupRunner(ray_address, self.workers, threads, self.model_file,
                                         gpus=bool(gpus), warn=warn)
        else:
            self.runner = LocalGroupRunner(self)

    def close(self) -> None:
        """Stop the Ray actors (and a Ray instance this codec started), if any."""
        self.runner.close()

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
            from .tokenizer import ByteTokenizer, vocabulary_bytes

            be = self.backend
            self._tokenizer = ByteTokenizer(vocabulary_bytes(be), be.tokenize)
        return self._tokenizer

    def fingerprint(self, cfg: CodecConfig) -> bytes:
        """This machine's numerics fingerprint for ``cfg`` (cached per config)."""
        if cfg not in self._fingerprints:
            from .codec import cached_numerics_fingerprint

            self._fingerprints[cfg] = cached_numerics_fingerprint(self.backend, cfg)
        return self._fingerprints[cfg]

    def planner(self, config: CodecConfig | None = None, hybrid: bool = True) -> BlockPlanner:
        """The block planner compression uses for ``config`` (bench scripts plan with it)."""
        return BlockPlanner(self.backend, self.tokenizer, config or CodecConfig(), hybrid)

    def gate_estimate(self, piece: bytes, tokens, cfg: CodecConfig | None = None):
        """What :mod:`nacz.model_gate` decides a text segment from (see
        :func:`nacz.blocks.gate_estimate`)."""
        from .blocks import gate_estimate

        return gate_estimate(self.backend, piece, tokens, cfg)

    # -- compression -------------------------------------------------------------------

    def portability_warning(self) -> str | None:
        """Why files this codec makes may not decode on other x86-64 machines (a llama.cpp
        built beyond the portable x86-64-v3 instruction set), or None."""
        from .backend import nonportable_cpu_features

        extra = nonportable_cpu_features()
        if not extra:
            return None
        return (f"llama.cpp here was built for {', '.join(extra)}, beyond the portable "
                "x86-64-v3 set: files made with it decode only where llama.cpp has the same "
                "kernels (reinstall it with the README's requirements.txt)")

    @raises_public_errors
    def compress(
        self, data: bytes, config: CodecConfig | None = None, progress: ProgressFn | None = None,
        hybrid: bool = True,
    ) -> bytes:
        """Compress ``data``; ``hybrid=False`` sends every byte through the model."""
        out = io.BytesIO()
        self.compress_to(bytes(data), out, config, progress, hybrid)
        return out.getvalue()

    @raises_public_errors
    def compress_to(
        self, src: BinaryIO | bytes, dst: BinaryIO, config: CodecConfig | None = None,
        progress: ProgressFn | None = None, hybrid: bool = True,
    ) -> int:
        """Compress everything readable from ``src`` (a binary file or bytes) into ``dst``;
        returns the bytes written.

        Memory is bounded by the config's block size and the worker count, not by the
        input: the input is read a block at a time, and payloads wait in a spool (memory,
        then a temporary file) until the header, which lists them, has been written.
        """
        if isinstance(src, (bytes, bytearray, memoryview)):
            src = io.BytesIO(bytes(src))
        cfg = self._checked_config(config)
        meter = _Meter(progress, _remaining_size(src) if progress is not None else None)
        with _Spool(self, cfg, meter) as spool:
            for block in self.code_blocks(_CountingBlocks(read_blocks(src, cfg.block_size),
                                                          spool), self.planner(cfg, hybrid),
                                          meter):
                spool.add(block)
            return spool.write_file(dst)

    def _checked_config(self, config: CodecConfig | None) -> CodecConfig:
        cfg = config or CodecConfig()
        if cfg.start_token >= self.backend.n_vocab:
            raise TokenizationError(f"start token {cfg.start_token} is not in the vocabulary")
        return cfg

    def code_blocks(self, blocks, planner: BlockPlanner, meter: _Meter | None = None):
        """Plan each block of ``blocks`` (an iterable of bytes) and yield it once all its
        groups are coded (their payloads in the parts), in order."""
        cfg = planner.cfg

        def jobs():
            for data in blocks:
                block = planner.plan(data)
                del data
                if not block.groups:
                    yield (block, -1), None
                for gi, members in enumerate(block.groups):
                    yield (block, gi), EncodeJob(cfg, [m.tokens for m in members])

        callbacks = meter.group_callbacks if meter is not None else None
        for (block, gi), payloads in self.runner.run_groups(jobs(), progress=callbacks):
            if payloads is not None:
                for m, payload in zip(block.groups[gi], payloads):
                    m.payload, m.tokens = m.prefix + payload, None
            if gi == len(block.groups) - 1:  # -1 == -1 for a block without groups
                yield block

    # -- decompression -----------------------------------------------------------------

    def check_model(self, header: formats.ContainerHeader) -> None:
        """Refuse a file made with another model than this codec's."""
        check_model(self.model_file, header)

    @raises_public_errors
    def decompress_to(self, src: BinaryIO, dst: BinaryIO,
                      progress: ProgressFn | None = None) -> int:
        """Decompress a nacz stream from ``src`` into ``dst``; returns the bytes written.

        Streaming: after the header, only one lockstep group's payloads and decoded bytes
        (one per worker with workers) are in memory at a time. Each segment is checked
        against its length and CRC before its bytes are written, the whole output's CRC
        and length at the end, and then that nothing follows the last payload. An error
        can come after some output was written: callers that must not leave partial
        output (the CLI) write to a temporary file.
        """
        n_bytes = 0
        for piece in self.decoded_pieces(src, progress):
            dst.write(piece)
            n_bytes += len(piece)
        return n_bytes

    def decoded_pieces(self, src: BinaryIO, progress: ProgressFn | None = None,
                       checked: CheckedHeader | None = None) -> Iterator[bytes]:
        """The decoded bytes of the nacz stream ``src``, a segment at a time, each checked
        against its length and CRC before it is yielded; the whole output's CRC and length
        and the end of the file are checked after the last (an error raised there comes
        after every piece). ``checked``: the header, already read from ``src``."""
        with public_errors():
            if checked is None:
                checked = self.checked_header(src)
            header = checked.header
            if checked.members:
                self.runner.check_numerics(checked.config, header.numerics_fingerprint)
            reader = formats.PayloadReader(src, header)
            meter = _Meter(progress, header.original_length)
            n_bytes, crc = 0, 0
            for span, pieces in self.decode_units(checked, reader, meter):
                for j, piece in zip(span, pieces):
                    seg = header.segments[j]
                    if len(piece) != seg.n_bytes or zlib.crc32(piece) != seg.data_crc32:
                        raise CorruptDataError(
                            f"segment {j} decoded to wrong data (checksum mismatch)")
                    n_bytes += len(piece)
                    crc = zlib.crc32(piece, crc)
                    yield piece
                meter.advance(sum(map(len, pieces)))
            if n_bytes != header.original_length or crc != header.original_crc32:
                raise CorruptDataError("decoded data fails the length or checksum check")
            reader.finish()

    @raises_public_errors
    def checked_header(self, src: BinaryIO) -> CheckedHeader:
        """Read the header of the nacz stream ``src`` and check it against this codec."""
        return check_header(formats.read_header(src), self.model_file)

    def decode_units(self, checked: CheckedHeader, reader, meter: _Meter | None = None):
        """Yield (span of segment indices, their decoded bytes) in table order: a group's
        span from its first neural segment to its last (binary segments between them
        included), or one binary segment outside every span."""
        from .binary_codec import decompress_binary
        from .layout import split_folded_payload, unfold_layout

        segs, cfg, members = checked.header.segments, checked.config, checked.members

        def jobs():
            i = 0
            while i < len(segs):
                last = members[segs[i].group][-1] if segs[i].kind in formats.NEURAL_KINDS else i
                span = range(i, last + 1)
                payloads = [reader.read() for _ in span]
                neural = [k for k, j in enumerate(span) if segs[j].kind in formats.NEURAL_KINDS]
                for k in neural:
                    if segs[span[k]].kind == formats.SegmentKind.NEURAL_FOLD:
                        # (layout bits, coded layout) wait here; the tokens go to the model.
                        payloads[k] = split_folded_payload(payloads[k])
                job = DecodeJob(cfg, [segs[span[k]].n_tokens for k in neural],
                                [_tokens_payload(payloads[k]) for k in neural]) if neural else None
                yield (span, payloads), job
                i = span.stop

        callbacks = meter.group_callbacks if meter is not None else None
        decode_text = self.tokenizer.decode
        for (span, payloads), streams in self.runner.run_groups(
                jobs(), expected=checked.header.numerics_fingerprint, progress=callbacks):
            decoded = iter(streams or ())
            pieces = []
            for j, payload in zip(span, payloads):
                kind = segs[j].kind
                if kind == formats.SegmentKind.NEURAL:
                    pieces.append(decode_text(next(decoded)))
                elif kind == formats.SegmentKind.NEURAL_FOLD:
                    mode, layout, _ = payload
                    pieces.append(unfold_layout(decode_text(next(decoded)), mode, layout))
                else:
                    pieces.append(decompress_binary(METHOD_OF_KIND[kind], payload,
                                                    segs[j].n_bytes))
            yield span, pieces

    @raises_public_errors
    def decompress_from(self, src: BinaryIO, progress: ProgressFn | None = None) -> bytes:
        """Decompress a nacz stream from ``src`` and return the original bytes."""
        out = io.BytesIO()
        self.decompress_to(src, out, progress)
        return out.getvalue()

    @raises_public_errors
    def decompress(self, blob: bytes, progress: ProgressFn | None = None) -> bytes:
        return self.decompress_from(io.BytesIO(bytes(blob)), progress)


class Compressor:
    """Compression fed push-style (``nacz.open``'s writer): :meth:`feed` bytes as they
    come, then :meth:`finish` writes the nacz file.

    The file is byte for byte what :meth:`Codec.compress_to` writes for the same bytes and
    config, however the bytes are split among calls: the same cuts
    (:class:`nacz.blocks.BlockCutter`), plans, spool and header. Each block is coded as
    soon as it is complete; memory holds at most one block of input.
    """

    def __init__(self, codec: Codec, config: CodecConfig | None = None, hybrid: bool = True):
        cfg = codec._checked_config(config)
        self._codec = codec
        self._planner = codec.planner(cfg, hybrid)
        self._cutter = BlockCutter(cfg.block_size)
        self._spool = _Spool(codec, cfg, _Meter(None, None))

    @raises_public_errors
    def feed(self, data) -> None:
        """Take ``data`` (bytes-like); code every block it completes."""
        self._code(self._cutter.feed(data))

    @raises_public_errors
    def finish(self, dst: BinaryIO) -> int:
        """Code the last block and write the whole file to ``dst``; returns its length."""
        try:
            self._code(self._cutter.finish())
            return self._spool.write_file(dst)
        finally:
            self.close()

    def close(self) -> None:
        """Drop what was coded so far (``finish`` closes too)."""
        self._spool.close()

    def _code(self, blocks) -> None:
        for block in self._codec.code_blocks(_CountingBlocks(blocks, self._spool),
                                             self._planner):
            self._spool.add(block)


def _tokens_payload(payload):
    """The arithmetic code of a neural segment's tokens (a folded one's is split first)."""
    return payload[2] if isinstance(payload, tuple) else payload


def _one_shot(model, threads, ray_address, run):
    codec = Codec(model, threads, ray_address=ray_address)
    try:
        return run(codec)
    finally:
        codec.close()


def compress(
    data: bytes,
    *,
    model: str | None = None,
    config: CodecConfig | None = None,
    level: int | None = None,
    threads: int | None = None,
    ray_address: str | None = None,
) -> bytes:
    """Compress ``data`` with the model (the bundled one by default). ``level``: 1..9 as
    the command line's -1..-9 (``config`` or level 6 when None; not both). ``ray_address``:
    code on Ray (``"local"``, ``"auto"`` or an address; see :class:`Codec`)."""
    config = _level_or_config(level, config)
    return _one_shot(model, threads, ray_address, lambda c: c.compress(data, config))


def _level_or_config(level: int | None, config: CodecConfig | None) -> CodecConfig | None:
    if level is None:
        return config
    if config is not None:
        raise UsageError("give a level or a config, not both")
    from .config import level_config

    return level_config(level)


def decompress(blob: bytes, *, model: str | None = None, threads: int | None = None,
               ray_address: str | None = None) -> bytes:
    """Decompress a whole nacz file held in memory."""
    return _one_shot(model, threads, ray_address, lambda c: c.decompress(blob))


def compress_stream(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    model: str | None = None,
    config: CodecConfig | None = None,
    level: int | None = None,
    threads: int | None = None,
    ray_address: str | None = None,
) -> int:
    """Compress everything readable from ``src`` into ``dst``; returns bytes written.

    Reads the input a block at a time (``CodecConfig.block_size``): memory does not grow
    with its length. ``dst`` need not be seekable. ``level`` as in :func:`compress`.
    """
    config = _level_or_config(level, config)
    return _one_shot(model, threads, ray_address, lambda c: c.compress_to(src, dst, config))


def decompress_stream(
    src: BinaryIO, dst: BinaryIO, *, model: str | None = None, threads: int | None = None,
    ray_address: str | None = None,
) -> int:
    """Decompress a nacz stream from ``src`` into ``dst``; returns bytes written.

    Streams: memory does not grow with the file's length, and output is written as each
    group is decoded and verified. On an error, part of the output may have been written.
    """
    return _one_shot(model, threads, ray_address, lambda c: c.decompress_to(src, dst))
