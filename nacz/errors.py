"""Errors raised by nacz, one type per kind of failure.

Every error carries a one-line message meant for a user; the CLI prints it as is and picks
the exit code from the error's type (see ``nacz.cli``). Every error nacz raises on purpose
is a :class:`NaczError`, one subclass per kind of failure:

=========================  ==================================================
kind                       type
=========================  ==================================================
usage                      :class:`UsageError` (:class:`OutputExistsError`)
format                     :class:`FormatError` (:class:`ConfigError`)
corrupt data               :class:`CorruptDataError` (:class:`BinaryCodecError`)
model                      :class:`ModelError`: :class:`ModelLoadError`,
                           :class:`ModelMismatchError`,
                           :class:`NumericsMismatchError`
tokenization               :class:`TokenizationError`
I/O                        :class:`NaczIOError` (also an ``OSError``)
cluster                    :class:`RayError`
=========================  ==================================================

The layers below (``nacz.formats`` and ``nacz.coder``) cannot import this module, so they
keep their own ``ValueError`` types; :func:`public_error` turns those into this family,
and the public API (``nacz.api``) applies it to everything it raises.
"""

from __future__ import annotations

import contextlib
import functools


class NaczError(Exception):
    """Base of every error nacz raises on purpose."""


class UsageError(NaczError):
    """The caller asked for something that cannot be done (bad option, bad file name)."""


class OutputExistsError(UsageError):
    """The output file exists and overwriting was not allowed."""


class ModelError(NaczError):
    """The model cannot be used for this run or this file (the subclasses say why)."""


class ModelLoadError(ModelError):
    """The model could not be found, read or loaded: nothing that needs it can run, so a
    run over several inputs stops at the first one that needs it."""


class ModelMismatchError(ModelError):
    """The compressed file was made with a different model than the one in use."""


class NumericsMismatchError(ModelError):
    """This machine's backend computes different probabilities than the compressing one."""


class TokenizationError(NaczError):
    """The token stream would not reproduce the input exactly."""


class FormatError(NaczError, ValueError):
    """The input is not a nacz file, is cut short, or is one this version cannot read."""


class ConfigError(FormatError):
    """A file's recorded config cannot be understood (unknown field, preset or value)."""


class CorruptDataError(NaczError, ValueError):
    """A payload or the decoded data failed a length or checksum check."""


class BinaryCodecError(CorruptDataError):
    """A binary segment's payload is corrupt or inconsistent with its recorded length."""


class RayError(NaczError):
    """Ray is missing, cannot start or join a cluster, or cannot keep actors alive."""


class NaczIOError(NaczError, OSError):
    """Reading the input or writing the output failed (``errno``, ``filename`` as the
    ``OSError`` it stands for)."""


def public_error(exc: BaseException) -> BaseException:
    """The :class:`NaczError` that stands for ``exc``, an error of a lower layer, or
    ``exc`` itself when it is one already (or is not an error nacz reports)."""
    if isinstance(exc, NaczError):
        return exc
    from .coder import ArithmeticDecodeError, QuantizationError
    from .formats import FormatError as ContainerFormatError
    from .formats import PayloadChecksumError

    if isinstance(exc, (PayloadChecksumError, ArithmeticDecodeError)):
        return CorruptDataError(str(exc))
    if isinstance(exc, ContainerFormatError):
        return FormatError(str(exc))
    if isinstance(exc, QuantizationError):
        return ModelError(f"the model's output cannot be coded: {exc}")
    if isinstance(exc, OSError):
        return NaczIOError(exc.errno, exc.strerror or str(exc), exc.filename)
    return exc


@contextlib.contextmanager
def public_errors():
    """Raise what the block raises as :func:`public_error` makes it (chained to it)."""
    try:
        yield
    except Exception as exc:
        new = public_error(exc)
        if new is exc:
            raise
        raise new from exc


def raises_public_errors(fn):
    """Decorator: ``fn`` raises only :func:`public_error`'s family."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with public_errors():
            return fn(*args, **kwargs)

    return wrapper
