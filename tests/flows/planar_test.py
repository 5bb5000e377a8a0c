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


def test_center_params_takes_the_offset_relative_to_the_base_mean():
    layer = planar.PlanarStep(3, seed=1)
    theta = tf.random.stateless_normal([4, 2, 7], seed=[1, 1], dtype=tf.float64)  # [B, K, P]
    loc = tf.random.stateless_normal([4, 1, 3], seed=[2, 1], dtype=tf.float64)
    centered = layer.center_params(theta, loc)
    np.testing.assert_array_equal(centered[..., :6], theta[..., :6])  # u, w unchanged
    np.testing.assert_allclose(
        centered[..., 6], theta[..., 6] - np.sum(theta[..., 3:6] * loc, -1), rtol=1e-12)


def test_centered_amortized_steps_follow_the_base_mean():
    # f(z) = z + û h(wᵀ(z − μ) + b̃): shifting the context's μ and z together shifts f's output
    # by the same amount (translation equivariance), which an uncentered head cannot give.
    flow = flows.Flow(3, "planar*2", seed=0, dtype="float64")
    context = tf.random.stateless_normal([5, 4], seed=[1, 2], dtype=tf.float64)
    flow(context)
    rng = np.random.default_rng(0)
    flow.flow_head.kernel.assign(0.5 * rng.standard_normal(flow.flow_head.kernel.shape))
    q = flow(context)
    mu = q.distribution.loc
    z = mu + tf.random.stateless_normal([5, 3], seed=[3, 2], dtype=tf.float64)
    # The same steps as Planar bijectors with b = b̃ − wᵀμ, by hand.
    theta = tf.reshape(flow.flow_head(context), [5, 2, 7])
    expected = z
    for k in range(2):
        u, w, b = theta[:, k, :3], theta[:, k, 3:6], theta[:, k, 6]
        expected = bijectors.Planar(u, w, b - tf.reduce_sum(w * mu, -1)).forward(expected)
    np.testing.assert_allclose(q.bijector.forward(z), expected, rtol=1e-10)
    np.testing.assert_allclose(flow.bijector(context).forward(z), expected, rtol=1e-10)
    np.testing.assert_allclose(q.log_prob(q.bijector.forward(z)),
                               q.distribution.log_prob(z) - q.bijector.forward_log_det_jacobian(
                                   z, event_ndims=1), rtol=1e-8)
    # Uncentered (the earlier head, and what a config saved without the key loads as).
    config = flow.get_config()
    assert config["center_planar"] is True
    del config["center_planar"]
    old = flows.Flow.from_config(config)
    assert old.center_planar is False
    old(context)
    old.set_weights(flow.get_weights())
    expected_old = z
    for k in range(2):
        expected_old = bijectors.Planar(*(theta[:, k, :3], theta[:, k, 3:6], theta[:, k, 6])
                                        ).forward(expected_old)
    np.testing.assert_allclose(old(context).bijector.forward(z), expected_old, rtol=1e-10)
    # A global flow's offset is a free weight already: no centering.
    global_flow = flows.Flow(3, "planar*2", seed=0, dtype="float64")
    assert global_flow._centering_loc(None, global_flow(None).distribution) is None
