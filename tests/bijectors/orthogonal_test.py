"""Tests for tfp_nfvi.bijectors.orthogonal: Björck orthogonalization and T-SNF permutations."""

import numpy as np
import pytest
import tensorflow as tf

from tfp_nfvi.bijectors import orthogonalize_bjorck
from tfp_nfvi.bijectors import orthonormality_error
from tfp_nfvi.bijectors import triangular_q


def _polar_factor(a):
    u, _, vt = np.linalg.svd(a.astype(np.float64), full_matrices=False)
    return u @ vt


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(6, 6), (4, 6, 2), (2, 3, 40, 8), (3, 40, 40)])
def test_bjorck_converges_to_the_polar_factor(shape, dtype):
    """Q has orthonormal columns to the tolerance (100·eps) and equals UVᵀ of A = UΣVᵀ.

    Distance to UVᵀ: the iteration's fixed point is exact, so only rounding amplified by
    the conditioning of A remains; random Gaussian A of these sizes have cond(A) < 1e3.
    """
    a = np.random.default_rng(0).normal(size=shape).astype(dtype) * 7.0
    q = orthogonalize_bjorck(a).numpy()
    eps = np.finfo(dtype).eps
    assert np.all(orthonormality_error(q).numpy() <= 100 * eps)
    cond = np.linalg.cond(a.astype(np.float64))
    np.testing.assert_allclose(q, _polar_factor(a), atol=10 * eps * np.max(cond))


def test_bjorck_is_scale_invariant_and_handles_tiny_and_huge_inputs():
    a = np.random.default_rng(1).normal(size=(3, 5, 3))
    for scale in (1e-150, 1.0, 1e150):
        np.testing.assert_allclose(orthogonalize_bjorck(a * scale).numpy(), _polar_factor(a),
                                   atol=1e-12)


def test_bjorck_stops_at_the_cap_for_rank_deficient_input():
    """A zero column never converges: the loop stops at max_iterations, finite, with the
    remaining columns orthonormal among themselves."""
    a = np.random.default_rng(2).normal(size=(6, 3))
    a[:, 1] = 0
    q = orthogonalize_bjorck(a, max_iterations=30).numpy()
    assert np.all(np.isfinite(q))
    assert orthonormality_error(q).numpy() == pytest.approx(1.0)
    kept = q[:, [0, 2]]
    assert orthonormality_error(kept).numpy() < 1e-12


def test_looser_tolerance_stops_earlier():
    a = np.random.default_rng(3).normal(size=(8, 8))
    loose = orthogonalize_bjorck(a, tolerance=1e-3).numpy()
    tight = orthogonalize_bjorck(a).numpy()
    assert 1e-12 < orthonormality_error(loose).numpy() <= 1e-3
    assert orthonormality_error(tight).numpy() <= 100 * np.finfo(np.float64).eps


def test_bjorck_under_xla_matches_eager_with_gradients():
    a = tf.Variable(np.random.default_rng(4).normal(size=(2, 6, 3)))
    weights = tf.constant(np.random.default_rng(5).normal(size=(2, 6, 3)))

    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(weights * orthogonalize_bjorck(a))
        return loss, tape.gradient(loss, a)

    for e, c in zip(step(), tf.function(step, jit_compile=True)()):
        assert np.all(np.isfinite(c.numpy()))
        np.testing.assert_allclose(c.numpy(), e.numpy(), rtol=1e-10, atol=1e-12)


def test_bjorck_gradient_matches_finite_differences():
    """Backpropagating through the iterations gives the derivative of the polar factor."""
    a = np.random.default_rng(6).normal(size=(5, 3))
    weights = np.random.default_rng(7).normal(size=(5, 3))
    a_t = tf.constant(a)
    with tf.GradientTape() as tape:
        tape.watch(a_t)
        loss = tf.reduce_sum(weights * orthogonalize_bjorck(a_t))
    grad = tape.gradient(loss, a_t).numpy()
    step = 1e-6
    for i, j in [(0, 0), (2, 1), (4, 2)]:
        plus, minus = a.copy(), a.copy()
        plus[i, j] += step
        minus[i, j] -= step
        numeric = np.sum(weights * (_polar_factor(plus) - _polar_factor(minus))) / (2 * step)
        np.testing.assert_allclose(grad[i, j], numeric, rtol=1e-6, atol=1e-8)


def test_bjorck_errors_name_the_argument():
    with pytest.raises(ValueError, match="`a` must have shape \\[..., D, M\\] with M <= D"):
        orthogonalize_bjorck(np.ones([2, 3]))
    with pytest.raises(ValueError, match="`a` must have shape \\[..., D, M\\] \\(rank >= 2\\)"):
        orthogonalize_bjorck(np.ones([3]))
    with pytest.raises(TypeError, match="`a` must be floating point"):
        orthogonalize_bjorck(np.ones([3, 2], np.int32))


def test_triangular_q_is_identity_or_reversal():
    np.testing.assert_array_equal(triangular_q(4).numpy(), np.eye(4))
    reverse = triangular_q(4, reverse=True, dtype=tf.float64)
    assert reverse.dtype == tf.float64
    np.testing.assert_array_equal(reverse.numpy() @ np.arange(4.0), [3, 2, 1, 0])
    assert orthonormality_error(reverse).numpy() == 0
