"""Texts from outside the corpus for measuring defaults (issue 32): cuts of files a Debian
machine of this kind has, written to a folder with their SHA-256, never committed.

    python -m bench.texts OUT [--bytes N]

Each entry says where its bytes come from; one whose source is missing is skipped and
named. The diverse set (../shared/corpora/diverse) is cut the same way, so every text of a
run has the same length.
"""

from __future__ import annotations

import argparse
import gettext
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIVERSE = ROOT.parent / "shared" / "corpora" / "diverse"
PYLIB = Path(os.__file__).parent


def _catalogue(path: str) -> bytes:
    """The translated messages of a gettext catalogue, one per paragraph: UI prose in the
    catalogue's language, without the binary index."""
    with open(path, "rb") as f:
        cat = gettext.GNUTranslations(f)
    msgs = [v for k, v in sorted(cat._catalog.items(), key=lambda kv: str(kv[0])) if k]
    return "\n\n".join(m.strip() for m in msgs if m.strip()).encode("utf-8")


def _uncompressed_pdf(path: str) -> bytes:
    """A PDF with its streams inflated (qpdf --qdf): a text-based PDF."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.pdf"
        subprocess.run(["qpdf", "--qdf", "--object-streams=disable", path, str(out)],
                       check=False, capture_output=True)
        return out.read_bytes()


def _base64_of(path: str) -> bytes:
    """A compressed file written as base64 (76-column lines): text with no redundancy a
    language model can see."""
    import base64

    return base64.encodebytes(Path(path).read_bytes())


def _hexdump(path: str) -> bytes:
    """An xxd-style dump of a binary: offsets, 16 bytes in hex, their printable ASCII."""
    data = Path(path).read_bytes()[:8192]
    lines = []
    for i in range(0, len(data), 16):
        row = data[i:i + 16]
        hexes = " ".join(row[j:j + 2].hex() for j in range(0, len(row), 2))
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
        lines.append(f"{i:08x}: {hexes:<39}  {text}")
    return ("\n".join(lines) + "\n").encode()


#: name -> (what it is, how to get its bytes, offset of the cut)
EXTRA = {
    "iso3166_2.xml": ("XML data dump", lambda: Path("/usr/share/xml/iso-codes/iso_3166-2.xml").read_bytes(), 40_000),
    "ko_messages.txt": ("Korean UI prose (git's catalogue)", lambda: _catalogue("/usr/share/locale/ko/LC_MESSAGES/git.mo"), 20_000),
    "el_messages.txt": ("Greek UI prose (gtk20's catalogue)", lambda: _catalogue("/usr/share/locale/el/LC_MESSAGES/gtk20-properties.mo"), 20_000),
    "ar_messages.txt": ("Arabic UI prose (gtk20's catalogue)", lambda: _catalogue("/usr/share/locale/ar/LC_MESSAGES/gtk20-properties.mo"), 20_000),
    "text_pdf.pdf": ("text-based PDF (shared-mime-info spec, streams inflated by qpdf)", lambda: _uncompressed_pdf("/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf"), 30_000),
    "numbers.csv": ("CSV of hex floats (numpy's umath validation set)", lambda: next((PYLIB / "site-packages/numpy/_core/tests/data").glob("umath-validation-set-cos.csv")).read_bytes(), 0) ,
    "tarfile.py": ("Python source (the standard library's tarfile.py)", lambda: (PYLIB / "tarfile.py").read_bytes(), 20_000),
    "object.h": ("C header (CPython's object.h)", lambda: (Path(sys.base_prefix) / "include/python3.11/object.h").read_bytes(), 0),
    "dpkg.log": ("dpkg log", lambda: Path("/var/log/dpkg.log").read_bytes(), 0),
    "base64_gz.txt": ("base64 of a gzip file (binutils-common changelog.Debian.gz)", lambda: _base64_of("/usr/share/doc/binutils-common/changelog.Debian.gz"), 0),
    "hexdump.txt": ("xxd-style hex dump of /usr/bin/ls", lambda: _hexdump("/usr/bin/ls"), 0),
}


def gather(out: Path, n: int) -> list[tuple[str, str, int, str]]:
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    sources = [(p.name, f"diverse/{p.name}", (lambda p=p: p.read_bytes()), 0)
               for p in sorted(DIVERSE.iterdir()) if p.name != "README.md"]
    sources += [(name, what, get, off) for name, (what, get, off) in EXTRA.items()]
    for name, what, get, off in sources:
        try:
            data = get()
        except (OSError, StopIteration) as exc:
            print(f"skipped {name}: {exc}", file=sys.stderr)
            continue
        cut = data[off : off + n] if len(data) >= off + n else data[-n:]
        (out / name).write_bytes(cut)
        rows.append((name, what, len(cut), hashlib.sha256(cut).hexdigest()))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--bytes", type=int, default=16384)
    args = ap.parse_args(argv)
    for name, what, size, digest in gather(args.out, args.bytes):
        print(f"{name}\t{size}\t{digest[:16]}\t{what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
