"""Tests for tfp_nfvi.flows.iaf: the inverse autoregressive step."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # pylint: disable=g-import-not-at-top
import pytest  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from tfp_nfvi import flows  # pylint: disable=g-import-not-at-top

from tfp_nfvi.flows import iaf  # pylint: disable=g-import-not-at-top
from tfp_nfvi.flows import maf  # pylint: disable=g-import-not-at-top


def test_iaf_is_the_inverse_of_maf_with_the_same_network():
    iaf_step, maf_step = iaf.IAFStep(3, hidden_units=(8,), seed=4), maf.MAFStep(
        3, hidden_units=(8,), seed=4)
    for layer in (iaf_step, maf_step):
        layer.build(None)
    rng = np.random.default_rng(1)
    for a, b in zip(iaf_step.weights, maf_step.weights):
        value = rng.standard_normal(a.shape).astype(np.float32) * 0.5
        a.assign(value)
        b.assign(value)
    z = tf.random.stateless_normal([5, 3], seed=[1, 2])
    np.testing.assert_allclose(iaf_step(None).forward(z), maf_step(None).inverse(z), rtol=1e-6)
