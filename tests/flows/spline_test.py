"""Tests for tfp_nfvi.flows.spline: rational-quadratic splines from raw outputs."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # pylint: disable=g-import-not-at-top
import pytest  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from tfp_nfvi import flows  # pylint: disable=g-import-not-at-top

from tfp_nfvi.flows import spline  # pylint: disable=g-import-not-at-top


def test_zero_raw_outputs_give_the_identity():
    raw = tf.zeros([2, 3, spline.num_spline_params(4)])
    x = tf.constant([[-6.0, -1.3, 0.2], [0.9, 4.9, 7.0]])
    bij = spline.rational_quadratic_spline(raw, 4, bound=5.0)
    np.testing.assert_allclose(bij.forward(x), x, atol=1e-5)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(x, 1), 0.0, atol=1e-5)


def test_monotone_and_invertible_for_any_raw_outputs():
    raw = 5.0 * tf.random.stateless_normal([1, 1, spline.num_spline_params(6)], seed=[1, 2])
    bij = spline.rational_quadratic_spline(raw, 6, bound=3.0)
    x = tf.reshape(tf.linspace(-4.0, 4.0, 401), [-1, 1])
    y = bij.forward(x).numpy().ravel()
    assert np.all(np.diff(y) > 0)
    np.testing.assert_allclose(bij.inverse(bij.forward(x)), x, atol=1e-4)
