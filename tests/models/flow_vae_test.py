"""Tests for `tfp_nfvi.models.FlowVAE`: bounds, XLA parity, training, resumption, config."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # pylint: disable=g-import-not-at-top
import numpy as np
import pytest
import tensorflow as tf

from tfp_nfvi import data
from tfp_nfvi import flows
from tfp_nfvi import models

# Small networks keep compilation and steps cheap; the maths is that of the W1 model.
SMALL = dict(latent_dim=4, encoder_units=(64, 32), decoder_units=(32, 64))


@pytest.fixture(scope="module")
def digits():
    return data.load_binarized_mnist("embedded")


def _small_vae(flow="planar*2", seed=0, **kwargs):
    config = dict(SMALL, flow=flow, seed=seed)
    config.update(kwargs)
    vae = models.FlowVAE(**config)
    vae.build((None, 784))
    return vae


def _train(vae, x, steps, batch_size=32, jit_compile=True):
    vae.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=jit_compile)
    ds = tf.data.Dataset.from_tensor_slices(x).batch(batch_size, drop_remainder=True)
    vae.fit(ds.repeat(), steps_per_epoch=steps, epochs=1, verbose=0)
    return vae


@pytest.fixture(scope="module")
def trained(digits):
    """A planar*2 VAE after 60 steps on 1,024 digits (posterior no longer the prior)."""
    return _train(_small_vae(warmup_steps=0), digits.train[:1024], steps=60)


def test_elbo_is_below_importance_sampled_log_likelihood(trained, digits):
    x = digits.test[:20]
    num = 100
    # ELBO with 100 draws per example, and its Monte Carlo standard error over all draws.
    log_px, log_pz, log_q = trained._bound_terms(x, tf.constant([3, 4]), num)
    log_w = (log_px + log_pz - log_q).numpy()  # [S, B]
    elbo = log_w.mean()
    elbo_se = log_w.std() / np.sqrt(log_w.size)
    ll = trained.log_likelihood(x, num_samples=num, seed=[5, 6], chunk_size=40).numpy()
    assert ll.shape == (20,)
    assert np.all(np.isfinite(ll))
    # Jensen: E[log-weight] <= log E[weight] = log p(x); the IS estimate with S = 100 is itself
    # a lower bound in expectation but above the ELBO by the (here several-nat) gap. Allow 4
    # standard errors of the ELBO estimate for Monte Carlo noise.
    assert elbo <= ll.mean() + 4 * elbo_se
    # Bernoulli likelihoods are <= 1, so both are <= 0 (not just in expectation).
    assert ll.max() <= 0.0
    assert log_px.numpy().max() <= 0.0
    assert trained.elbo(x, seed=[1, 2]).numpy().max() <= 0.0


def test_log_likelihood_chunks_are_a_running_logsumexp(trained, digits):
    """7 samples in chunks of 3 (two full chunks, a remainder) equal a direct logsumexp."""
    x = tf.constant(digits.test[:5])
    seed = tf.constant([7, 8])
    estimate = trained.log_likelihood(x, num_samples=7, seed=seed, chunk_size=3).numpy()
    q = trained.posterior_distribution(x)
    prior = trained.prior_distribution()
    log_ws = []
    for i, size in enumerate([3, 3, 1]):
        z, log_q = trained.sample_posterior(
            q, [size], tf.random.experimental.stateless_fold_in(seed, i))
        log_ws.append(trained.likelihood_distribution(z).log_prob(x) + prior.log_prob(z) - log_q)
    direct = tf.reduce_logsumexp(tf.concat(log_ws, 0), axis=0) - np.log(7.0)
    np.testing.assert_allclose(estimate, direct.numpy(), rtol=1e-5, atol=1e-3)


def test_log_likelihood_memory_is_bounded_by_the_chunk(trained, digits):
    """S = 2,000 runs with chunk 50 (40 compiled iterations); more samples: a tighter bound."""
    x = digits.test[:8]
    small = trained.log_likelihood(x, num_samples=10, seed=[1, 1]).numpy()
    large = trained.log_likelihood(x, num_samples=2000, seed=[1, 1], chunk_size=50).numpy()
    assert np.all(np.isfinite(large))
    # E[log p̂_S] increases with S; with 2,000 vs 10 samples the mean gain dwarfs the noise.
    assert large.mean() > small.mean()


def test_log_likelihood_split_xla_equals_the_uncompiled_estimator(trained, digits):
    """The default (draws and weights under XLA, decoder on TF kernels) vs no compilation."""
    x = tf.constant(digits.test[:6])
    seed = tf.constant([3, 9])
    split = trained.log_likelihood(x, num_samples=10, seed=seed, chunk_size=4).numpy()
    plain = trained.importance_log_likelihood(x, 10, seed, 4, jit_compile=False).numpy()
    # Same noise (XLA-invariant sampler); float32 rounding of sums of ~784 terms.
    np.testing.assert_allclose(split, plain, rtol=1e-5, atol=1e-3)
    # One chunk of the estimator is `log_importance_weights`.
    log_w = trained.log_importance_weights(
        x, 4, tf.random.experimental.stateless_fold_in(seed, 0))
    one_chunk = trained.importance_log_likelihood(x, 4, seed, 4).numpy()
    np.testing.assert_allclose(
        one_chunk, (tf.reduce_logsumexp(log_w, 0) - np.log(4.0)).numpy(), rtol=1e-5, atol=1e-3)


def test_log_likelihood_bfloat16_decoder_is_close_but_rounded(trained, digits):
    x = digits.test[:6]
    exact = trained.log_likelihood(x, num_samples=8, seed=[2, 2]).numpy()
    bf16 = trained.log_likelihood(x, num_samples=8, seed=[2, 2],
                                  precision="mixed_bfloat16").numpy()
    # bfloat16 keeps 8 mantissa bits: each of the 784 logits is off by ~|logit| · 2⁻⁹, so the
    # estimate moves by a small fraction of a nat here, never by nothing.
    assert np.all(np.abs(bf16 - exact) < 0.5) and np.any(bf16 != exact)
    # The model's own decoder is untouched (its layers keep float32 policies).
    assert all(layer.dtype_policy.name == "float32" for layer in trained.decoder.layers)


def test_log_likelihood_precision_is_checked(trained, digits):
    x = digits.test[:2]
    with pytest.raises(ValueError, match=r"Unknown `precision` 'float16'"):
        trained.log_likelihood(x, num_samples=2, seed=[1, 1], precision="float16")
    custom = _small_vae(decoder=models.mlp_decoder(784, (16,), seed=1))
    with pytest.raises(ValueError, match=r"applies to the default decoder only"):
        custom.log_likelihood(x, num_samples=2, seed=[1, 1], precision="mixed_bfloat16")
    with pytest.raises(ValueError, match=r"`num_samples` must be a Python int"):
        trained.importance_log_likelihood(
            tf.constant(x), tf.constant(3), tf.constant([1, 1]), 2, jit_compile=True)


def test_sample_posterior_matches_the_flow_density(trained, digits):
    """log q from the forward pass equals the distribution's own log_prob at the draws."""
    x = digits.test[:6]
    q = trained.posterior_distribution(x)
    z, log_q = trained.sample_posterior(q, [3], tf.constant([1, 2]))
    assert z.shape == (3, 6, 4) and log_q.shape == (3, 6)
    np.testing.assert_allclose(log_q.numpy(), q.log_prob(z).numpy(), rtol=1e-4, atol=1e-3)


