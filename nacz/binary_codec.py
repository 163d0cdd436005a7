"""Classic compression for binary segments: the smallest of zstandard, LZMA2, or stored.

Invariants:
- Method ids are fixed by hand and never renumbered or reused (the container maps them
  to segment kinds): METHOD_STORED 0, METHOD_ZSTD 1 (one zstandard frame with its
  content size), METHOD_LZMA2 2 (= METHOD_XZ: a raw LZMA2 stream, xz -9e's codec without
  the .xz container, whose headers and check our container replaces),
  METHOD_X86_LZMA2 3 and METHOD_SPARC_LZMA2 4 (xz's branch-call filter for x86 or SPARC
  code, then raw LZMA2), METHOD_PPMD 5 and METHOD_ZPAQ 6 (the context-mixing codecs of
  :mod:`nacz.cm_codecs`, offered only by :func:`compress_offmodel`). Methods 0-4 decode
  with the standard library's ``lzma`` and ``zstandard`` alone; 5 and 6 decode in a
  child process with bounded memory and time (:mod:`nacz.cm_codecs`).
- LZMA2 streams never reach back more than 64 MiB (xz -9's dictionary) and zstandard
  frames use a window of at most 2**27 bytes and no more than the next power of two of
  their length; the decoder relies on both to bound its memory.
- ``compress_binary`` is deterministic: its output depends only on the input bytes (not
  on thread count or timing). It never returns a payload larger than the input, and one
  of its candidates is always LZMA2 with xz -9e's own settings (dictionary capped at the
  input's size, which xz could not fill either), so up to a few bytes it is no larger
  than xz -9e's output less the ~60 bytes of .xz container, nor than zstd -19's.
- ``decompress_binary`` returns exactly ``expected_length`` bytes or raises
  :class:`BinaryCodecError` (one-line message): corrupt or truncated payload, trailing
  data, wrong length, unknown method. Its memory is bounded by ``expected_length``, not
  by what the payload claims: the output (at most expected_length + 1 bytes) plus, for
  LZMA2, a dictionary of at most min(expected_length, 64 MiB) and the codecs' small
  fixed state. A forged payload cannot exhaust memory. Neither codec carries a
  checksum here (the container's CRC-32s do), so damage can also decode to wrong bytes
  of the right length.

Measured choices (Canterbury kennedy.xls / ptt5 / sum, xz -9e = 51868 / 39860 / 9500):
raw LZMA2 instead of .xz (even with CHECK_NONE) saves 49-57 bytes a segment; the delta
filter is much worse on all three (+9% / +42% / +40%), so it is not offered; the SPARC
filter saves 0.8% on sum (a SPARC executable), the x86 filter 4% on x86 code but costs
3% on kennedy.xls, and pb=0 saves 7% on kennedy.xls and 2% on ptt5 (with lc=0) but 1%
on sum. Hence a quick search per segment (:func:`choose_lzma_params`) rather than fixed
choices. zstd -22 saves under 0.2% over -19 at twice the time (and loses to LZMA2 on all
three anyway), so zstd stays at 19.
"""

from __future__ import annotations

import lzma
import operator
import os
from concurrent.futures import ThreadPoolExecutor

import zstandard

from .errors import BinaryCodecError

METHOD_STORED = 0
METHOD_ZSTD = 1
METHOD_LZMA2 = 2
METHOD_XZ = METHOD_LZMA2  # the name the design discussion used; same id, same codec
METHOD_X86_LZMA2 = 3
METHOD_SPARC_LZMA2 = 4
METHOD_PPMD = 5
METHOD_ZPAQ = 6

#: zstandard level; long-distance matching on, window sized to the input.
ZSTD_LEVEL = 19
_ZSTD_MAX_WINDOW_LOG = 27  # zstd --long's default; 128 MiB
#: xz -9e: LZMA2 preset 9 with the extreme flag.
LZMA_PRESET = 9 | lzma.PRESET_EXTREME
_LZMA_MAX_DICT = 64 << 20  # xz -9's dictionary
_LZMA_MIN_DICT = 4096  # liblzma's minimum
#: xz's defaults for LZMA2's literal context / literal position / position bits.
DEFAULT_PROPS = (3, 0, 2)

