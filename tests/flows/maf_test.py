"""Tests for tfp_nfvi.flows.maf: the masked autoregressive step."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # pylint: disable=g-import-not-at-top
import pytest  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from tfp_nfvi import flows  # pylint: disable=g-import-not-at-top

from tfp_nfvi.flows import maf  # pylint: disable=g-import-not-at-top


def _far(layer):
    rng = np.random.default_rng(0)
    for w in layer.weights:
        w.assign(rng.standard_normal(w.shape).astype(np.float32) * 0.5)


def test_inverse_jacobian_is_triangular():
    layer = maf.MAFStep(4, hidden_units=(8,), seed=0)
    layer.build(None)
    _far(layer)
    y = tf.random.stateless_normal([1, 4], seed=[2, 3])
    with tf.GradientTape() as tape:
        tape.watch(y)
        x = layer(None).inverse(y)
    jac = tape.batch_jacobian(x, y)[0].numpy()
    np.testing.assert_array_equal(np.triu(jac, 1), 0.0)  # x_i depends on y_{<=i} only
    assert np.any(np.abs(np.tril(jac, -1)) > 1e-4)
