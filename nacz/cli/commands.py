"""The commands: each parses its options and calls the library (:mod:`nacz.api`); file
safety is :mod:`nacz.cli.files`, messages and exit codes :mod:`nacz.cli.report`, what
``info`` and ``list`` print :mod:`nacz.cli.render`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .. import __version__
from ..errors import UsageError
from ..workers import parse_gpus
from . import files as safe
from .files import (
    SUFFIX,
    CompareWriter,
    Discard,
    RunOptions,
    check_target,
    input_list,
    open_input,
    run_options,
)
from .options import bitstream_options, common, model_options, settings_changes, where_options
from .render import LIST_HEADER, info_record, info_text, list_line
from .report import each_file, progress_bar, say


class _LazyCodec:
    """The model, loaded on first use and then kept for every further input."""

    def __init__(self, model, threads, workers: int = 1, gpus: str | None = None,
                 ray_address: str | None = None, warn_portability: bool = False):
        # A bad --gpus is refused once, before any input, not once per input.
        self._args = (model, threads, workers, parse_gpus(gpus), ray_address)
        self._codec = None
        self._warn_portability = warn_portability

    def get(self):
        if self._codec is None:
            from ..api import Codec

            model, threads, workers, gpus, ray_address = self._args
            self._codec = Codec(model, threads, workers=workers, gpus=gpus,
                                ray_address=ray_address,
                                warn=lambda line: click.echo(f"nacz: ray: {line}", err=True))
            if self._warn_portability:
                # once per run, before any output is written (quiet or not: it is about
                # where the files will decode)
                warning = self._codec.portability_warning()
                if warning:
                    click.echo(f"nacz: warning: {warning}", err=True)
        return self._codec

    def each_file(self, files: list[str], work) -> None:
        """:func:`nacz.cli.report.each_file`, then the codec's Ray actors stop (on errors too)."""
        try:
            each_file(files, work)
        finally:
            if self._codec is not None:
                self._codec.close()


def _transform(opts: RunOptions, desc: str, work) -> tuple[object, int]:
    """``work(src, dst, progress)`` from ``opts.input`` into ``opts.output`` (written
    atomically); returns its result and the number of input bytes read from a file."""
    bar = progress_bar(opts, desc)
    with open_input(opts.input) as src:
        try:
            with safe.output(opts.output, opts.force, opts.input) as dst:
                result = work(src, dst, bar)
        finally:
            bar.close()
        n_in = src.tell() if opts.input != "-" else 0
    return result, n_in


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nacz")
def cli() -> None:
    """Neural lossless compression: a small transformer drives an arithmetic coder.

    With no FILE, or FILE '-', a command reads stdin and writes stdout.
    """


@cli.command()
@common
@bitstream_options(after_levels=False)
@click.option(
    "--level", type=click.IntRange(1, 9), default=None, metavar="N",
    help="Compression level, 1 (fastest: no model, context mixing and the classic codecs) "
    "to 9 (smallest: window 8192, one stream per text, every text on the model); 6 is the "
    "default. The options above override "
    "what the level sets (recorded in the file).",
)
@click.option("--fast", is_flag=True,
              help="Level 1: no model; PPMd, ZPAQ, LZMA2 or zstd, the smallest.")
@click.option(
    "--best", is_flag=True,
    help="Level 9: one stream per text and a window of 8192 tokens (the model's trained "
    "context), every text segment on the model; several times the default's time on "
    "long or dense texts.",
)
@bitstream_options(after_levels=True)
def compress(files, output, to_stdout, force, quiet, model, threads, workers, gpus,
             ray_address, remove_input, level, fast, best, **settings):
    """Compress each FILE to FILE.nacz (the input is kept)."""
    from ..config import BEST_LEVEL, DEFAULT_LEVEL, FAST_LEVEL, level_config

    def derive(name: str) -> str:
        if name.endswith(SUFFIX):
            raise UsageError(f"{name} already has the {SUFFIX} suffix")
        return name + SUFFIX

    files = input_list(files, output, to_stdout)
    if to_stdout and len(files) > 1:
        raise UsageError("-c takes one input when compressing (a .nacz file holds one input)")
    changes, later = settings_changes(settings)
    levels = {lv for lv, given in ((level, level is not None), (FAST_LEVEL, fast),
                                   (BEST_LEVEL, best)) if given}
    if len(levels) > 1:
        raise UsageError("--level, --fast and --best name different levels: give one")
    config = level_config(levels.pop() if levels else DEFAULT_LEVEL, **changes)
    for apply, text in later:
        config = apply(config, text)
    codec = _LazyCodec(model, threads, workers, gpus, ray_address, warn_portability=True)

    def one(file: str) -> None:
        opts = run_options(file, output, to_stdout, derive, force, quiet, model, threads,
                            remove_input)
        target = opts.output
        if target == "-" and sys.stdout.isatty() and not force:
            raise UsageError("compressed data not written to a terminal; use -f to force")
        check_target(file, target, force)
        written, n_in = _transform(opts, "compress",
                                   lambda src, dst, bar: codec.get().compress_to(
                                       src, dst, config, progress=bar))
        if file != "-" and target != "-":
            ratio = 8 * written / n_in if n_in else 0.0
            say(opts, f"{file}: {n_in} -> {written} bytes, {ratio:.3f} bits/byte")
        if remove_input:
            # The user's only copy goes away: decode the written file in full first and
            # compare it with the input as it streams out.
            with open(target, "rb") as f, open(file, "rb") as original:
                check = CompareWriter(original, f"{target} did not verify; {file} was kept")
                codec.get().decompress_to(f, check)
                check.finish()
            safe.remove_input(file)

    codec.each_file(files, one)