def test_jit_and_no_jit_agree(digits):
    x = tf.constant(digits.train[:32])
    vae = _small_vae()
    seed = tf.constant([11, 12])
    eager = vae.elbo(x, seed=seed, num_samples=3).numpy()
    fns = {jit: tf.function(lambda x, s: vae.elbo(x, seed=s, num_samples=3), jit_compile=jit)
           for jit in (True, False)}
    np.testing.assert_allclose(fns[True](x, seed).numpy(), eager, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(fns[False](x, seed).numpy(), eager, rtol=1e-5, atol=1e-3)

    # One training step from the same weights and seed state: the same loss either way.
    losses = {}
    for jit in (True, False):
        model = _small_vae(seed=3)
        model.set_weights(vae.get_weights())
        model.compile(jit_compile=jit)
        losses[jit] = model.train_on_batch(x, return_dict=True)["loss"]
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-5)


def test_training_lowers_the_loss(digits):
    x = digits.train[:512]
    vae = _small_vae(warmup_steps=0)
    batch = x[:256]
    before = -vae.elbo(batch, seed=[1, 2], num_samples=4).numpy().mean()
    _train(vae, x, steps=40)
    after = -vae.elbo(batch, seed=[1, 2], num_samples=4).numpy().mean()
    # A freshly initialized decoder gives ~543 nats (784 log 2); 40 Adam steps remove ~150.
    assert after < before - 50.0, (before, after)