_BCJ_OF_METHOD = {
    METHOD_LZMA2: None,
    METHOD_X86_LZMA2: lzma.FILTER_X86,
    METHOD_SPARC_LZMA2: lzma.FILTER_SPARC,
}

#: Inputs shorter than this skip the parameter search: it could save only a few bytes.
TRIAL_MIN = 16 << 10
#: The search compresses a sample of at most this many bytes: the whole input when it is
#: small, else TRIAL_PIECES evenly spaced pieces (cut at multiples of 16 so alignment
#: statistics, which pb/lp and the branch filters depend on, survive).
TRIAL_SAMPLE = 512 << 10
TRIAL_PIECES = 8
#: The search runs LZMA2 at this fast preset; only its ranking is used.
TRIAL_PRESET = 1
#: Candidates run in threads (lzma and zstandard release the GIL) for inputs up to this
#: size; above it they run one after another to bound memory (an xz -9e encoder needs
#: about 11x its dictionary).
PARALLEL_LIMIT = 16 << 20


def _lzma_dict_size(n: int) -> int:
    # The next power of two >= n (at most xz -9's 64 MiB): the same compressed stream as
    # the full 64 MiB dictionary (no match can reach further back than the input), with
    # far less memory and start-up time for small segments.
    return max(_LZMA_MIN_DICT, min(_LZMA_MAX_DICT, 1 << max(0, n - 1).bit_length()))


def _zstd_window_log(n: int) -> int:
    return max(10, min(_ZSTD_MAX_WINDOW_LOG, max(0, n - 1).bit_length()))


def _zstd(data) -> bytes:
    params = zstandard.ZstdCompressionParameters.from_level(
        ZSTD_LEVEL, source_size=len(data), window_log=_zstd_window_log(len(data)),
        enable_ldm=True, write_content_size=True, write_checksum=False,
    )
    return zstandard.ZstdCompressor(compression_params=params).compress(data)


def _lzma_filters(bcj, props, preset: int, dict_size: int) -> list[dict]:
    lc, lp, pb = props
    lz = {"id": lzma.FILTER_LZMA2, "preset": preset, "dict_size": dict_size,
          "lc": lc, "lp": lp, "pb": pb}
    return ([{"id": bcj}] if bcj is not None else []) + [lz]


def _lzma(data, method: int, props, preset: int = LZMA_PRESET) -> bytes:
    # lc/lp/pb travel inside the LZMA2 stream, so the decoder needs only the method.
    filters = _lzma_filters(_BCJ_OF_METHOD[method], props, preset, _lzma_dict_size(len(data)))
    return lzma.compress(data, format=lzma.FORMAT_RAW, filters=filters)


def _sample(data: memoryview) -> bytes:
    n = len(data)
    if n <= TRIAL_SAMPLE:
        return bytes(data)
    piece = TRIAL_SAMPLE // TRIAL_PIECES
    step = (n - piece) // (TRIAL_PIECES - 1) // 16 * 16
    return b"".join(data[i * step : i * step + piece] for i in range(TRIAL_PIECES))


