#!/usr/bin/env python3
"""Fetch verified copies of the test corpora listed in MANIFEST.tsv.

Usage:
    python corpora/fetch.py [--from DIR] [--dest DIR] [--only NAME ...]
                            [--enwik8] [--manifest PATH] [--quiet]

Without --from the files are downloaded from the official sources named in
the manifest (the Canterbury archive, the enwik8 zip).  With --from DIR they
are copied from a local mirror: DIR/<name>, or failing that the member <name>
of DIR/<archive> where <archive> is the last part of the manifest's source URL
(cantrbry.tar.gz, enwik8.zip).

Every file is checked (size, then sha256) in a temporary file inside the
destination directory and only then renamed into place with os.replace, so a
file under its final name is always a verified copy.  Files already present
and verified are skipped.  Exit status 0 means every requested file is present
and verified; 1 means some file could not be fetched or verified; 2 is a
usage error.

Standard library only; this script does not depend on the nacz package.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Sequence

HERE = Path(__file__).resolve().parent
DEFAULT_MANIFEST = HERE / "MANIFEST.tsv"
DEFAULT_DEST = HERE

HEADER = ("name", "size", "sha256", "source")
# Fetched only when asked for by name (--enwik8 or --only enwik8).
OPTIONAL = frozenset({"enwik8"})
# Names that must never be overwritten in the (default) destination directory.
RESERVED = frozenset({"MANIFEST.tsv", "fetch.py", "README.md", ".gitignore"})

CHUNK = 1 << 20
DOWNLOAD_TIMEOUT = 60  # seconds, per blocking socket operation
USER_AGENT = "nacz-corpora-fetch/1 (+python urllib)"

_SHA256_RE = re.compile(r"[0-9a-f]{64}")


class FetchError(Exception):
    """A requested file could not be fetched or verified (message is one line)."""


class ManifestError(ValueError):
    """MANIFEST.tsv is malformed."""


@dataclass(frozen=True)
class Entry:
    name: str
    size: int
    sha256: str
    source: str

    @property
    def archive_name(self) -> str:
        """Last path component of the source URL (e.g. 'cantrbry.tar.gz')."""
        return Path(urllib.parse.urlsplit(self.source).path).name


# --------------------------------------------------------------------------
# manifest and verification


def load_manifest(path: str | os.PathLike[str] = DEFAULT_MANIFEST) -> list[Entry]:
    """Parse a tab-separated manifest with header ``name size sha256 source``."""
    path = Path(path)
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().splitlines()
    if not lines or tuple(lines[0].split("\t")) != HEADER:
        raise ManifestError(f"{path}: first line must be the header "
                            "name<TAB>size<TAB>sha256<TAB>source")
    entries: list[Entry] = []
    seen: set[str] = set()
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 4:
            raise ManifestError(f"{path}:{lineno}: expected 4 tab-separated fields, got {len(fields)}")
        name, size_s, digest, source = fields
        if (not name or name in (".", "..") or "/" in name or "\\" in name
                or name.startswith(".") or name in RESERVED):
            raise ManifestError(f"{path}:{lineno}: bad file name {name!r}")
        if name in seen:
            raise ManifestError(f"{path}:{lineno}: duplicate name {name!r}")
        if not size_s.isdigit():
            raise ManifestError(f"{path}:{lineno}: bad size {size_s!r}")
        if not _SHA256_RE.fullmatch(digest):
            raise ManifestError(f"{path}:{lineno}: sha256 must be 64 lowercase hex digits")
        if not source:
            raise ManifestError(f"{path}:{lineno}: empty source")
        seen.add(name)
        entries.append(Entry(name, int(size_s), digest, source))
    return entries


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def verify(path: str | os.PathLike[str], entry: Entry) -> bool:
    """True iff ``path`` is a regular file with the entry's size and sha256."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    if not os.path.isfile(path) or st.st_size != entry.size:
        return False
    try:
        return sha256_file(path) == entry.sha256
    except OSError:
        return False


# --------------------------------------------------------------------------
# sources


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _find_tar_member(tf: tarfile.TarFile, name: str) -> tarfile.TarInfo | None:
    for m in tf.getmembers():
        if m.isfile() and Path(m.name).name == name:
            return m
    return None


