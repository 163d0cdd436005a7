"""The ``nacz`` command line: a thin click layer over :mod:`nacz.api`.

Invariants:
- Payload goes to stdout only when asked for (``-c``, ``-o -``, or a filter with no
  FILE); every message goes to stderr.
- Exit codes are decided in one place, :func:`_classify` (used by :func:`main`): 0
  success, 1 a failure nacz detected (bad or corrupt input, model mismatch, I/O error), 2
  a usage error, 3 a bug, 130 interrupted. With several inputs each failure is reported
  and the others still run; the status is the worst one. No traceback reaches the user
  unless NACZ_DEBUG is set.
- Files are written to a temporary name in the target directory and renamed only after
  success; the input is never removed or altered; an existing output is kept unless -f.
- Data streams through: no command reads its input whole, so memory does not grow with
  the file (see :mod:`nacz.api`). On standard output, a failure can come after part of
  the output was written (as with gzip); the exit status says so.
"""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

import click

from . import __version__
from .errors import CorruptDataError, ModelLoadError, NaczError, OutputExistsError, UsageError
from .formats import SegmentKind

SUFFIX = ".nacz"


@dataclass(frozen=True)
class RunOptions:
    """Where data comes from and goes to; nothing here changes the coded bits."""

    input: str  # "-" for stdin
    output: str | None  # None: derive from input; "-": stdout
    force: bool
    quiet: bool
    model: str | None
    threads: int | None


# -- helpers -----------------------------------------------------------------------------


@contextmanager
def _open_input(path: str) -> Iterator[BinaryIO]:
    """The input as a binary stream (stdin for '-'); never read whole."""
    if path == "-":
        yield sys.stdin.buffer
        return
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{path}: is a directory")
    with open(p, "rb") as f:
        yield f


class _Discard:
    """A sink for ``nacz test``: decoded bytes are checked, then dropped."""

    def write(self, b) -> int:
        return len(b)


class _CompareWriter:
    """A sink that checks decoded bytes against a file, chunk by chunk (``--rm``)."""

    def __init__(self, original: BinaryIO, error: str):
        self._original = original
        self._error = error

    def write(self, b) -> int:
        view = memoryview(b)
        pos = 0
        while pos < len(view):
            chunk = self._original.read(min(len(view) - pos, 1 << 20))
            if not chunk or chunk != view[pos : pos + len(chunk)]:
                raise CorruptDataError(self._error)
            pos += len(chunk)
        return len(view)

    def finish(self) -> None:
        if self._original.read(1):
            raise CorruptDataError(self._error)


