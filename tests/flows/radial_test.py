"""Tests for tfp_nfvi.flows.radial: the radial step."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # pylint: disable=g-import-not-at-top
import pytest  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from tfp_nfvi import flows  # pylint: disable=g-import-not-at-top

from tfp_nfvi.flows import radial  # pylint: disable=g-import-not-at-top


def test_constrained_alpha_beta_for_any_raw_parameters():
    layer = radial.RadialStep(2)
    raw = tf.constant([[0.0, 0.0, -30.0, -30.0], [1.0, 2.0, 30.0, 5.0], [0.0, 0.0, 0.0, -1e4]])
    center, alpha, beta = layer.bijector_args(raw)
    np.testing.assert_array_equal(center, raw[:, :2])
    assert np.all(alpha > 0) and np.all(beta >= -alpha)


def test_global_start_spreads_centres():
    layer = radial.RadialStep(50, init_scale=0.1, seed=0)
    layer.build(None)
    start = layer.params.numpy()
    assert 0.7 < np.std(start[:50]) < 1.3 and np.all(np.abs(start[50:]) < 0.5)
