"""Tests for tfp_nfvi.vi.reverse_kl: the annealed reverse-KL fit and the ELBO estimate."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_nfvi import targets
from tfp_nfvi import vi

tfd = tfp.distributions


def test_fit_improves_a_gaussian_and_elbo_is_below_log_z():
    """Fitting a Gaussian to a Gaussian target reaches the exact answer (KL → 0)."""
    target = tfd.MultivariateNormalDiag([1.0, -0.5], [0.5, 1.5])
    loc = tf.Variable([0.0, 0.0])
    scale = tfp.util.TransformedVariable([2.0, 2.0], tfp.bijectors.Softplus())
    q = tfd.MultivariateNormalDiag(loc, scale)
    before, _ = vi.estimate_elbo(target.log_prob, q, num_samples=4000)
    result = vi.fit(target.log_prob, q, num_steps=1000, batch_size=256, learning_rate=0.05,
                       chunk_size=250, progress=False)
    after, stderr = vi.estimate_elbo(target.log_prob, q, num_samples=20000)
    assert result.losses.shape == (4,) and result.steps_per_second > 0
    # log Z = 0 for a normalized target: the ELBO is −KL(q ‖ p) ≤ 0; at the optimum it is 0
    # (0.01 nats is many standard errors above the residual of 1,000 noisy Adam steps).
    assert before < -0.5
    assert -0.01 < after <= 4 * stderr
    np.testing.assert_allclose(loc.numpy(), [1.0, -0.5], atol=0.05)


def test_bad_arguments_raise():
    q = tfd.MultivariateNormalDiag([0.0, 0.0], [1.0, 1.0])  # No variables.
    with pytest.raises(ValueError, match="num_steps"):
        vi.fit(targets.target_log_prob_fn("U1"), q, num_steps=0)
    with pytest.raises(ValueError, match="trainable variables"):
        vi.fit(targets.target_log_prob_fn("U1"), q, num_steps=10)


def test_estimate_elbo_is_exact_for_q_equal_to_p():
    """q = p: log p − log q is 0 for every sample, so ELBO = 0 with zero standard error."""
    p = tfd.MultivariateNormalDiag([0.5, -1.0], [1.0, 2.0])
    elbo, stderr = vi.estimate_elbo(p.log_prob, p, num_samples=2000, batch_size=500)
    assert abs(elbo) < 1e-5 and stderr < 1e-5
