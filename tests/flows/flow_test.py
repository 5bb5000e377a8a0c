"""Tests for tfp_nfvi.flows.Flow: every registered step kind, global and with a context."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top
import pytest  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from tfp_nfvi import flows  # pylint: disable=g-import-not-at-top

B, C, D = 3, 5, 2
KINDS = sorted(flows.STEPS)


def _far_from_identity(layer, seed=0):
    """Moves the heads' and networks' output weights off their near-zero start."""
    rng = np.random.default_rng(seed)
    for w in layer.trainable_weights:
        if any(k in w.path for k in ("output", "flow_head", "params")):
            w.assign(0.4 * rng.standard_normal(w.shape).astype(w.dtype))


def _flow(kind, context, dtype="float64"):
    layer = flows.Flow(D, flow=f"{kind}*2", hidden_units=(8,), seed=1, dtype=dtype)
    layer.build(None if context is None else context.shape)
    _far_from_identity(layer)
    return layer


def _autodiff_log_prob(q, z):
    """log q(z) by the change of variables with the Jacobian of the inverse from autodiff."""
    with tf.GradientTape() as tape:
        tape.watch(z)
        z0 = q.bijector.inverse(z)
    jac = tape.batch_jacobian(z0, z)  # [N, D, D]
    _, logdet = np.linalg.slogdet(jac.numpy())
    return q.distribution.log_prob(z0).numpy() + logdet


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("with_context", [False, True], ids=["global", "context"])
def test_log_prob_matches_sample_and_log_prob_and_autodiff_jacobian(kind, with_context):
    context = (tf.random.stateless_normal([B, C], seed=[1, 2], dtype=tf.float64)
               if with_context else None)
    q = _flow(kind, context)(context)
    assert q.event_shape == [D]
    assert q.batch_shape == ([B] if with_context else [])
    z, log_q = q.experimental_sample_and_log_prob(4, seed=[3, 4])
    assert z.shape == (4, B, D) if with_context else z.shape == (4, D)
    z = tf.constant(z.numpy())  # a fresh tensor: TFP's cache must not hand back z_0
    # Forward-only log-density == log_prob through the inverses (float64: 1e-8).
    np.testing.assert_allclose(q.log_prob(z), log_q, rtol=1e-8, atol=1e-8)
    # ... == the change of variables with an autodiff Jacobian (per context row).
    flat_z = tf.reshape(z, [-1, D]) if not with_context else tf.reshape(
        tf.transpose(z, [1, 0, 2]), [-1, D])
    if with_context:
        for b in range(B):
            q_b = _flow(kind, context)(context[b : b + 1])
            np.testing.assert_allclose(
                _autodiff_log_prob(q_b, flat_z[4 * b : 4 * b + 4]),
                tf.transpose(log_q)[b], rtol=1e-7, atol=1e-7)
    else:
        np.testing.assert_allclose(_autodiff_log_prob(q, flat_z), log_q, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("kind", KINDS)
def test_global_flow_tracks_and_follows_its_variables(kind):
    layer = _flow(kind, None, dtype="float32")
    q = layer(None)
    assert {id(v) for v in q.trainable_variables} == {
        id(w.value) for w in layer.trainable_weights}
    z0 = tf.constant([[0.3, -0.2]])
    before = q.bijector.forward(z0).numpy()
    for w in layer.trainable_weights:  # the distribution built before sees the update
        w.assign(w + 0.1)
    assert np.max(np.abs(q.bijector.forward(tf.constant([[0.3, -0.2]])) - before)) > 1e-4


@pytest.mark.parametrize("kind", KINDS)
def test_context_flow_depends_on_context(kind):
    context = tf.random.stateless_normal([B, C], seed=[1, 2])
    layer = _flow(kind, context, dtype="float32")
    z0 = tf.random.stateless_normal([B, D], seed=[5, 6])
    f1 = layer.bijector(context).forward(z0)
    f2 = layer.bijector(context + 0.5).forward(z0)
    assert np.max(np.abs(f1 - f2)) > 1e-3


def test_seed_decides_initialization():
    context = tf.zeros([B, C])
    first = flows.Flow(D, "planar,radial,maf,realnvp", seed=7)
    first.build(context.shape)
    second = flows.Flow(D, "planar,radial,maf,realnvp", seed=7)
    keras.utils.set_random_seed(123)  # the global random state must not matter
    second.build(context.shape)
    assert len(first.weights) == len(second.weights)
    for a, b in zip(first.weights, second.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    third = flows.Flow(D, "planar,radial,maf,realnvp", seed=8)
    third.build(context.shape)
    assert any(not np.array_equal(a.numpy(), b.numpy())
               for a, b in zip(first.weights, third.weights) if "bias" not in a.path)


def test_reversal_between_network_steps_only():
    layer = flows.Flow(3, "planar,maf,radial,iaf,realnvp", hidden_units=(4,), seed=0)
    layer.build((None, 2))
    names = [type(b).__name__.lstrip("_") for b in layer.bijector(tf.zeros([1, 2])).bijectors[::-1]]
    assert names == ["Planar", "MaskedAutoregressiveFlow", "Radial", "Permute", "Invert",
                     "Permute", "RealNVP"]


def test_fixed_standard_normal_base():
    layer = flows.Flow(D, "planar", trainable_base=False, seed=0)
    layer.build((None, C))
    q = layer(tf.ones([B, C]))
    np.testing.assert_array_equal(q.distribution.mean(), np.zeros([B, D]))
    np.testing.assert_array_equal(q.distribution.stddev(), np.ones([B, D]))
    assert all("base" not in w.path for w in layer.weights)


def test_config_round_trip():
    layer = flows.Flow(D, [("planar", 2), "iaf"], hidden_units=(8,), base_scale=2.0, seed=3)
    clone = flows.Flow.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_errors():
    with pytest.raises(ValueError, match="event_size"):
        flows.Flow(0)
    with pytest.raises(ValueError, match="valid names"):
        flows.Flow(D, "planar,glow")
    with pytest.raises(ValueError, match="realnvp.*size 1"):
        flows.Flow(1, "realnvp")
    with pytest.raises(ValueError, match="batch_shape"):
        flows.Flow(D, "maf", batch_shape=[2])
    with pytest.raises(ValueError, match="base_scale"):
        flows.Flow(D, "planar", base_scale=0.0)
    layer = flows.Flow(D, "planar")
    layer.build((None, C))
    with pytest.raises(ValueError, match=r"context of shape \[B, 5\].*\(3, 4\)"):
        layer(tf.zeros([B, C - 1]))
    with pytest.raises(ValueError, match="called with None"):
        layer(None)
    global_layer = flows.Flow(D, "planar")
    global_layer.build(None)
    with pytest.raises(ValueError, match="takes no context"):
        global_layer(tf.zeros([B, C]))


@pytest.mark.parametrize("event_size", [1, 3])
def test_fresh_amortized_planar_and_radial_flows_are_the_identity(event_size):
    # The flow head's bias starts at every step's identity_params(): with its kernel at 0 the
    # flow is exactly the identity, with its small random kernel close to it. At θ = 0
    # instead each planar step contracts by 1 + m(0) = 0.69 along its w.
    flow = flows.Flow(event_size, "planar*4,radial*2", trainable_base=False, seed=0)
    context = tf.random.stateless_normal([5, 6], seed=[1, 2])
    z = tf.random.stateless_normal([5, event_size], seed=[2, 2])
    q = flow(context)
    assert np.max(np.abs(q.bijector.forward(z) - z)) < 0.05  # kernel output ~ 1e-2
    kernel, bias = flow.flow_head.kernel, flow.flow_head.bias
    identity_bias = bias.numpy()
    bias.assign(tf.zeros_like(bias))  # θ ≈ 0 (v0.1's start): far from the identity
    assert np.max(np.abs(flow(context).bijector.forward(z) - z)) > 0.1
    bias.assign(identity_bias)
    kernel.assign(tf.zeros_like(kernel))
    q = flow(context)
    np.testing.assert_allclose(q.bijector.forward(z), z, atol=1e-6)
    np.testing.assert_allclose(q.bijector.inverse(tf.identity(z)), z, atol=1e-5)
    np.testing.assert_allclose(q.log_prob(z), q.distribution.log_prob(z), atol=1e-5)
    theta = bias.numpy()[: 2 * event_size + 1]  # the first planar step's (u, w, b)
    np.testing.assert_allclose(theta[:event_size] @ theta[event_size:-1], np.log(np.e - 1),
                               rtol=1e-6)


def test_identity_start_keeps_log_prob_exact_and_gradients_nonzero():
    # At the identity start log_prob (through planar's numerical inverse) is the density of
    # the sampled points, and the head's u and w outputs get gradients, so training moves off
    # it (b's gradient is proportional to û, 0 at the exact identity: it follows once û moves).
    flow = flows.Flow(2, "planar*3,radial", seed=1)
    context = tf.random.stateless_normal([4, 5], seed=[3, 2])
    flow(context)
    flow.flow_head.kernel.assign(tf.zeros_like(flow.flow_head.kernel))  # the exact identity
    with tf.GradientTape() as tape:
        z, log_q = flow(context).experimental_sample_and_log_prob(seed=[5, 6])
        loss = tf.reduce_mean(log_q + tf.reduce_sum(z**2, -1))
    np.testing.assert_allclose(flow(context).log_prob(tf.identity(z)), log_q, atol=1e-4)
    grads = tape.gradient(loss, [flow.flow_head.kernel, flow.flow_head.bias])
    for g in grads:  # The planar block comes first: 3 steps of (u, w, b), 5 numbers each.
        planar = np.reshape(np.abs(g)[..., :15], (-1, 3, 5))
        assert np.all(np.isfinite(g)) and np.all(planar[..., :4].max(axis=0) > 1e-6)


def test_head_fields_are_the_dense_heads_output_and_its_gradient():
    # `_head_blocks` computes each step's fields (planar: u, w, b) with their own products
    # from the flow head's weights; the blocks and the weights' gradients equal those of the
    # Dense layer's single product followed by slicing (float64: to rounding).
    flow = flows.Flow(3, "planar*3,radial*2,planar", seed=0, dtype="float64")
    context = tf.random.stateless_normal([5, 4], seed=[1, 2], dtype=tf.float64)
    flow(context)
    head = flow.flow_head
    head.kernel.assign(tf.random.stateless_normal(head.kernel.shape, [3, 1], dtype=tf.float64))
    weights = [head.kernel, head.bias]
    probe = tf.random.stateless_normal([5, head.kernel.shape[-1]], [4, 1], dtype=tf.float64)
    with tf.GradientTape(persistent=True) as tape:
        blocks = flow._head_blocks(context)  # pylint: disable=protected-access
        groups = {id(block): block for block, _ in blocks}
        fields = tf.concat([tf.reshape(b, [5, -1]) for b in groups.values()], axis=-1)
        dense = head(context)
        loss_fields = tf.reduce_sum(tf.sin(fields) * probe)
        loss_dense = tf.reduce_sum(tf.sin(dense) * probe)
    np.testing.assert_allclose(fields, dense, rtol=1e-12, atol=1e-12)
    for a, b in zip(tape.gradient(loss_fields, weights), tape.gradient(loss_dense, weights)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # The planar step reads its fields with split_params: (u, w, b) of sizes (3, 3, 1).
    step = flow.steps[0]
    u, w, b = step.split_params(tf.range(7.0))
    assert step.param_sizes() == (3, 3, 1) and u.shape == [3] and w.shape == [3] and b.shape == [1]
