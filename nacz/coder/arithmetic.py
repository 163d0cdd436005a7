"""32-bit binary arithmetic coder (Witten-Neal-Cleary) driven by integer cdfs.

Bitstream format (changing any of this changes every compressed file):

* the interval is ``[low, high]`` (inclusive) inside ``[0, 2**32 - 1]``; HALF = 2**31,
  QUARTER = 2**30;
* a symbol ``s`` with cdf ``c`` (``c[0] == 0``, ``c[-1] == TOTAL == 2**24``, strictly
  increasing) narrows it with ``rng = high - low + 1``,
  ``high = low + ((rng * c[s + 1]) >> 24) - 1``, ``low = low + ((rng * c[s]) >> 24)``;
* renormalisation emits 0 when ``high < HALF``, 1 when ``low >= HALF`` (each emitted bit
  followed by the pending "underflow" bits, inverted), and counts a pending bit when the
  interval straddles the middle half; then ``low = 2 low``, ``high = 2 high + 1``;
* finish: one more pending bit, emit 0 if ``low < QUARTER`` else 1, then zero-pad to a
  byte boundary.  Bits are packed MSB-first.  The decoder reads bits past the end of the
  data as 0, which is what makes the short termination valid.

Invariants the kernels rely on:

* After renormalisation ``high - low > QUARTER``, so ``rng * TOTAL < 2**57`` fits int64
  and every symbol's sub-interval has width ``>= rng >> 24 >= 64`` - intervals never
  collapse, for any cdf whose frequencies are all ``>= 1``.
* Only int64 arithmetic is used (numba turns uint64/int64 mixes into float64).
* The decoder's value always stays inside ``[low, high]`` for ANY input bits, so garbage
  input decodes to garbage symbols in O(1) per symbol; it cannot loop.  The
  ``ArithmeticDecodeError`` guard exists for states that can only arise from a broken
  caller (e.g. a cdf that differs from the encoder's or a tampered state array).
* No global state: the encoder/decoder state lives in small int64 arrays, the output in
  a uint8 buffer; the kernels never write outside ``buf`` (they check free space first
  and return ``ENC_NEED_SPACE`` without touching anything).

Raw kernels (callable from other numba code, all ``cache=True``, no fastmath):

* ``new_encoder_state() -> int64[ENC_STATE_SIZE]``; ``encode_symbol(state, buf, cdf,
  symbol) -> code``; ``encode_finish(state, buf) -> code``.  ``buf`` is a uint8 array;
  ``state[ENC_POS]`` bytes of it are final.  Codes: ``ENC_OK`` (0), ``ENC_NEED_SPACE``
  (1: grow ``buf`` to at least ``state[ENC_POS] + min_free_bytes(state)`` and call
  again), negative: errors (``ENC_ERR_*``).
* ``new_decoder_state(data) -> int64[DEC_STATE_SIZE]`` (``decoder_init`` does the same
  into an existing array); ``decode_symbol(state, data, cdf) -> symbol`` (``>= 0``) or a
  negative ``DEC_ERR_*`` code.
"""

from __future__ import annotations

import operator

import numba
import numpy as np

from .quantize import PRECISION_BITS, TOTAL

__all__ = [
    "ArithmeticDecodeError",
    "ArithmeticEncoder",
    "ArithmeticDecoder",
    "new_encoder_state",
    "encode_symbol",
    "encode_finish",
    "min_free_bytes",
    "new_decoder_state",
    "decoder_init",
    "decode_symbol",
]

CODE_BITS = 32
MASK = (1 << CODE_BITS) - 1
HALF = 1 << (CODE_BITS - 1)
QUARTER = 1 << (CODE_BITS - 2)
THREE_QUARTERS = HALF + QUARTER

# Encoder state layout.
ENC_LOW = 0
ENC_HIGH = 1
ENC_PENDING = 2
ENC_POS = 3  # bytes of buf that are complete
ENC_ACC = 4  # bits of the byte being assembled (right-aligned)
ENC_NACC = 5  # how many bits are in ENC_ACC (0..7)
ENC_FINISHED = 6
ENC_SYMBOLS = 7
ENC_STATE_SIZE = 8

