"""``nacz.open``: a nacz file as a file object, the way ``gzip.open``, ``lzma.open`` and
``zstandard.open`` give theirs.

Invariants:
- A writer writes byte for byte what :meth:`nacz.api.Codec.compress_to` writes for the
  same bytes and config, however ``write`` calls split them
  (:class:`nacz.api.Compressor`). The nacz header lists every payload, so the file is
  written when the writer closes; until then it holds at most one block of input.
- A reader returns only verified bytes: each segment is checked against its length and CRC
  before any of its bytes are returned, and the whole output's length and CRC once the
  last byte has been read, so reading a damaged file to its end raises instead of
  returning ``b""`` (:meth:`nacz.api.Codec.decoded_pieces`).
- Seeking a reader is emulated as in ``gzip``: forward by decoding, backward by decoding
  again from the start (the underlying file must be seekable for that).
"""

from __future__ import annotations

import builtins
import io
import os

from .api import Codec, Compressor, _level_or_config
from .config import CodecConfig

_READ_MODES = {"r", "rb", "rt"}
_WRITE_MODES = {"w", "wb", "wt", "x", "xb", "xt"}


def open(  # noqa: A001  (the name gzip, lzma, bz2 and zstandard use)
    file,
    mode: str = "rb",
    *,
    level: int | None = None,
    config: CodecConfig | None = None,
    model: str | None = None,
    threads: int | None = None,
    codec: Codec | None = None,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
):
    """Open a nacz file in binary ("rb", "wb", "xb") or text ("rt", "wt", "xt") mode.

    ``file``: a path (str, bytes or os.PathLike) or a binary file object. Binary modes
    return a buffered file object (read, readline, iteration, seek and tell on reading;
    write and tell on writing); text modes wrap it in :class:`io.TextIOWrapper` with
    ``encoding``, ``errors`` and ``newline``. ``level`` (1..9) or ``config`` choose how a
    writer compresses (level 6 when neither). ``codec``: a :class:`nacz.Codec` to use
    (its model stays loaded after the file closes); otherwise one is made from ``model``
    and ``threads`` and closed with the file. Appending is not possible: a nacz file's
    header lists its payloads.
    """
    if mode not in _READ_MODES | _WRITE_MODES:
        raise ValueError(f"invalid mode {mode!r}: nacz files open as r, w or x, binary "
                         "(b) or text (t)")
    if "t" not in mode and (encoding, errors, newline) != (None, None, None):
        raise ValueError("encoding, errors and newline apply to text modes only")
    reading = mode in _READ_MODES
    if reading and (level is not None or config is not None):
        raise ValueError("level and config apply to writing: a nacz file's header says "
                         "how it was compressed")
    cfg = None if reading else _level_or_config(level, config)
    binary_mode = mode.replace("t", "").rstrip("b") + "b"
    if isinstance(file, (str, bytes, os.PathLike)):
        fp, owns_fp = builtins.open(file, binary_mode), True
    elif hasattr(file, "read" if reading else "write"):
        fp, owns_fp = file, False
    else:
        raise TypeError("file must be a path or a binary file object")
    try:
        owns_codec = codec is None
        if owns_codec:
            codec = Codec(model, threads)
        if reading:
            binary = io.BufferedReader(_DecodingReader(fp, owns_fp, codec, owns_codec))
        else:
            binary = NaczWriter(fp, owns_fp, codec, owns_codec, cfg)
    except BaseException:
        if owns_fp:
            fp.close()
        raise
    if "t" in mode:
        return io.TextIOWrapper(binary, encoding=io.text_encoding(encoding), errors=errors,
                                newline=newline)
    return binary


def _close_owned(fp, owns_fp: bool, codec: Codec, owns_codec: bool) -> None:
    try:
        if owns_codec:
            codec.close()
    finally:
        if owns_fp:
            fp.close()


class _DecodingReader(io.RawIOBase):
    """The decoded bytes of a nacz file, read through :meth:`Codec.decoded_pieces`."""

    def __init__(self, fp, owns_fp: bool, codec: Codec, owns_codec: bool):
        self._fp, self._owns_fp = fp, owns_fp
        self._codec, self._owns_codec = codec, owns_codec
        self._start = fp.tell() if fp.seekable() else None
        self._checked = None  # the header, read at the first read or seek
        self._pieces = None
        self._pending = memoryview(b"")
        self._pos = 0
        self._eof = False
        self._error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._start is not None

    def readinto(self, b) -> int:
        while not self._pending and not self._eof:
            if self._error is not None:
                # A failed decoder is finished: reading on must not look like the end.
                raise self._error
            try:
                if self._pieces is None:
                    self._pieces = self._codec.decoded_pieces(self._fp,
                                                              checked=self._header())
                piece = next(self._pieces, None)
            except Exception as exc:
                self._error = exc
                raise
            if piece is None:
                self._eof = True
            else:
                self._pending = memoryview(piece)
        n = min(len(b), len(self._pending))
        b[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self._pos += n
        return n

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if not self.seekable():
            raise io.UnsupportedOperation("the nacz file's source cannot seek")
        if whence == io.SEEK_CUR:
            offset += self._pos
        elif whence == io.SEEK_END:
            offset += self._header().header.original_length
        elif whence != io.SEEK_SET:
            raise ValueError(f"invalid whence {whence!r}")
        if offset < 0:
            raise OSError(22, "negative seek position")
        if offset < self._pos:
            self._rewind()
        skip = bytearray(1 << 16)
        while self._pos < offset and self.readinto(
                memoryview(skip)[:min(len(skip), offset - self._pos)]):
            pass
        return self._pos

    def _header(self):
        if self._checked is None:
            self._checked = self._codec.checked_header(self._fp)
        return self._checked

    def _rewind(self) -> None:
        if self._pieces is not None:
            self._pieces.close()
        self._fp.seek(self._start)
        self._checked, self._pieces, self._error = None, None, None
        self._pending, self._pos, self._eof = memoryview(b""), 0, False

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._pieces is not None:
                self._pieces.close()
        finally:
            try:
                _close_owned(self._fp, self._owns_fp, self._codec, self._owns_codec)
            finally:
                super().close()


class NaczWriter(io.BufferedIOBase):
    """A nacz file being written (``nacz.open(..., "wb")``): blocks are coded as they fill,
    and the file (header, then payloads) is written by :meth:`close`.

    ``flush`` cannot make what was written so far readable (the header comes at the end):
    it only flushes nothing. If a ``write`` fails, ``close`` writes nothing.
    """

    def __init__(self, fp, owns_fp: bool, codec: Codec, owns_codec: bool,
                 config: CodecConfig | None):
        self._fp, self._owns_fp = fp, owns_fp
        self._codec, self._owns_codec = codec, owns_codec
        self._compressor = Compressor(codec, config)
        self._pos = 0
        self._failed = False

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        if self.closed:
            raise ValueError("write to a closed nacz file")
        data = memoryview(b).cast("B")
        try:
            self._compressor.feed(data)
        except BaseException:
            self._failed = True
            raise
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        if self.closed:
            raise ValueError("tell on a closed nacz file")
        return self._pos

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._failed:
                self._compressor.close()
            else:
                self._compressor.finish(self._fp)
                if not self._owns_fp and hasattr(self._fp, "flush"):
                    self._fp.flush()
        finally:
            try:
                _close_owned(self._fp, self._owns_fp, self._codec, self._owns_codec)
            finally:
                super().close()
