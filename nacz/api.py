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

import zlib
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator

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
    """One planned segment while compressing. Its input bytes are not kept: only their
    length and CRC, and the tokens until its group is coded."""

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
class _Block:
    """One block of input, planned: its parts in order and its lockstep groups."""

    parts: list[_Part]
    groups: list[list[_Part]]
    n_bytes: int


#: Bytes asked of ``src.read`` at a time while filling a block.
_READ_SIZE = 1 << 20
#: Payloads are spooled until the header (which lists them) is written: this much in
#: memory, the rest in a temporary file.
SPOOL_MEMORY = 4 << 20


def _read_blocks(src: BinaryIO, block_size: int) -> Iterator[bytes]:
    """The input, cut into blocks by :func:`nacz.segmenter.block_end`.

    A block is cut only once more than ``block_size`` bytes are buffered, so the cuts
    depend on the bytes alone, never on how ``src.read`` happens to split them, and an
    input of at most ``block_size`` bytes is a single block.
    """
    from .segmenter import block_end

    buf = bytearray()
    eof = False
    while True:
        while not eof and len(buf) <= block_size:
            chunk = src.read(min(_READ_SIZE, block_size + 1 - len(buf)))
            if chunk:
                buf += chunk
            else:
                eof = True
        if len(buf) <= block_size:
            if buf:
                yield bytes(buf)
            return
        end = block_end(buf, block_size)
        yield bytes(buf[:end])
        del buf[:end]


def _remaining_size(src) -> int | None:
    """Bytes left in ``src`` if it is a regular file (for progress), else None."""
    import os
    import stat

    try:
        st = os.fstat(src.fileno())
        return st.st_size - src.tell() if stat.S_ISREG(st.st_mode) else None
    except (AttributeError, OSError, ValueError):
        return None


