"""Where the bits go: each token of a text with what it costs, in a terminal or a web page.

``token_costs`` codes the text as one stream through the codec's own loop
(:func:`nacz.codec.lockstep`) with :class:`nacz.codec.TokenModels` and the escape flags,
and takes each token's exact arithmetic-coding cost, -log2(freq / 2^24), from the integer
CDF the encoder would use; nothing is written. What a real file costs differs a little:
it may cut a long text into shards, fold its line layout, or send segments to the classic
codecs (``nacz info`` shows what a file did).

Invariants:
- The costs add up to the coded size of the one-stream plan, less the coder's flush
  (at most 4 bytes).
- The renderings show every byte of the input once, in order (HTML-escaped in the page;
  control bytes shown as escapes in both), and colour each token by its own cost on one
  fixed scale (:func:`cost_color`), so a page and a terminal agree.
- The page is self-contained: no script, no font, no request to anywhere.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np

from .config import CodecConfig

#: The colour scale tops out here (bits per token): a token this costly or more is red.
MAX_BITS = 16.0


@dataclass(frozen=True)
class TokenCosts:
    """Each token's bytes and cost in bits, in order."""

    pieces: list[bytes]
    bits: np.ndarray  # float64, one per token

    @property
    def total_bits(self) -> float:
        return float(self.bits.sum())

    @property
    def n_bytes(self) -> int:
        return sum(map(len, self.pieces))

    def lines(self) -> list[tuple[int, int, float]]:
        """(first token, end token, bits) of each line; a line ends after a token that
        holds a newline."""
        out, start, acc = [], 0, 0.0
        for i, (piece, b) in enumerate(zip(self.pieces, self.bits)):
            acc += b
            if b"\n" in piece:
                out.append((start, i + 1, acc))
                start, acc = i + 1, 0.0
        if start < len(self.pieces):
            out.append((start, len(self.pieces), acc))
        return out

    def words(self) -> list[tuple[int, int, float]]:
        """(first token, end token, bits) of each word: a run of tokens that starts at a
        token beginning with a blank (or after a newline)."""
        out, start = [], 0
        for i in range(1, len(self.pieces) + 1):
            if i == len(self.pieces) or self.pieces[i][:1] in (b" ", b"\n", b"\t") \
                    or b"\n" in self.pieces[i - 1]:
                out.append((start, i, float(self.bits[start:i].sum())))
                start = i
        return out

    def costliest_spans(self, n: int = 20) -> list[tuple[int, int, float]]:
        return sorted(self.words(), key=lambda w: (-w[2], w[0]))[:n]

    def text(self, a: int, b: int) -> str:
        return b"".join(self.pieces[a:b]).decode("utf-8", errors="replace")


def token_costs(codec, data: bytes, config: CodecConfig | None = None) -> TokenCosts:
    """The cost of every token of ``data`` coded as one stream with ``config``'s model
    settings (the defaults when None); see the module's notes."""
    from .codec import measure_streams
    from .tokenizer import vocabulary_bytes

    cfg = config or CodecConfig()
    backend = codec.backend
    ids = np.asarray(codec.tokenizer.encode(data), dtype=np.int64)
    n_vocab = backend.n_vocab
    (bits,) = measure_streams(backend, [ids], cfg)
    vocab = vocabulary_bytes(backend)
    pieces = [vocab[t] if t < n_vocab else bytes([t - n_vocab]) for t in ids]
    return TokenCosts(pieces, bits)


def cost_color(bits: float) -> tuple[int, int, int]:
    """RGB of a token costing ``bits``: green (free) through yellow to red (MAX_BITS and
    up), on a square-root scale so the cheap end, where most tokens are, is spread out."""
    t = min(1.0, math.sqrt(max(0.0, bits) / MAX_BITS))
    if t < 0.5:
        return int(round(510 * t)), 200, 60
    return 255, int(round(200 * (2 - 2 * t))), 60


