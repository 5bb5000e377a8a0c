"""Tests for tfp_nfvi.targets.quadrature: exact log Z of Gaussians, honest error estimates."""

import math

import numpy as np
import pytest
from scipy import stats
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_nfvi import targets

tfd = tfp.distributions

_COV = np.array([[0.5**2, 0.1], [0.1, 0.8**2]])


def _gaussian_energy(cov, scale=1.0):
    """Unnormalized log-density −½ zᵀΣ⁻¹z + log(scale), whose log Z = log(scale·2π √det Σ)."""
    precision = tf.constant(np.linalg.inv(cov))

    def log_prob(z):
        return -0.5 * tf.einsum("...i,ij,...j->...", z, precision, z) + math.log(scale)

    exact = math.log(scale * 2 * math.pi * math.sqrt(np.linalg.det(cov)))
    return log_prob, exact


def test_log_z_of_a_gaussian_energy_is_exact():
    log_prob, exact = _gaussian_energy(_COV, scale=7.0)
    result = targets.log_normalizer(log_prob, box=(-6.0, 6.0), num_points=128)
    # 7.5 standard deviations to the edge and ≥ 6 cells per standard deviation: the midpoint
    # rule is exact to round-off.
    assert abs(result.log_z - exact) < 1e-10
    assert result.discretization_error < 1e-10 and result.num_points == 256


def test_error_estimate_bounds_the_error_of_a_coarse_grid():
    log_prob, exact = _gaussian_energy(np.diag([0.12**2, 0.1**2]))
    result = targets.log_normalizer(log_prob, box=(-4.0, 4.0), num_points=20)
    error = abs(result.log_z - exact)
    assert 1e-8 < error <= result.discretization_error


@pytest.mark.parametrize("name", targets.ENERGY_NAMES)
def test_targets_hold_their_mass_inside_the_box(name):
    """The window convention: the box's log Z is the plane's to within ~1e-4."""
    fn = targets.target_log_prob_fn(name)
    in_box = targets.log_normalizer(fn, num_points=256)
    wider = targets.log_normalizer(fn, box=(-6.0, 6.0), num_points=384)
    assert in_box.discretization_error < 1e-5
    assert 0.0 <= wider.log_z - in_box.log_z < 1e-4


def test_grid_divergences_of_gaussians():
    log_prob, _ = _gaussian_energy(_COV)
    exact_q = tfd.MultivariateNormalTriL(scale_tril=tf.linalg.cholesky(tf.constant(_COV)))
    same = targets.grid_divergences(log_prob, exact_q.log_prob, box=(-6.0, 6.0), num_points=128,
                                    surrogate_dtype=tf.float64)
    assert abs(same.kl) < 1e-9 and same.total_variation < 1e-9 and same.mass_outside_box < 1e-9
    p = tfd.MultivariateNormalTriL(scale_tril=tf.linalg.cholesky(tf.constant(_COV)))
    shifted_q = tfd.MultivariateNormalDiag([0.3, -0.2], [0.6, 0.7])
    divergences = targets.grid_divergences(log_prob, shifted_q.log_prob, num_points=256)
    np.testing.assert_allclose(divergences.kl, float(p.kl_divergence(
        tfd.MultivariateNormalDiag(tf.constant([0.3, -0.2], tf.float64),
                                   tf.constant([0.6, 0.7], tf.float64)))), rtol=1e-5)
    # A broad q: its mass outside [−4, 4]² is 1 − (2Φ(1) − 1)² for σ = 4.
    broad = tfd.MultivariateNormalDiag([0.0, 0.0], [4.0, 4.0])
    outside = targets.grid_divergences(log_prob, broad.log_prob, num_points=256).mass_outside_box
    np.testing.assert_allclose(outside, 1 - (2 * stats.norm.cdf(1.0) - 1) ** 2, rtol=1e-4)


def test_box_grid_layout_and_bad_arguments():
    points, area, coords = targets.box_grid(4, box=(-2.0, 2.0))
    np.testing.assert_allclose(coords, [-1.5, -0.5, 0.5, 1.5])
    assert area == 1.0 and points.shape == (4, 4, 2)
    np.testing.assert_allclose(points[0, 3], [1.5, -1.5])  # z1 along columns, z2 along rows.
    with pytest.raises(ValueError, match="box"):
        targets.box_grid(8, box=(1.0, -1.0))
    with pytest.raises(ValueError, match="num_points"):
        targets.log_normalizer(lambda z: -tf.reduce_sum(z**2, -1), num_points=1)


def test_grid_log_density_layout_dtype_and_chunks():
    calls = []

    def log_prob(z):
        calls.append((z.dtype, z.shape[0]))
        return -z[:, 0] + 10.0 * z[:, 1]

    # 300² = 90,000 points: two calls (65,536 + 24,464), each in the requested dtype.
    values = targets.grid_log_density(log_prob, 300, box=(-1.0, 1.0), dtype=tf.float32)
    points, _, _ = targets.box_grid(300, box=(-1.0, 1.0))
    assert values.shape == (300, 300) and values.dtype == np.float64
    assert calls == [(tf.float32, 65536), (tf.float32, 90000 - 65536)]
    np.testing.assert_allclose(values, -points[..., 0] + 10.0 * points[..., 1], rtol=1e-6,
                               atol=1e-6)