def choose_lzma_params(data) -> tuple[int, tuple[int, int, int]]:
    """(method, (lc, lp, pb)) that a fast LZMA2 preset finds smallest on a sample.

    Greedy, a handful of fast runs: the branch filter (none, x86, SPARC) at xz's
    defaults; then pb (0..2); then lc (0, 1, 3, 4) at that pb; then lp = pb with lc 0,
    which suits arrays of fixed-size numbers. A choice must beat the current one by a
    margin, so noise does not move us off xz's defaults. Ties go to the earlier option.
    """
    sample = _sample(memoryview(data))
    dict_size = _lzma_dict_size(len(sample))

    def size(method, props):
        filters = _lzma_filters(_BCJ_OF_METHOD[method], props, TRIAL_PRESET, dict_size)
        return len(lzma.compress(sample, format=lzma.FORMAT_RAW, filters=filters))

    best = (METHOD_LZMA2, DEFAULT_PROPS)
    best_size = size(*best)

    def consider(method, props):
        nonlocal best, best_size
        s = size(method, props)
        # A change must save about 0.2%: smaller differences at the fast preset are
        # noise that need not carry over to xz -9e.
        if s <= best_size - best_size // 512 - 8:
            best, best_size = (method, props), s

    for method in (METHOD_X86_LZMA2, METHOD_SPARC_LZMA2):
        consider(method, DEFAULT_PROPS)
    method = best[0]
    for pb in (0, 1):
        consider(method, (3, 0, pb))
    pb = best[1][2]
    for lc in (0, 1, 4):
        consider(method, (lc, 0, pb))
    if pb > 0:
        consider(method, (0, pb, pb))
    return best


def compress_binary(data: bytes, *, threads: int | None = None) -> tuple[int, bytes]:
    """(method, payload): the smallest of zstd -19 --long, LZMA2 -9e, and the raw bytes.

    LZMA2 runs at xz -9e with xz's default parameters and, when a quick search on a
    sample (:func:`choose_lzma_params`) prefers others (a branch filter for machine code,
    other literal/position bits), once more with those; the smaller wins. Ties go to the
    lower method id (faster to decode). ``threads`` (default: up to 3, at most the CPU
    count; 1 runs everything in this thread) only changes how long this takes, never
    the result.
    """
    view = memoryview(data).cast("B")
    n = len(view)
    if threads is None:
        threads = min(3, os.cpu_count() or 1)
    pool = ThreadPoolExecutor(max_workers=threads) if threads > 1 and n <= PARALLEL_LIMIT else None
    try:
        def start(method, fn, *args):
            if pool is None:
                return method, _Done(fn(*args))
            return method, pool.submit(fn, *args)

        # The two fixed candidates start at once; the search runs meanwhile.
        jobs = [start(METHOD_ZSTD, _zstd, view),
                start(METHOD_LZMA2, _lzma, view, METHOD_LZMA2, DEFAULT_PROPS)]
        if n >= TRIAL_MIN:
            method, props = choose_lzma_params(view)
            if (method, props) != (METHOD_LZMA2, DEFAULT_PROPS):
                jobs.append(start(method, _lzma, view, method, props))
        results = [(m, job.result()) for m, job in jobs]
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    results.append((METHOD_STORED, bytes(view)))
    return min(results, key=lambda r: (len(r[1]), r[0]))


def compress_offmodel(data: bytes, *, threads: int | None = None) -> tuple[int, bytes]:
    """(method, payload): the smallest of :func:`compress_binary`'s candidates, PPMd
    order 16 and ZPAQ method 5, tried whole (ties to the lower id: faster to decode).

    What a config with ``offmodel`` = 1 codes every segment the model does not take with.
    Measured on 21 texts of 16 KiB and the Canterbury binaries (bench/CM.md): PPMd wins
    most text, ZPAQ most binary data and CJK prose, LZMA2 some executables and tables.
    ZPAQ runs beside the others in a thread (the library releases the GIL); ``threads``
    only changes how long this takes, never the result.
    """
    from .cm_codecs import compress_ppmd, compress_zpaq

    view = bytes(data)
    if threads is None:
        threads = min(2, os.cpu_count() or 1)
    if threads > 1 and len(view) <= PARALLEL_LIMIT:
        with ThreadPoolExecutor(max_workers=1) as pool:
            zpaq_job = pool.submit(compress_zpaq, view)
            results = [compress_binary(view, threads=threads - 1),
                       (METHOD_PPMD, compress_ppmd(view))]
            results.append((METHOD_ZPAQ, zpaq_job.result()))
    else:
        results = [compress_binary(view, threads=threads), (METHOD_PPMD, compress_ppmd(view)),
                   (METHOD_ZPAQ, compress_zpaq(view))]
    return min(results, key=lambda r: (len(r[1]), r[0]))


