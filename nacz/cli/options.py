"""The command line's options: those every command shares, and the bitstream options of
``nacz compress``, built from :class:`nacz.config.CodecConfig`'s field metadata (one
:class:`nacz.config.CliOption` per setting), so a new setting needs no edit here."""

from __future__ import annotations

import click

from ..config import cli_options


def _check_ray_address(ctx, param, value):
    """'local', 'auto', HOST:PORT or ray://...; anything else is most likely a FILE
    that click took as the option's value."""
    if value is None or value in ("local", "auto") or ":" in value:
        return value
    raise click.BadParameter(
        f"{value!r} is not a Ray address (local, auto, HOST:PORT or ray://HOST:PORT); "
        "before a FILE write --ray=local or --ray=auto", param=param)


def ray_option(f):
    return click.option(
        "--ray", "ray_address", is_flag=False, flag_value="local", default=None,
        metavar="[ADDRESS]", callback=_check_ray_address,
        help="Code on a Ray cluster (pip install 'nacz[ray]'): alone, a local Ray "
        "instance; 'auto' or HOST:PORT joins a cluster (default address: RAY_ADDRESS). "
        "--workers sets the actors, one GPU each with --gpus. Never changes the output.",
    )(f)


_MODEL = click.option(
    "--model", type=click.Path(dir_okay=False), default=None,
    help="GGUF model file (default: the bundled SmolLM2-135M-Instruct Q4_1).",
)
_THREADS = click.option(
    "--threads", type=click.IntRange(1, 256), default=None,
    help="CPU threads for the model (never changes the output).",
)
_WORKERS = click.option(
    "--workers", type=click.IntRange(1, 64), default=1, show_default=True,
    help="Worker processes, each with its own model (never changes the output).",
)
_GPUS = click.option(
    "--gpus", default=None, metavar="LIST",
    help="Run the model on these GPUs, e.g. 0,1 (one or more workers each; needs a "
    "GPU build of llama-cpp-python). GPU files decode only on matching GPUs.",
)


def model_options(f):
    """--model and --threads: where the model comes from and how many threads run it."""
    return _MODEL(_THREADS(f))


def where_options(f):
    """--model, --threads, --workers, --gpus and --ray: where the groups are coded."""
    return model_options(_WORKERS(_GPUS(ray_option(f))))


def common(f):
    """The options of compress and decompress (listed as they always were)."""
    f = click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")(f)
    f = click.option(
        "-f", "--force", is_flag=True,
        help="Overwrite existing output; write compressed data to a terminal.",
    )(f)
    f = click.option("-c", "--stdout", "to_stdout", is_flag=True, help="Write to standard output.")(f)
    f = click.option("-o", "--output", type=str, default=None, help="Output file ('-' = stdout).")(f)
    f = ray_option(_GPUS(_WORKERS(_THREADS(_MODEL(f)))))
    f = click.option(
        "--rm", "remove_input", is_flag=True,
        help="Remove FILE once the output is complete and verified.",
    )(f)
    f = click.argument("files", nargs=-1, metavar="[FILE]...")(f)
    return f


def _click_type(opt):
    if opt.choices is not None:
        return click.Choice(list(opt.choices))
    if opt.kind is int:
        return click.IntRange(opt.low, opt.high)
    if opt.kind is float:
        return click.FloatRange(opt.low, opt.high)
    return str


#: Bitstream options of a lower rank (``CliOption.rank``) are listed before the level
#: options, the rest after them: the order ``nacz compress --help`` has always had.
LEVELS_RANK = 50


def bitstream_options(after_levels: bool):
    """One option per :func:`nacz.config.cli_options` entry on one side of the level
    options, by rank, its value passed under the field's name (None when not given)."""
    chosen = sorted(((name, opt) for name, opt in cli_options()
                     if (opt.rank >= LEVELS_RANK) == after_levels),
                    key=lambda item: item[1].rank)

    def decorate(f):
        for name, opt in reversed(chosen):
            help_text = opt.help.rstrip(".") + " (recorded in the file)."
            f = click.option(opt.flag, name, type=_click_type(opt), default=None,
                             metavar=opt.metavar, help=help_text)(f)
        return f

    return decorate


def settings_changes(settings: dict) -> tuple[dict, list]:
    """The given bitstream options as (field changes for ``level_config``, the
    (apply, text) pairs to apply to its config afterwards)."""
    changes, later = {}, []
    for name, opt in cli_options():
        value = settings.get(name)
        if value is None:
            continue
        if opt.apply is not None:
            later.append((opt.apply, value))
        else:
            changes[name] = opt.parse(value) if opt.parse is not None else value
    return changes, later