def _tokens_payload(payload):
    """The arithmetic code of a neural segment's tokens (a folded one's is split first)."""
    return payload[2] if isinstance(payload, tuple) else payload


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
        workers: int = 1, gpus: tuple[int, ...] = (), ray_address: str | None = None,
    ):
        """``ray_address``: None codes groups here (and in ``workers`` processes);
        ``"local"`` starts a local Ray instance, ``"auto"`` or an address joins a cluster
        (``workers`` Ray actors, one GPU each when ``gpus`` is given; nacz.ray_runner)."""
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
        self._ray = None
        if ray_address is not None:
            from .ray_runner import RayGroupRunner

            self._ray = RayGroupRunner(ray_address, self.workers, threads, self.model_file,
                                       gpus=bool(gpus))

    def close(self) -> None:
        """Stop the Ray actors (and a Ray instance this codec started), if any."""
        if self._ray is not None:
            self._ray.close()

    def _run_groups(self, items, progress, expected: bytes | None = None):
        """(tag, result) per (tag, job), in order: here and in worker processes, or on
        Ray actors whose numerics equal ``expected`` (or each other's)."""
        if self._ray is not None:
            return self._ray.run_groups(items, expected)
        from .workers import run_groups

        return run_groups(self.backend, items, self.workers, self.devices, progress)

    def _header_fingerprint(self, cfg: CodecConfig) -> bytes:
        """The numerics the groups were coded with: this machine's, or the Ray actors'."""
        if self._ray is not None:
            return self._ray.fingerprint(cfg)
        return self.fingerprint(cfg)

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
        if cfg not in self._fingerprints:
            from .codec import cached_numerics_fingerprint

            self._fingerprints[cfg] = cached_numerics_fingerprint(self.backend, cfg)
        return self._fingerprints[cfg]

    # -- compression -------------------------------------------------------------------

    def compress(
        self, data: bytes, config: CodecConfig | None = None, progress: ProgressFn | None = None,
        hybrid: bool = True,
    ) -> bytes:
        """Compress ``data``; ``hybrid=False`` sends every byte through the model."""
        import io

        out = io.BytesIO()
        self.compress_to(bytes(data), out, config, progress, hybrid)
        return out.getvalue()

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
        import io
        import shutil
        import tempfile

        if isinstance(src, (bytes, bytearray, memoryview)):
            src = io.BytesIO(bytes(src))
        cfg = config or CodecConfig()
        if cfg.start_token >= self.backend.n_vocab:
            raise TokenizationError(f"start token {cfg.start_token} is not in the vocabulary")
        hint = _remaining_size(src) if progress is not None else None
        seen = {"bytes": 0, "crc": 0}

        def jobs():
            for data in _read_blocks(src, cfg.block_size):
                seen["bytes"] += len(data)
                seen["crc"] = zlib.crc32(data, seen["crc"])
                block = self._plan_block(data, cfg, hybrid)
                del data
                if not block.groups:
                    yield (block, -1), None
                for gi, members in enumerate(block.groups):
                    yield (block, gi), ("encode", cfg, [m.tokens for m in members])

        segments: list[formats.Segment] = []
        done = {"bytes": 0, "bits": 0}
        group_base = 0
        group = 0

        def total() -> int:
            return max(hint or 0, seen["bytes"])

        def group_progress(tag):
            block, gi = tag
            # Binary parts of the block are counted when it is written, after its groups.
            return lambda t, b, bits: progress(done["bytes"] + b, total(), done["bits"] + bits)

        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY) as spool:
            for (block, gi), payloads in self._run_groups(
                jobs(), group_progress if progress is not None else None,
            ):
                if payloads is not None:
                    for m, payload in zip(block.groups[gi], payloads):
                        m.payload, m.tokens = m.prefix + payload, None
                if gi < len(block.groups) - 1:
                    continue  # the block is written once its last group is coded
                for p in block.parts:
                    if p.kind in formats.NEURAL_KINDS:
                        # Binary segments carry the group number of the neural segments
                        # before them, keeping the table's groups in order.
                        group = group_base + p.group
                    segments.append(formats.Segment(
                        kind=p.kind, group=group, n_tokens=p.n_tokens, n_bytes=p.n_bytes,
                        payload_length=len(p.payload), payload_crc32=zlib.crc32(p.payload),
                        data_crc32=p.data_crc32,
                    ))
                    spool.write(p.payload)
                    done["bits"] += 8 * len(p.payload)
                group_base += len(block.groups)
                done["bytes"] += block.n_bytes
                if progress is not None:
                    progress(done["bytes"], total(), done["bits"])
            has_neural = any(s.kind in formats.NEURAL_KINDS for s in segments)
            n_fp = formats.FINGERPRINT_BYTES[formats.FORMAT_VERSION]
            header = formats.ContainerHeader(
                model_id=self.model_file.sha256[: formats.MODEL_ID_BYTES[formats.FORMAT_VERSION]],
                # The bundled model needs no name: its id says which file it was.
                model_name="" if self.model_file.bundled else self.model_file.name,
                # Only neural segments depend on the model's numerics (the decoder checks
                # the fingerprint only then), so binary-only files skip the probe.
                numerics_fingerprint=(self._header_fingerprint(cfg)[:n_fp] if has_neural
                                      else bytes(n_fp)),
                original_length=seen["bytes"],
                original_crc32=seen["crc"],
                config_fields=config_to_fields(cfg, compact=True),
                segments=tuple(segments),
            )
            head = header.to_bytes()
            dst.write(head)
            spool.seek(0)
            shutil.copyfileobj(spool, dst, _READ_SIZE)
            return len(head) + header.payload_length

    def _plan_block(self, data: bytes, cfg: CodecConfig, hybrid: bool) -> _Block:
        """Segment, tokenize, shard and (for binary segments) code one block."""
        from .codec import plan_shards

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
                if cfg.model_gate:
                    estimate, classic = self.gate_estimate(piece, tokens, cfg)
                    if not estimate.model_pays:
                        # Not worth the model's time (nacz.model_gate): the classic
                        # codecs' payload, made for the estimate, is the segment.
                        method, payload = classic
                        parts.append(_Part(_KIND_OF_METHOD[method], len(piece),
                                           zlib.crc32(piece), payload=payload))
                        continue
                for a, b in plan_shards(len(tokens), cfg):
                    shard = tokens[a:b]
                    raw = self.tokenizer.decode(shard)
                    parts.append(self._neural_part(raw, shard, cfg))
            else:
                from .binary_codec import compress_binary

                method, payload = compress_binary(piece)
                parts.append(_Part(_KIND_OF_METHOD[method], len(piece), zlib.crc32(piece),
                                   payload=payload))
        neural = [p for p in parts if p.kind in formats.NEURAL_KINDS]
        groups = [neural[g : g + cfg.max_streams] for g in range(0, len(neural), cfg.max_streams)]
        for gi, members in enumerate(groups):
            for m in members:
                m.group = gi
        return _Block(parts, groups, len(data))

    def gate_estimate(self, piece: bytes, tokens: np.ndarray, cfg: CodecConfig | None = None):
        """(``GateEstimate``, classic (method, payload) or None) for a text segment: what
        :mod:`nacz.model_gate` decides from. The classic payload is made only when the
        rule needs a sample. The sample starts from ``cfg``'s start token (the default
        config's when None)."""
        from .model_gate import GateEstimate, needs_estimate, sample_span

        if not needs_estimate(len(piece), len(tokens)):
            return GateEstimate(len(piece), len(tokens)), None
        from .binary_codec import compress_binary
        from .codec import _standin, _token_lengths

        classic = compress_binary(piece)
        a, b, c = sample_span(len(tokens))
        window = np.asarray(tokens[a:c], dtype=np.int64)
        n_vocab = self.backend.n_vocab
        sample_bytes = int(_token_lengths(self.backend)[window[b - a:]].sum())
        fed = np.where(window < n_vocab, window, _standin(self.backend))
        start_token = (cfg or CodecConfig()).start_token
        bits = self.backend.sequence_cost_bits(fed, start_token, b - a)
        return GateEstimate(len(piece), len(tokens), bits / max(1, sample_bytes),
                            8 * len(classic[1]) / len(piece)), classic

    def _neural_part(self, raw: bytes, tokens: np.ndarray, cfg: CodecConfig) -> _Part:
        """A shard of text as a neural segment, its line layout folded if that pays."""
        mode = 0
        if cfg.layout:
            from .layout import choose_layout

            mode = choose_layout(raw, cfg.layout)
        if not mode:
            return _Part(formats.SEGMENT_NEURAL, len(raw), zlib.crc32(raw), tokens=tokens,
                         n_tokens=len(tokens))
        from .layout import fold_layout, pack_folded_payload

        folded, layout = fold_layout(raw, mode)
        tokens = self.tokenizer.encode(folded)
        return _Part(formats.SEGMENT_NEURAL_FOLDED, len(raw), zlib.crc32(raw), tokens=tokens,
                     n_tokens=len(tokens), prefix=pack_folded_payload(mode, layout, b""))

    # -- decompression -----------------------------------------------------------------

    def check_model(self, header: formats.ContainerHeader) -> None:
        # Version 3 files keep the first 8 bytes of the model's SHA-256, older ones all 32.
        if not self.model_file.sha256.startswith(header.model_id):
            from .model_file import recorded_model_display

            raise ModelMismatchError(
                f"file was compressed with model {recorded_model_display(header.model_name)} "
                f"(sha256 {header.model_id.hex()[:16]}...) but the model in use is "
                f"{self.model_file.name} (sha256 {self.model_file.sha256.hex()[:16]}...) "
                f"at {self.model_file.path}; pass --model with the original model"
            )

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
        from .layout import split_folded_payload, unfold_layout

        header = formats.read_header(src)
        try:
            cfg = config_from_fields(header.config_fields)
        except ConfigError as exc:
            raise formats.FormatError(str(exc)) from None
        self.check_model(header)
        segs = header.segments
        if not segs and header.original_length:
            raise CorruptDataError("header claims data but holds no segments")
        members: dict[int, list[int]] = {}
        for i, seg in enumerate(segs):
            if seg.kind in formats.NEURAL_KINDS:
                members.setdefault(seg.group, []).append(i)
        if any(len(m) > cfg.max_streams for m in members.values()):
            raise formats.FormatError("a segment group has more streams than max_streams")
        n_fp = len(header.numerics_fingerprint)  # 8 bytes in version 3, 16 before
        # On Ray the actors are checked instead, each before it gets a job.
        if (members and self._ray is None
                and self.fingerprint(cfg)[:n_fp] != header.numerics_fingerprint):
            raise NumericsMismatchError(
                "this machine's model numerics differ from those of the machine that "
                "compressed the file (different CPU kind, GPU, or llama.cpp build); "
                "decoding here would produce garbage"
            )
        reader = formats.PayloadReader(src, header)

        def jobs():
            # A unit is a group's span of the table, from its first neural segment to its
            # last (binary segments between them included), or one binary segment
            # outside every span; units are decoded and written in table order.
            i = 0
            while i < len(segs):
                if segs[i].kind in formats.NEURAL_KINDS:
                    span = range(i, members[segs[i].group][-1] + 1)
                else:
                    span = range(i, i + 1)
                payloads = [reader.read() for _ in span]
                neural = [k for k, j in enumerate(span) if segs[j].kind in formats.NEURAL_KINDS]
                for k in neural:
                    if segs[span[k]].kind == formats.SEGMENT_NEURAL_FOLDED:
                        # (layout bits, coded layout) wait here; the tokens go to the model.
                        mode, layout, tokens_payload = split_folded_payload(payloads[k])
                        payloads[k] = (mode, layout, tokens_payload)
                job = ("decode", cfg, [segs[span[k]].n_tokens for k in neural],
                       [_tokens_payload(payloads[k]) for k in neural]) if neural else None
                yield (span, payloads), job
                i = span.stop

        total = header.original_length
        state = {"bytes": 0, "crc": 0}

        def group_progress(tag):
            return lambda t, b, bits: progress(state["bytes"] + b, total, bits)

        from .binary_codec import decompress_binary

        for (span, payloads), streams in self._run_groups(
            jobs(), group_progress if progress is not None else None,
            expected=header.numerics_fingerprint,
        ):
            decoded = iter(streams or ())
            for j, payload in zip(span, payloads):
                seg = segs[j]
                if seg.kind == formats.SEGMENT_NEURAL:
                    piece = self.tokenizer.decode(next(decoded))
                elif seg.kind == formats.SEGMENT_NEURAL_FOLDED:
                    mode, layout, _ = payload
                    piece = unfold_layout(self.tokenizer.decode(next(decoded)), mode, layout)
                else:
                    piece = decompress_binary(_METHOD_OF_KIND[seg.kind], payload, seg.n_bytes)
                if len(piece) != seg.n_bytes or zlib.crc32(piece) != seg.data_crc32:
                    raise CorruptDataError(
                        f"segment {j} decoded to wrong data (checksum mismatch)")
                dst.write(piece)
                state["bytes"] += len(piece)
                state["crc"] = zlib.crc32(piece, state["crc"])
            if progress is not None:
                progress(state["bytes"], total, 0)
        if state["bytes"] != header.original_length or state["crc"] != header.original_crc32:
            raise CorruptDataError("decoded data fails the length or checksum check")
        reader.finish()
        return state["bytes"]

    def decompress_from(self, src: BinaryIO, progress: ProgressFn | None = None) -> bytes:
        """Decompress a nacz stream from ``src`` and return the original bytes."""
        import io

        out = io.BytesIO()
        self.decompress_to(src, out, progress)
        return out.getvalue()

    def decompress(self, blob: bytes, progress: ProgressFn | None = None) -> bytes:
        import io

        return self.decompress_from(io.BytesIO(bytes(blob)), progress)


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
    threads: int | None = None,
    ray_address: str | None = None,
) -> bytes:
    """Compress ``data`` with the model (the bundled one by default). ``ray_address``:
    code on Ray (``"local"``, ``"auto"`` or an address; see :class:`Codec`)."""
    return _one_shot(model, threads, ray_address, lambda c: c.compress(data, config))


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
    threads: int | None = None,
    ray_address: str | None = None,
) -> int:
    """Compress everything readable from ``src`` into ``dst``; returns bytes written.

    Reads the input a block at a time (``CodecConfig.block_size``): memory does not grow
    with its length. ``dst`` need not be seekable.
    """
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
