"""Tests for tfp_nfvi.flows.AmortizedFlowPosterior."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top
import pytest  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top
import tensorflow_probability as tfp  # pylint: disable=g-import-not-at-top

from tfp_nfvi import flows  # pylint: disable=g-import-not-at-top

tfd = tfp.distributions
B, H, D = 4, 6, 3
FLOWS = ["diag", "planar*2", "radial*2", "maf*2", "iaf*2", "realnvp*2",
         "planar,iaf,radial,realnvp,maf"]
SEED = tf.constant([7, 11], tf.int32)


def _context(shift=0.0):
    return tf.random.stateless_normal([B, H], seed=[1, 2]) + shift


def _posterior(flow, seed=0):
    """A built posterior whose flow is far from the identity (so the tests can fail)."""
    layer = flows.AmortizedFlowPosterior(D, flow=flow, hidden_units=(8,), head_init_scale=1.0)
    layer.build((B, H))
    rng = np.random.default_rng(seed)
    for w in layer.trainable_weights:
        if "output" in w.path or "flow_head" in w.path:
            w.assign(0.3 * rng.standard_normal(w.shape).astype(np.float32))
    return layer


def _fresh(t):
    """A copy that TFP's bijector cache has never seen, so log_prob runs the inverses."""
    return tf.constant(np.asarray(t))


@pytest.mark.parametrize("flow", FLOWS)
def test_shapes_and_sample_log_prob_match_log_prob(flow):
    q = _posterior(flow)(_context())
    # TFP returns its non-CompositeTensor base class `_TransformedDistribution` (same API)
    # when a bijector holds a Python callable (MAF/RealNVP networks).
    assert isinstance(q, tfd.TransformedDistribution.__mro__[1])
    assert type(q).__name__.lstrip("_") == "TransformedDistribution"
    assert isinstance(q.distribution, tfd.MultivariateNormalDiag)
    assert q.batch_shape == [B] and q.event_shape == [D]
    assert q.distribution.loc.shape == q.distribution.stddev().shape == (B, D)
    z, log_q = q.experimental_sample_and_log_prob(seed=SEED)
    assert z.shape == (B, D) and log_q.shape == (B,)
    zs, log_qs = q.experimental_sample_and_log_prob(5, seed=SEED)
    assert zs.shape == (5, B, D) and log_qs.shape == (5, B)
    # The forward-only log-density equals log_prob through the inverses. float32 with
    # root-finding inverses (planar) and D sequential passes (iaf): 1e-4 relative/absolute.
    for sample, lp in ((z, log_q), (zs, log_qs)):
        np.testing.assert_allclose(q.log_prob(_fresh(sample)), lp, rtol=1e-4, atol=1e-4)
    assert np.all(np.isfinite(log_qs))


@pytest.mark.parametrize("flow", FLOWS)
def test_distribution_depends_on_h(flow):
    layer = _posterior(flow)
    q1, q2 = layer(_context()), layer(_context(shift=0.5))
    z1, _ = q1.experimental_sample_and_log_prob(seed=SEED)
    z2, _ = q2.experimental_sample_and_log_prob(seed=SEED)
    assert np.max(np.abs(z1 - z2)) > 1e-3
    assert np.max(np.abs(q1.log_prob(_fresh(z1)) - q2.log_prob(_fresh(z1)))) > 1e-3
    if flow != "diag":
        # The flow itself (not only the base) is conditioned on h.
        z0 = _fresh(q1.distribution.sample(seed=SEED))
        assert np.max(np.abs(q1.bijector.forward(z0) - q2.bijector.forward(_fresh(z0)))) > 1e-3


def _loss_and_grads(layer, h, eps):
    """Sample-and-log-prob from given base noise `eps` (XLA's RNG differs from eager's)."""
    with tf.GradientTape() as tape:
        q = layer(h)
        z0 = q.distribution.loc + q.distribution.stddev() * eps
        z = q.bijector.forward(z0)
        log_q = q.distribution.log_prob(z0) - q.bijector.forward_log_det_jacobian(z0, 1)
        loss = tf.reduce_mean(log_q) + tf.reduce_mean(tf.square(z))
    return loss, tape.gradient(loss, layer.trainable_variables)


@pytest.mark.parametrize("flow", FLOWS)
def test_every_weight_gets_a_finite_gradient_and_xla_matches_eager(flow):
    layer = _posterior(flow)
    names = flows.parse_flow_spec(flow)
    num_networks = sum(c for n, c in names if n in ("maf", "iaf", "realnvp"))
    num_made = sum(c for n, c in names if n in ("maf", "iaf"))
    has_head = any(n in ("planar", "radial") for n, _ in names)
    # base head (2) + flow head (2) + per network 2 hidden + context kernel + output (2),
    # + MADE's context-to-output kernel.
    assert len(layer.trainable_weights) == 2 + 2 * has_head + 5 * num_networks + num_made
    eps = tf.random.stateless_normal([2, B, D], seed=[3, 4])
    loss, grads = _loss_and_grads(layer, _context(), eps)
    for w, g in zip(layer.trainable_variables, grads):
        assert g is not None, w.path
        assert np.all(np.isfinite(g)), w.path
    assert all(np.any(g != 0) for g in grads)
    xla_loss, xla_grads = tf.function(_loss_and_grads, jit_compile=True)(layer, _context(), eps)
    np.testing.assert_allclose(xla_loss, loss, rtol=1e-4, atol=1e-5)
    for g, xg in zip(grads, xla_grads):
        np.testing.assert_allclose(xg, g, rtol=1e-3, atol=1e-4)


