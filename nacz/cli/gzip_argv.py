"""The gzip-style command line (``nacz -dc f.nacz``, ``unnacz``, ``naczcat``, ``tar -I
nacz``) translated into the subcommand one that :mod:`nacz.cli.commands` parses."""

from __future__ import annotations

from ..errors import UsageError

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
