"""Errors raised by nacz, one type per kind of failure.

Every error carries a one-line message meant for a user; the CLI prints it as is and picks
the exit code from the error's type (see ``nacz.cli``). Errors raised by the layers below
(``nacz.formats`` and ``nacz.coder``, which cannot import this module) keep their own
types; the CLI maps those too.
"""

from __future__ import annotations


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


class CorruptDataError(NaczError):
    """Decoded data failed a length or checksum check."""
