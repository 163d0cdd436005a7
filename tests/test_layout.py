"""Line-layout folds (nacz.layout): exact round trips, the choice of folds, damaged input,
and folded segments through the whole codec."""

from __future__ import annotations

import io

import pytest
from _corpus import corpus_path
from hypothesis import given, settings
from hypothesis import strategies as st

from nacz.config import (
    CodecConfig,
    LayoutFold,
    config_from_fields,
    config_to_fields,
)
from nacz.errors import CorruptDataError
from nacz.layout import (
    choose_layout,
    fold_layout,
    pack_folded_payload,
    split_folded_payload,
    unfold_layout,
)

CORPUS = ["alice29.txt", "asyoulik.txt", "lcet10.txt", "plrabn12.txt", "fields.c",
          "cp.html", "xargs.1", "grammar.lsp", "sum"]


@pytest.mark.parametrize("name", CORPUS)
def test_every_fold_round_trips_on_real_files(name):
    data = corpus_path(name).read_bytes()
    for mode in range(LayoutFold.ALL + 1):
        folded, layout = fold_layout(data, mode)
        assert unfold_layout(folded, mode, layout) == data, mode
        if not mode & LayoutFold.CRLF:
            assert folded.count(b"\r") == data.count(b"\r")


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"Bc", b" ", b"  ", b"\n", b"\r", b"\r\n", b"\t",
                                 b".", b"'", b"`", b"(", b"\x00", b"\xff"]), max_size=60),
       st.integers(0, LayoutFold.ALL))
def test_every_fold_round_trips_on_any_bytes(pieces, mode):
    data = b"".join(pieces)
    folded, layout = fold_layout(data, mode)
    assert unfold_layout(folded, mode, layout) == data


def _wrapped_prose(width: int, crlf: bool) -> bytes:
    words = corpus_path("lcet10.txt").read_bytes()[20000:60000].split()
    lines, line = [], b""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = line + b" " + w if line else w
    lines.append(line)
    return (b"\r\n" if crlf else b"\n").join(lines) + (b"\r\n" if crlf else b"\n")


def test_hard_wrapped_crlf_prose_is_folded_and_its_breaks_cost_little():
    data = _wrapped_prose(66, crlf=True)
    mode = choose_layout(data)
    assert mode & LayoutFold.CRLF and mode & LayoutFold.WRAP
    folded, layout = fold_layout(data, mode)
    assert b"\r" not in folded and folded.count(b"\n") == 1  # one paragraph, one line
    # A greedy wrap at a fixed width is predictable from the column: far under a bit a line.
    assert 8 * len(layout) < 0.25 * data.count(b"\n")
    assert unfold_layout(folded, mode, layout) == data


def test_typewriter_quotes_are_folded_and_cost_little():
    data = corpus_path("alice29.txt").read_bytes()
    assert choose_layout(data) & LayoutFold.QUOTES
    folded, layout = fold_layout(data, LayoutFold.QUOTES)
    assert b"`" not in folded and data.count(b"`") > 1000
    assert 8 * len(layout) < 0.1 * data.count(b"`")
    assert unfold_layout(folded, LayoutFold.QUOTES, layout) == data


def test_text_without_that_layout_is_left_alone():
    # one sentence per line: where a line ends does not follow from the column
    words = corpus_path("lcet10.txt").read_bytes()[20000:60000].split()
    one_per_line = b" ".join(words).replace(b". ", b".\n")
    assert one_per_line.count(b"\n") > 100
    assert choose_layout(one_per_line) == 0
    assert choose_layout(corpus_path("fields.c").read_bytes()) & LayoutFold.WRAP == 0
    assert choose_layout(corpus_path("grammar.lsp").read_bytes()) == 0
    assert choose_layout(_wrapped_prose(66, crlf=False)) == LayoutFold.WRAP
    # only the folds allowed are chosen
    assert choose_layout(_wrapped_prose(66, crlf=True), LayoutFold.SPACES) == 0


