"""Tests for tfp_nfvi.internal.numerics.safe_norm: value, gradient vs autodiff, finite at 0."""

import numpy as np
import pytest
import tensorflow as tf

from tfp_nfvi.internal import numerics


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_value_matches_numpy_norm(dtype):
    x = np.random.default_rng(0).normal(size=(4, 3, 5)).astype(dtype)
    for axis in (-1, 0, (1, 2)):
        np.testing.assert_allclose(numerics.safe_norm(x, axis=axis).numpy(),
                                   np.linalg.norm(x, axis=axis), rtol=1e-6)
    assert numerics.safe_norm(x, keepdims=True).shape == [4, 3, 1]


def test_gradient_is_unit_direction_away_from_zero_and_zero_at_zero():
    x = tf.constant([[3.0, 4.0], [0.0, 0.0]], tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        norm = numerics.safe_norm(x)
    grad = tape.gradient(norm, x).numpy()
    np.testing.assert_allclose(norm.numpy(), [5.0, 0.0])
    np.testing.assert_allclose(grad, [[0.6, 0.8], [0.0, 0.0]])
    # tf.norm itself gives NaN there: the reason this helper exists.
    with tf.GradientTape() as tape:
        tape.watch(x)
        plain = tf.norm(x, axis=-1)
    assert np.isnan(tape.gradient(plain, x).numpy()[1]).all()


def test_second_derivative_finite_at_zero():
    x = tf.zeros([3], tf.float64)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            norm = numerics.safe_norm(x)
        grad = inner.gradient(norm, x)
    assert np.isfinite(outer.jacobian(grad, x).numpy()).all()


def test_eps_smooths():
    x = tf.constant([[0.0, 0.0], [3.0, 4.0]], tf.float64)
    np.testing.assert_allclose(numerics.safe_norm(x, eps=0.5).numpy(),
                               [0.5, np.sqrt(25.25)], rtol=1e-12)
