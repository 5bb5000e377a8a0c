"""Tests for tfp_nfvi.flows.nsf_coupling: the spline coupling step."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # pylint: disable=g-import-not-at-top
import pytest  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from tfp_nfvi import flows  # pylint: disable=g-import-not-at-top

from tfp_nfvi.flows import nsf_coupling  # pylint: disable=g-import-not-at-top


def test_starts_at_identity_and_keeps_first_half():
    layer = nsf_coupling.SplineCouplingStep(4, hidden_units=(8,), seed=0)
    layer.build((None, 2))
    z = tf.random.stateless_normal([3, 4], seed=[1, 2])
    # Small output layer at initialization: close to the identity.
    np.testing.assert_allclose(layer(tf.ones([3, 2])).forward(z), z, atol=0.05)
    for w in layer.weights:
        w.assign(tf.random.stateless_normal(w.shape, seed=[3, 4]))
    y = layer(tf.ones([3, 2])).forward(z)
    np.testing.assert_array_equal(y[:, :2], z[:, :2])
    assert np.max(np.abs(y[:, 2:] - z[:, 2:])) > 1e-2
    assert flows.parse_flow_spec("nsf_coupling(bins=4)*2") == [("nsf_coupling(bins=4)", 2)]
