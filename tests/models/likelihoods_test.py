"""Tests for tfp_nfvi.models.likelihoods: the Bernoulli model's density, mean, shapes, errors."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from tfp_nfvi.models import likelihoods


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bernoulli_log_prob_is_the_closed_form(dtype):
    rng = np.random.default_rng(0)
    logits = (rng.normal(size=(2, 5, 7)) * 4).astype(dtype)
    x = (rng.uniform(size=(5, 7)) < 0.5).astype(dtype)
    dist = likelihoods.make_likelihood("bernoulli", logits)
    assert dist.event_shape == [7] and dist.batch_shape == [2, 5]
    # log p(x | z) = Σ_i x_i η_i − softplus(η_i), in float64 NumPy.
    eta = logits.astype(np.float64)
    expected = np.sum(x * eta - np.logaddexp(0.0, eta), axis=-1)
    log_prob = dist.log_prob(x)
    assert log_prob.dtype == dtype
    np.testing.assert_allclose(log_prob.numpy(), expected, rtol=1e-5 if dtype == np.float32
                               else 1e-12)


@pytest.mark.parametrize("binary", [True, False])
def test_bernoulli_closed_form_log_prob_equals_the_distribution(binary):
    """x·η − softplus(η) = TFP's (1 − x)·log σ(−η) + x·log σ(η), for binary and fractional x."""
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(3, 4, 9)) * 8  # Logits up to ~±30: softplus's tails.
    x = rng.uniform(size=(4, 9))
    x = (x < 0.5).astype(np.float64) if binary else x
    closed = likelihoods.likelihood_log_prob("bernoulli", logits, x)
    assert closed.shape == [3, 4]
    np.testing.assert_allclose(
        closed.numpy(), likelihoods.make_likelihood("bernoulli", logits).log_prob(x).numpy(),
        rtol=1e-12, atol=1e-12)


def test_bernoulli_mean_is_sigmoid_of_logits():
    logits = np.linspace(-6.0, 6.0, 9).reshape(3, 3)
    mean = likelihoods.make_likelihood("bernoulli", logits).mean()
    np.testing.assert_allclose(mean.numpy(), 1.0 / (1.0 + np.exp(-logits)), rtol=1e-12)


def test_bernoulli_sums_to_one_over_all_binary_images():
    logits = tf.constant(np.random.default_rng(1).normal(size=(2, 4)) * 3)
    dist = likelihoods.make_likelihood("bernoulli", logits)
    images = np.array(list(itertools.product([0.0, 1.0], repeat=4)))  # all 2⁴ x.
    log_probs = dist.log_prob(images[:, None, :]).numpy()  # [16, 2]
    np.testing.assert_allclose(np.exp(log_probs).sum(axis=0), [1.0, 1.0], rtol=1e-12)


def test_bernoulli_samples_are_binary_in_the_logits_dtype():
    dist = likelihoods.make_likelihood("bernoulli", tf.zeros([3, 5], tf.float32))
    draws = dist.sample(seed=tf.constant([1, 2])).numpy()
    assert draws.dtype == np.float32 and set(np.unique(draws)) <= {0.0, 1.0}


def test_num_likelihood_params():
    assert likelihoods.num_likelihood_params("bernoulli", 784) == 784


@pytest.mark.parametrize("call", [
    lambda: likelihoods.num_likelihood_params("poisson", 3),
    lambda: likelihoods.make_likelihood("poisson", np.zeros([3])),
    lambda: likelihoods.likelihood_log_prob("poisson", np.zeros([3]), np.zeros([3])),
])
def test_unknown_name_is_rejected_with_the_choices(call):
    with pytest.raises(ValueError, match=r"Unknown `likelihood` 'poisson'; expected one of "
                                         r"\['bernoulli'\]"):
        call()