# Decoder state layout.
DEC_LOW = 0
DEC_HIGH = 1
DEC_VALUE = 2
DEC_BITPOS = 3  # bits read into value so far, including reads past the end
DEC_SYMBOLS = 4
DEC_STATE_SIZE = 5

ENC_OK = 0
ENC_NEED_SPACE = 1
ENC_ERR_SYMBOL = -1
ENC_ERR_CDF = -2
ENC_ERR_FINISHED = -3

DEC_ERR_CDF = -2
DEC_ERR_STATE = -4

# One call emits at most pending + 26 bits (the narrowed range is >= 64, and each
# renormalisation step doubles it until it exceeds a quarter), plus up to 7 bits already
# in the accumulator and 7 of padding at finish; 8 bytes of slack covers all of it.
_SLACK_BYTES = 8


class ArithmeticDecodeError(ValueError):
    """The decoder reached a state no valid stream/cdf pairing can produce."""


@numba.njit(cache=True)
def min_free_bytes(state):
    """Free bytes ``buf`` must have after ``state[ENC_POS]`` for the next kernel call."""
    return (state[ENC_PENDING] >> 3) + _SLACK_BYTES


@numba.njit(cache=True)
def _put_bit(state, buf, bit):
    acc = (state[ENC_ACC] << 1) | bit
    nacc = state[ENC_NACC] + 1
    if nacc == 8:
        buf[state[ENC_POS]] = acc
        state[ENC_POS] += 1
        acc = 0
        nacc = 0
    state[ENC_ACC] = acc
    state[ENC_NACC] = nacc


@numba.njit(cache=True)
def _emit(state, buf, bit):
    _put_bit(state, buf, bit)
    opposite = 1 - bit
    for _ in range(state[ENC_PENDING]):
        _put_bit(state, buf, opposite)
    state[ENC_PENDING] = 0


@numba.njit(cache=True)
def new_encoder_state():
    """Fresh encoder state: the full interval, nothing written."""
    state = np.zeros(ENC_STATE_SIZE, dtype=np.int64)
    state[ENC_HIGH] = MASK
    return state


@numba.njit(cache=True)
def encode_symbol(state, buf, cdf, symbol):
    """Encode `symbol` with int64 `cdf` into uint8 `buf`; returns an ENC_* code.

    On any code other than ENC_OK nothing has been modified.
    """
    if state[ENC_FINISHED] != 0:
        return ENC_ERR_FINISHED
    n = cdf.shape[0] - 1
    if symbol < 0 or symbol >= n:
        return ENC_ERR_SYMBOL
    # O(1) sanity checks: the decoder needs the same total and ordering to invert us.
    if cdf[0] != 0 or cdf[n] != TOTAL:
        return ENC_ERR_CDF
    c0 = cdf[symbol]
    c1 = cdf[symbol + 1]
    if not (0 <= c0 and c0 < c1 and c1 <= TOTAL):
        return ENC_ERR_CDF
    if buf.shape[0] - state[ENC_POS] < min_free_bytes(state):
        return ENC_NEED_SPACE

    low = state[ENC_LOW]
    high = state[ENC_HIGH]
    rng = high - low + 1
    high = low + ((rng * c1) >> PRECISION_BITS) - 1
    low = low + ((rng * c0) >> PRECISION_BITS)
    while True:
        if high < HALF:
            _emit(state, buf, 0)
        elif low >= HALF:
            _emit(state, buf, 1)
            low -= HALF
            high -= HALF
        elif low >= QUARTER and high < THREE_QUARTERS:
            state[ENC_PENDING] += 1
            low -= QUARTER
            high -= QUARTER
        else:
            break
        low = low << 1
        high = (high << 1) | 1
    state[ENC_LOW] = low
    state[ENC_HIGH] = high
    state[ENC_SYMBOLS] += 1
    return ENC_OK