def _open_archive_member(archive: Path, name: str):
    """Return (context-manager-like file object, closer) for member ``name``."""
    aname = archive.name.lower()
    try:
        if aname.endswith(".zip"):
            zf = zipfile.ZipFile(archive)
            for info in zf.infolist():
                if not info.is_dir() and Path(info.filename).name == name:
                    return zf.open(info), zf.close
            zf.close()
        else:
            tf = tarfile.open(archive, "r:*")
            m = _find_tar_member(tf, name)
            if m is not None:
                fobj = tf.extractfile(m)
                if fobj is not None:
                    return fobj, tf.close
            tf.close()
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as e:
        raise FetchError(f"{name}: cannot read archive {archive}: {_one_line(e)}") from None
    raise FetchError(f"{name}: not found in archive {archive}")


def _download(url: str, dest: Path) -> Path:
    """Download ``url`` to a temporary file in ``dest``; return its path."""
    suffix = "-" + (Path(urllib.parse.urlsplit(url).path).name or "download")
    fd, tmp = tempfile.mkstemp(dir=dest, prefix=".download-", suffix=suffix + ".part")
    try:
        with os.fdopen(fd, "wb") as out:
            req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
            with urllib.request.urlopen(req, timeout=DOWNLOAD_TIMEOUT) as resp:
                shutil.copyfileobj(resp, out, CHUNK)
    except urllib.error.HTTPError as e:
        os.unlink(tmp)
        raise FetchError(f"cannot download {url}: HTTP {e.code} {_one_line(e.reason)}") from None
    except urllib.error.URLError as e:
        os.unlink(tmp)
        raise FetchError(f"cannot download {url}: {_one_line(e.reason)}") from None
    except (OSError, http.client.HTTPException, ValueError) as e:
        os.unlink(tmp)
        raise FetchError(f"cannot download {url}: {_one_line(e) or type(e).__name__}") from None
    except BaseException:
        os.unlink(tmp)
        raise
    return Path(tmp)


# --------------------------------------------------------------------------
# installing one file


