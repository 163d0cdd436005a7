"""Turn model probabilities (or logits) into the integer cdf the arithmetic coder uses.

Invariants of every cdf returned here (the coder relies on all of them):

* dtype int64, length ``V + 1`` for ``V`` symbols, ``1 <= V <= TOTAL // 2``;
* ``cdf[0] == 0`` and ``cdf[V] == TOTAL == 2**PRECISION_BITS`` exactly;
* every frequency ``cdf[i + 1] - cdf[i]`` is ``>= 1``, so any symbol can be coded.

Determinism is the whole point: the encoder and the decoder quantize independently and
must obtain bit-identical integers.  Therefore

* all arithmetic is IEEE float64 in a fixed order (sequential sums), compiled with numba
  WITHOUT fastmath (fastmath would let LLVM reassociate sums and contract into FMAs);
* ``exp`` is not the platform libm's (glibc, macOS and MSVC differ in the last ulp, and
  SVML vectorised variants differ again) but :func:`_portable_exp`, built only from
  +, -, *, floor and exact bit manipulation (for the power of two), so the result
  depends only on the input bits;
* on the logits path every exponential is 0 or a normal number, and a subnormal can
  only appear in ``e_i / sum`` when the floor is 0 anyway, so a process running with
  flush-to-zero / denormals-are-zero (set by some -ffast-math shared libraries) computes
  the same cdf.  (Subnormal *probabilities* passed in by a caller get no such promise.)

Quantization algorithm (float64): ``K = TOTAL - V``; ``freq_i = 1 + floor(p_i / sum * K)``;
the remainder ``TOTAL - sum(freq)`` (in practice a small non-negative number) is added to
the first index holding the maximum probability.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "PRECISION_BITS",
    "TOTAL",
    "MAX_SYMBOLS",
    "QuantizationError",
    "quantize_probabilities",
    "quantize_logits",
    "quantize_probabilities_kernel",
    "raise_quantization_error",
]

PRECISION_BITS = 24
TOTAL = 1 << PRECISION_BITS
# Every symbol gets frequency >= 1 and at least half the mass is shared out
# proportionally; beyond this the quantized model degenerates towards uniform.
MAX_SYMBOLS = TOTAL // 2


class QuantizationError(ValueError):
    """The probabilities/logits cannot be turned into a valid cdf."""


# Error codes shared by the kernels and the Python wrappers (kernels cannot raise
# with a formatted message cheaply, so they report (code, index)).
_OK = 0
_ERR_NAN = 1
_ERR_POSINF = 2
_ERR_NEGINF = 3
_ERR_NEGATIVE = 4
_ERR_ZERO_SUM = 5
_ERR_SUM_OVERFLOW = 6
_ERR_INTERNAL = 7

# fdlibm's Cody-Waite split of ln 2: _LN2_HI has enough trailing zero bits that
# k * _LN2_HI is exact for |k| < 2**11.
_INV_LN2 = 1.44269504088896338700e00
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
# exp(x) for x below this is < 2**-1021: still a normal double (see module docstring
# about flush-to-zero), and far too small to change any frequency.
_EXP_CUTOFF = -708.0
# 2**k is built from its bits: adding 1.5 * 2**52 to an integral double k (|k| < 2**51)
# leaves k in the low mantissa bits, so bits(k + _ROUND_MAGIC) - _ROUND_MAGIC_BITS == k
# exactly, and (k + 1023) << 52 is the bit pattern of 2**k for -1022 <= k <= 1023.  Only
# adds, shifts and reinterpretation: no table lookup, so loops over it vectorize.
_ROUND_MAGIC = 6755399441055744.0
_ROUND_MAGIC_BITS = np.int64(np.float64(_ROUND_MAGIC).view(np.int64))


@numba.njit(cache=True)
def _portable_exp(x):
    """exp(x) for x <= 0 (x may be -inf), bit-reproducible on any IEEE-754 machine.

    Relative error ~1e-15, irrelevant next to 24-bit quantization; what matters is
    that it never depends on the platform's libm.
    """
    # Branch-free (both sides computed, then selected) so that callers' loops vectorize;
    # NaN and everything below the cutoff select 0.
    in_range = x >= _EXP_CUTOFF
    x = x if in_range else _EXP_CUTOFF
    k = math.floor(x * _INV_LN2 + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    # Taylor series to r**12/12!; |r| <= 0.3466 so the truncation error is < 1e-16.
    p = 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    scale_bits = (np.float64(k + _ROUND_MAGIC).view(np.int64) - _ROUND_MAGIC_BITS + 1023) << 52
    y = p * np.int64(scale_bits).view(np.float64)
    return y if in_range else 0.0


@numba.njit(cache=True)
def _fill_cdf(weights, total_weight, argmax, out):
    """Quantize nonnegative `weights` (sum `total_weight` > 0) into `out` (float64 math).

    `weights` may alias ``out[1:]`` (the logits path stores its exponentials there to
    avoid a per-token allocation): element i is read before out[i + 1] is written.
    Returns an error code.
    """
    v = weights.shape[0]
    k = np.float64(TOTAL - v)
    cum = np.int64(0)
    out[0] = 0
    for i in range(v):
        w = weights[i]
        cum += 1 + np.int64(math.floor(w / total_weight * k))
        out[i + 1] = cum
    rem = TOTAL - cum
    if rem != 0:
        # Only the argmax's frequency changes; it is the largest, so a (theoretically
        # possible, rounding-induced) negative remainder cannot push it below 1.
        if out[argmax + 1] - out[argmax] + rem < 1:
            return _ERR_INTERNAL
        for j in range(argmax + 1, v + 1):
            out[j] += rem
    return _OK


@numba.njit(cache=True)
def _quantize_probabilities_kernel(probs, out):
    """Validate `probs`, then quantize into `out`. Returns (error code, index)."""
    v = probs.shape[0]
    s = 0.0
    best = -1.0
    argmax = 0
    for i in range(v):
        p = np.float64(probs[i])
        if p != p:
            return _ERR_NAN, i
        if p == np.inf:
            return _ERR_POSINF, i
        if p < 0.0:
            if p == -np.inf:
                return _ERR_NEGINF, i
            return _ERR_NEGATIVE, i
        s += p
        if p > best:
            best = p
            argmax = i
    if s == np.inf:
        return _ERR_SUM_OVERFLOW, -1
    if not (s > 0.0):
        return _ERR_ZERO_SUM, -1
    # float32 input is widened element by element inside _fill_cdf's specialization,
    # which gives exactly the same cdf as passing the float64 copy.
    return _fill_cdf(probs, s, argmax, out), argmax


@numba.njit(cache=True)
def _quantize_logits_kernel(logits, temperature, out, work):
    """softmax(logits / temperature) quantized into `out`; `work` holds exp values.

    Returns (error code, index).
    """
    v = logits.shape[0]
    m = -np.inf
    for i in range(v):
        x = np.float64(logits[i])
        if x != x:
            return _ERR_NAN, i
        if x == np.inf:
            return _ERR_POSINF, i
        if x == -np.inf:
            return _ERR_NEGINF, i
        if x > m:
            m = x
    for i in range(v):
        # (l_i - m) is <= 0; dividing by a tiny temperature may give -inf, which
        # _portable_exp maps to 0.
        work[i] = _portable_exp((np.float64(logits[i]) - m) / temperature)
    # A separate loop: the exp loop above vectorizes, this sequential sum cannot.
    s = 0.0
    best = -1.0
    argmax = 0
    for i in range(v):
        e = work[i]
        s += e
        if e > best:
            best = e
            argmax = i
    # The maximum contributes exp(0) == 1 exactly, so s >= 1 unless the FPU flushes a
    # subnormal temperature to zero (0 / 0 = NaN): refuse rather than emit garbage.
    if not (s >= 1.0):
        return _ERR_INTERNAL, argmax
    return _fill_cdf(work, s, argmax, out), argmax


_INT64 = np.dtype(np.int64)
_FLOAT_KINDS = (np.dtype(np.float32), np.dtype(np.float64))


def _as_vector(values, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise QuantizationError(f"{what} must be 1-D, got shape {arr.shape}")
    if arr.dtype not in _FLOAT_KINDS:
        if arr.dtype.kind in "iub":
            arr = arr.astype(np.float64)
        else:
            raise QuantizationError(f"{what} must be float32 or float64, got {arr.dtype}")
    v = arr.shape[0]
    if v == 0:
        raise QuantizationError(f"{what} is empty (need at least one symbol)")
    if v > MAX_SYMBOLS:
        raise QuantizationError(
            f"{what} has {v} symbols; at most {MAX_SYMBOLS} (TOTAL // 2) are supported"
        )
    # Contiguity keeps one compiled specialization per dtype.
    return np.ascontiguousarray(arr)


def _output_buffer(out, v: int) -> np.ndarray:
    if out is None:
        return np.empty(v + 1, dtype=np.int64)
    if not isinstance(out, np.ndarray) or out.dtype != _INT64 or out.ndim != 1:
        raise ValueError("out must be a 1-D numpy int64 array")
    if out.shape[0] != v + 1:
        raise ValueError(f"out must have length V + 1 = {v + 1}, got {out.shape[0]}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("out must be C-contiguous and writeable")
    return out


def _raise_for(code: int, index: int, what: str) -> None:
    if code == _ERR_NAN:
        raise QuantizationError(f"{what}[{index}] is NaN")
    if code == _ERR_POSINF:
        raise QuantizationError(f"{what}[{index}] is +inf")
    if code == _ERR_NEGINF:
        raise QuantizationError(f"{what}[{index}] is -inf")
    if code == _ERR_NEGATIVE:
        raise QuantizationError(f"{what}[{index}] is negative")
    if code == _ERR_ZERO_SUM:
        raise QuantizationError(f"{what} sum to zero")
    if code == _ERR_SUM_OVERFLOW:
        raise QuantizationError(f"{what} sum overflows float64")
    raise QuantizationError(
        f"internal quantization failure (code {code}, argmax {index}); please report"
    )


#: The njit kernel behind :func:`quantize_probabilities`, for callers' own njit loops:
#: ``(probs, out) -> (error code, index)`` with ``probs`` a contiguous float64 vector and
#: ``out`` a contiguous int64 vector of length V + 1 (validated by the caller); a nonzero
#: code goes to :func:`raise_quantization_error`. Same code, so the same cdf, as the wrapper.
quantize_probabilities_kernel = _quantize_probabilities_kernel


def raise_quantization_error(code: int, index: int, what: str = "probabilities") -> None:
    """Raise the QuantizationError a kernel's nonzero ``(code, index)`` stands for."""
    _raise_for(code, index, what)


