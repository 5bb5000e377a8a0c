"""Tests for tfp_nfvi.internal.schedules.linear_warmup: values, Python/tensor agreement, XLA."""

import numpy as np
import pytest
import tensorflow as tf

from tfp_nfvi.internal import schedules


@pytest.mark.parametrize("step, expected", [(0, 0.1), (45, 0.55), (90, 1.0), (1000, 1.0)])
def test_python_values(step, expected):
    result = schedules.linear_warmup(step, 100, 0.1)
    assert isinstance(result, float)
    assert result == pytest.approx(expected)


@pytest.mark.parametrize("warmup", [0, -5])
def test_no_warmup_is_one_from_the_start(warmup):
    assert schedules.linear_warmup(0, warmup, 0.0) == 1.0
    assert float(schedules.linear_warmup(tf.constant(0), tf.constant(warmup), 0.0)) == 1.0


def test_tensor_matches_python_and_is_monotone_capped():
    steps = np.arange(0, 250, 7)
    python = [schedules.linear_warmup(int(s), 200, 0.01) for s in steps]
    tensor = schedules.linear_warmup(tf.constant(steps), 200, 0.01).numpy()
    np.testing.assert_allclose(tensor, python, rtol=1e-6)
    assert np.all(np.diff(tensor) >= 0) and tensor.max() == 1.0


@pytest.mark.parametrize("warmup", [0, 50])
def test_compiles_with_tensor_arguments(warmup):
    fn = tf.function(schedules.linear_warmup, jit_compile=True)
    step = tf.constant(10, tf.int64)
    result = fn(step, tf.constant(warmup, tf.int64), tf.constant(0.2, tf.float64))
    assert result.dtype == tf.float64
    expected = 1.0 if warmup == 0 else 0.2 + 10 / 50
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-12)


def test_float_initial_dtype_defaults_to_float32_for_int_step_tensor():
    assert schedules.linear_warmup(tf.constant(3), 10, 0.0).dtype == tf.float32
