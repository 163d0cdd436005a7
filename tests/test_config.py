import struct

import pytest

from nacz.config import (
    LAYOUT_NAMES,
    PREDICTOR_NAMES,
    PREDICTOR_PRESETS,
    STRUCT_KINDS,
    CodecConfig,
    ConfigError,
    LayoutFold,
    Predictor,
    StructContext,
    config_from_fields,
    config_to_fields,
)
from nacz.errors import UsageError
from nacz.formats import SegmentKind


def test_config_round_trip_by_fixed_ids():
    cfg = CodecConfig(window=512, temperature=0.9, max_streams=4, predictors=0)
    fields = config_to_fields(cfg)
    assert sorted(fields) == [1, 2, 3, 4, 5, 6, 7, 8, 12, 13, 15]  # no predictor fields when off
    assert config_from_fields(fields) == cfg
    assert fields[1] == (512).to_bytes(4, "little")
    assert fields[8] == bytes(4)


def test_default_predictor_parameters_are_preset_1():
    fields = config_to_fields(CodecConfig())
    assert sorted(fields) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 15]
    assert fields[9] == b"\x01"  # one byte: the preset id
    assert config_from_fields(fields) == CodecConfig()


def test_default_config_is_config_preset_12_in_one_byte():
    from nacz.config import CONFIG_PRESETS

    cfg = CodecConfig()
    assert (cfg.model_gate, cfg.offmodel) == (3, 1)  # the defaults since 2026-12-05
    assert config_to_fields(cfg, compact=True) == {10: b"\x0c"}
    assert config_from_fields({10: b"\x0c"}) == cfg
    # preset 3, the default of 2026-12-01: the first model gate, classic codecs off it
    gate1 = cfg.replace(model_gate=1, offmodel=0)
    assert config_to_fields(gate1, compact=True) == {10: b"\x03"}
    assert config_from_fields({10: b"\x03"}) == gate1
    # field 15 absent (files made before the context-mixing codecs) means zstd / LZMA2
    fields = config_to_fields(cfg.replace(window=4096))
    assert fields[15] == b"\x01" and fields[13] == b"\x03"
    del fields[15]
    assert config_from_fields(fields) == cfg.replace(window=4096, offmodel=0)
    cfg = gate1
    # preset 2, the default of 2026-11-24, is that config without the model gate
    old = cfg.replace(model_gate=0)
    assert config_to_fields(old, compact=True) == {10: b"\x02"}
    assert config_from_fields({10: b"\x02"}) == old
    # preset 1, the default before the line-layout folds, is preset 2 without them
    assert config_to_fields(old.replace(layout=0), compact=True) == {10: b"\x01"}
    assert config_from_fields({10: b"\x01"}) == old.replace(layout=0)
    # anything else is written field by field, and reads back the same
    for other in (cfg.replace(window=4096), old.replace(window=4096)):
        fields = config_to_fields(other, compact=True)
        assert 10 not in fields and config_from_fields(fields) == other
    # field 13 absent (files made before the gate) means every text segment on the model
    fields = config_to_fields(cfg.replace(window=4096))
    assert fields[13] == b"\x01"
    del fields[13]
    assert config_from_fields(fields) == old.replace(window=4096)
    with pytest.raises(ConfigError, match="unknown config preset"):
        config_from_fields({10: bytes([max(CONFIG_PRESETS) + 1])})  # none so far
    with pytest.raises(ConfigError, match="cannot come with other fields"):
        config_from_fields({**config_to_fields(cfg), 10: b"\x02"})


def test_config_preset_1_is_frozen():
    """Released files name config presets by their id: their values may never change.
    (Preset 1 was released before the ``layout`` field existed; its files were coded
    without folds, which is what ``layout=0`` says.)"""
    from nacz.config import CONFIG_PRESETS

    assert CONFIG_PRESETS[1] == dict(
        window=2048, evict=512, temperature=1.0, start_token=0, max_streams=16,
        min_shard_tokens=8192, block_size=8 << 20, flash_attn=False, layout=0,
        model_gate=0, offmodel=0, predictors=127, **PREDICTOR_PRESETS[1])
    assert CONFIG_PRESETS[2] == dict(CONFIG_PRESETS[1], layout=15)
    assert CONFIG_PRESETS[3] == dict(CONFIG_PRESETS[2], model_gate=1)
    assert CONFIG_PRESETS[12] == dict(CONFIG_PRESETS[3], model_gate=3, offmodel=1)