def _install(src: BinaryIO, entry: Entry, dest: Path, origin: str) -> None:
    """Stream ``src`` into a temp file in ``dest``, verify, os.replace into place."""
    final = dest / entry.name
    fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{entry.name}.", suffix=".part")
    ok = False
    try:
        h = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := src.read(CHUNK):
                h.update(chunk)
                size += len(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        digest = h.hexdigest()
        if size != entry.size or digest != entry.sha256:
            what = "size and sha256" if size != entry.size else "sha256"
            raise FetchError(
                f"{entry.name}: {what} mismatch for copy from {origin}: "
                f"expected size {entry.size} sha256 {entry.sha256}, "
                f"got size {size} sha256 {digest}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
        ok = True
    finally:
        if not ok:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass


def _discard_bad(final: Path) -> None:
    """Remove an unverified file under a final name (so none is left behind)."""
    try:
        if final.is_file() or final.is_symlink():
            final.unlink()
    except OSError:
        pass


def select(entries: Sequence[Entry], only: Iterable[str] | None = None,
           enwik8: bool = False) -> list[str]:
    """Names to fetch: ``only`` (or every non-optional entry), plus enwik8 if asked."""
    known = [e.name for e in entries]
    names = list(only) if only else [n for n in known if n not in OPTIONAL]
    if enwik8 and "enwik8" not in names:
        names.append("enwik8")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise FetchError(f"not in manifest: {', '.join(unknown)}")
    return list(dict.fromkeys(names))


def fetch(names: Iterable[str] | None = None,
          src_dir: str | os.PathLike[str] | None = None,
          dest: str | os.PathLike[str] = DEFAULT_DEST,
          manifest: str | os.PathLike[str] | Sequence[Entry] = DEFAULT_MANIFEST,
          log: Callable[[str], None] | None = None) -> list[Path]:
    """Make verified copies of ``names`` (default: all non-optional entries) in ``dest``.

    ``src_dir`` is a local mirror; without it the manifest's source URLs are
    downloaded.  Returns the final paths.  Raises FetchError (one-line message)
    at the first file that cannot be fetched or verified; no unverified file is
    left under that file's final name.
    """
    entries = (load_manifest(manifest) if isinstance(manifest, (str, os.PathLike))
               else list(manifest))
    by_name = {e.name: e for e in entries}
    wanted = select(entries, names)
    dest = Path(dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FetchError(f"cannot create destination {dest}: {_one_line(e)}") from None
    mirror = Path(src_dir) if src_dir is not None else None
    if mirror is not None and not mirror.is_dir():
        raise FetchError(f"mirror directory {mirror} does not exist")

    downloads: dict[str, Path] = {}
    done: list[Path] = []
    try:
        for name in wanted:
            entry = by_name[name]
            final = dest / name
            if verify(final, entry):
                if log:
                    log(f"{name}: already present, verified")
                done.append(final)
                continue
            replacing = final.exists() or final.is_symlink()
            try:
                _fetch_one(entry, dest, mirror, downloads, log, replacing)
            except BaseException:
                if (final.exists() or final.is_symlink()) and not verify(final, entry):
                    _discard_bad(final)
                raise
            done.append(final)
    finally:
        for tmp in downloads.values():
            try:
                tmp.unlink()
            except OSError:
                pass
    return done


def _fetch_one(entry: Entry, dest: Path, mirror: Path | None,
               downloads: dict[str, Path], log: Callable[[str], None] | None,
               replacing: bool = False) -> None:
    name = entry.name
    if mirror is not None:
        plain = mirror / name
        archive = mirror / entry.archive_name
        if plain.is_file():
            try:
                with open(plain, "rb") as src:
                    _install(src, entry, dest, str(plain))
            except OSError as e:
                raise FetchError(f"{name}: cannot copy from {plain}: {_one_line(e)}") from None
            origin = str(plain)
        elif entry.archive_name and archive.is_file():
            _install_from_archive(entry, archive, dest)
            origin = str(archive)
        else:
            looked = name + (f" or {entry.archive_name}" if entry.archive_name else "")
            raise FetchError(f"{name}: not found in mirror {mirror} (looked for {looked})")
    else:
        url = entry.source
        if url not in downloads:
            try:
                downloads[url] = _download(url, dest)
            except FetchError as e:
                raise FetchError(f"{name}: {e}") from None
        _install_from_archive(entry, downloads[url], dest, origin=url)
        origin = url
    if log:
        note = " (replaced a copy that did not verify)" if replacing else ""
        log(f"{name}: fetched from {origin}, verified{note}")


def _install_from_archive(entry: Entry, archive: Path, dest: Path,
                          origin: str | None = None) -> None:
    member, close = _open_archive_member(archive, entry.name)
    try:
        try:
            _install(member, entry, dest, f"{origin or archive}:{entry.name}")
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as e:
            raise FetchError(f"{entry.name}: cannot extract from {origin or archive}: "
                             f"{_one_line(e)}") from None
    finally:
        member.close()
        close()


# --------------------------------------------------------------------------
# command line


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="fetch.py",
        description="Put verified copies of the corpora in MANIFEST.tsv into a directory.")
    p.add_argument("--from", dest="src_dir", metavar="DIR",
                   help="copy from a local mirror directory (files named as in the "
                        "manifest, or cantrbry.tar.gz / enwik8.zip) instead of downloading")
    p.add_argument("--dest", metavar="DIR", default=str(DEFAULT_DEST),
                   help="destination directory (default: the directory of this script)")
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help="fetch only these manifest names")
    p.add_argument("--enwik8", action="store_true",
                   help="also fetch enwik8 (100 MB; not fetched by default)")
    p.add_argument("--manifest", metavar="PATH", default=str(DEFAULT_MANIFEST),
                   help="manifest to use (default: MANIFEST.tsv beside this script)")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="print nothing except errors")
    args = p.parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    try:
        entries = load_manifest(args.manifest)
    except (OSError, ManifestError) as e:
        print(f"fetch.py: error: manifest: {_one_line(e)}", file=sys.stderr)
        return 1
    try:
        names = select(entries, args.only, args.enwik8)
    except FetchError as e:
        p.error(str(e))
    try:
        fetch(names, src_dir=args.src_dir, dest=args.dest, manifest=entries,
              log=None if args.quiet else log)
    except FetchError as e:
        print(f"fetch.py: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"fetch.py: error: {_one_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fetch.py: interrupted", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
