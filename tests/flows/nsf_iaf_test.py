"""Tests for tfp_nfvi.flows.nsf_iaf: the inverse autoregressive spline step."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # pylint: disable=g-import-not-at-top
import pytest  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from tfp_nfvi import flows  # pylint: disable=g-import-not-at-top

from tfp_nfvi.flows import nsf_iaf  # pylint: disable=g-import-not-at-top


def test_forward_jacobian_is_triangular_and_xla_matches_eager():
    layer = nsf_iaf.SplineIAFStep(3, hidden_units=(8,), seed=0)
    layer.build(None)
    for w in layer.weights:
        w.assign(tf.random.stateless_normal(w.shape, seed=[3, 4]))
    z = tf.random.stateless_normal([2, 3], seed=[1, 2])
    # IAF's forward is MAF's inverse: z'_i depends on z_{<=i} only.
    with tf.GradientTape() as tape:
        tape.watch(z)
        y = layer(None).forward(z)
    jac = tape.batch_jacobian(y, z).numpy()
    np.testing.assert_array_equal(np.triu(jac, 1), 0.0)

    @tf.function(jit_compile=True)
    def forward_and_log_det(z):
        bij = layer(None)
        return bij.forward(z), bij.forward_log_det_jacobian(z, 1)

    y_xla, ldj_xla = forward_and_log_det(z)
    np.testing.assert_allclose(y_xla, y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ldj_xla, layer(None).forward_log_det_jacobian(z, 1), atol=1e-4)