def _shown(piece: bytes) -> str:
    """The token's text for display: a control byte other than newline and tab as its
    Unicode control picture (CR as U+240D), bytes that are not UTF-8 as \\xNN."""
    text = piece.decode("utf-8", errors="backslashreplace")
    return "".join(c if c in "\n\t" or " " <= c != "\x7f" else
                   ("\u2421" if c == "\x7f" else chr(0x2400 + ord(c))) for c in text)


def render_ansi(costs: TokenCosts, top: int = 20) -> str:
    """The text with each token's background coloured by its cost (24-bit ANSI), each
    line's bits at its end, then totals and the ``top`` costliest spans."""
    out = []
    for a, b, line_bits in costs.lines():
        for i in range(a, b):
            r, g, bl = cost_color(costs.bits[i])
            shown = _shown(costs.pieces[i])
            body, nl = (shown[:-1], "\n") if shown.endswith("\n") else (shown, "")
            out.append(f"\x1b[48;2;{r};{g};{bl}m\x1b[30m{body}\x1b[0m")
            if nl:
                out.append(f"  \x1b[2m[{line_bits:.1f} bits]\x1b[0m\n")
        if not _shown(costs.pieces[b - 1]).endswith("\n"):
            out.append(f"  \x1b[2m[{line_bits:.1f} bits]\x1b[0m\n")
    out.append(_summary(costs, top))
    return "".join(out)


def _summary(costs: TokenCosts, top: int) -> str:
    n = costs.n_bytes
    lines = [f"{len(costs.pieces)} tokens, {n} bytes: {costs.total_bits / 8:.0f} bytes coded, "
             f"{costs.total_bits / max(1, n):.3f} bits/byte, "
             f"{costs.total_bits / max(1, len(costs.pieces)):.2f} bits/token",
             f"the {top} costliest spans:"]
    for a, b, bits in costs.costliest_spans(top):
        lines.append(f"  {bits:7.1f} bits  {costs.text(a, b).strip()!r}")
    return "\n".join(lines) + "\n"


def render_html(costs: TokenCosts, title: str, top: int = 20) -> str:
    """A self-contained page: the text coloured by cost (each token's bits in its
    tooltip), each line's bits in the margin, the totals and the costliest spans."""
    rows = []
    for a, b, line_bits in costs.lines():
        cells = []
        for i in range(a, b):
            r, g, bl = cost_color(costs.bits[i])
            shown = _shown(costs.pieces[i]).rstrip("\n")
            cells.append(f'<span style="background:rgb({r},{g},{bl})" '
                         f'title="{costs.bits[i]:.2f} bits">{html.escape(shown)}</span>')
        rows.append(f'<tr><td class="b">{line_bits:.1f}</td><td class="t">{"".join(cells)}'
                    "</td></tr>")
    spans = "".join(
        f"<li><b>{bits:.1f}</b> bits: <code>{html.escape(costs.text(a, b).strip())}</code></li>"
        for a, b, bits in costs.costliest_spans(top))
    legend = "".join(
        f'<span style="background:rgb{cost_color(x)}">&nbsp;{x:g}&nbsp;</span>'
        for x in (0, 0.5, 1, 2, 4, 8, 16))
    n = costs.n_bytes
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>nacz explain: {html.escape(title)}</title>
<style>
body {{ font-family: monospace; margin: 1em; background: #fff; color: #000; }}
table {{ border-collapse: collapse; }}
td.b {{ color: #666; text-align: right; padding-right: 1em; vertical-align: top; }}
td.t {{ white-space: pre-wrap; }}
td.t span {{ color: #000; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{len(costs.pieces)} tokens, {n} bytes: {costs.total_bits / 8:.0f} bytes coded,
{costs.total_bits / max(1, n):.3f} bits/byte. Bits per token: {legend}</p>
<table>{"".join(rows)}</table>
<h2>The {top} costliest spans</h2><ol>{spans}</ol>
</body></html>
"""
