"""Entropy coding for nacz: integer cdfs from model outputs, and the arithmetic coder.

Only integers cross from the model to the coder: ``quantize_logits`` /
``quantize_probabilities`` turn floats into an int64 cdf (total ``TOTAL == 2**24``, every
frequency >= 1) deterministically, and the coder consumes nothing else.  This package
depends only on numpy, numba and the standard library.
"""

from .arithmetic import (
    ArithmeticDecodeError,
    ArithmeticDecoder,
    ArithmeticEncoder,
    decode_symbol,
    decoder_init,
    encode_finish,
    encode_symbol,
    min_free_bytes,
    new_decoder_state,
    new_encoder_state,
)
from .quantize import (
    MAX_SYMBOLS,
    PRECISION_BITS,
    TOTAL,
    QuantizationError,
    quantize_logits,
    quantize_probabilities,
    quantize_probabilities_kernel,
    raise_quantization_error,
)

__all__ = [
    "PRECISION_BITS",
    "TOTAL",
    "MAX_SYMBOLS",
    "QuantizationError",
    "quantize_probabilities",
    "quantize_logits",
    "quantize_probabilities_kernel",
    "raise_quantization_error",
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
