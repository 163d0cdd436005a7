"""nacz explain: each token's cost, in a terminal and in a page a real browser renders."""

from __future__ import annotations

import html
import random
import re
import shutil
import struct
import subprocess
import zlib

import numpy as np
import pytest

from nacz.explain import MAX_BITS, TokenCosts, cost_color, render_ansi, render_html

SAMPLE = TokenCosts([b"The", b" cat", b" <sat>", b"\r\n", b"on", b" \x00mat", b"."],
                    np.array([3.0, 1.0, 9.5, 0.1, 2.0, 16.0, 0.5]))


def test_lines_words_and_costliest_spans():
    assert [(a, b) for a, b, _ in SAMPLE.lines()] == [(0, 4), (4, 7)]
    assert [round(x, 1) for _, _, x in SAMPLE.lines()] == [13.6, 18.5]
    words = [SAMPLE.text(a, b) for a, b, _ in SAMPLE.words()]
    assert words == ["The", " cat", " <sat>\r\n", "on", " \x00mat."]
    assert SAMPLE.text(*SAMPLE.costliest_spans(1)[0][:2]) == " \x00mat."
    assert SAMPLE.n_bytes == 23 and SAMPLE.total_bits == pytest.approx(32.1)


def test_colour_follows_cost():
    reds = [cost_color(b)[0] - cost_color(b)[1] for b in np.linspace(0, MAX_BITS, 40)]
    assert reds == sorted(reds) and reds[0] < -100 and reds[-1] > 100
    assert cost_color(100.0) == cost_color(MAX_BITS) and cost_color(-1) == cost_color(0)


def test_ansi_shows_every_token_with_its_colour():
    out = render_ansi(SAMPLE, top=3)
    for i, piece in enumerate(SAMPLE.pieces):
        r, g, b = cost_color(SAMPLE.bits[i])
        assert f"\x1b[48;2;{r};{g};{b}m" in out
    assert "␍" in out and "␀" in out and "[13.6 bits]" in out and "[18.5 bits]" in out
    assert "the 3 costliest spans" in out


def test_html_is_self_contained_and_shows_every_byte():
    page = render_html(SAMPLE, "a <title>")
    assert "<script" not in page and "http" not in page.split("<body>")[1] and "src=" not in page
    body = page.split("<table>")[1].split("</table>")[0]
    shown = html.unescape(re.sub(r"<[^>]+>", "", re.sub(r'<td class="b">[^<]*</td>', "", body)))
    assert shown == "The cat <sat>␍on ␀mat."
    assert 'title="16.00 bits"' in page and "a &lt;title&gt;" in page


def test_costs_add_up_to_the_coded_size(codec):
    """One stream, no folds, everything on the model: the costs are what the coder
    writes, less its flush."""
    from nacz.config import CodecConfig
    from nacz.explain import token_costs
    from nacz.formats import read_header

    text = ("It was the best of times, it was the worst of times; " * 6).encode() + \
        bytes([0xC0, 0x41]) + b" the end.\n"
    costs = token_costs(codec, text)
    assert b"".join(costs.pieces) == text and np.all(costs.bits > 0)
    cfg = CodecConfig(layout=0, model_gate=0)
    blob = codec.compress(text, cfg, hybrid=False)
    (seg,) = read_header(blob).segments
    assert 0 <= seg.payload_length - costs.total_bits / 8 <= 5
    # the repeats are cheaper than their first time
    first, last = costs.words()[1][2], costs.words()[1 + 12 * 5][2]
    assert last < first


def test_cli_explain_terminal_and_page(nacz_cli, tmp_path):
    src = tmp_path / "t.txt"
    src.write_bytes(b"Hello there, hello there, hello there.\n" * 3)
    r = nacz_cli("explain", str(src), "--top", "3")
    assert r.returncode == 0 and b"bits/byte" in r.stdout and b"the 3 costliest spans" in r.stdout
    r = nacz_cli("explain", str(src), "--html", str(tmp_path / "t.html"))
    assert r.returncode == 0 and r.stdout == b""
    assert (tmp_path / "t.html").read_text().startswith("<!DOCTYPE html>")
    r = nacz_cli("explain", str(src), "--html", str(src))
    assert r.returncode == 2 and "overwrite the input" in r.stderr
    assert src.read_bytes().startswith(b"Hello")


def _read_png(data: bytes) -> np.ndarray:
    """RGB(A) 8-bit non-interlaced PNG -> array (h, w, channels): enough for a screenshot."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    ch = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * ch
    img = np.zeros((h, stride), dtype=np.int64)
    prev = np.zeros(stride, dtype=np.int64)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=y * (stride + 1) + 1)
        line = line.astype(np.int64)
        out = np.zeros(stride, dtype=np.int64)
        for x in range(stride):
            a = out[x - ch] if x >= ch else 0
            b = prev[x]
            c = prev[x - ch] if x >= ch else 0
            if f == 0:
                pred = 0
            elif f == 1:
                pred = a
            elif f == 2:
                pred = b
            elif f == 3:
                pred = (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            out[x] = (line[x] + pred) & 0xFF
        img[y] = out
        prev = out
    return img.reshape(h, w, ch)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.skipif(_chromium() is None,
                    reason="needs a headless Chromium (Debian: apt install chromium)")
def test_page_renders_in_a_real_browser_with_colours_that_follow_the_costs(codec, tmp_path):
    """Cheap text (a sentence said again and again) above costly text (random letters):
    in Chromium's screenshot the upper half of the text is green, the lower half red."""
    from nacz.explain import token_costs

    rng = random.Random(4)
    cheap = "the cat sat on the mat and the cat sat on the mat\n" * 24
    costly = "".join("".join(rng.choice("qxzjkvwy") for _ in range(48)) + "\n"
                     for _ in range(24))
    costs = token_costs(codec, (cheap + costly).encode())
    page = tmp_path / "page.html"
    page.write_text(render_html(costs, "browser check", top=0))
    shot = tmp_path / "shot.png"
    subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                    "--hide-scrollbars", f"--screenshot={shot}", "--window-size=900,1400",
                    page.as_uri()], check=True, capture_output=True, timeout=300)
    img = _read_png(shot.read_bytes())[:, :, :3]
    r, g = img[:, :, 0], img[:, :, 1]
    green = (g - r > 60).sum(axis=1)
    red = (r - g > 60).sum(axis=1)
    rows = np.nonzero(green + red > 20)[0]
    assert len(rows) > 200, "the coloured text did not render"
    top, bottom = rows[: len(rows) // 2], rows[len(rows) // 2:]
    assert green[top].sum() > 3 * red[top].sum()
    assert red[bottom].sum() > 3 * green[bottom].sum()