@cli.command()
@common
def decompress(files, output, to_stdout, force, quiet, model, threads, workers, gpus,
               ray_address, remove_input):
    """Decompress each FILE.nacz to FILE (the input is kept); with -c, one after another
    to standard output."""

    def derive(name: str) -> str:
        if not name.endswith(SUFFIX) or len(name) == len(SUFFIX):
            raise UsageError(f"{name}: unknown suffix; use -o NAME or -c")
        return name[: -len(SUFFIX)]

    files = input_list(files, output, to_stdout)
    codec = _LazyCodec(model, threads, workers, gpus, ray_address)

    def one(file: str) -> None:
        opts = run_options(file, output, to_stdout, derive, force, quiet, model, threads,
                            remove_input)
        check_target(file, opts.output, force)
        _transform(opts, "decompress",
                   lambda src, dst, bar: codec.get().decompress_to(src, dst, progress=bar))
        if remove_input:  # every checksum passed while decoding
            safe.remove_input(file)

    codec.each_file(files, one)


@cli.command()
@click.argument("files", nargs=-1, metavar="[FILE]...")
@where_options
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def test(files, model, threads, workers, gpus, ray_address, quiet):
    """Decode each FILE fully and check every checksum; write nothing."""
    files = input_list(files, None, False)
    codec = _LazyCodec(model, threads, workers, gpus, ray_address)

    def one(file: str) -> None:
        with open_input(file) as src:
            codec.get().decompress_to(src, Discard())
        if not quiet:
            click.echo(f"{file}: OK", err=True)

    codec.each_file(files, one)


@cli.command()
@click.argument("file", required=False, default="-")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def info(file, as_json):
    """Show a nacz file's header without decoding it."""
    import json

    from ..api import read_info

    with open_input(file) as raw:
        found = read_info(raw)
    record = info_record(file, found)
    click.echo(json.dumps(record, indent=2) if as_json else info_text(record, found))


@cli.command("list")
@click.argument("files", nargs=-1, metavar="[FILE]...")
def list_files(files):
    """List each FILE's sizes and ratio from its header (like gzip -l); decodes nothing."""
    from ..api import read_info

    files = input_list(files, None, False)
    click.echo(LIST_HEADER)
    rows = []

    def one(file: str) -> None:
        with open_input(file) as raw:
            found = read_info(raw)
        name = file[: -len(SUFFIX)] if file.endswith(SUFFIX) else file
        rows.append((found.compressed_bytes, found.header.original_length))
        click.echo(list_line(found.compressed_bytes, found.header.original_length,
                              "(stdout)" if file == "-" else name))

    try:
        each_file(files, one)
    finally:
        if len(rows) > 1:
            click.echo(list_line(sum(r[0] for r in rows), sum(r[1] for r in rows),
                                  "(totals)"))


@cli.command()
@click.argument("file", required=False, default="-")
@click.option("--html", "html_out", default=None, metavar="PAGE",
              help="Write a self-contained web page here ('-' = stdout) instead.")
@click.option("--top", type=click.IntRange(0, 10000), default=20, show_default=True,
              help="How many of the costliest spans (words) to list.")
@model_options
def explain(file, html_out, top, model, threads):
    """Show where the bits go: each token of FILE coloured by what it costs.

    Codes FILE as one stream with the default settings and writes nothing compressed; in
    a terminal each token's background shows its cost, with each line's bits and the
    costliest spans after it."""
    from ..explain import render_ansi, render_html, token_costs

    with open_input(file) as src:
        data = src.read()
    costs = token_costs(_LazyCodec(model, threads).get(), data)
    if html_out is None:
        click.echo(render_ansi(costs, top), nl=False)
        return
    page = render_html(costs, "standard input" if file == "-" else file, top).encode()
    if html_out == "-":
        click.echo(page, nl=False)
        return
    if file != "-" and os.path.exists(html_out) and Path(html_out).samefile(file):
        raise UsageError(f"{html_out}: the page would overwrite the input")
    with safe.output(html_out, True, "-") as dst:
        dst.write(page)
