"""The frozen codec configuration: every setting that changes the bitstream.

Invariants:
- Every field of :class:`CodecConfig` that affects the coded bits is written to the file
  header and read back from it; decompression never takes these from the command line.
- Each field is serialised under a numeric id fixed by hand in ``_FIELD_IDS``. Ids are never
  reused or renumbered; a reader refuses a config with an id it does not know, because
  ignoring a setting could decode garbage.
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass

from .errors import UsageError

#: Window size (tokens of KV cache per stream, including the start token).
DEFAULT_WINDOW = 2048
#: Sampling temperature of the softmax; 1.0 is what the model was trained for.
DEFAULT_TEMPERATURE = 1.0
#: Token fed at position 0 of every stream; it stays there as an attention sink.
#: 0 is "<|endoftext|>", the document separator the model saw in pre-training.
DEFAULT_START_TOKEN = 0
#: A stream is split off into its own shard only if each shard gets at least this many
#: tokens: below that, the context lost at shard starts costs more than batching gains.
DEFAULT_MIN_SHARD_TOKENS = 8192
#: Upper bound of streams evaluated in one llama_decode call.
DEFAULT_MAX_STREAMS = 16


@dataclass(frozen=True)
class CodecConfig:
    """Settings that determine the compressed bits. Frozen: pass a new one to change it."""

    window: int = DEFAULT_WINDOW
    #: Tokens dropped from the front of a full window at once (after the start token).
    evict: int = 0  # 0 means window // 4, resolved in __post_init__
    temperature: float = DEFAULT_TEMPERATURE
    start_token: int = DEFAULT_START_TOKEN
    max_streams: int = DEFAULT_MAX_STREAMS
    min_shard_tokens: int = DEFAULT_MIN_SHARD_TOKENS
    #: llama.cpp's flash-attention kernel. Off: on CPU its results depend on the thread
    #: count (measured: 1 vs 2 threads gave different bitstreams), which a codec cannot allow.
    flash_attn: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.window, int) or not 16 <= self.window <= 131072:
            raise UsageError(f"window must be an integer in 16..131072, got {self.window!r}")
        if self.evict == 0:
            object.__setattr__(self, "evict", max(1, self.window // 4))
        if not 1 <= self.evict <= self.window - 2:
            raise UsageError(f"evict must be in 1..window-2, got {self.evict}")
        t = float(self.temperature)
        if not (0.05 <= t <= 20.0):
            raise UsageError(f"temperature must be in 0.05..20, got {self.temperature!r}")
        object.__setattr__(self, "temperature", t)
        if not 0 <= self.start_token < 2**31:
            raise UsageError(f"start token must be a token id, got {self.start_token}")
        if not 1 <= self.max_streams <= 256:
            raise UsageError(f"max streams must be in 1..256, got {self.max_streams}")
        if self.flash_attn:
            raise UsageError("flash attention is not supported: its CPU results depend on threads")
        if not 1 <= self.min_shard_tokens < 2**31:
            raise UsageError(f"min shard tokens must be positive, got {self.min_shard_tokens}")

    def replace(self, **changes) -> "CodecConfig":
        return dataclasses.replace(self, **changes)


# Fixed by hand; never renumber. (id, field name, struct format)
_FIELDS: tuple[tuple[int, str, str], ...] = (
    (1, "window", "<I"),
    (2, "evict", "<I"),
    (3, "temperature", "<d"),
    (4, "start_token", "<I"),
    (5, "max_streams", "<I"),
    (6, "min_shard_tokens", "<I"),
    (7, "flash_attn", "<?"),
)
_BY_ID = {fid: (name, fmt) for fid, name, fmt in _FIELDS}


class ConfigError(ValueError):
    """A serialised config cannot be understood."""


def config_to_fields(cfg: CodecConfig) -> dict[int, bytes]:
    """Serialise to ``{field id: bytes}`` for the container header."""
    return {fid: struct.pack(fmt, getattr(cfg, name)) for fid, name, fmt in _FIELDS}


def config_from_fields(fields: dict[int, bytes]) -> CodecConfig:
    """Inverse of :func:`config_to_fields`; refuses unknown ids and missing fields."""
    values = {}
    for fid, raw in fields.items():
        if fid not in _BY_ID:
            raise ConfigError(f"unknown config field id {fid} (file made by a newer nacz?)")
        name, fmt = _BY_ID[fid]
        if len(raw) != struct.calcsize(fmt):
            raise ConfigError(f"config field {name} has {len(raw)} bytes")
        if fmt == "<?" and raw not in (b"\x00", b"\x01"):
            raise ConfigError(f"config field {name} is not a boolean")
        (values[name],) = struct.unpack(fmt, raw)
    missing = [name for _, name, _ in _FIELDS if name not in values]
    if missing:
        raise ConfigError(f"config lacks field(s): {', '.join(missing)}")
    try:
        return CodecConfig(**values)
    except UsageError as exc:
        raise ConfigError(f"config out of range: {exc}") from None
