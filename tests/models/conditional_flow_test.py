"""Tests for tfp_nfvi.models.ConditionalFlow: a flow density p(y | x) and its two directions."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_nfvi import models

P = 3  # Size of x in the small models.
STEP_KINDS_2D = ("planar", "radial", "maf", "iaf", "realnvp", "nsf_coupling", "nsf_iaf",
                 "sylvester_o", "householder")


def _model(flow, direction="generative", event_size=2, seed=0, perturb=0.3, **kwargs):
    """A built model whose weights are moved away from the near-identity initialization.

    Without the perturbation a fresh flow is close to the identity, and a test comparing two
    directions could pass with the steps' inverses and forward passes swapped.
    """
    model = models.ConditionalFlow(P, event_size, flow=flow, direction=direction,
                                   conditioner_units=(8,), flow_kwargs={"hidden_units": (8,)},
                                   seed=seed, **kwargs)
    model.build((None, P))
    model.compile(jit_compile=False)  # Eager-speed tests; XLA is tested once below.
    rng = np.random.default_rng(seed)
    model.set_weights([w + perturb * rng.standard_normal(w.shape).astype(w.dtype)
                       for w in model.get_weights()])
    return model


def _inputs(batch, event_size, seed=1):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((batch, P)).astype(np.float32),
            rng.standard_normal((batch, event_size)).astype(np.float32))


@pytest.mark.parametrize("kind", STEP_KINDS_2D)
def test_directions_are_push_forward_and_pull_back_of_the_same_map(kind):
    # Same weights W: the generative model is base pushed through f_W, the normalizing one
    # base pulled back through f_W, so for any z (the log-dets cancel):
    #     log p_gen(f_W(z) | x) + log p_norm(z | x) = log q0(z | x) + log q0(f_W(z) | x).
    # The generative term runs the inverse of f_W at f_W(z), the normalizing one f_W's
    # forward pass and log-det at z; a swapped direction or a wrong sign breaks the identity.
    generative = _model(f"{kind}*2", "generative")
    normalizing = _model(f"{kind}*2", "normalizing")
    normalizing.set_weights(generative.get_weights())
    x, z = _inputs(6, 2)
    q = generative.flow(generative.context(x))
    y = q.bijector.forward(z)
    base = q.distribution
    lhs = generative.log_prob(x, y) + normalizing.log_prob(x, z)
    rhs = base.log_prob(z) + base.log_prob(y)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-4, atol=1e-3)
    # Not vacuous: the two models are different densities.
    assert np.max(np.abs(generative.log_prob(x, z) - normalizing.log_prob(x, z))) > 1e-2


def test_normalizing_iaf_is_generative_maf_with_the_steps_reversed():
    # z = IAF_2 ∘ P ∘ IAF_1 (y) in the normalizing direction; its inverse is
    # MAF_1 ∘ P ∘ MAF_2 with the same networks (IAF = Invert(MAF)), i.e. the generative
    # "maf*2" whose first step has the second network. Same density, other code paths.
    normalizing = _model("iaf*2", "normalizing")
    generative = _model("maf*2", "generative", seed=5)
    generative.set_weights(normalizing.get_weights())
    first, second = (s.network for s in generative.flow.steps)
    a, b = first.get_weights(), second.get_weights()
    first.set_weights(b)
    second.set_weights(a)
    x, y = _inputs(8, 2)
    np.testing.assert_allclose(generative.log_prob(x, y), normalizing.log_prob(x, y),
                               rtol=1e-5, atol=1e-4)
    # ...and in the same order the densities differ (the test can fail).
    first.set_weights(a)
    second.set_weights(b)
    assert np.max(np.abs(generative.log_prob(x, y) - normalizing.log_prob(x, y))) > 1e-3


@pytest.mark.parametrize("direction", ["generative", "normalizing"])
@pytest.mark.parametrize("flow", ["diag", "planar*3", "radial*3", "maf*2", "nsf_iaf*2"])
def test_log_prob_integrates_to_one_over_y(flow, direction):
    # Trapezoid rule on [−40, 40] with 20,001 points (spacing 0.004) for 1-D y and a fixed x:
    # the densities here have scales ≥ ~0.05 and tails inside the box, so the quadrature
    # error is far below the 2e-3 tolerance.
    model = _model(flow, direction, event_size=1, perturb=0.2)
    x = np.repeat(_inputs(1, 1, seed=3)[0], 20_001, axis=0)
    grid = np.linspace(-40.0, 40.0, 20_001, dtype=np.float32)[:, None]
    density = np.exp(model.log_prob(x, grid).numpy().astype(np.float64))
    assert np.all(np.isfinite(density))
    np.testing.assert_allclose(np.trapezoid(density, grid[:, 0]), 1.0, atol=2e-3)


@pytest.mark.parametrize("direction", ["generative", "normalizing"])
def test_sample_mean_matches_the_density(direction):
    # E[y | x] from 20,000 draws (forward passes, or inverses for the normalizing direction)
    # against ∫ y p(y | x) dy from log_prob on a grid: agreement within 5 standard errors.
    model = _model("radial*3", direction, event_size=1, perturb=0.2)
    x = _inputs(1, 1, seed=4)[0]
    grid = np.linspace(-40.0, 40.0, 20_001, dtype=np.float32)[:, None]
    density = np.exp(model.log_prob(np.repeat(x, len(grid), 0), grid).numpy().astype(float))
    mean = np.trapezoid(grid[:, 0] * density, grid[:, 0])
    sd = np.sqrt(np.trapezoid((grid[:, 0] - mean) ** 2 * density, grid[:, 0]))
    draws = model.sample(x, 20_000, seed=[1, 2]).numpy()
    assert draws.shape == (20_000, 1, 1)
    assert abs(draws.mean() - mean) < 5 * sd / np.sqrt(20_000)
    assert abs(model.mean(x, 20_000, seed=[1, 2]).numpy()[0, 0] - draws.mean()) < 1e-5
    np.testing.assert_array_equal(model.sample(x, 5, seed=7), model.sample(x, 5, seed=7))


def _true_log_prob(x, y, sigma=0.25):
    """y | x ~ ½ N(x + 1, σ²) + ½ N(−x − 1, σ²): two modes that move apart as x grows."""
    def log_normal(mean):
        return -0.5 * ((y - mean) / sigma) ** 2 - np.log(sigma * np.sqrt(2 * np.pi))
    return np.logaddexp(log_normal(x + 1), log_normal(-x - 1)) - np.log(2.0)


def _toy(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, (n, 1))
    sign = rng.choice([-1.0, 1.0], (n, 1))
    y = sign * (x + 1) + 0.25 * rng.standard_normal((n, 1))
    return x.astype(np.float32), y.astype(np.float32)


def test_fit_approaches_the_true_conditional_entropy():
    # Test NLL = H(y | x) + E_x KL(p(·|x) ‖ q(·|x)) >= H(y | x) (up to Monte Carlo error).
    # H is estimated on the 4,000 test points with the true density (standard error ≈ 0.012
    # nats). A trained radial flow must come within 0.15 nats of it, while the best Gaussian
    # p(y | x) is ≈ 0.8 nats above (it cannot put mass on two modes), so the check tells a
    # flow that learned the two moving modes from one that did not. Trained under XLA.
    x, y = _toy(2048, seed=0)
    x_test, y_test = _toy(4000, seed=1)
    entropy = -np.mean(_true_log_prob(x_test, y_test))
    model = models.ConditionalFlow(1, 1, flow="radial*4", conditioner_units=(32, 32), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))  # jit_compile=True
    data = tf.data.Dataset.from_tensor_slices((x, y)).cache().shuffle(2048, seed=0).batch(128)
    history = model.fit(data, epochs=40, verbose=0)
    assert set(history.history) == {"loss", "nll"}
    nll = -np.mean(model.log_prob(x_test, y_test).numpy())
    assert entropy - 0.05 < nll < entropy + 0.15, (nll, entropy)
    evaluated = model.evaluate(x_test, y_test, batch_size=4000, verbose=0, return_dict=True)
    np.testing.assert_allclose(evaluated["nll"], nll, rtol=1e-4)


def test_bad_shapes_name_the_argument():
    model = _model("planar*2", event_size=2)
    x, y = _inputs(4, 2)
    with pytest.raises(ValueError, match=r"`x` must have shape \[B, 3\], got \(4, 2\)"):
        model.log_prob(x[:, :2], y)
    with pytest.raises(ValueError, match=r"`y` must have shape \[B, 2\], got \(4, 3\)"):
        model.log_prob(x, np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match=r"`y` must have shape \[B, 2\], got \(2,\)"):
        model.log_prob(x, np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="`x` and `y` must have the same batch size, got 4 and 3"):
        model.log_prob(x, y[:3])
    with pytest.raises(ValueError, match=r"`x` must have shape \[B, 3\]"):
        model.sample(np.zeros((2, 5), np.float32), 3)
    with pytest.raises(ValueError, match="need targets"):
        model.fit(x, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="`num_samples` must be a positive integer, got 0"):
        model.sample(x, 0)
    with pytest.raises(ValueError, match="`direction` must be one of 'generative', 'normalizing'"):
        models.ConditionalFlow(P, 2, direction="backwards")
    with pytest.raises(ValueError, match="`y_noise` must be a non-negative finite number"):
        models.ConditionalFlow(P, 2, y_noise=-0.1)
    with pytest.raises(ValueError, match="'realnvp' needs an event size of at least 2"):
        models.ConditionalFlow(P, 1, flow="realnvp*2")


def test_noise_regularization_perturbs_training_batches_only():
    x, y = _inputs(16, 2)
    noisy = _model("radial*2", perturb=0.0, x_noise=0.5, y_noise=0.5)
    clean = _model("radial*2", perturb=0.0)
    clean.set_weights(noisy.get_weights())
    data = (tf.constant(x), tf.constant(y))
    train_losses = [float(noisy._loss(data, training=True)[1]) for _ in range(2)]
    assert train_losses[0] != train_losses[1]  # Fresh noise every step.
    np.testing.assert_allclose(float(noisy._loss(data, training=False)[1]),
                               float(clean._loss(data, training=True)[1]), rtol=1e-6)


@pytest.mark.parametrize("direction", ["generative", "normalizing"])
def test_keras_file_round_trip(direction, tmp_path):
    model = _model("radial*2,maf", direction, x_noise=0.1)
    x, y = _inputs(5, 2)
    path = str(tmp_path / "cde.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, models.ConditionalFlow)
    assert loaded.compiled and loaded.jit_compile is False
    assert (loaded.direction, loaded.x_noise, loaded.flow_spec) == (direction, 0.1, "radial*2,maf")
    np.testing.assert_allclose(loaded.log_prob(x, y), model.log_prob(x, y), rtol=1e-6)


def test_config_saved_before_context_to_output_loads_the_old_networks():
    # A model saved by a version without `context_to_output` has no such key in its
    # flow_kwargs: it must get v0.1's MADE (same weights, same densities), new models the
    # new one, and a saved new model keeps it.
    old = models.ConditionalFlow(P, 1, flow="maf*2", conditioner_units=(8,), seed=0,
                                 flow_kwargs={"hidden_units": (8,), "context_to_output": False})
    old.build((None, P))
    config = old.get_config()
    del config["flow_kwargs"]["context_to_output"]
    loaded = models.ConditionalFlow.from_config(config)
    loaded.build((None, P))
    loaded.set_weights(old.get_weights())  # raises if the layouts differ
    x, y = _inputs(6, 1)
    np.testing.assert_allclose(loaded.log_prob(x, y), old.log_prob(x, y), rtol=1e-6)
    new = models.ConditionalFlow(P, 1, flow="maf*2", conditioner_units=(8,), seed=0,
                                 flow_kwargs={"hidden_units": (8,)})
    new.build((None, P))
    assert new.get_config()["flow_kwargs"]["context_to_output"] is True
    assert len(new.get_weights()) == len(old.get_weights()) + 2
