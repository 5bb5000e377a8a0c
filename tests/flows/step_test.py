"""Tests for tfp_nfvi.flows.step: the step base classes."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # pylint: disable=g-import-not-at-top
import pytest  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from tfp_nfvi import flows  # pylint: disable=g-import-not-at-top

from tfp_nfvi.flows import planar  # pylint: disable=g-import-not-at-top
from tfp_nfvi.flows import step  # pylint: disable=g-import-not-at-top


def test_parameterized_step_global_and_from_params():
    layer = planar.PlanarStep(3, batch_shape=[4], seed=0)
    layer.build(None)
    assert layer.params.shape == (4, 7)
    bijector = layer(None)
    z = tf.random.stateless_normal([4, 3], seed=[1, 1])
    # The global bijector reads the weights; given the same numbers as `params` it is equal.
    np.testing.assert_allclose(bijector.forward(z), layer(None, params=layer.params).forward(z))
    with pytest.raises(ValueError, match="call the `Flow`"):
        layer(tf.zeros([4, 2]))


def test_network_fn_lists_the_networks_variables():
    maf_step = flows.STEPS["maf"](3, hidden_units=(4,), seed=0)
    maf_step.build((None, 2))
    fn = maf_step(tf.zeros([1, 2]))._shift_and_log_scale_fn  # pylint: disable=protected-access
    assert isinstance(fn, tf.Module)
    assert {id(v) for v in fn.trainable_variables} == {
        id(w.value) for w in maf_step.network.weights}
    assert isinstance(maf_step, step.NetworkStep) and maf_step.reverses_coordinates