def test_folded_payload_prefix_is_checked():
    payload = pack_folded_payload(LayoutFold.WRAP, b"\x12\x34", b"tokens")
    assert split_folded_payload(payload) == (LayoutFold.WRAP, b"\x12\x34", b"tokens")
    for bad in (payload[:4], b"\x00" + payload[1:], b"\x10" + payload[1:],
                payload[:1] + b"\xff\xff\x00\x00" + payload[5:]):
        with pytest.raises(CorruptDataError):
            split_folded_payload(bad)
    with pytest.raises(CorruptDataError, match="unknown layout bits"):
        unfold_layout(b"a b", 16, b"")


def test_a_damaged_layout_never_hangs_and_gives_other_bytes():
    data = _wrapped_prose(60, crlf=True)
    mode = choose_layout(data)
    folded, layout = fold_layout(data, mode)
    damaged = bytes([layout[0] ^ 0x40]) + layout[1:]
    assert unfold_layout(folded, mode, damaged) != data  # the segment CRC then refuses it


def test_layout_is_a_recorded_config_field():
    cfg = CodecConfig(model_gate=0, offmodel=0)  # config preset 2: the default before the gate
    assert cfg.layout == LayoutFold.ALL
    assert config_to_fields(cfg, compact=True) == {10: b"\x02"}
    assert config_from_fields({10: b"\x02"}) == cfg
    fields = config_to_fields(cfg.replace(window=4096))
    assert fields[12] == bytes([LayoutFold.ALL])
    assert config_from_fields(fields) == cfg.replace(window=4096)
    # absent means what files made before the folds did: text coded as it was
    del fields[12]
    assert config_from_fields(fields).layout == 0
    assert 12 not in config_to_fields(cfg.replace(layout=0))


@pytest.fixture(scope="module")
def codec():
    from nacz.api import Codec

    return Codec(threads=1)


#: Two shards of about 6,500 bytes of CR LF prose wrapped at 64 columns: large enough that
#: each shard's folds pay for their prefix (smaller texts are left as they are).
# model_gate=0: the config the golden file below was made with (before the gate).
_SHARDED = CodecConfig(min_shard_tokens=1000, max_streams=2, model_gate=0, offmodel=0)


@pytest.fixture(scope="module")
def folded(codec):
    data = _wrapped_prose(64, crlf=True)[:13000]
    return data, codec.compress(data, _SHARDED)


def test_folded_shards_round_trip_through_the_codec_and_cost_less(codec, folded):
    from nacz import formats

    data, blob = folded
    kinds = [s.kind for s in formats.read_header(io.BytesIO(blob)).segments]
    assert kinds == [formats.SegmentKind.NEURAL_FOLD] * 2
    assert codec.decompress(blob) == data
    plain = codec.compress(data, _SHARDED.replace(layout=0))
    assert [s.kind for s in formats.read_header(io.BytesIO(plain)).segments] == [
        formats.SegmentKind.NEURAL] * 2
    assert len(blob) < 0.97 * len(plain)


#: The whole file the fixture writes: a golden bitstream for folded segments (regenerate on
#: purpose when the folds, their flags or their payload change, and say why in the commit).
FOLDED_GOLDEN = (1761, "04e33da5c67a85ec55eec05d210f9a7a37498e686488a54a9618ba8e43565a9c")


def test_folded_file_is_the_golden_one(folded):
    import hashlib

    _, blob = folded
    assert (len(blob), hashlib.sha256(blob).hexdigest()) == FOLDED_GOLDEN


def test_a_small_text_is_not_folded(codec):
    from nacz import formats

    data = _wrapped_prose(64, crlf=True)[:1500]
    blob = codec.compress(data)
    assert [s.kind for s in formats.read_header(io.BytesIO(blob)).segments] == [
        formats.SegmentKind.NEURAL]
    assert codec.decompress(blob) == data


def test_a_flipped_bit_in_a_folded_payload_is_refused(codec, folded):
    from nacz import formats
    from nacz.errors import NaczError

    _, blob = folded
    blob = bytearray(blob)
    header = formats.read_header(io.BytesIO(bytes(blob)))
    start = len(blob) - header.payload_length
    blob[start + 5] ^= 0x01  # the first byte of the coded layout (its CRC catches it)
    with pytest.raises((NaczError, formats.FormatError)):
        codec.decompress(bytes(blob))
