"""Tests for tfp_nfvi.flows.realnvp: the coupling step."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # pylint: disable=g-import-not-at-top
import pytest  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from tfp_nfvi import flows  # pylint: disable=g-import-not-at-top

from tfp_nfvi.flows import realnvp  # pylint: disable=g-import-not-at-top


def test_first_half_passes_through_and_needs_two_coordinates():
    layer = realnvp.RealNVPStep(5, hidden_units=(8,), seed=0)
    layer.build((None, 3))
    for w in layer.weights:
        w.assign(tf.ones_like(w) * 0.3)
    z = tf.random.stateless_normal([4, 5], seed=[1, 2])
    y = layer(tf.ones([4, 3])).forward(z)
    np.testing.assert_array_equal(y[:, :2], z[:, :2])
    assert np.max(np.abs(y[:, 2:] - z[:, 2:])) > 1e-3
    with pytest.raises(ValueError, match="at least 2"):
        realnvp.RealNVPStep(1)
