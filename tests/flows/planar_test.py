"""Tests for tfp_nfvi.flows.planar: the planar step."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # pylint: disable=g-import-not-at-top
import pytest  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from tfp_nfvi import bijectors  # pylint: disable=g-import-not-at-top,unused-import
from tfp_nfvi import flows  # pylint: disable=g-import-not-at-top

from tfp_nfvi.flows import planar  # pylint: disable=g-import-not-at-top
from tfp_nfvi.flows import radial  # pylint: disable=g-import-not-at-top


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


def test_center_params_follows_the_base_mean_through_the_run():
    # b_k = b̃_k − w_kᵀ m_{k−1} with m_k = f_k(m_{k−1}): checked against the planar bijectors
    # applied one after another to m_0 = loc.
    layer = planar.PlanarStep(3, seed=1)
    theta = tf.random.stateless_normal([4, 5, 7], seed=[1, 1], dtype=tf.float64)  # [B, n, P]
    loc = tf.random.stateless_normal([4, 3], seed=[2, 1], dtype=tf.float64)
    centered, image = layer.center_params(theta, loc)
    np.testing.assert_array_equal(centered[..., :6], theta[..., :6])  # u, w unchanged
    m = loc
    for k in range(5):
        u, w, b = theta[:, k, :3], theta[:, k, 3:6], theta[:, k, 6]
        np.testing.assert_allclose(centered[:, k, 6], b - tf.reduce_sum(w * m, -1), rtol=1e-10)
        m = bijectors.Planar(u, w, centered[:, k, 6]).forward(m)
    np.testing.assert_allclose(image, m, rtol=1e-10)
    # "base_mean": every step relative to loc itself.
    centered, image = layer.center_params(theta, loc, follow_path=False)
    assert image is None
    np.testing.assert_allclose(
        centered[..., 6], theta[..., 6] - np.sum(theta[..., 3:6] * loc[:, None], -1), rtol=1e-12)


def _random_head(flow, context):
    flow(context)
    rng = np.random.default_rng(0)
    flow.flow_head.kernel.assign(0.5 * rng.standard_normal(flow.flow_head.kernel.shape))
    return flow(context)


@pytest.mark.parametrize("spec,center_radial", [
    ("planar*3", "mean_path"), ("planar*2,radial,planar*2", "mean_path"),
    ("planar*2,radial,planar*2", "off"), ("radial,planar,radial", "base_mean"),
    ("planar,iaf,planar", "mean_path")])
def test_mean_path_centering_by_hand(spec, center_radial):
    # Each planar step is a Planar bijector with b = b̃ − wᵀm, m the image of the base mean
    # under every step before it (planar or not), built here one step at a time; each radial
    # step a Radial bijector with centre m + z̃0 (μ + z̃0 for "base_mean", z̃0 for "off").
    flow = flows.Flow(3, spec, seed=0, hidden_units=(8,), center_radial=center_radial,
                      dtype="float64")
    context = tf.random.stateless_normal([5, 4], seed=[1, 2], dtype=tf.float64)
    q = _random_head(flow, context)
    assert flow.center_planar == "mean_path"
    mu = q.distribution.loc
    z = mu + tf.random.stateless_normal([5, 3], seed=[3, 2], dtype=tf.float64)
    blocks = flow._head_blocks(context)  # pylint: disable=protected-access
    expected, m = z, mu
    for step, entry in zip(flow.steps, blocks):
        if isinstance(step, planar.PlanarStep):
            block, j = entry
            u, w, b = block[:, j, :3], block[:, j, 3:6], block[:, j, 6]
            part = bijectors.Planar(u, w, b - tf.reduce_sum(w * m, -1))
        elif isinstance(step, radial.RadialStep):
            block, j = entry
            _, alpha, beta = step.bijector_args(block[:, j])
            origin = {"mean_path": m, "base_mean": mu, "off": 0.0}[center_radial]
            part = bijectors.Radial(origin + block[:, j, :3], alpha, beta)
        else:  # iaf (its own network)
            part = step(context)
        expected, m = part.forward(expected), part.forward(m)
    np.testing.assert_allclose(q.bijector.forward(z), expected, rtol=1e-9)
    np.testing.assert_allclose(q.log_prob(q.bijector.forward(z)),
                               q.distribution.log_prob(z) - q.bijector.forward_log_det_jacobian(
                                   z, event_ndims=1), rtol=1e-8)


def test_centering_options_and_saved_configs():
    context = tf.random.stateless_normal([5, 4], seed=[1, 2], dtype=tf.float64)
    flow = flows.Flow(3, "planar*2", seed=0, dtype="float64")
    q = _random_head(flow, context)
    mu = q.distribution.loc
    z = mu + tf.random.stateless_normal([5, 3], seed=[3, 2], dtype=tf.float64)
    theta = tf.reshape(flow.flow_head(context), [5, 2, 7])

    def by_hand(center_on_mean):
        out = z
        for k in range(2):
            u, w, b = theta[:, k, :3], theta[:, k, 3:6], theta[:, k, 6]
            if center_on_mean:
                b = b - tf.reduce_sum(w * mu, -1)
            out = bijectors.Planar(u, w, b).forward(out)
        return out

    assert flow.get_config()["center_planar"] == "mean_path"
    # The previous version's True: every step relative to μ; its False and no key: uncentered.
    for saved, value, center_on_mean in [(True, "base_mean", True), ("base_mean", "base_mean", True),
                                          (False, "off", False), (None, "off", False)]:
        config = flow.get_config()
        if saved is None:
            del config["center_planar"]
        else:
            config["center_planar"] = saved
        other = flows.Flow.from_config(config)
        other(context)
        other.set_weights(flow.get_weights())
        assert other.center_planar == value
        np.testing.assert_allclose(other(context).bijector.forward(z), by_hand(center_on_mean),
                                   rtol=1e-10)
    with pytest.raises(ValueError, match="`center_planar` must be one of"):
        flows.Flow(3, "planar*2", center_planar="mean")
    # A global flow's offset is a free weight already: no centering.
    global_flow = flows.Flow(3, "planar*2", seed=0, dtype="float64")
    global_flow(None)
    assert global_flow._center_modes(None) == ["off", "off"]  # pylint: disable=protected-access