@contextmanager
def _output(target: str, force: bool, inputs: str) -> Iterator[BinaryIO]:
    """Yield a binary file for ``target``; commit it atomically only on success."""
    if target == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    out = Path(target)
    if inputs != "-" and os.path.exists(inputs) and out.exists() and out.samefile(inputs):
        raise UsageError(f"{target}: output would overwrite the input")
    if out.exists() and not force:
        raise OutputExistsError(f"{target} already exists; use -f to overwrite")
    directory = out.parent if str(out.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if inputs != "-":
            # like xz and zstd: the output keeps the input's permissions and times
            try:
                st = os.stat(inputs)
                os.chmod(tmp, st.st_mode & 0o777)
                os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
            except OSError:
                pass
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class _ProgressBar:
    """tqdm on stderr, only when stderr is a terminal and not quiet."""

    def __init__(self, enabled: bool, desc: str):
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                total=0, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                file=sys.stderr, leave=False, dynamic_ncols=True,
            )

    def __call__(self, done: int, total: int, bits: int) -> None:
        if self._bar is None:
            return
        if self._bar.total != total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)
        if done:
            self._bar.set_postfix_str(f"{bits / done:.3f} bits/byte", refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _progress(opts: RunOptions, desc: str) -> _ProgressBar:
    return _ProgressBar(not opts.quiet and sys.stderr.isatty(), desc)


def _say(opts: RunOptions, msg: str) -> None:
    if not opts.quiet:
        click.echo(msg, err=True)


def _check_ray_address(ctx, param, value):
    """'local', 'auto', HOST:PORT or ray://...; anything else is most likely a FILE
    that click took as the option's value."""
    if value is None or value in ("local", "auto") or ":" in value:
        return value
    raise click.BadParameter(
        f"{value!r} is not a Ray address (local, auto, HOST:PORT or ray://HOST:PORT); "
        "before a FILE write --ray=local or --ray=auto", param=param)


def _ray_option(f):
    return click.option(
        "--ray", "ray_address", is_flag=False, flag_value="local", default=None,
        metavar="[ADDRESS]", callback=_check_ray_address,
        help="Code on a Ray cluster (pip install 'nacz[ray]'): alone, a local Ray "
        "instance; 'auto' or HOST:PORT joins a cluster (default address: RAY_ADDRESS). "
        "--workers sets the actors, one GPU each with --gpus. Never changes the output.",
    )(f)


def _common(f):
    f = click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")(f)
    f = click.option(
        "-f", "--force", is_flag=True,
        help="Overwrite existing output; write compressed data to a terminal.",
    )(f)
    f = click.option("-c", "--stdout", "to_stdout", is_flag=True, help="Write to standard output.")(f)
    f = click.option("-o", "--output", type=str, default=None, help="Output file ('-' = stdout).")(f)
    f = click.option(
        "--model", type=click.Path(dir_okay=False), default=None,
        help="GGUF model file (default: the bundled SmolLM2-135M-Instruct Q4_1).",
    )(f)
    f = click.option(
        "--threads", type=click.IntRange(1, 256), default=None,
        help="CPU threads for the model (never changes the output).",
    )(f)
    f = click.option(
        "--workers", type=click.IntRange(1, 64), default=1, show_default=True,
        help="Worker processes, each with its own model (never changes the output).",
    )(f)
    f = click.option(
        "--gpus", default=None, metavar="LIST",
        help="Run the model on these GPUs, e.g. 0,1 (one or more workers each; needs a "
        "GPU build of llama-cpp-python). GPU files decode only on matching GPUs.",
    )(f)
    f = _ray_option(f)
    f = click.option(
        "--rm", "remove_input", is_flag=True,
        help="Remove FILE once the output is complete and verified.",
    )(f)
    f = click.argument("files", nargs=-1, metavar="[FILE]...")(f)
    return f


def parse_gpus(text: str | None) -> tuple[int, ...]:
    from .workers import parse_gpus as parse

    return parse(text)


def _comma_words(text: str) -> list[str]:
    """The lower-cased, non-empty words of a comma list."""
    return [w.strip().lower() for w in text.split(",") if w.strip()]


def _parse_bit_names(text: str, names: dict[str, int], all_bits: int, what: str) -> int:
    """'all', 'none' or a comma list of ``names`` (which may include 'all') -> their bits
    or'ed together."""
    words = _comma_words(text)
    if words in ([], ["none"]):
        return 0
    mask = 0
    for w in words:
        if w == "all":
            mask |= all_bits
        elif w in names:
            mask |= names[w]
        else:
            raise UsageError(f"unknown {what} {w!r} (known: {', '.join(names)}, or all / none)")
    return int(mask)


def parse_predictors(text: str) -> int:
    """'all', 'none' or a comma list of predictor names -> the config's bit mask."""
    from .config import PREDICTOR_NAMES, Predictor

    return _parse_bit_names(text, PREDICTOR_NAMES, Predictor.ALL | Predictor.SHARED, "predictor")


def with_struct_contexts(config, text: str):
    """``config`` with the structure contexts named in ``text`` (comma list) turned on."""
    from .config import STRUCT_KINDS, Predictor

    words = _comma_words(text)
    unknown = [w for w in words if w not in STRUCT_KINDS]
    if unknown or not words:
        raise UsageError(f"unknown structure context {unknown[0] if unknown else text!r} "
                         f"(known: {', '.join(STRUCT_KINDS)})")
    if not config.predictors:
        raise UsageError("--struct-contexts needs predictors (not --predictors none)")
    return config.replace(predictors=config.predictors | Predictor.STRUCT,
                          struct_contexts=tuple(STRUCT_KINDS[w] for w in words))


def parse_layout(text: str) -> int:
    """'all', 'none' or a comma list of fold names -> the config's layout bits."""
    from .config import LAYOUT_NAMES, LayoutFold

    return _parse_bit_names(text, LAYOUT_NAMES, LayoutFold.ALL, "layout fold")


def _check_target(file: str, target: str, force: bool) -> None:
    """Refuse early (before any work) what _output would refuse at the end."""
    if target == "-":
        return
    out = Path(target)
    if file != "-" and out.exists() and os.path.exists(file) and out.samefile(file):
        raise UsageError(f"{target}: output would overwrite the input")
    if out.exists() and not force:
        raise OutputExistsError(f"{target} already exists; use -f to overwrite")


def _target(file: str, output: str | None, to_stdout: bool, derive) -> str:
    if to_stdout:
        if output not in (None, "-"):
            raise UsageError("-c and -o cannot be used together")
        return "-"
    if output is not None:
        return output
    if file == "-":
        return "-"
    return derive(file)


def _run_options(file, output, to_stdout, derive, force, quiet, model, threads,
                 remove_input) -> RunOptions:
    target = _target(file, output, to_stdout, derive)
    if remove_input and target == "-":
        raise UsageError("--rm needs an output file")
    return RunOptions(file, target, force, quiet, model, threads)


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
            from .api import Codec

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
        """:func:`_each_file`, then the codec's Ray actors stop (on errors too)."""
        try:
            _each_file(files, work)
        finally:
            if self._codec is not None:
                self._codec.close()


def _transform(opts: RunOptions, desc: str, work) -> tuple[object, int]:
    """``work(src, dst, progress)`` from ``opts.input`` into ``opts.output`` (written
    atomically); returns its result and the number of input bytes read from a file."""
    bar = _progress(opts, desc)
    with _open_input(opts.input) as src:
        try:
            with _output(opts.output, opts.force, opts.input) as dst:
                result = work(src, dst, bar)
        finally:
            bar.close()
        n_in = src.tell() if opts.input != "-" else 0
    return result, n_in


def _input_list(files: tuple[str, ...], output: str | None, to_stdout: bool) -> list[str]:
    """The inputs in order: stdin when none is given. '-' must be the only input."""
    files = list(files) or ["-"]
    if len(files) > 1:
        if "-" in files:
            raise UsageError("'-' (standard input) must be the only input")
        if output is not None:
            raise UsageError("-o takes one input; without it each output is named after its input")
    return files


def _each_file(files: list[str], work) -> None:
    """Run ``work(file)`` for each input. With one input its error propagates as is; with
    several, each failure is reported (named by its file) and the others still run, as
    gzip and xz do; the exit status is then the worst one. A model that cannot be loaded
    stops the run, reported once: every further input would fail the same way."""
    if len(files) == 1:
        work(files[0])
        return
    worst = 0
    for file in files:
        try:
            work(file)
        except ModelLoadError:
            raise  # the model is gone: nothing more can be done
        except Exception as exc:
            if _is_broken_pipe(exc):
                raise  # the reader is gone
            code, message = _classify(exc)
            if code is None:
                raise
            if not message.startswith(f"{file}:"):
                message = f"{file}: {message}"
            click.echo(f"nacz: error: {message}", err=True)
            worst = max(worst, code)
    if worst:
        raise click.exceptions.Exit(worst)


# -- commands ----------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nacz")
def cli() -> None:
    """Neural lossless compression: a small transformer drives an arithmetic coder.

    With no FILE, or FILE '-', a command reads stdin and writes stdout.
    """


@cli.command()
@_common
@click.option(
    "--window", type=click.IntRange(16, 131072), default=None,
    help="Tokens of context kept per stream (recorded in the file).",
)
@click.option(
    "--temperature", type=click.FloatRange(0.05, 20.0), default=None,
    help="Softmax temperature (recorded in the file).",
)
@click.option(
    "--max-streams", type=click.IntRange(1, 256), default=None,
    help="Most shards coded side by side in one batch (recorded in the file).",
)
@click.option(
    "--min-shard-tokens", type=click.IntRange(1, 2**31 - 1), default=None,
    help="Split the input into shards only if each gets this many tokens.",
)
@click.option(
    "--block-size", type=click.IntRange(1024, 2**32 - 1), default=None, metavar="BYTES",
    help="Input bytes planned and coded together; bounds memory (default 8 MiB; "
    "recorded in the file). Each block is one or more groups that workers code at once: "
    "for N workers about input/2N, not below 1 MiB (README: about +1% size at 1 MiB).",
)
@click.option(
    "--predictors", type=str, default=None, metavar="LIST",
    help="Predictors mixed with the LLM: 'all' (default), 'none', or a comma list of "
    "bias,ngram,match,temp,apm,unigram, plus 'shared' to let the shards of a group share "
    "what they learn (part of 'all'), and 'struct' for the structure contexts (not part "
    "of 'all': they gain about 2% on logs and nothing on other text; recorded in the file).",
)
@click.option(
    "--struct-contexts", type=str, default=None, metavar="LIST",
    help="Which structure contexts 'struct' adds, a comma list of column, above, masked, "
    "masked8, linehead, markup, word (default masked8,above); turns 'struct' on "
    "(recorded in the file).",
)
@click.option(
    "--layout", type=str, default=None, metavar="LIST",
    help="Line-layout folds a text may use when they pay: 'all' (default), 'none', or a "
    "comma list of crlf (CR LF line ends), wrap (soft line breaks), spaces (two spaces "
    "between words), quotes (backquotes) (recorded in the file).",
)
@click.option(
    "--model-gate", type=click.IntRange(0, 3), default=None,
    help="3 (the default): a text segment that costs many tokens per byte leaves the "
    "model only where a calibrated sample says the model saves under 10% against the "
    "best off-model codec; 0: every text segment goes to the model; 2: none does; 1: the "
    "rule of 2026-12-01 (recorded in the file).",
)
@click.option(
    "--offmodel", type=click.Choice(["cm", "classic"]), default=None,
    help="What codes the segments the model does not: 'cm' (the default), the smallest of "
    "PPMd, ZPAQ -m5, LZMA2 and zstd by trial; 'classic', LZMA2 and zstd only (recorded "
    "in the file).",
)
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
@click.option(
    "--bias-rate", type=click.FloatRange(0.0, 1.0), default=None,
    help="Learning rate of the adaptive bias head (recorded in the file).",
)
@click.option(
    "--skip-min-match", type=click.IntRange(0, 65535), default=None,
    help="Confidence skip: code a token without the LLM's distribution when the match "
    "model has a match this long and is confident (0 = off; recorded in the file).",
)
def compress(files, output, to_stdout, force, quiet, model, threads, workers, gpus,
             ray_address, remove_input, window, temperature, max_streams, min_shard_tokens, block_size,
             predictors, struct_contexts, layout, model_gate, offmodel, level, fast, best,
             bias_rate, skip_min_match):
    """Compress each FILE to FILE.nacz (the input is kept)."""
    from .config import BEST_LEVEL, DEFAULT_LEVEL, FAST_LEVEL, OFFMODEL_NAMES, level_config

    def derive(name: str) -> str:
        if name.endswith(SUFFIX):
            raise UsageError(f"{name} already has the {SUFFIX} suffix")
        return name + SUFFIX

    files = _input_list(files, output, to_stdout)
    if to_stdout and len(files) > 1:
        raise UsageError("-c takes one input when compressing (a .nacz file holds one input)")
    changes = {
        k: v for k, v in dict(
            window=window, temperature=temperature, max_streams=max_streams,
            min_shard_tokens=min_shard_tokens, block_size=block_size, rate_bias=bias_rate,
            skip_min_match=skip_min_match, model_gate=model_gate,
            offmodel=None if offmodel is None else OFFMODEL_NAMES[offmodel],
            predictors=None if predictors is None else parse_predictors(predictors),
            layout=None if layout is None else parse_layout(layout),
        ).items() if v is not None
    }
    levels = {lv for lv, given in ((level, level is not None), (FAST_LEVEL, fast),
                                   (BEST_LEVEL, best)) if given}
    if len(levels) > 1:
        raise UsageError("--level, --fast and --best name different levels: give one")
    config = level_config(levels.pop() if levels else DEFAULT_LEVEL, **changes)
    if struct_contexts is not None:
        config = with_struct_contexts(config, struct_contexts)
    codec = _LazyCodec(model, threads, workers, gpus, ray_address, warn_portability=True)

    def one(file: str) -> None:
        opts = _run_options(file, output, to_stdout, derive, force, quiet, model, threads,
                            remove_input)
        target = opts.output
        if target == "-" and sys.stdout.isatty() and not force:
            raise UsageError("compressed data not written to a terminal; use -f to force")
        _check_target(file, target, force)
        written, n_in = _transform(opts, "compress",
                                   lambda src, dst, bar: codec.get().compress_to(
                                       src, dst, config, progress=bar))
        if file != "-" and target != "-":
            ratio = 8 * written / n_in if n_in else 0.0
            _say(opts, f"{file}: {n_in} -> {written} bytes, {ratio:.3f} bits/byte")
        if remove_input:
            # The user's only copy goes away: decode the written file in full first and
            # compare it with the input as it streams out.
            with open(target, "rb") as f, open(file, "rb") as original:
                check = _CompareWriter(original, f"{target} did not verify; {file} was kept")
                codec.get().decompress_to(f, check)
                check.finish()
            _remove_input(file)

    codec.each_file(files, one)


@cli.command()
@_common
def decompress(files, output, to_stdout, force, quiet, model, threads, workers, gpus,
               ray_address, remove_input):
    """Decompress each FILE.nacz to FILE (the input is kept); with -c, one after another
    to standard output."""

    def derive(name: str) -> str:
        if not name.endswith(SUFFIX) or len(name) == len(SUFFIX):
            raise UsageError(f"{name}: unknown suffix; use -o NAME or -c")
        return name[: -len(SUFFIX)]

    files = _input_list(files, output, to_stdout)
    codec = _LazyCodec(model, threads, workers, gpus, ray_address)

    def one(file: str) -> None:
        opts = _run_options(file, output, to_stdout, derive, force, quiet, model, threads,
                            remove_input)
        _check_target(file, opts.output, force)
        _transform(opts, "decompress",
                   lambda src, dst, bar: codec.get().decompress_to(src, dst, progress=bar))
        if remove_input:  # every checksum passed while decoding
            _remove_input(file)

    codec.each_file(files, one)


def _remove_input(file: str) -> None:
    if file == "-":
        return
    os.unlink(file)


@cli.command()
@click.argument("files", nargs=-1, metavar="[FILE]...")
@click.option("--model", type=click.Path(dir_okay=False), default=None, help="GGUF model file.")
@click.option("--threads", type=click.IntRange(1, 256), default=None)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes (or Ray actors), each with its own model.")
@click.option("--gpus", default=None, metavar="LIST", help="As for decompress.")
@_ray_option
@click.option("-q", "--quiet", is_flag=True)
def test(files, model, threads, workers, gpus, ray_address, quiet):
    """Decode each FILE fully and check every checksum; write nothing."""
    files = _input_list(files, None, False)
    codec = _LazyCodec(model, threads, workers, gpus, ray_address)

    def one(file: str) -> None:
        with _open_input(file) as src:
            codec.get().decompress_to(src, _Discard())
        if not quiet:
            click.echo(f"{file}: OK", err=True)

    codec.each_file(files, one)


@cli.command()
@click.argument("file", required=False, default="-")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def info(file, as_json):
    """Show a nacz file's header without decoding it."""
    import json

    from .api import read_info
    from .config import level_of
    from .model_file import recorded_model_display, recorded_model_name

    with _open_input(file) as raw:
        found = read_info(raw)
    h, cfg, compressed = found.header, found.config, found.compressed_bytes
    model_name, model_bundled = recorded_model_name(h.model_name)
    record = {
        "file": file,
        "compressed_bytes": compressed,
        "original_bytes": h.original_length,
        "bits_per_byte": (8 * compressed / h.original_length) if h.original_length else None,
        "model": model_name,
        "model_bundled": model_bundled,
        "model_sha256_prefix": h.model_id.hex(),
        "level": level_of(cfg),
        "config": _config_record(cfg),
        "segments": [
            {"kind": _KIND_NAMES.get(s.kind, str(s.kind)), "group": s.group,
             "tokens": s.n_tokens, "bytes": s.n_bytes, "payload_bytes": s.payload_length}
            for s in h.segments
        ],
    }
    if as_json:
        click.echo(json.dumps(record, indent=2))
        return
    bpb = record["bits_per_byte"]
    lines = [
        f"file:        {file}",
        f"original:    {h.original_length} bytes",
        f"compressed:  {compressed} bytes" + (f" ({bpb:.3f} bits/byte)" if bpb else ""),
        f"model:       {recorded_model_display(h.model_name)}"
        f" (sha256 {h.model_id.hex()}{'...' if len(h.model_id) < 32 else ''})",
        f"level:       {record['level'] or 'none (a config of its own)'}",
        "config:      " + ", ".join(f"{k}={v}" for k, v in record["config"].items()),
        f"segments:    {len(h.segments)}",
    ]
    for i, seg in enumerate(record["segments"]):
        lines.append(
            f"  {i:4d} {seg['kind']:<12} group {seg['group']:<4} {seg['bytes']:>10} bytes"
            f" -> {seg['payload_bytes']:>9}" + (f" ({seg['tokens']} tokens)" if seg["tokens"] else "")
        )
    click.echo("\n".join(lines))


def _config_record(cfg) -> dict:
    """The config as shown by ``info``: predictor fields only when the file records them."""
    names = list(cfg.__dataclass_fields__)
    shown = names if cfg.predictors else names[: names.index("predictors") + 1]
    record = {k: getattr(cfg, k) for k in shown}
    record["predictors"] = ",".join(cfg.predictor_names()) or "none"
    from .config import OFFMODEL_NAMES

    record["offmodel"] = {v: k for k, v in OFFMODEL_NAMES.items()}[cfg.offmodel]
    if cfg.predictors:
        record["ngram_orders"] = list(cfg.ngram_orders)
    from .config import STRUCT_KINDS, Predictor

    names_of = {v: k for k, v in STRUCT_KINDS.items()}
    if cfg.predictors & Predictor.STRUCT:
        record["struct_contexts"] = ",".join(names_of[k] for k in cfg.struct_contexts)
    else:
        record.pop("struct_contexts", None)
    return record


@cli.command("list")
@click.argument("files", nargs=-1, metavar="[FILE]...")
def list_files(files):
    """List each FILE's sizes and ratio from its header (like gzip -l); decodes nothing."""
    from .api import read_info

    files = _input_list(files, None, False)
    click.echo(f"{'compressed':>12} {'uncompressed':>12} {'ratio':>6} {'bits/byte':>9}  "
               "uncompressed_name")
    rows = []

    def one(file: str) -> None:
        with _open_input(file) as raw:
            found = read_info(raw)
        name = file[: -len(SUFFIX)] if file.endswith(SUFFIX) else file
        rows.append((found.compressed_bytes, found.header.original_length))
        click.echo(_list_line(found.compressed_bytes, found.header.original_length,
                              "(stdout)" if file == "-" else name))

    try:
        _each_file(files, one)
    finally:
        if len(rows) > 1:
            click.echo(_list_line(sum(r[0] for r in rows), sum(r[1] for r in rows),
                                  "(totals)"))


def _list_line(compressed: int, original: int, name: str) -> str:
    ratio = f"{100 * (1 - compressed / original):5.1f}%" if original else "  0.0%"
    bpb = f"{8 * compressed / original:9.3f}" if original else f"{'-':>9}"
    return f"{compressed:>12} {original:>12} {ratio:>6} {bpb}  {name}"


@cli.command()
@click.argument("file", required=False, default="-")
@click.option("--html", "html_out", default=None, metavar="PAGE",
              help="Write a self-contained web page here ('-' = stdout) instead.")
@click.option("--top", type=click.IntRange(0, 10000), default=20, show_default=True,
              help="How many of the costliest spans (words) to list.")
@click.option("--model", type=click.Path(dir_okay=False), default=None, help="GGUF model file.")
@click.option("--threads", type=click.IntRange(1, 256), default=None)
def explain(file, html_out, top, model, threads):
    """Show where the bits go: each token of FILE coloured by what it costs.

    Codes FILE as one stream with the default settings and writes nothing compressed; in
    a terminal each token's background shows its cost, with each line's bits and the
    costliest spans after it."""
    from .explain import render_ansi, render_html, token_costs

    with _open_input(file) as src:
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
    with _output(html_out, True, "-") as dst:
        dst.write(page)


#: Segment kind -> its name in ``nacz info``: the member's name, lower-case, '+' for '_'.
_KIND_NAMES = {int(k): k.name.lower().replace("_", "+") for k in SegmentKind}


# -- entry point: the one place that decides exit codes ----------------------------------


def _error_message(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        name = f"{exc.filename}: " if exc.filename else ""
        return f"{name}{exc.strerror or exc}"
    return str(exc) or type(exc).__name__


def _is_broken_pipe(exc: BaseException) -> bool:
    """The reader of our output went away (``BrokenPipeError``, or the library's
    ``NaczIOError`` standing for one)."""
    import errno

    return isinstance(exc, OSError) and exc.errno == errno.EPIPE


def _classify(exc: BaseException) -> tuple[int | None, str]:
    """(exit code, one-line message) for an error nacz reports, (None, "") for a bug."""
    if isinstance(exc, UsageError):
        return (1 if isinstance(exc, OutputExistsError) else 2), str(exc)
    if isinstance(exc, (NaczError, OSError)):
        return 1, _error_message(exc)
    if isinstance(exc, MemoryError):
        return 1, "out of memory"
    return None, ""


# -- the gzip-style command line ---------------------------------------------------------

GZIP_STYLE_HELP = """Usage: nacz [OPTION]... [FILE]...
       nacz COMMAND [OPTION]... [FILE]...   (COMMAND: compress, decompress, test, info, list, explain)

Compress each FILE to FILE.nacz (kept), as gzip, xz and zstd do; with no FILE, or '-',
read standard input and write standard output. tar -I nacz works.

  -z, --compress     compress (the default)
  -d, --decompress   decompress (also: unnacz; naczcat is nacz -dc)
  -c, --stdout       write to standard output, keep the inputs
  -o, --output FILE  write to FILE (one input)
  -k, --keep         keep the inputs (the default; accepted for gzip's sake)
      --rm           remove each input once its output is complete and verified
  -f, --force        overwrite outputs; write compressed data to a terminal
  -t, --test         decode each FILE fully and check it; write nothing
  -l, --list         list sizes and ratios from each FILE's header
  -q, --quiet        print nothing but errors
  -v, --verbose      a line per file (sizes and bits per byte), OK per tested file
  -1 ... -9          compression level: -1 (--fast) no model (PPMd, ZPAQ, LZMA2 or
                     zstd); -6 the default; -9 (--best) the smallest, every text on
                     the model, several times the default's time
  -T, --threads N    CPU threads for the model (never changes the output)
      --workers N    worker processes; --model FILE a GGUF model
  -h, --help         this help; nacz COMMAND --help for a command's options
  -V, --version      the version

A FILE named like a COMMAND is compressed with: nacz -- FILE.
Exit status: 0 success, 1 failure (corrupt or foreign input, model mismatch, I/O),
2 usage error, 3 a bug in nacz, 130 interrupted."""

_GZIP_SHORT = "zdcko:fqtlvT:hV123456789"
_GZIP_LONG = ["compress", "decompress", "uncompress", "stdout", "to-stdout", "keep",
              "output=", "rm", "force", "quiet", "test", "list", "verbose", "threads=",
              "workers=", "model=", "fast", "best", "help", "version"]


def gzip_style_argv(argv: list[str], prog: str = "nacz") -> list[str] | None:
    """The subcommand command line that a gzip-style one means (``nacz -dc f.nacz`` ->
    ``decompress -c f.nacz``), or None for help. ``prog`` 'unnacz' means -d, 'naczcat'
    -dc. Raises :class:`UsageError` for what gzip would refuse."""
    import getopt

    try:
        opts, files = getopt.gnu_getopt(argv, _GZIP_SHORT, _GZIP_LONG)
    except getopt.GetoptError as exc:
        raise UsageError(f"{exc.msg}; see nacz --help") from None
    mode = {"unnacz": "decompress", "naczcat": "decompress"}.get(prog, "compress")
    to_stdout = prog == "naczcat"
    verbose = False
    level = None  # as gzip: the last of -1..-9, --fast, --best counts
    passed: list[str] = []
    for opt, value in opts:
        if opt in ("-h", "--help"):
            return None
        if opt in ("-V", "--version"):
            return ["--version"]
        if opt in ("-z", "--compress"):
            mode = "compress"
        elif opt in ("-d", "--decompress", "--uncompress"):
            mode = "decompress"
        elif opt in ("-t", "--test"):
            mode = "test"
        elif opt in ("-l", "--list"):
            mode = "list"
        elif opt in ("-c", "--stdout", "--to-stdout"):
            to_stdout = True
        elif opt in ("-v", "--verbose"):
            verbose = True
        elif opt in ("-q", "--quiet"):
            verbose = False
        elif opt in ("-k", "--keep"):
            pass  # nacz keeps its inputs unless --rm
        elif opt in ("-f", "--force"):
            passed.append("--force")
        elif opt == "--rm":
            passed.append("--rm")
        elif opt in ("-o", "--output"):
            passed += ["--output", value]
        elif opt in ("-T", "--threads"):
            passed += ["--threads", value]
        elif opt in ("--workers", "--model"):
            passed += [opt, value]
        elif opt in ("--fast", "--best") or opt[1:].isdigit():
            level = {"--fast": "1", "--best": "9"}.get(opt, opt[1:])
    if level is not None and mode == "compress":
        passed += ["--level", level]  # as gzip: a level means nothing when decompressing
    if mode in ("test", "list"):
        refused = [o for o in passed if o in ("--force", "--rm", "--output")]
        if to_stdout or refused:
            raise UsageError(f"-{mode[0]} writes nothing: {' '.join(refused) or '-c'} makes "
                             "no sense with it")
        if mode == "list":
            return ["list", "--", *files]
        return ["test", *passed, *([] if verbose else ["--quiet"]), "--", *files]
    if not files:
        files = ["-"]
    if files == ["-"] and "--output" not in passed:
        to_stdout = True
    return [mode, *passed, *(["--stdout"] if to_stdout else []),
            *([] if verbose else ["--quiet"]), "--", *files]


def _is_subcommand_line(argv: list[str]) -> bool:
    return bool(argv) and argv[0] in cli.commands


def main(argv: list[str] | None = None, prog: str = "nacz") -> int:
    """Run the command line; returns the exit status (decided here and nowhere else)."""
    from . import interrupts

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
        if _is_broken_pipe(exc):
            # The reader went away (e.g. `| head`): stop quietly, as other filters do.
            try:
                sys.stdout = None  # type: ignore[assignment]
            except Exception:
                pass
            return 1
        code, message = _classify(exc)
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


if __name__ == "__main__":
    entry()