def quantize_probabilities(probs, out: np.ndarray | None = None) -> np.ndarray:
    """Quantize nonnegative weights (need not be normalized) into a cdf.

    `probs`: 1-D float32/float64, finite, >= 0, positive sum, 1 <= V <= TOTAL // 2.
    `out`: optional preallocated C-contiguous int64 array of length V + 1 (returned).
    Raises QuantizationError on invalid input.
    """
    arr = _as_vector(probs, "probabilities")
    buf = _output_buffer(out, arr.shape[0])
    code, index = _quantize_probabilities_kernel(arr, buf)
    if code != _OK:
        _raise_for(code, index, "probabilities")
    return buf


def quantize_logits(logits, temperature: float = 1.0, out: np.ndarray | None = None) -> np.ndarray:
    """Quantize softmax(logits / temperature) into a cdf.

    `logits`: 1-D float32 (float64 accepted), all finite.  `temperature`: finite, > 0.
    `out`: optional preallocated C-contiguous int64 array of length V + 1 (returned);
    passing it makes the call allocation-free.
    Raises QuantizationError on invalid input.
    """
    arr = _as_vector(logits, "logits")
    t = float(temperature)
    if not (math.isfinite(t) and t > 0.0):
        raise QuantizationError(f"temperature must be finite and > 0, got {temperature!r}")
    v = arr.shape[0]
    buf = _output_buffer(out, v)
    # The exponentials are parked in out[1:] (same size, float64 view): element i is
    # consumed before cdf[i + 1] overwrites it, which saves a V-sized allocation.
    work = buf[1:].view(np.float64)
    code, index = _quantize_logits_kernel(arr, t, buf, work)
    if code != _OK:
        _raise_for(code, index, "logits")
    return buf
