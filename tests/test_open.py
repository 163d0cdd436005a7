"""nacz.open: nacz files as file objects, through the consumers people use them with
(tarfile, csv, line iteration), bit for bit against the one-shot API."""

from __future__ import annotations

import csv
import io
import random
import tarfile

import pytest

from _corpus import corpus_path
import nacz
from nacz.config import CodecConfig, level_config


@pytest.fixture(scope="module")
def codec1():
    from nacz.api import Codec

    return Codec(threads=1)


def _text_and_binary() -> bytes:
    """Text for the model between binary bytes, cut into several blocks."""
    return (corpus_path("alice29.txt").read_bytes()[30_000:32_300]
            + corpus_path("sum").read_bytes()[:6_000])


def _chunks(data: bytes, seed: int):
    rng = random.Random(seed)
    i = 0
    while i < len(data):
        n = rng.choice([1, 7, 100, 1023, 1024, 1025, 5000])
        yield data[i:i + n]
        i += n


def test_writer_writes_what_compress_writes_and_reads_back(codec1):
    data = _text_and_binary()
    cfg = CodecConfig(block_size=1024, predictors=0)
    out = io.BytesIO()
    with nacz.open(out, "wb", config=cfg, codec=codec1) as f:
        for piece in _chunks(data, 1):
            assert f.write(piece) == len(piece)
        assert f.tell() == len(data)
    blob = out.getvalue()
    assert blob == codec1.compress(data, cfg)
    assert nacz.read_header(blob).segments  # several blocks, several segments
    with nacz.open(io.BytesIO(blob), "rb", codec=codec1) as f:
        assert f.read() == data


def _tar_members() -> dict[str, bytes]:
    return {name: corpus_path(name).read_bytes()[:limit]
            for name, limit in [("cp.html", 24_603), ("fields.c", 11_150),
                                ("kennedy.xls", 40_000), ("grammar.lsp", 3_721)]}


def _make_tar(fileobj, members: dict[str, bytes], mode: str) -> None:
    with tarfile.open(fileobj=fileobj, mode=mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_tarfile_writes_and_reads_through_nacz_open(codec1, tmp_path):
    members = _tar_members()
    path = tmp_path / "corpus.tar.nacz"
    with nacz.open(path, "wb", level=1, codec=codec1) as f:
        _make_tar(f, members, "w")
    plain = io.BytesIO()
    _make_tar(plain, members, "w")
    assert nacz.decompress(path.read_bytes()) == plain.getvalue()
    # mode "r" probes compressions by seeking back: the reader rewinds
    with nacz.open(path, "rb", codec=codec1) as f, tarfile.open(fileobj=f) as tar:
        assert tar.getnames() == list(members)
        for name, data in members.items():
            assert tar.extractfile(name).read() == data
    with nacz.open(path, "rb", codec=codec1) as f, tarfile.open(fileobj=f, mode="r|") as tar:
        got = {m.name: tar.extractfile(m).read() for m in tar}
    assert got == members


def test_csv_round_trips_in_text_mode(codec1, tmp_path):
    rng = random.Random(3)
    rows = [["id", "name", "note"]] + [
        [str(i), f"item-{rng.randrange(10**6)}", "a, \"quoted\"\nline" if i % 7 == 0 else "é"]
        for i in range(2_000)]
    path = tmp_path / "rows.csv.nacz"
    with nacz.open(path, "wt", level=1, codec=codec1, encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    with nacz.open(path, "rt", codec=codec1, encoding="utf-8", newline="") as f:
        assert list(csv.reader(f)) == rows


def test_lines_and_seeks_match_the_plain_bytes(codec1):
    data = corpus_path("xargs.1").read_bytes()
    blob = codec1.compress(data, level_config(1))
    with nacz.open(io.BytesIO(blob), codec=codec1) as f:
        assert list(f) == data.splitlines(keepends=True)
    with nacz.open(io.BytesIO(blob), "rt", codec=codec1, encoding="latin-1") as f:
        assert f.read() == data.decode("latin-1").replace("\r\n", "\n")
    plain = io.BytesIO(data)
    rng = random.Random(5)
    with nacz.open(io.BytesIO(blob), "rb", codec=codec1) as f:
        for _ in range(30):
            offset, whence = rng.choice([(rng.randrange(len(data) + 10), 0),
                                         (rng.randrange(-50, 50), 1),
                                         (-rng.randrange(1, len(data)), 2)])
            if whence == 1 and plain.tell() + offset < 0:
                continue
            assert f.seek(offset, whence) == plain.seek(offset, whence)
            n = rng.randrange(1, 300)
            assert f.read(n) == plain.read(n)
            assert f.tell() == plain.tell()


def test_damaged_and_truncated_files_raise_instead_of_ending(codec1):
    data = corpus_path("grammar.lsp").read_bytes()
    blob = bytearray(codec1.compress(data, level_config(1)))
    blob[-20] ^= 0x10
    with nacz.open(io.BytesIO(bytes(blob)), "rb", codec=codec1) as f:
        with pytest.raises(nacz.NaczError):
            f.read()
        with pytest.raises(nacz.NaczError):  # and again: never b"" as if it had ended
            f.read()
    with nacz.open(io.BytesIO(bytes(blob[:-30])), "rb", codec=codec1) as f:
        with pytest.raises(nacz.NaczError):
            f.read()


def test_modes_and_arguments_are_checked(codec1, tmp_path):
    path = tmp_path / "x.nacz"
    path.write_bytes(b"")
    for mode in ("a", "ab", "r+", "rw", "wbt"):
        with pytest.raises(ValueError):
            nacz.open(path, mode, codec=codec1)
    with pytest.raises(ValueError):
        nacz.open(path, "rb", codec=codec1, encoding="utf-8")
    with pytest.raises(ValueError):
        nacz.open(path, "rb", codec=codec1, level=3)
    with pytest.raises(FileExistsError):
        nacz.open(path, "xb", codec=codec1)
    with pytest.raises(TypeError):
        nacz.open(12.5, "rb", codec=codec1)
    with nacz.open(tmp_path / "new.nacz", "xb", level=1, codec=codec1) as f:
        f.write(b"exclusive")
    assert nacz.decompress((tmp_path / "new.nacz").read_bytes()) == b"exclusive"
    with pytest.raises(ValueError):
        f.write(b"after close")


def test_empty_file(codec1):
    out = io.BytesIO()
    with nacz.open(out, "wb", codec=codec1):
        pass
    assert out.getvalue() == codec1.compress(b"")
    with nacz.open(io.BytesIO(out.getvalue()), "rb", codec=codec1) as f:
        assert f.read() == b""
