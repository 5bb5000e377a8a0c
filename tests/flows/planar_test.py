"""Tests for tfp_nfvi.flows.planar: the planar step."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # pylint: disable=g-import-not-at-top
import pytest  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from tfp_nfvi import bijectors  # pylint: disable=g-import-not-at-top,unused-import
from tfp_nfvi import flows  # pylint: disable=g-import-not-at-top

from tfp_nfvi.flows import planar  # pylint: disable=g-import-not-at-top


def test_params_are_u_w_b_and_global_start():
    layer = planar.PlanarStep(3, init_scale=0.5, seed=1)
    layer.build(None)
    assert layer.num_params == 7
    theta = np.arange(7.0, dtype=np.float32)
    u, w, b = layer.bijector_args(tf.constant(theta))
    np.testing.assert_array_equal(u, theta[:3])
    np.testing.assert_array_equal(w, theta[3:6])
    assert float(b) == 6.0
    start = layer.params.numpy()
    assert start[6] == 0.0 and 0.05 < np.std(start[:6]) < 2.0  # b = 0, u, w ~ N(0, 0.5²)
    z = tf.constant([[0.1, 0.2, 0.3]])
    expected = bijectors.Planar(start[:3], start[3:6], start[6]).forward(z)
    np.testing.assert_allclose(layer(None).forward(z), expected, rtol=1e-6)
