"""One error family: whatever layer finds a problem, a caller catching NaczError sees it."""

from __future__ import annotations

import errno
import inspect
import io

import pytest

import nacz
from nacz import errors
from nacz.errors import public_error


def test_every_error_class_is_a_nacz_error_and_exported():
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass)
               if issubclass(c, Exception) and c.__module__ == "nacz.errors"]
    assert len(classes) >= 12
    for cls in classes:
        assert issubclass(cls, nacz.NaczError), cls
        assert cls.__name__ in nacz.__all__ and getattr(nacz, cls.__name__) is cls


def test_lower_layers_errors_become_the_family():
    from nacz.coder import ArithmeticDecodeError, QuantizationError
    from nacz.formats import BadMagicError, PayloadChecksumError, TruncatedError

    cases = [
        (BadMagicError("not a nacz file"), nacz.FormatError),
        (TruncatedError("file ends inside the header"), nacz.FormatError),
        (PayloadChecksumError("segment 3: payload checksum mismatch"), nacz.CorruptDataError),
        (ArithmeticDecodeError("impossible decoder state"), nacz.CorruptDataError),
        (QuantizationError("logits[6] is NaN"), nacz.ModelError),
    ]
    for low, family in cases:
        new = public_error(low)
        assert isinstance(new, family) and isinstance(new, nacz.NaczError)
        assert str(low) in str(new)
    io_error = public_error(FileNotFoundError(errno.ENOENT, "No such file", "x.nacz"))
    assert isinstance(io_error, nacz.NaczIOError) and isinstance(io_error, OSError)
    assert (io_error.errno, io_error.filename) == (errno.ENOENT, "x.nacz")
    pipe = public_error(BrokenPipeError(errno.EPIPE, "Broken pipe"))
    assert isinstance(pipe, nacz.NaczIOError) and pipe.errno == errno.EPIPE
    own = nacz.UsageError("bad option")
    assert public_error(own) is own
    bug = KeyError("x")
    assert public_error(bug) is bug  # a bug stays a bug


def test_public_errors_chain_to_the_original():
    from nacz.formats import BadMagicError

    with pytest.raises(nacz.FormatError) as caught:
        with errors.public_errors():
            raise BadMagicError("not a nacz file")
    assert isinstance(caught.value.__cause__, BadMagicError)


@pytest.mark.parametrize("blob", [b"junk", b"", nacz.MAGIC, nacz.MAGIC + b"\x03" + b"\0" * 40])
def test_decompress_of_junk_raises_a_nacz_error(blob):
    """No model is loaded for these: the header is refused first."""
    with pytest.raises(nacz.FormatError):
        nacz.decompress(blob)
    with pytest.raises(nacz.NaczError):
        nacz.read_header(blob)
    with pytest.raises(nacz.NaczError):
        nacz.read_info(io.BytesIO(blob))


def test_config_and_binary_errors_are_in_the_family():
    from nacz.config import config_from_fields

    with pytest.raises(nacz.FormatError, match="unknown config preset"):
        config_from_fields({10: b"\xee"})
    from nacz.binary_codec import decompress_binary

    with pytest.raises(nacz.CorruptDataError):
        decompress_binary(1, b"\x28\xb5\x2f\xfd garbage", 10)