def test_resuming_from_a_checkpoint_reproduces_the_next_losses(digits, tmp_path):
    x = digits.train[:32 * 6]

    def batches():
        return tf.data.Dataset.from_tensor_slices(x).batch(32)

    def run(vae, epochs):
        history = vae.fit(batches(), epochs=epochs, verbose=0)
        return history.history["loss"]

    def fresh():
        keras.utils.set_random_seed(1)  # The same initial weights every time.
        vae = _small_vae(warmup_steps=50)  # β still changing: the step counter must resume.
        vae.compile(optimizer=keras.optimizers.Adam(1e-3))
        vae.optimizer.build(vae.trainable_variables)
        return vae

    uninterrupted = fresh()
    run(uninterrupted, 2)
    expected = run(uninterrupted, 2)

    first = fresh()
    run(first, 2)
    path = tf.train.Checkpoint(model=first, optimizer=first.optimizer).write(
        str(tmp_path / "ckpt"))
    resumed = fresh()
    tf.train.Checkpoint(model=resumed, optimizer=resumed.optimizer).read(path).assert_consumed()
    assert int(resumed.optimizer.iterations) == 12
    np.testing.assert_array_equal(run(resumed, 2), expected)


def test_planar_posterior_beats_the_diagonal_gaussian_on_real_digits(digits):
    """The paper's claim in miniature: a planar*16 posterior gives a better held-out ELBO.

    Both models are the default W1 networks (latent 40) trained identically for 3 epochs on the
    4,000 embedded training digits (seed 0 for weights, noise and data order; the validation
    ELBO uses 10 draws per digit with a fixed seed). Measured margins of today's planar steps
    (centered along the base mean's path) over seeds 0-3: 1.8-3.9 nats (seed 0: 3.9); the test
    asks for 1.0. Centered on the base mean itself they were 1.1-2.5. (The uncentered steps of
    earlier versions led by 11-19 nats this early, as per-example shifts that give the mean a
    nonlinear head, and then stalled: on the full binarized MNIST with 100 epochs, planar*10
    centered on the base mean / uncentered / diag reached test −ELBO 93.4 / 95.4 / 95.5.)
    """
    elbos = {}
    for flow in ("diag", "planar*16"):
        keras.utils.set_random_seed(0)
        vae = models.FlowVAE(flow=flow, seed=0, warmup_steps=45)
        vae.compile(optimizer=keras.optimizers.Adam(1e-3), steps_per_execution=8)
        vae.fit(digits.train, batch_size=128, epochs=3, verbose=0, shuffle=True)
        elbos[flow] = float(np.mean(vae.elbo(digits.validation, seed=[5, 5], num_samples=10)))
    assert elbos["planar*16"] > elbos["diag"] + 1.0, elbos


def test_kl_weight_schedule():
    vae = _small_vae(warmup_steps=10000, warmup_initial=0.01)
    np.testing.assert_allclose(vae.kl_weight(0).numpy(), 0.01)
    np.testing.assert_allclose(vae.kl_weight(4900).numpy(), 0.5, rtol=1e-6)
    np.testing.assert_allclose(vae.kl_weight(50000).numpy(), 1.0)
    assert float(_small_vae(warmup_steps=0).kl_weight(0)) == 1.0


def test_shapes_of_the_public_methods(digits):
    vae = _small_vae(flow="radial*2")
    x = digits.test[:6]
    z, log_q, loc, scale = vae.encode(x, seed=[1, 2])
    assert z.shape == (6, 4) and log_q.shape == (6,)
    assert loc.shape == (6, 4) and scale.shape == (6, 4)
    assert np.all(scale.numpy() > 0)
    assert vae.decode_logits(z).shape == (6, 784)
    assert vae.decode_logits(tf.zeros([3, 6, 4])).shape == (3, 6, 784)
    samples = vae.sample(5, seed=[3, 4]).numpy()
    assert samples.shape == (5, 784) and samples.min() >= 0 and samples.max() <= 1
    assert vae.reconstruct(x, seed=[1, 2]).shape == (6, 784)
    assert vae(x).shape == (6,)
    reconstruction, kl = vae.elbo_terms(x, seed=[1, 2], num_samples=2)
    np.testing.assert_allclose((reconstruction - kl).numpy(),
                               vae.elbo(x, seed=[1, 2], num_samples=2).numpy(), rtol=1e-6)


def test_custom_networks_and_config_round_trip(digits):
    encoder = keras.Sequential([keras.layers.Dense(16, activation="tanh")], name="my_encoder")
    decoder = keras.Sequential([keras.layers.Dense(784)], name="my_decoder")
    vae = models.FlowVAE(latent_dim=3, flow="planar*2,radial", encoder=encoder, decoder=decoder,
                         warmup_steps=500, warmup_initial=0.1, seed=4)
    x = digits.test[:4]
    elbo = vae.elbo(x, seed=[1, 2]).numpy()
    clone = models.FlowVAE.from_config(vae.get_config())
    assert clone.get_config() == vae.get_config()
    clone.build((None, 784))
    clone.set_weights(vae.get_weights())
    np.testing.assert_allclose(clone.elbo(x, seed=[1, 2]).numpy(), elbo, rtol=1e-6)
    assert clone.encoder.name == "my_encoder" and clone.warmup_steps == 500


