"""Tests for tfp_nfvi.flows.householder: the Householder step."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # pylint: disable=g-import-not-at-top
import pytest  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from tfp_nfvi import flows  # pylint: disable=g-import-not-at-top

from tfp_nfvi.flows import householder  # pylint: disable=g-import-not-at-top


def test_chain_of_reflections_is_volume_preserving_and_norm_preserving():
    layer = flows.Flow(4, "householder*3", seed=0)
    layer.build((None, 2))
    for w in layer.flow_head.weights:
        w.assign(tf.random.stateless_normal(w.shape, seed=[1, 2]))
    q = layer(tf.ones([3, 2]))
    z0 = tf.random.stateless_normal([3, 4], seed=[3, 4])
    z = q.bijector.forward(z0)
    np.testing.assert_allclose(tf.norm(z, axis=-1), tf.norm(z0, axis=-1), rtol=1e-5)
    np.testing.assert_allclose(q.bijector.forward_log_det_jacobian(z0, 1), 0.0)
    assert np.max(np.abs(z - z0)) > 1e-2


def test_global_start_is_away_from_zero():
    layer = householder.HouseholderStep(6, init_scale=0.1, seed=3)
    layer.build(None)
    assert layer.num_params == 6 and np.linalg.norm(layer.params.numpy()) > 1e-2