@numba.njit(cache=True)
def encode_finish(state, buf):
    """Terminate the stream; afterwards ``buf[:state[ENC_POS]]`` is the output."""
    if state[ENC_FINISHED] != 0:
        return ENC_ERR_FINISHED
    if buf.shape[0] - state[ENC_POS] < min_free_bytes(state):
        return ENC_NEED_SPACE
    # Two more bits ("01" or "10" plus pending) pin a point inside [low, high] once the
    # decoder appends zeros: QUARTER if low < QUARTER, else HALF (low < HALF <= high).
    state[ENC_PENDING] += 1
    if state[ENC_LOW] < QUARTER:
        _emit(state, buf, 0)
    else:
        _emit(state, buf, 1)
    nacc = state[ENC_NACC]
    if nacc > 0:
        buf[state[ENC_POS]] = state[ENC_ACC] << (8 - nacc)
        state[ENC_POS] += 1
        state[ENC_ACC] = 0
        state[ENC_NACC] = 0
    state[ENC_FINISHED] = 1
    return ENC_OK


@numba.njit(cache=True)
def _get_bit(data, bitpos):
    byte = bitpos >> 3
    if byte < data.shape[0]:
        return (np.int64(data[byte]) >> (7 - (bitpos & 7))) & 1
    return np.int64(0)


@numba.njit(cache=True)
def decoder_init(state, data):
    """Reset `state` to decode uint8 `data` from the start (reads the first 32 bits)."""
    value = np.int64(0)
    for i in range(CODE_BITS):
        value = (value << 1) | _get_bit(data, i)
    state[DEC_LOW] = 0
    state[DEC_HIGH] = MASK
    state[DEC_VALUE] = value
    state[DEC_BITPOS] = CODE_BITS
    state[DEC_SYMBOLS] = 0


@numba.njit(cache=True)
def new_decoder_state(data):
    """Fresh decoder state for uint8 `data`."""
    state = np.zeros(DEC_STATE_SIZE, dtype=np.int64)
    decoder_init(state, data)
    return state


@numba.njit(cache=True)
def decode_symbol(state, data, cdf):
    """Decode one symbol with int64 `cdf`; returns it, or a negative DEC_ERR_* code.

    On an error code nothing has been modified.
    """
    n = cdf.shape[0] - 1
    if n < 1 or cdf[0] != 0 or cdf[n] != TOTAL:
        return DEC_ERR_CDF
    low = state[DEC_LOW]
    high = state[DEC_HIGH]
    value = state[DEC_VALUE]
    if not (0 <= low and low <= value and value <= high and high <= MASK):
        return DEC_ERR_STATE
    rng = high - low + 1
    target = ((value - low + 1) * TOTAL - 1) // rng
    if target < 0 or target >= TOTAL:
        return DEC_ERR_STATE
    lo = 0
    hi = n
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if cdf[mid] <= target:
            lo = mid
        else:
            hi = mid
    c0 = cdf[lo]
    c1 = cdf[lo + 1]
    # Only a non-monotone cdf can make the search land outside its bracket.
    if not (c0 <= target and target < c1):
        return DEC_ERR_CDF

    high = low + ((rng * c1) >> PRECISION_BITS) - 1
    low = low + ((rng * c0) >> PRECISION_BITS)
    bitpos = state[DEC_BITPOS]
    while True:
        if high < HALF:
            pass
        elif low >= HALF:
            low -= HALF
            high -= HALF
            value -= HALF
        elif low >= QUARTER and high < THREE_QUARTERS:
            low -= QUARTER
            high -= QUARTER
            value -= QUARTER
        else:
            break
        low = low << 1
        high = (high << 1) | 1
        value = (value << 1) | _get_bit(data, bitpos)
        bitpos += 1
    state[DEC_LOW] = low
    state[DEC_HIGH] = high
    state[DEC_VALUE] = value
    state[DEC_BITPOS] = bitpos
    state[DEC_SYMBOLS] += 1
    return lo