def test_mixed_bfloat16_keeps_the_flow_and_the_bound_in_float32(digits):
    """bfloat16 encoder/decoder products (float32 weights); flow, log-dets and ELBO float32."""
    x = tf.constant(digits.train[:32])
    vae = _small_vae(seed=5)
    mixed = _small_vae(seed=5, precision="mixed_bfloat16")
    for layer in mixed.encoder.layers + mixed.decoder.layers:
        assert (layer.compute_dtype, layer.variable_dtype) == ("bfloat16", "float32")
    assert all(w.dtype == "float32" for w in mixed.weights)
    assert mixed.posterior.compute_dtype == "float32"
    mixed.set_weights(vae.get_weights())  # Same weights: only the products' rounding differs.
    _, log_q, _, _ = mixed.encode(x, seed=[1, 2])
    assert log_q.dtype == tf.float32
    assert mixed.decode_logits(tf.zeros([32, 4])).dtype == tf.float32
    elbo, mixed_elbo = (m.elbo(x, seed=[1, 2], num_samples=4).numpy() for m in (vae, mixed))
    assert mixed_elbo.dtype == np.float32
    # bfloat16 keeps 8 significant bits (relative rounding 2^-9 ~ 0.2%): ~543-nat bounds of a
    # fresh model agree to well under 1%.
    np.testing.assert_allclose(mixed_elbo, elbo, rtol=1e-2)
    assert not np.allclose(mixed_elbo, elbo, rtol=1e-6)  # bfloat16 really was used.
    # Trains (under XLA, the default) with float32 gradients for the float32 weights.
    trained = _train(mixed, digits.train[:128], steps=4)
    assert np.all(np.isfinite(trained.history.history["loss"]))
    assert all(w.dtype == "float32" for w in trained.trainable_weights)
    clone = models.FlowVAE.from_config(mixed.get_config())
    assert clone.precision == "mixed_bfloat16" and clone.get_config() == mixed.get_config()


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(latent_dim=0), "latent_dim"), (dict(precision="float16"), "precision"), (dict(flow="planer*2"), "planer"),
     (dict(likelihood="poisson"), "likelihood"), (dict(warmup_initial=2.0), "warmup_initial"),
     (dict(num_samples=0), "num_samples")])
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.FlowVAE(**kwargs)


def test_bad_input_shape_is_rejected():
    vae = models.FlowVAE(**SMALL)
    with pytest.raises(ValueError, match=r"\[batch, 784\]"):
        vae.build((None, 100))


ALL_SPECS = sorted(flows.STEPS) + ["planar*2,nsf_iaf,householder*2"]


@pytest.mark.parametrize("flow", ALL_SPECS)
def test_every_flow_kind_trains_through_plain_compile_and_fit(digits, flow):
    """`compile(); fit(x)` with no explicit build (the README's path), under XLA."""
    x = digits.train[:64]
    vae = models.FlowVAE(latent_dim=3, flow=flow, encoder_units=(16,), decoder_units=(16,),
                         seed=0, warmup_steps=0, posterior_kwargs={"hidden_units": [8]})
    vae.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = vae.fit(x, batch_size=16, epochs=2, verbose=0).history
    assert np.all(np.isfinite(history["loss"]))
    # ELBO <= importance-sampled log-likelihood (Jensen), with 64 draws each; the 4-SE
    # margin covers the ELBO's Monte Carlo error.
    test = digits.test[:8]
    log_px, log_pz, log_q = vae._bound_terms(test, tf.constant([3, 4]), 64)  # pylint: disable=protected-access
    log_w = (log_px + log_pz - log_q).numpy()
    ll = vae.log_likelihood(test, num_samples=64, seed=[5, 6]).numpy()
    assert np.all(np.isfinite(ll))
    assert log_w.mean() <= ll.mean() + 4 * log_w.std() / np.sqrt(log_w.size)


def test_seed_decides_the_initial_weights():
    def weights(global_seed):
        keras.utils.set_random_seed(global_seed)  # must not matter once `seed` is given
        vae = models.FlowVAE(**SMALL, flow="planar,iaf,radial", seed=3)
        vae.build((None, 784))
        return [w.numpy() for w in vae.weights]

    first, second = weights(1), weights(2)
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
