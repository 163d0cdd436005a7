"""Writing a file's container header and checking one before anything is decoded.

Invariants:
- The header is written after every payload is coded (it lists them); what it records
  (model id, numerics fingerprint, config, segment table) is all a decoder needs: no
  argument of decompression changes the bitstream.
- A file is decoded only when its config is understood, its model is the one in use,
  its segment table is consistent (no group with more streams than the config allows,
  no data without segments) and, where it has neural segments, the numerics that will
  decode it equal the recorded fingerprint.
- A binary segment carries the group number of the neural segments before it, so the
  table's groups stay in order across blocks.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from . import formats
from .config import CodecConfig, config_from_fields, config_to_fields
from .errors import CorruptDataError, FormatError, ModelMismatchError


class SegmentTable:
    """The segment table as coded blocks arrive, in order."""

    def __init__(self):
        self.segments: list[formats.Segment] = []
        self._group_base = 0
        self._group = 0

    def add_block(self, block) -> list[bytes]:
        """Append ``block``'s segments (a :class:`nacz.blocks.Block` whose groups are all
        coded); returns their payloads in table order."""
        for p in block.parts:
            if p.kind in formats.NEURAL_KINDS:
                self._group = self._group_base + p.group
            self.segments.append(formats.Segment(
                kind=p.kind, group=self._group, n_tokens=p.n_tokens, n_bytes=p.n_bytes,
                payload_length=len(p.payload), payload_crc32=zlib.crc32(p.payload),
                data_crc32=p.data_crc32,
            ))
        self._group_base += len(block.groups)
        return [p.payload for p in block.parts]

    @property
    def has_neural(self) -> bool:
        return any(s.kind in formats.NEURAL_KINDS for s in self.segments)


def make_header(model_file, fingerprint: bytes | None, cfg: CodecConfig,
                table: SegmentTable, original_length: int,
                original_crc32: int) -> formats.ContainerHeader:
    """The header of a file coded with ``cfg`` by numerics ``fingerprint`` (None when no
    segment is neural: only neural segments depend on the numerics, so binary-only files
    skip the probe and record zeros)."""
    version = formats.FORMAT_VERSION
    n_fp = formats.FINGERPRINT_BYTES[version]
    return formats.ContainerHeader(
        model_id=model_file.sha256[: formats.MODEL_ID_BYTES[version]],
        # The bundled model needs no name: its id says which file it was.
        model_name="" if model_file.bundled else model_file.name,
        numerics_fingerprint=fingerprint[:n_fp] if fingerprint is not None else bytes(n_fp),
        original_length=original_length,
        original_crc32=original_crc32,
        config_fields=config_to_fields(cfg, compact=True),
        segments=tuple(table.segments),
    )


@dataclass(frozen=True)
class CheckedHeader:
    """A header that passed :func:`check_header`, with what decoding needs from it."""

    header: formats.ContainerHeader
    config: CodecConfig
    #: group number -> indices of its neural segments, in table order
    members: dict[int, list[int]]


def check_model(model_file, header: formats.ContainerHeader) -> None:
    """Refuse a file made with another model than ``model_file``."""
    # Version 3 files keep the first 8 bytes of the model's SHA-256, older ones all 32.
    if not model_file.sha256.startswith(header.model_id):
        from .model_file import recorded_model_display

        raise ModelMismatchError(
            f"file was compressed with model {recorded_model_display(header.model_name)} "
            f"(sha256 {header.model_id.hex()[:16]}...) but the model in use is "
            f"{model_file.name} (sha256 {model_file.sha256.hex()[:16]}...) "
            f"at {model_file.path}; pass --model with the original model"
        )


def check_header(header: formats.ContainerHeader, model_file) -> CheckedHeader:
    """Everything about ``header`` that can be checked without the numerics (the caller
    checks those, since they depend on where the groups will run)."""
    cfg = config_from_fields(header.config_fields)  # ConfigError is a FormatError
    check_model(model_file, header)
    segs = header.segments
    if not segs and header.original_length:
        raise CorruptDataError("header claims data but holds no segments")
    members: dict[int, list[int]] = {}
    for i, seg in enumerate(segs):
        if seg.kind in formats.NEURAL_KINDS:
            members.setdefault(seg.group, []).append(i)
    if any(len(m) > cfg.max_streams for m in members.values()):
        raise FormatError("a segment group has more streams than max_streams")
    return CheckedHeader(header, cfg, members)