class ArithmeticEncoder:
    """Encode symbols one at a time; ``finish()`` returns the compressed bytes.

    ``cdf`` arguments are int64 arrays as produced by ``quantize_*``.
    """

    __slots__ = ("_state", "_buf", "_result")

    def __init__(self, initial_capacity: int = 4096):
        self._state = new_encoder_state()
        self._buf = np.zeros(max(int(initial_capacity), 64), dtype=np.uint8)
        self._result: bytes | None = None

    def encode(self, cdf: np.ndarray, symbol: int) -> None:
        """Encode `symbol` (0 <= symbol < len(cdf) - 1) under `cdf`."""
        symbol = operator.index(symbol)
        code = encode_symbol(self._state, self._buf, cdf, symbol)
        if code != ENC_OK:
            self._retry(code, cdf, symbol)

    def _retry(self, code: int, cdf: np.ndarray, symbol: int) -> None:
        while code == ENC_NEED_SPACE:
            self._grow()
            code = encode_symbol(self._state, self._buf, cdf, symbol)
        if code != ENC_OK:
            self._raise(code, cdf, symbol)

    def _grow(self) -> None:
        pos = int(self._state[ENC_POS])
        need = pos + int(min_free_bytes(self._state)) + 64
        new = np.zeros(max(2 * self._buf.shape[0], need), dtype=np.uint8)
        new[:pos] = self._buf[:pos]
        self._buf = new

    def _raise(self, code: int, cdf=None, symbol=None):
        if code == ENC_ERR_FINISHED:
            raise RuntimeError("encoder already finished")
        if code == ENC_ERR_SYMBOL:
            raise ValueError(f"symbol {symbol} out of range [0, {len(cdf) - 1})")
        if code == ENC_ERR_CDF:
            raise ValueError(
                f"invalid cdf for symbol {symbol}: need cdf[0] == 0, cdf[-1] == {TOTAL} "
                "and cdf[symbol] < cdf[symbol + 1]"
            )
        raise RuntimeError(f"unexpected encoder code {code}")

    def finish(self) -> bytes:
        """Terminate the stream and return it; later ``encode``/``finish`` raise."""
        code = encode_finish(self._state, self._buf)
        while code == ENC_NEED_SPACE:
            self._grow()
            code = encode_finish(self._state, self._buf)
        if code != ENC_OK:
            self._raise(code)
        self._result = self._buf[: int(self._state[ENC_POS])].tobytes()
        self._buf = np.zeros(0, dtype=np.uint8)
        return self._result

    @property
    def bits_written(self) -> int:
        """Bits committed so far, pending ones included (exact size after finish)."""
        s = self._state
        return 8 * int(s[ENC_POS]) + int(s[ENC_NACC]) + int(s[ENC_PENDING])

    @property
    def symbols_encoded(self) -> int:
        return int(self._state[ENC_SYMBOLS])

    @property
    def finished(self) -> bool:
        return bool(self._state[ENC_FINISHED])


class ArithmeticDecoder:
    """Decode symbols from `data`; the caller must supply the encoder's cdfs in order.

    Decoding more symbols than were encoded is not detected (it yields arbitrary
    symbols): the container format must record the symbol count.
    """

    __slots__ = ("_state", "_data")

    def __init__(self, data):
        # A private writable copy: one numba specialization whatever the caller passed
        # (bytes, bytearray, memoryview, uint8 array), and immune to later mutation.
        self._data = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8).copy()
        self._state = new_decoder_state(self._data)

    def decode(self, cdf: np.ndarray) -> int:
        """Decode and return the next symbol under `cdf`."""
        s = decode_symbol(self._state, self._data, cdf)
        if s < 0:
            self._raise(s, cdf)
        return s

    def _raise(self, code: int, cdf):
        if code == DEC_ERR_CDF:
            raise ValueError(
                f"invalid cdf: need cdf[0] == 0, cdf[-1] == {TOTAL} and strictly "
                f"increasing values (len {len(cdf)})"
            )
        st = self._state
        raise ArithmeticDecodeError(
            f"impossible decoder state after {int(st[DEC_SYMBOLS])} symbols "
            f"(low={int(st[DEC_LOW])}, high={int(st[DEC_HIGH])}, value={int(st[DEC_VALUE])}); "
            "the data or the model does not match the encoder's"
        )

    @property
    def bytes_consumed(self) -> int:
        """Input bytes read into the value so far (reads past the end count)."""
        return (int(self._state[DEC_BITPOS]) + 7) >> 3

    @property
    def symbols_decoded(self) -> int:
        return int(self._state[DEC_SYMBOLS])
