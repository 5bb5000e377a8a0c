"""Tests for tfp_nfvi.internal.validation: accepted values, normalized types, error messages."""

import math

import numpy as np
import pytest

from tfp_nfvi.internal import validation


@pytest.mark.parametrize("value", [1, 7, np.int32(3), np.int64(2**40)])
def test_check_positive_int_accepts_and_returns_python_int(value):
    result = validation.check_positive_int(value, "n")
    assert result == int(value) and type(result) is int


@pytest.mark.parametrize("value", [0, -1, 3.5, 3.0, True, False, np.bool_(True), "3", None,
                                   np.float32(2.0)])
def test_check_positive_int_rejects(value):
    with pytest.raises(ValueError, match=r"^`n` must be a positive integer, got "):
        validation.check_positive_int(value, "n")


def test_check_positive_int_message_names_argument_and_value():
    with pytest.raises(ValueError) as info:
        validation.check_positive_int(3.5, "num_samples")
    assert str(info.value) == "`num_samples` must be a positive integer, got 3.5."


def test_check_positive_int_allow_zero():
    assert validation.check_positive_int(0, "n", allow_zero=True) == 0
    with pytest.raises(ValueError, match="`n` must be a non-negative integer, got -1."):
        validation.check_positive_int(-1, "n", allow_zero=True)


@pytest.mark.parametrize("value", [1, 0.5, np.float32(1e-3), np.int64(4), 1e300])
def test_check_positive_float_accepts_and_returns_python_float(value):
    result = validation.check_positive_float(value, "scale")
    assert result == pytest.approx(float(value)) and type(result) is float


@pytest.mark.parametrize("value", [0, 0.0, -1e-9, math.nan, math.inf, -math.inf, True, "1",
                                   None, np.float64(np.nan)])
def test_check_positive_float_rejects(value):
    with pytest.raises(ValueError, match=r"^`scale` must be a positive finite number, got "):
        validation.check_positive_float(value, "scale")


def test_check_positive_float_allow_zero():
    assert validation.check_positive_float(0, "scale", allow_zero=True) == 0.0
    with pytest.raises(ValueError, match="non-negative finite number"):
        validation.check_positive_float(-0.1, "scale", allow_zero=True)
    with pytest.raises(ValueError, match="non-negative finite number"):
        validation.check_positive_float(math.nan, "scale", allow_zero=True)


@pytest.mark.parametrize("values", [[], (1,), [64, 64], np.array([3, 5])])
def test_check_int_sequence_accepts(values):
    result = validation.check_int_sequence(values, "hidden_units")
    assert result == tuple(int(v) for v in values)
    assert type(result) is tuple and all(type(v) is int for v in result)


@pytest.mark.parametrize("values", [64, "64", None, {64: 1}])
def test_check_int_sequence_rejects_non_sequences(values):
    with pytest.raises(ValueError, match=r"`hidden_units` must be a sequence of positive"):
        validation.check_int_sequence(values, "hidden_units")


def test_check_int_sequence_names_the_bad_element():
    with pytest.raises(ValueError, match=r"^`hidden_units\[1\]` must be a positive integer, "
                                         r"got 0\.$"):
        validation.check_int_sequence([64, 0, 3], "hidden_units")