class _Done:
    """A finished result with a Future's ``result()`` (the sequential path)."""

    def __init__(self, value):
        self._value = value

    def result(self):
        return self._value


def decompress_binary(method: int, payload: bytes, expected_length: int) -> bytes:
    """The ``expected_length`` bytes that ``payload`` encodes with ``method``."""
    try:
        method, expected_length = operator.index(method), operator.index(expected_length)
    except TypeError:
        raise BinaryCodecError(
            f"binary method {method!r} / length {expected_length!r} is not an integer"
        ) from None
    if expected_length < 0:
        raise BinaryCodecError(f"invalid expected length {expected_length}")
    if method == METHOD_STORED:
        if len(payload) != expected_length:
            raise BinaryCodecError(
                f"stored segment has {len(payload)} bytes, expected {expected_length}"
            )
        out = bytes(payload)
    elif method == METHOD_ZSTD:
        out = _unzstd(payload, expected_length)
    elif method in _BCJ_OF_METHOD:
        out = _unlzma(method, payload, expected_length)
    elif method == METHOD_PPMD:
        from .cm_codecs import decompress_ppmd

        out = decompress_ppmd(payload, expected_length)
    elif method == METHOD_ZPAQ:
        from .cm_codecs import decompress_zpaq

        out = decompress_zpaq(payload, expected_length)
    else:
        raise BinaryCodecError(f"unknown binary method {method}")
    if len(out) != expected_length:
        raise BinaryCodecError(
            f"binary segment decoded to {len(out)} bytes, expected {expected_length}"
        )
    return out


def _unzstd(payload: bytes, expected_length: int) -> bytes:
    try:
        # Our frames always record their content size; checking it first means the
        # one-shot decoder below allocates exactly expected_length bytes, never what a
        # forged header claims.
        size = zstandard.get_frame_parameters(payload).content_size
        if size != expected_length:
            raise BinaryCodecError(
                f"zstd frame records {size} bytes, expected {expected_length}"
                if size != zstandard.CONTENTSIZE_UNKNOWN
                else "zstd frame does not record its content size"
            )
        dctx = zstandard.ZstdDecompressor(
            max_window_size=1 << _zstd_window_log(expected_length)
        )
        # allow_extra_data=False: bytes after the frame are corruption, not ignored.
        return dctx.decompress(payload, allow_extra_data=False)
    except zstandard.ZstdError as exc:
        raise BinaryCodecError(f"zstd segment is corrupt: {_one_line(exc)}") from None


def _unlzma(method: int, payload: bytes, expected_length: int) -> bytes:
    # A dictionary as large as the output (xz's 64 MiB at most) decodes every stream we
    # write; a stream reaching further back is rejected as corrupt, not over-allocated.
    dict_size = max(_LZMA_MIN_DICT, min(_LZMA_MAX_DICT, expected_length))
    bcj = _BCJ_OF_METHOD[method]
    filters = ([{"id": bcj}] if bcj is not None else []) + [
        {"id": lzma.FILTER_LZMA2, "dict_size": dict_size}
    ]
    d = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=filters)
    try:
        # One byte of room past the expected length tells "too long" from "exact".
        out = d.decompress(payload, max_length=expected_length + 1)
    except lzma.LZMAError as exc:
        raise BinaryCodecError(f"LZMA2 segment is corrupt: {_one_line(exc)}") from None
    if len(out) > expected_length:
        raise BinaryCodecError(f"LZMA2 segment decodes to more than {expected_length} bytes")
    if not d.eof:
        raise BinaryCodecError("LZMA2 segment is truncated")
    if d.unused_data:
        raise BinaryCodecError(f"LZMA2 segment has {len(d.unused_data)} bytes of trailing data")
    return out


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
