"""Tests for tfp_nfvi.bijectors.Householder and householder_product."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_nfvi.bijectors import Householder
from tfp_nfvi.bijectors import householder_product
from tfp_nfvi.bijectors import orthonormality_error

D = 4
B = 3


def _points(dtype, shape, seed=1, scale=2.0):
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(dtype)


def _reflection_matrix(v):
    v = np.asarray(v, np.float64)
    return np.eye(v.shape[-1]) - 2 * np.outer(v, v) / np.dot(v, v)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1.0, 1e-15, 1e15], ids=["unit", "tiny", "huge"])
def test_is_the_reflection_across_the_plane_normal_to_v(scale, dtype):
    """f(z) = (I − 2vvᵀ/‖v‖²)z for every norm of v; f(f(z)) = z; f(v) = −v."""
    v = _points(np.float64, (B, D), seed=0) * scale
    bijector = Householder(v.astype(dtype))
    z = _points(dtype, (5, B, D))
    y = bijector.forward(z).numpy()
    expected = np.einsum("bij,sbj->sbi", np.stack([_reflection_matrix(x) for x in v]), z)
    tol = 1e-13 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(y, expected, atol=tol * np.abs(z).max())
    np.testing.assert_allclose(bijector.inverse(y).numpy(), z, atol=tol * np.abs(z).max())
    np.testing.assert_allclose(bijector.forward(v.astype(dtype)).numpy(), -v, rtol=tol)


def test_log_dets_are_zero_and_match_the_autodiff_jacobian():
    bijector = Householder(_points(np.float64, (B, D), seed=3))
    z = tf.constant(_points(np.float64, (B, D)))
    with tf.GradientTape() as tape:
        tape.watch(z)
        y = bijector.forward(z)
    jacobian = tape.batch_jacobian(y, z).numpy()
    sign, logdet = np.linalg.slogdet(jacobian)
    np.testing.assert_allclose(logdet, 0, atol=1e-13)
    np.testing.assert_array_equal(sign, -1)  # A reflection.
    np.testing.assert_allclose(
        bijector.forward_log_det_jacobian(z, 1).numpy() + np.zeros(B), logdet, atol=1e-13)
    assert bijector.inverse_log_det_jacobian(z, 1).numpy() == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_and_subnormal_v_give_the_identity_with_finite_gradients(dtype):
    """Below max|vᵢ| = sqrt(tiny) the map is I (orthogonal; log-det 0 stays true)."""
    v = tf.Variable(np.array([[0.0] * D, [1e-160] * D, [1e-30] * D, [1e-12] * D], dtype))
    z = _points(dtype, (4, D))
    with tf.GradientTape() as tape:
        y = Householder(v).forward(z)
        loss = tf.reduce_sum(tf.sin(y))
    grad = tape.gradient(loss, v).numpy()
    assert np.all(np.isfinite(grad)) and np.all(np.isfinite(y.numpy()))
    identity_rows = 3 if dtype == np.float32 else 2  # 1e-30 is resolved in float64.
    np.testing.assert_array_equal(y.numpy()[:identity_rows], z[:identity_rows])
    np.testing.assert_array_equal(grad[:identity_rows], 0)
    reflected = z[-1] - 2 * np.mean(z[-1])  # v ∝ (1, …, 1): reflect across its plane.
    np.testing.assert_allclose(y.numpy()[-1], reflected, rtol=1e-5)


def test_matches_tfp_householder_for_unit_axes():
    v = _points(np.float64, (B, D), seed=4)
    unit = v / np.linalg.norm(v, axis=-1, keepdims=True)
    z = _points(np.float64, (5, B, D))
    np.testing.assert_allclose(
        Householder(v).forward(z).numpy(),
        tfp.bijectors.Householder(unit).forward(z).numpy(), atol=1e-13)


@pytest.mark.parametrize(
    "param_batch, z_shape",
    [((), (6, D)), ((B,), (6, B, D)), ((2, B), (2, B, D)), ((2, B), (5, 1, B, D))],
)
def test_batch_shapes_broadcast(param_batch, z_shape):
    v = _points(np.float64, param_batch + (D,), seed=5)
    bijector = Householder(v)
    assert bijector.experimental_batch_shape() == param_batch
    z = _points(np.float64, z_shape)
    y = bijector.forward(z).numpy()
    out_batch = np.broadcast_shapes(z_shape[:-1], param_batch)
    assert y.shape == out_batch + (D,)
    z_b = np.broadcast_to(z, out_batch + (D,))
    for index in np.ndindex(*param_batch):
        sel = (Ellipsis,) + index + (slice(None),)
        np.testing.assert_allclose(y[sel], z_b[sel] @ _reflection_matrix(v[index]), atol=1e-13)
        assert bijector[index].experimental_batch_shape() == ()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_xla_matches_eager_with_gradients(dtype):
    v = tf.Variable(_points(dtype, (B, D), seed=6))
    z = tf.constant(_points(dtype, (5, B, D)))

    def step(z):
        with tf.GradientTape() as tape:
            bijector = Householder(v)
            loss = tf.reduce_sum(tf.sin(bijector.forward(z))) + tf.reduce_sum(
                bijector.inverse(z) ** 2)
        return loss, tape.gradient(loss, v)

    tol = 1e-12 if dtype == np.float64 else 1e-5
    for e, c in zip(step(z), tf.function(step, jit_compile=True)(z)):
        np.testing.assert_allclose(c.numpy(), e.numpy(), rtol=tol, atol=tol)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="`v`.*rank"):
        Householder(0.0)
    with pytest.raises(TypeError, match="`v` must be floating point"):
        Householder(np.zeros([3], np.int32))
    with pytest.raises(ValueError, match="`x`.*event size.*3"):
        Householder(np.ones([3])).forward(np.zeros([2, 2]))
    spec = tf.TensorSpec([None, None], tf.float32)

    @tf.function(input_signature=[spec, spec])
    def forward(v, z):
        return Householder(v, validate_args=True).forward(z)

    forward(tf.ones([2, 3]), tf.ones([2, 3]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="`x`"):
        forward(tf.ones([2, 3]), tf.ones([2, 1]))


# ---- householder_product -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch", [(), (B,), (2, B)])
def test_product_is_the_orthogonal_product_of_reflections(batch, dtype):
    vs = _points(dtype, batch + (D, D), seed=7)
    q = householder_product(vs).numpy()
    assert q.shape == batch + (D, D)
    eps = np.finfo(dtype).eps
    assert np.all(orthonormality_error(q).numpy() <= 10 * D * eps)
    for index in np.ndindex(*batch):
        expected = np.eye(D)
        for v in vs[index]:
            expected = expected @ _reflection_matrix(v)
        np.testing.assert_allclose(q[index], expected, atol=20 * D * eps)
        assert np.sign(np.linalg.det(q[index].astype(np.float64))) == (-1) ** D


def test_product_skips_zero_vectors_and_keeps_finite_gradients():
    vs = tf.Variable(np.concatenate([np.zeros([1, D]), _points(np.float64, (2, D))]))
    with tf.GradientTape() as tape:
        q = householder_product(vs)
        loss = tf.reduce_sum(tf.sin(q))
    expected = _reflection_matrix(vs.numpy()[1]) @ _reflection_matrix(vs.numpy()[2])
    np.testing.assert_allclose(q.numpy(), expected, atol=1e-14)
    assert np.all(np.isfinite(tape.gradient(loss, vs).numpy()))


def test_product_errors_name_the_argument():
    with pytest.raises(ValueError, match="`vs` must have shape \\[..., K, D\\]"):
        householder_product(np.ones([D]))

    @tf.function(input_signature=[tf.TensorSpec([None, None, D], tf.float32)])
    def unknown_k(vs):
        return householder_product(vs)

    with pytest.raises(ValueError, match="`vs` must have a statically known number"):
        unknown_k(tf.ones([2, 3, D]))
