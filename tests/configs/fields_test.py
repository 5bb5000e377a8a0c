"""Tests for tfp_nfvi.configs.fields: one default, help line and check per field."""

import dataclasses
from typing import Optional

import pytest

from tfp_nfvi.configs import fields


@dataclasses.dataclass(frozen=True)
class _Config:
    count: int = fields.option(3, "A count.", fields.check_positive_int)
    rate: float = fields.option(0.5, "A rate.", fields.check_non_negative_float)
    mode: str = fields.option("a", "A mode.", choices=("a", "b"))
    limit: Optional[int] = fields.option(None, "Optional limit.", fields.check_positive_int)

    def __post_init__(self):
        fields.validate(self)


def test_defaults_and_help_live_in_the_field():
    field = {f.name: f for f in dataclasses.fields(_Config)}
    assert _Config() == _Config(count=3, rate=0.5, mode="a", limit=None)
    assert field["count"].metadata["help"] == "A count."


def test_values_are_checked_and_normalized():
    assert type(_Config(rate=1).rate) is float  # pylint: disable=unidiomatic-typecheck
    assert _Config(limit=7).limit == 7
    for kwargs, message in (
        (dict(count=0), "`count` must be a positive integer, got 0"),
        (dict(count=True), "`count`"),
        (dict(rate=float("nan")), "`rate` must be a non-negative finite number"),
        (dict(mode="c"), "`mode` must be one of 'a', 'b', got 'c'"),
        (dict(limit=-1), "`limit`"),
    ):
        with pytest.raises(ValueError, match=message):
            _Config(**kwargs)


def test_string_and_bool_checks():
    assert fields.check_nonempty_str("x", "name") == "x"
    with pytest.raises(ValueError, match="`name` must be a non-empty string"):
        fields.check_nonempty_str("  ", "name")
    with pytest.raises(ValueError, match="`flag` must be True or False"):
        fields.check_bool(1, "flag")
