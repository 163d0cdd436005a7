"""Compression levels -1 ... -9: frozen, named configs, written as one-byte presets.

A level is a config preset (``nacz.config.LEVELS``): the file records its id, so the
values below may never change once released. The round trips run the real model.
"""

import pytest

from nacz.config import (
    CONFIG_PRESETS, DEFAULT_LEVEL, LEVELS, CodecConfig, config_from_fields, config_to_fields,
    level_config, level_of,
)
from nacz.cli import gzip_style_argv
from nacz.errors import UsageError

from _corpus import corpus_path


def test_level_presets_are_frozen():
    p3 = CONFIG_PRESETS[3]
    # the levels of 2026-12-01 (presets 4-11) still name what their files were made with
    assert CONFIG_PRESETS[4] == dict(p3, model_gate=2)
    assert CONFIG_PRESETS[5] == dict(p3, min_shard_tokens=512, predictors=63)
    assert CONFIG_PRESETS[6] == dict(p3, min_shard_tokens=512)
    assert CONFIG_PRESETS[7] == dict(p3, window=512, evict=128)
    assert CONFIG_PRESETS[8] == dict(p3, window=1024, evict=256)
    assert CONFIG_PRESETS[9] == dict(p3, window=4096, evict=1024)
    assert CONFIG_PRESETS[10] == dict(p3, window=4096, evict=1024, max_streams=1)
    assert CONFIG_PRESETS[11] == dict(p3, window=8192, evict=2048, max_streams=1)
    # the levels since 2026-12-05: the calibrated router and context mixing off the model
    assert {lv: pid for lv, (pid, _) in LEVELS.items()} == {
        1: 13, 2: 14, 3: 15, 4: 16, 5: 17, 6: 12, 7: 18, 8: 19, 9: 20}
    p12 = CONFIG_PRESETS[12]
    assert p12 == dict(p3, model_gate=3, offmodel=1)
    assert CONFIG_PRESETS[13] == dict(p12, model_gate=2)
    assert CONFIG_PRESETS[14] == dict(p12, min_shard_tokens=512, predictors=63)
    assert CONFIG_PRESETS[15] == dict(p12, min_shard_tokens=512)
    assert CONFIG_PRESETS[16] == dict(p12, window=512, evict=128)
    assert CONFIG_PRESETS[17] == dict(p12, window=1024, evict=256)
    assert CONFIG_PRESETS[18] == dict(p12, window=4096, evict=1024)
    assert CONFIG_PRESETS[19] == dict(p12, window=4096, evict=1024, max_streams=1)
    # --best never leaves the model
    assert CONFIG_PRESETS[20] == dict(p12, window=8192, evict=2048, max_streams=1, model_gate=0)


def test_default_is_level_6_and_levels_are_one_byte_presets():
    assert DEFAULT_LEVEL == 6 and level_config(6) == CodecConfig()
    seen = set()
    for level, (pid, name) in LEVELS.items():
        cfg = level_config(level)
        assert level_of(cfg) == level and name
        assert config_to_fields(cfg, compact=True) == {10: bytes([pid])}
        assert config_from_fields({10: bytes([pid])}) == cfg
        seen.add(cfg)
    assert len(seen) == 9  # nine different configs
    # an option on top of a level is a config of its own, recorded field by field
    assert level_of(level_config(4, window=600)) is None
    # a window without an evict gets a quarter of it, as it does without a level
    assert level_config(6, window=512).evict == 128 == CodecConfig(window=512).evict
    assert level_config(6, window=2048) == CodecConfig()
    with pytest.raises(UsageError, match="1..9"):
        level_config(10)


@pytest.mark.parametrize("argv, level", [
    (["-9", "f"], "9"), (["--best", "f"], "9"), (["--fast", "f"], "1"), (["-1", "f"], "1"),
    (["-3", "-c", "f"], "3"), (["-19", "f"], "9"),  # as gzip: the last level given counts
    (["-9", "--fast", "f"], "1"), (["-c6", "f"], "6"),
])
def test_gzip_style_levels(argv, level):
    args = gzip_style_argv(argv)
    assert args[0] == "compress" and args[args.index("--level") + 1] == level


def test_levels_mean_nothing_when_decompressing_or_testing():
    for argv in (["-d", "-9", "f"], ["-dc", "--best", "f"], ["-t", "-1", "f"]):
        assert "--level" not in gzip_style_argv(argv)
    assert "--level" not in gzip_style_argv(["-f"], prog="unnacz")


def test_conflicting_level_options_are_a_usage_error(nacz_cli):
    r = nacz_cli("compress", "--level", "3", "--best", "-c", "-", input=b"abc")
    assert r.returncode == 2 and r.stdout == b"" and "give one" in r.stderr


def test_level_1_uses_no_model_and_round_trips(codec):
    data = corpus_path("alice29.txt").read_bytes()
    blob = codec.compress(data, level_config(1))
    assert codec.decompress(blob) == data
    import io

    from nacz import formats

    header = formats.read_header(io.BytesIO(blob))
    assert all(s.kind not in formats.NEURAL_KINDS for s in header.segments)
    # context mixing off the model: ZPAQ -m5 codes alice29.txt to 0.242 of its size
    assert {s.kind for s in header.segments} == {formats.SegmentKind.ZPAQ}
    assert len(blob) < len(data) * 0.25  # xz -9e: 0.319 of alice29.txt


# Levels 2 and 3 (shards), 4 and 5 (a window that evicts) on a text long enough that each
# lever acts: 4,600 bytes of alice29.txt are about 1,150 tokens.
@pytest.mark.parametrize("level", [2, 4])
def test_model_levels_round_trip(codec, nacz_cli, tmp_path, level):
    data = corpus_path("alice29.txt").read_bytes()[:4600]
    src = tmp_path / "a.txt"
    src.write_bytes(data)
    r = nacz_cli(f"-{level}", "-k", str(src))
    assert r.returncode == 0, r.stderr
    blob = (tmp_path / "a.txt.nacz").read_bytes()
    r = nacz_cli("info", "--json", str(tmp_path / "a.txt.nacz"))
    assert r.returncode == 0 and f'"level": {level}' in r.stdout.decode()
    r = nacz_cli("-dc", str(tmp_path / "a.txt.nacz"))
    assert r.returncode == 0 and r.stdout == data
    if level == 2:
        import io

        from nacz import formats

        header = formats.read_header(io.BytesIO(blob))
        assert sum(s.kind in formats.NEURAL_KINDS for s in header.segments) == 2


@pytest.mark.slow
@pytest.mark.parametrize("level", [3, 5, 6, 7, 8, 9])
def test_other_model_levels_round_trip(codec, level):
    data = corpus_path("alice29.txt").read_bytes()[:4600]
    assert codec.decompress(codec.compress(data, level_config(level))) == data