def test_preset_1_is_frozen():
    """Released files name preset 1 by its id: its values may never change."""
    assert PREDICTOR_PRESETS[1] == dict(
        ngram_orders=(1, 2, 3, 4, 6), ngram_bits=18, ngram_slots=8, history_bits=20,
        match_bits=18, match_min=4, match_long=12, rate_mix=0.02, rate_temp=0.002,
        rate_bias=0.08, rate_apm=0.02, bias_clip=4.0, init_ngram_weight=0.0,
        init_match_weight=0.5, apm_mix=0.5, rate_unigram=0.002, unigram_alpha=0.1,
        init_unigram_weight=0.0, bias_decay=0.0, skip_min_match=0, skip_confidence=0.95,
    )


def test_custom_predictor_fields_round_trip_with_pinned_layout():
    cfg = CodecConfig(
        predictors=Predictor.BIAS | Predictor.MATCH, ngram_orders=(1, 2, 5), rate_bias=0.05,
        skip_min_match=24, skip_confidence=0.9,
    )
    fields = config_to_fields(cfg)
    assert sorted(fields) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 15]
    assert config_from_fields(fields) == cfg
    assert fields[12] == bytes([15])  # every line-layout fold allowed
    assert fields[13] == b"\x03" and fields[15] == b"\x01"  # the router, context mixing
    assert fields[8] == bytes([5, 0, 0, 0])  # Predictor.BIAS | Predictor.MATCH
    # Field 9: order count, orders, six u8 sizes, u16 skip_min_match, 13 f64 (FORMAT.md).
    raw = fields[9]
    assert raw[:4] == bytes([3, 1, 2, 5])
    assert raw[4:10] == bytes([18, 8, 20, 18, 4, 12])
    assert raw[10:12] == (24).to_bytes(2, "little")
    values = struct.unpack("<13d", raw[12:])
    assert values == (0.02, 0.002, 0.05, 0.02, 4.0, 0.0, 0.5, 0.5, 0.002, 0.1, 0.0, 0.0, 0.9)


def test_predictor_bits_are_fixed_by_hand():
    P = Predictor
    assert (P.BIAS, P.NGRAM, P.MATCH, P.TEMP, P.APM, P.UNIGRAM) == (1, 2, 4, 8, 16, 32)
    assert (P.SHARED, P.SYNC, P.STRUCT) == (64, 128, 256)
    assert (P.ALL, P.COMPONENTS, P.KNOWN) == (63, 319, 511)
    assert CodecConfig().predictors == P.ALL | P.SHARED == 127
    assert [int(f) for f in LayoutFold] == [1, 2, 4, 8] and LayoutFold.ALL == 15
    assert [int(k) for k in StructContext] == [1, 2, 3, 4, 5, 6, 7]
    assert [int(k) for k in SegmentKind] == list(range(9))


def test_name_tables_come_from_the_enums_with_their_old_spelling():
    """The names users type and read (option values, ``nacz info``, its JSON) are the
    members' names; they, their order and their values are what they were as bare ints."""
    from nacz.cli.render import KIND_NAMES as _KIND_NAMES

    assert list(PREDICTOR_NAMES.items()) == [
        ("bias", 1), ("ngram", 2), ("match", 4), ("temp", 8), ("apm", 16), ("unigram", 32),
        ("shared", 64), ("sync", 128), ("struct", 256)]
    assert list(LAYOUT_NAMES.items()) == [("crlf", 1), ("wrap", 2), ("spaces", 4), ("quotes", 8)]
    assert list(STRUCT_KINDS.items()) == [
        ("column", 1), ("above", 2), ("masked", 3), ("masked8", 4), ("linehead", 5),
        ("markup", 6), ("word", 7)]
    assert _KIND_NAMES == {0: "neural", 1: "stored", 2: "zstd", 3: "lzma2", 4: "x86+lzma2",
                           5: "sparc+lzma2", 6: "neural+fold", 7: "ppmd", 8: "zpaq"}