def test_keras_seed_generator_under_xla():
    layer = _posterior("planar,iaf")
    generator = keras.random.SeedGenerator(3)

    @tf.function(jit_compile=True)
    def draw(h):
        return layer(h).experimental_sample_and_log_prob(seed=flows.to_tfp_seed(generator.next()))

    (z1, lq1), (z2, _) = draw(_context()), draw(_context())
    assert np.max(np.abs(z1 - z2)) > 1e-3  # the generator advances
    # The XLA-compiled log-density is the eager one (through the inverses) at the XLA sample.
    np.testing.assert_allclose(layer(_context()).log_prob(_fresh(z1)), lq1, rtol=1e-4, atol=1e-4)
    generator.state.assign(keras.random.SeedGenerator(3).state.value)  # rewind
    z3, _ = draw(_context())
    np.testing.assert_allclose(z3, z1)  # reproducible


@keras.saving.register_keras_serializable(package="tfp_nfvi_flows_test")
class _TinyEncoderPosterior(keras.Model):
    """x -> Dense -> AmortizedFlowPosterior -> a fixed-seed sample (a tensor output)."""

    def __init__(self, flow, **kwargs):
        super().__init__(**kwargs)
        self.flow = flow
        self.encoder = keras.layers.Dense(H, activation="tanh")
        self.posterior = flows.AmortizedFlowPosterior(D, flow=flow, hidden_units=(8,))

    def build(self, input_shape):
        self.encoder.build(input_shape)
        self.posterior.build((input_shape[0], H))

    def call(self, x):
        q = self.posterior(self.encoder(x))
        z, log_q = q.experimental_sample_and_log_prob(seed=SEED)
        return tf.concat([z, log_q[:, tf.newaxis]], axis=-1)

    def get_config(self):
        return {**super().get_config(), "flow": self.flow}


def test_keras_saving_round_trip(tmp_path):
    flow = "planar*2,radial,iaf,realnvp"
    model = _TinyEncoderPosterior(flow)
    x = tf.random.stateless_normal([B, 5], seed=[5, 5])
    model(x)
    for w in model.trainable_weights:  # move off the initialization
        w.assign_add(0.1 * tf.ones_like(w))
    expected = model(x)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    config, restored_config = model.posterior.get_config(), restored.posterior.get_config()
    config.pop("name"), restored_config.pop("name")
    assert restored_config == config
    assert len(restored.weights) == len(model.weights)
    np.testing.assert_allclose(restored(x), expected, rtol=1e-5, atol=1e-5)


def test_layer_config_round_trip():
    layer = flows.AmortizedFlowPosterior(
        D, flow=[("planar", 2), "iaf"], hidden_units=(8, 8), min_scale=1e-3, name="q")
    config = keras.saving.serialize_keras_object(layer)
    clone = keras.saving.deserialize_keras_object(config, safe_mode=True)
    assert isinstance(clone, flows.AmortizedFlowPosterior)
    assert clone.get_config() == layer.get_config()
    assert clone.flow == [["planar", 2], ["iaf", 1]]


def test_base_scale_is_softplus_with_floor():
    layer = flows.AmortizedFlowPosterior(D, flow="diag", min_scale=1e-3)
    layer.build((B, H))
    layer.base_head.kernel.assign(tf.zeros_like(layer.base_head.kernel))
    layer.base_head.bias.assign(tf.constant([0.0] * D + [-1e4, 0.0, 1e4]))
    scale = layer(_context()).distribution.stddev()
    np.testing.assert_allclose(scale[0], [1e-3, 1.0 + 1e-3, 1e4], rtol=1e-4)


def test_errors():
    layer = flows.AmortizedFlowPosterior(D, flow="planar*2")
    layer(_context())
    with pytest.raises(ValueError, match=r"shape \[B, 6\].*\(4, 7\)"):
        layer(tf.zeros([B, H + 1]))
    with pytest.raises(ValueError, match="h"):
        flows.AmortizedFlowPosterior(D)(tf.zeros([H]))
    with pytest.raises(ValueError, match="latent_dim"):
        flows.AmortizedFlowPosterior(0)
    with pytest.raises(ValueError, match="valid names"):
        flows.AmortizedFlowPosterior(D, flow="planar*2,sylvester")
    with pytest.raises(ValueError, match="realnvp.*latent/event size 1"):
        flows.AmortizedFlowPosterior(1, flow="realnvp")
    # A latent of the wrong size is rejected by log_prob.
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError)):
        layer(_context()).log_prob(tf.zeros([B, D + 1]))
