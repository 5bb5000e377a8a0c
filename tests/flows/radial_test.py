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


def test_center_params_follows_the_base_mean_through_the_run():
    # z0_k = m_{k−1} + z̃0_k with m_k = f_k(m_{k−1}): checked against the radial bijectors
    # applied one after another to m_0 = loc.
    layer = radial.RadialStep(3, dtype="float64")
    theta = tf.random.stateless_normal([4, 5, 5], seed=[1, 1], dtype=tf.float64)  # [B, n, P]
    loc = tf.random.stateless_normal([4, 3], seed=[2, 1], dtype=tf.float64)
    centered, image = layer.center_params(theta, loc)
    np.testing.assert_array_equal(centered[..., 3:], theta[..., 3:])  # raw α, β unchanged
    m = loc
    for k in range(5):
        np.testing.assert_allclose(centered[:, k, :3], m + theta[:, k, :3], rtol=1e-10)
        m = layer(params=centered[:, k]).forward(m)
    np.testing.assert_allclose(image, m, rtol=1e-10)
    centered, image = layer.center_params(theta, loc, follow_path=False)  # "base_mean"
    assert image is None
    np.testing.assert_allclose(centered[..., :3], theta[..., :3] + loc[:, None], rtol=1e-12)


def test_centering_options_and_saved_configs():
    context = tf.random.stateless_normal([5, 4], seed=[1, 2], dtype=tf.float64)
    flow = flows.Flow(3, "radial*2", seed=0, dtype="float64")
    flow(context)
    flow.flow_head.kernel.assign(
        0.5 * np.random.default_rng(0).standard_normal(flow.flow_head.kernel.shape))
    q = flow(context)
    z = q.distribution.loc + tf.random.stateless_normal([5, 3], seed=[3, 2], dtype=tf.float64)
    assert flow.get_config()["center_radial"] == "mean_path"
    config = flow.get_config()
    del config["center_radial"]  # Saved by a version without the option: absolute centres.
    old = flows.Flow.from_config(config)
    old(context)
    old.set_weights(flow.get_weights())
    assert old.center_radial == "off"
    theta = tf.reshape(flow.flow_head(context), [5, 2, 5])
    expected = z
    for k in range(2):
        expected = old.steps[k](params=theta[:, k]).forward(expected)
    np.testing.assert_allclose(old(context).bijector.forward(z), expected, rtol=1e-10)
    assert not np.allclose(q.bijector.forward(z), expected)
    with pytest.raises(ValueError, match="`center_radial` must be one of"):
        flows.Flow(3, "radial*2", center_radial="on")


def test_a_fresh_centred_step_is_the_identity_and_trains():
    # θ = 0 centres the step on μ(c) with β = 0: the identity, with a finite, non-zero gradient.
    flow = flows.Flow(3, "radial", seed=0, dtype="float64")
    context = tf.random.stateless_normal([5, 4], seed=[1, 2], dtype=tf.float64)
    flow(context)
    flow.flow_head.kernel.assign(tf.zeros_like(flow.flow_head.kernel))
    np.testing.assert_allclose(flow(context).bijector.bijectors[0].center,
                               flow(context).distribution.loc, rtol=1e-12)
    z = tf.random.stateless_normal([5, 3], seed=[3, 2], dtype=tf.float64)
    with tf.GradientTape() as tape:
        q = flow(context)
        y = q.bijector.forward(z)
        loss = tf.reduce_sum(tf.sin(y)) + tf.reduce_sum(
            q.bijector.forward_log_det_jacobian(z, event_ndims=1))
    np.testing.assert_allclose(y, z, atol=1e-12)
    grads = tape.gradient(loss, flow.flow_head.trainable_variables)
    assert all(np.all(np.isfinite(g)) for g in grads)
    assert np.abs(grads[1]).max() > 1e-3  # the head's bias: raw β moves the step