def test_enum_members_are_stored_and_written_as_their_ints():
    as_enums = CodecConfig(predictors=Predictor.ALL | Predictor.STRUCT,
                           layout=LayoutFold.CRLF | LayoutFold.WRAP,
                           struct_contexts=(StructContext.WORD, StructContext.MASKED8))
    as_ints = CodecConfig(predictors=319, layout=3, struct_contexts=(7, 4))
    assert as_enums == as_ints and repr(as_enums) == repr(as_ints)
    assert config_to_fields(as_enums) == config_to_fields(as_ints)
    assert type(as_enums.predictors) is int and type(as_enums.layout) is int
    assert all(type(k) is int for k in as_enums.struct_contexts)
    # ~ of an IntFlag keeps only the flag's own bits: the range checks must not use it
    with pytest.raises(UsageError, match="layout bits"):
        CodecConfig(layout=LayoutFold.ALL | 16)
    with pytest.raises(UsageError, match="predictor bits"):
        CodecConfig(predictors=Predictor.ALL | 512)


def test_predictor_fields_must_match_the_predictor_bits():
    on = config_to_fields(CodecConfig())
    off = config_to_fields(CodecConfig(predictors=0))
    with pytest.raises(ConfigError, match="lacks the predictor parameters"):
        config_from_fields({k: v for k, v in on.items() if k != 9})
    with pytest.raises(ConfigError, match="no predictors"):
        config_from_fields({**off, 9: on[9]})
    custom = config_to_fields(CodecConfig(rate_bias=0.05))
    with pytest.raises(ConfigError, match="wrong length"):
        config_from_fields({**custom, 9: custom[9][:-1]})
    with pytest.raises(ConfigError, match="unknown predictor preset 7"):
        config_from_fields({**on, 9: b"\x07"})
    with pytest.raises(ConfigError, match="unknown predictor bits"):
        config_from_fields({**on, 8: (512).to_bytes(4, "little")})
    with pytest.raises(ConfigError, match="'sync' is a mode of 'shared'"):
        config_from_fields({**on, 8: (128 | 63).to_bytes(4, "little")})
    with pytest.raises(ConfigError, match="needs at least one predictor"):
        config_from_fields({**on, 8: (64).to_bytes(4, "little")})


def test_unknown_or_missing_fields_refused():
    fields = config_to_fields(CodecConfig())
    with pytest.raises(ConfigError, match="unknown config field id 99"):
        config_from_fields({**fields, 99: b""})
    del fields[3]
    with pytest.raises(ConfigError, match="temperature"):
        config_from_fields(fields)


def test_config_is_frozen_and_validated():
    cfg = CodecConfig()
    with pytest.raises(Exception):
        cfg.window = 5  # type: ignore[misc]
    assert cfg.evict == cfg.window // 4
    with pytest.raises(UsageError):
        CodecConfig(window=8)
    with pytest.raises(UsageError):
        CodecConfig(temperature=0.0)


def test_header_ids_are_fixed_by_hand_in_the_field_declarations():
    # The ids and formats every file since 2026-11-23 was written with; a new field gets a
    # new id (never 9, 10 or 14, the composite fields) and, if earlier files exist, an
    # absent value they were coded with.
    from nacz.config import _ABSENT, _BY_ID

    assert {fid: (name, h.fmt) for fid, (name, h) in _BY_ID.items()} == {
        1: ("window", "<I"), 2: ("evict", "<I"), 3: ("temperature", "<d"),
        4: ("start_token", "<I"), 5: ("max_streams", "<I"), 6: ("min_shard_tokens", "<I"),
        7: ("flash_attn", "<?"), 8: ("predictors", "<I"), 11: ("block_size", "<I"),
        12: ("layout", "<B"), 13: ("model_gate", "<B"), 15: ("offmodel", "<B"),
    }
    assert _ABSENT == {"block_size": 8 << 20, "layout": 0, "model_gate": 0, "offmodel": 0}


def test_an_absent_field_reads_as_its_absent_value_and_is_not_written():
    # A header of 2026-11-23 (config preset 1's values, written out) has no field 11, 12,
    # 13 or 15: it reads as block 8 MiB, no folds, no gate, classic codecs off the model.
    from nacz.config import CONFIG_PRESETS

    old = CodecConfig(**CONFIG_PRESETS[1])
    fields = config_to_fields(old)
    assert sorted(fields) == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    back = config_from_fields(fields)
    assert back == old
    assert (back.block_size, back.layout, back.model_gate, back.offmodel) == (8 << 20, 0, 0, 0)
    assert 11 in config_to_fields(old.replace(block_size=1 << 20))
