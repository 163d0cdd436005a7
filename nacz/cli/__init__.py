"""The ``nacz`` command line: a thin click layer over :mod:`nacz.api`.

Invariants:
- Payload goes to stdout only when asked for (``-c``, ``-o -``, or a filter with no
  FILE); every message goes to stderr.
- Exit codes are decided in one place, :func:`nacz.cli.report.classify` (used by
  :func:`main`): 0 success, 1 a failure nacz detected (bad or corrupt input, model
  mismatch, I/O error), 2 a usage error, 3 a bug, 130 interrupted. With several inputs each failure is reported
  and the others still run; the status is the worst one. No traceback reaches the user
  unless NACZ_DEBUG is set.
- Files are written to a temporary name in the target directory and renamed only after
  success; the input is never removed or altered; an existing output is kept unless -f.
- Data streams through: no command reads its input whole, so memory does not grow with
  the file (see :mod:`nacz.api`). On standard output, a failure can come after part of
  the output was written (as with gzip); the exit status says so.

The package: :mod:`~nacz.cli.commands` (the click commands), :mod:`~nacz.cli.gzip_argv`
(the gzip-style command line), :mod:`~nacz.cli.files` (file safety),
:mod:`~nacz.cli.report` (messages, exit codes), :mod:`~nacz.cli.render` (``info`` and
``list``), :mod:`~nacz.cli.options` (options, the bitstream ones from the config).
"""

from __future__ import annotations

import os
import sys

import click

from ..config import parse_predictors  # noqa: F401  (bench scripts import it from here)
from ..errors import UsageError
from .commands import cli
from .gzip_argv import GZIP_STYLE_HELP, gzip_style_argv
from .report import classify, is_broken_pipe


def _is_subcommand_line(argv: list[str]) -> bool:
    return bool(argv) and argv[0] in cli.commands


def main(argv: list[str] | None = None, prog: str = "nacz") -> int:
    """Run the command line; returns the exit status (decided here and nowhere else)."""
    from .. import interrupts

    debug = bool(os.environ.get("NACZ_DEBUG"))
    try:
        interrupts.install()
    except ValueError:  # not the main thread
        pass
    try:
        # Without standalone mode click returns the code of an Exit (--version, --help,
        # or several inputs of which some failed) and the command's value otherwise.
        args = list(sys.argv[1:] if argv is None else argv)
        if prog != "nacz" or not _is_subcommand_line(args):
            args = gzip_style_argv(args, prog)
            if args is None:
                click.echo(GZIP_STYLE_HELP)
                return 0
        rv = cli.main(args=args, prog_name="nacz", standalone_mode=False)
        code = rv if isinstance(rv, int) else 0
    except click.UsageError as exc:
        exc.show(file=sys.stderr)
        code = 2
    except click.Abort:
        click.echo("nacz: interrupted", err=True)
        code = 130
    except KeyboardInterrupt:
        click.echo("nacz: interrupted", err=True)
        code = 130
    except Exception as exc:
        if is_broken_pipe(exc):
            # The reader went away (e.g. `| head`): stop quietly, as other filters do.
            try:
                sys.stdout = None  # type: ignore[assignment]
            except Exception:
                pass
            return 1
        code, message = classify(exc)
        if debug and not isinstance(exc, UsageError):
            raise
        if code is None:  # a bug: still one line, but say so
            click.echo(f"nacz: internal error: {type(exc).__name__}: {exc}", err=True)
            code = 3
        else:
            click.echo(f"nacz: error: {message}", err=True)
    return code


def entry() -> None:
    sys.exit(main())


def entry_unnacz() -> None:
    """``unnacz``: ``nacz -d``."""
    sys.exit(main(prog="unnacz"))


def entry_naczcat() -> None:
    """``naczcat``: ``nacz -dc``."""
    sys.exit(main(prog="naczcat"))
