import pytest

from nacz.config import CodecConfig, ConfigError, config_from_fields, config_to_fields
from nacz.errors import UsageError


def test_config_round_trip_by_fixed_ids():
    cfg = CodecConfig(window=512, temperature=0.9, max_streams=4)
    fields = config_to_fields(cfg)
    assert sorted(fields) == [1, 2, 3, 4, 5, 6, 7]
    assert config_from_fields(fields) == cfg
    assert fields[1] == (512).to_bytes(4, "little")


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
