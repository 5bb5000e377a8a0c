"""Tests for tfp_nfvi.bijectors.Sylvester: bijectivity, log-dets, batch shapes, XLA, errors."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_nfvi.bijectors import Sylvester
from tfp_nfvi.bijectors import householder_product
from tfp_nfvi.bijectors import orthogonalize_bjorck
from tfp_nfvi.bijectors import sylvester_constrain_diagonals
from tfp_nfvi.bijectors import triangular_q
from tfp_nfvi.bijectors import sylvester as sylvester_lib

D = 5
M = 3
B = 4

# Regimes: (name, Q construction, M, scale of the raw R, R̃ entries, offset of raw diagonals).
# "near_fold" drives R̃ᵢᵢRᵢᵢ to −1 + ~2eps (tanh saturated at ±(1 − eps)): the map nearly
# folds where tanh′ = 1.
REGIMES = [
    ("orthogonal", "bjorck", M, 1.0, 0.0),
    ("householder", "householder", D, 1.0, 0.0),
    ("triangular", "triangular", D, 1.0, 0.0),
    ("large_entries", "bjorck", M, 3.0, 0.0),
    ("zero_r", "bjorck", M, 0.0, 0.0),
    ("near_fold", "bjorck", M, 1.0, 40.0),
]


def _params(regime, dtype, seed=0, batch=(B,)):
    """Valid (q, r, r_tilde, b) as NumPy arrays for a regime."""
    _, construction, m, scale, fold = regime
    rng = np.random.default_rng(seed)
    if construction == "bjorck":
        q = orthogonalize_bjorck(rng.normal(size=batch + (D, m)).astype(dtype)).numpy()
    elif construction == "householder":
        q = householder_product(rng.normal(size=batch + (D, D)).astype(dtype)).numpy()
    else:
        q = np.broadcast_to(triangular_q(D, reverse=True, dtype=dtype).numpy(), batch + (D, D))
    raw_r = rng.normal(size=batch + (m, m)) * scale
    raw_r_tilde = rng.normal(size=batch + (m, m)) * scale
    raw_r[..., np.arange(m), np.arange(m)] += fold
    raw_r_tilde[..., np.arange(m), np.arange(m)] -= fold
    r, r_tilde = sylvester_constrain_diagonals(raw_r.astype(dtype), raw_r_tilde.astype(dtype))
    b = rng.normal(size=batch + (m,)) * (0.0 if fold else 1.0)
    return [np.asarray(x).astype(dtype) for x in (q, r.numpy(), r_tilde.numpy(), b)]


def _points(dtype, shape, seed=1, scale=2.0):
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(dtype)


def _inverse_norms(bijector, z):
    """‖(∂f/∂z)⁻¹‖₂ at each z [B, D] (float64), the conditioning of the inverse problem."""
    z = tf.constant(z, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(z)
        y = bijector.forward(z)
    jacobian = tape.batch_jacobian(y, z).numpy()
    return np.linalg.norm(np.linalg.inv(jacobian), 2, axis=(-2, -1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("regime", REGIMES, ids=[r[0] for r in REGIMES])
def test_round_trips(regime, dtype):
    """f⁻¹(f(z)) = z and f(f⁻¹(y)) = y (NumPy inputs, so TFP's cache cannot answer).

    Tolerance: the inverse is as accurate as the problem's conditioning allows; the error,
    relative to 1 + max|y|, is measured ≤ ~1.2·eps·‖(∂f/∂z)⁻¹‖₂ (the docstring's figure), and
    asserted with a margin of 20 (f(f⁻¹(y)) = y needs no conditioning factor).
    """
    bijector = Sylvester(*_params(regime, dtype))
    eps = np.finfo(dtype).eps
    z = _points(dtype, (B, D))
    y = bijector.forward(z).numpy()
    conditioning = _inverse_norms(Sylvester(*_params(regime, np.float64)), z)
    error = np.max(np.abs(bijector.inverse(y).numpy() - z), axis=-1)
    scale = 1 + np.max(np.abs(y), axis=-1)
    assert np.all(error <= 20 * eps * np.maximum(conditioning, 1) * scale)
    y_direct = _points(dtype, (5, B, D), seed=2, scale=4.0)
    x = bijector.inverse(y_direct).numpy()
    np.testing.assert_allclose(bijector.forward(x).numpy(), y_direct,
                               atol=100 * eps * (1 + np.max(np.abs(y_direct))))
    assert np.all(np.isfinite(bijector.forward_log_det_jacobian(z, 1).numpy()))
    assert np.all(np.isfinite(bijector.inverse_log_det_jacobian(y_direct, 1).numpy()))


def test_round_trip_float64_is_near_machine_precision():
    bijector = Sylvester(*_params(REGIMES[0], np.float64, seed=5, batch=(50,)))
    z = _points(np.float64, (50, D), seed=6)
    z_back = bijector.inverse(bijector.forward(z).numpy()).numpy()
    assert np.max(np.abs(z_back - z)) < 50 * np.finfo(np.float64).eps * np.max(np.abs(z))


@pytest.mark.parametrize("regime", REGIMES, ids=[r[0] for r in REGIMES])
def test_log_dets_match_autodiff_jacobian(regime):
    """FLDJ(z) = log|det ∂f/∂z| from a batch Jacobian, and ILDJ(y) = −FLDJ(f⁻¹(y))."""
    bijector = Sylvester(*_params(regime, np.float64))
    z = tf.constant(_points(np.float64, (B, D)))
    with tf.GradientTape() as tape:
        tape.watch(z)
        y = bijector.forward(z)
    _, expected = np.linalg.slogdet(tape.batch_jacobian(y, z).numpy())
    fldj = bijector.forward_log_det_jacobian(z, event_ndims=1).numpy()
    np.testing.assert_allclose(fldj, expected, rtol=1e-9, atol=1e-9)
    y_new = _points(np.float64, (B, D), seed=3, scale=4.0)
    ildj = bijector.inverse_log_det_jacobian(y_new, event_ndims=1).numpy()
    x = bijector.inverse(y_new).numpy()
    np.testing.assert_allclose(
        ildj, -bijector.forward_log_det_jacobian(x, event_ndims=1).numpy(), rtol=1e-9, atol=1e-9)


def test_only_the_upper_triangles_of_r_and_r_tilde_are_read():
    q, r, r_tilde, b = _params(REGIMES[0], np.float64)
    noise = np.tril(np.random.default_rng(3).normal(size=r.shape), k=-1)
    z = _points(np.float64, (B, D))
    np.testing.assert_array_equal(
        Sylvester(q, r + noise, r_tilde - noise, b).forward(z).numpy(),
        Sylvester(q, r, r_tilde, b).forward(z).numpy())


def test_constrain_diagonals_gives_upper_triangles_with_kappa_above_minus_one():
    """R = triu(raw) with diagonal tanh(diag raw); 1 + R̃ᵢᵢRᵢᵢ > 0 even where tanh rounds to ±1."""
    for dtype in (np.float32, np.float64):
        rng = np.random.default_rng(4)
        raw_r = rng.normal(size=(200, M, M)) * 30
        raw_r_tilde = -raw_r + rng.normal(size=(200, M, M))
        r, r_tilde = sylvester_constrain_diagonals(raw_r.astype(dtype), raw_r_tilde.astype(dtype))
        r, r_tilde = r.numpy(), r_tilde.numpy()
        np.testing.assert_array_equal(np.tril(r, k=-1), 0)
        np.testing.assert_array_equal(np.triu(r, k=1), np.triu(raw_r.astype(dtype), k=1))
        diag = np.diagonal(raw_r, axis1=-2, axis2=-1)
        np.testing.assert_allclose(np.diagonal(r, axis1=-2, axis2=-1), np.tanh(diag), atol=2 *
                                   np.finfo(dtype).eps)
        one_plus_kappa = 1 + np.diagonal(r, axis1=-2, axis2=-1) * np.diagonal(
            r_tilde, axis1=-2, axis2=-1)
        assert np.all(one_plus_kappa > 0)
        assert np.sum(np.abs(diag) > 20) > 100  # The sweep reaches tanh's rounding to ±1.


@pytest.mark.parametrize(
    "param_batch, z_shape",
    [((), (6, D)), ((B,), (6, B, D)), ((2, B), (2, B, D)), ((2, B), (5, 1, B, D))],
)
def test_batch_shapes_broadcast(param_batch, z_shape):
    """Batched parameters act element-wise: each batch member equals its unbatched bijector."""
    q, r, r_tilde, b = _params(REGIMES[0], np.float64, batch=param_batch)
    bijector = Sylvester(q, r, r_tilde, b)
    assert bijector.experimental_batch_shape() == param_batch
    z = _points(np.float64, z_shape)
    y = bijector.forward(z).numpy()
    fldj = bijector.forward_log_det_jacobian(z, 1).numpy()
    out_batch = np.broadcast_shapes(z_shape[:-1], param_batch)
    assert y.shape == out_batch + (D,) and fldj.shape == out_batch
    x = bijector.inverse(y).numpy()
    np.testing.assert_allclose(x, np.broadcast_to(z, x.shape), atol=1e-12)
    z_b = np.broadcast_to(z, out_batch + (D,))
    for index in np.ndindex(*param_batch):
        single = Sylvester(q[index], r[index], r_tilde[index], b[index])
        sel = (Ellipsis,) + index + (slice(None),)
        np.testing.assert_allclose(y[sel], single.forward(z_b[sel]).numpy(), rtol=1e-12)
        np.testing.assert_allclose(
            fldj[(Ellipsis,) + index], single.forward_log_det_jacobian(z_b[sel], 1).numpy(),
            rtol=1e-12)
        sliced = bijector[index]
        assert sliced.experimental_batch_shape() == ()
        np.testing.assert_allclose(sliced.q.numpy(), q[index])


def test_global_parameters_broadcast_against_a_batch_of_points():
    """Unbatched (Q, R, R̃, b) (a global flow) transform z [N, D] and round-trip."""
    bijector = Sylvester(*_params(REGIMES[1], np.float64, batch=()))
    z = _points(np.float64, (7, D))
    y = bijector.forward(z).numpy()
    np.testing.assert_allclose(bijector.inverse(y).numpy(), z, atol=1e-12)
    assert bijector.inverse_log_det_jacobian(y, 1).shape == (7,)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_xla_matches_eager(dtype):
    bijector = Sylvester(*_params(REGIMES[1], dtype))
    z = _points(dtype, (5, B, D))

    def all_methods(bij, x):
        return (bij.forward(x), bij.inverse(x), bij.forward_log_det_jacobian(x, 1),
                bij.inverse_log_det_jacobian(x, 1))

    eager = all_methods(bijector, tf.constant(z))
    compiled = tf.function(all_methods, jit_compile=True)(bijector, tf.constant(z))
    tol = 1e-12 if dtype == np.float64 else 2e-5
    for e, c in zip(eager, compiled):
        np.testing.assert_allclose(c.numpy(), e.numpy(), rtol=tol, atol=tol * 10)


def test_training_step_with_bjorck_under_xla_matches_eager():
    """forward + fldj + gradients through Björck, the constraint and a 2-step chain agree
    compiled and eager (Björck's while_loop has gradients under XLA)."""
    rng = np.random.default_rng(8)
    raws = [tf.Variable(rng.normal(size=shape)) for shape in
            [(B, D, M), (B, M, M), (B, M, M), (B, M)] * 2]

    def step(z):
        with tf.GradientTape() as tape:
            flows = []
            for k in range(2):
                a, raw_r, raw_r_tilde, b = raws[4 * k:4 * k + 4]
                flows.append(Sylvester(orthogonalize_bjorck(a),
                                       *sylvester_constrain_diagonals(raw_r, raw_r_tilde), b))
            chain = tfp.bijectors.Chain(flows)
            loss = tf.reduce_sum(chain.forward(z) ** 2) - tf.reduce_sum(
                chain.forward_log_det_jacobian(z, 1))
        return [loss] + list(tape.gradient(loss, raws))

    z = tf.constant(_points(np.float64, (5, B, D)))
    for e, c in zip(step(z), tf.function(step, jit_compile=True)(z)):
        assert np.all(np.isfinite(c.numpy()))
        np.testing.assert_allclose(c.numpy(), e.numpy(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("regime", [REGIMES[0], REGIMES[3], REGIMES[4], REGIMES[5]],
                         ids=["random", "large_entries", "zero_r", "near_fold"])
def test_parameter_gradients_are_finite(regime):
    """Gradients of forward, both log-dets and the inverse reach every parameter, finitely."""
    variables = [tf.Variable(p) for p in _params(regime, np.float32)]
    bijector = Sylvester(*variables)
    z = _points(np.float32, (5, B, D))
    with tf.GradientTape() as tape:
        loss = (tf.reduce_sum(bijector.forward(z)) + tf.reduce_sum(
            bijector.forward_log_det_jacobian(z, 1)) + tf.reduce_sum(bijector.inverse(z + 1))
            + tf.reduce_sum(bijector.inverse_log_det_jacobian(z + 1, 1)))
    for grad in tape.gradient(loss, variables):
        assert grad is not None and np.all(np.isfinite(grad.numpy()))


def test_raw_parameter_gradients_are_finite_at_extreme_raw_values():
    """Through `sylvester_constrain_diagonals` with raw diagonals ±50 (tanh rounded to ±1)."""
    raw = np.full((B, M, M), 50.0, np.float32)
    raw_r, raw_r_tilde = tf.Variable(raw), tf.Variable(-raw)
    q = orthogonalize_bjorck(np.random.default_rng(2).normal(size=(B, D, M)).astype(np.float32))
    z = _points(np.float32, (B, D), scale=1e-3)  # x ≈ 0, where tanh′ = 1: at the fold.
    with tf.GradientTape() as tape:
        bijector = Sylvester(q, *sylvester_constrain_diagonals(raw_r, raw_r_tilde),
                             tf.zeros([B, M]))
        fldj = bijector.forward_log_det_jacobian(z, 1)
        loss = tf.reduce_sum(bijector.forward(z)) + tf.reduce_sum(fldj)
    assert np.all(np.isfinite(fldj.numpy())) and np.all(fldj.numpy() < -10)
    for grad in tape.gradient(loss, [raw_r, raw_r_tilde]):
        assert np.all(np.isfinite(grad.numpy()))


def test_inverse_gradient_matches_finite_differences():
    """The final Newton step carries the implicit-function gradient of the inverse."""
    params = _params(REGIMES[0], np.float64)
    y = _points(np.float64, (B, D), seed=9)

    def loss(*p):
        bij = Sylvester(*p)
        return tf.reduce_sum(tf.sin(bij.inverse(y))) + tf.reduce_sum(
            bij.inverse_log_det_jacobian(y, 1))

    tensors = [tf.constant(p) for p in params]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        value = loss(*tensors)
    grads = tape.gradient(value, tensors)
    step = 1e-6
    # R, R̃ and b enter freely; Q is perturbed off orthonormality by finite differences, which
    # leaves the identity the inverse solves (its gradient is that of the formula), so check
    # it too.
    for i, param in enumerate(params):
        flat = param.reshape(-1)
        for j in range(0, flat.size, 11):
            shifted = []
            for sign in (1, -1):
                moved = flat.copy()
                moved[j] += sign * step
                args = list(params)
                args[i] = moved.reshape(param.shape)
                shifted.append(loss(*args).numpy())
            if i in (1, 2) and (j // M) % M > j % M:
                assert grads[i].numpy().reshape(-1)[j] == 0  # Below the diagonal: unread.
                continue
            numeric = (shifted[0] - shifted[1]) / (2 * step)
            np.testing.assert_allclose(
                grads[i].numpy().reshape(-1)[j], numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inverse_sweeps_stay_within_the_cap(dtype):
    """The Jacobi solver stops within M + 1 sweeps with a residual at the rounding level."""
    m = 12
    rng = np.random.default_rng(12)
    r, r_tilde = sylvester_constrain_diagonals(rng.normal(size=(64, m, m)).astype(dtype),
                                               rng.normal(size=(64, m, m)).astype(dtype))
    b = rng.normal(size=(64, m)).astype(dtype)
    c = (rng.normal(size=(64, m)) * 3).astype(dtype)
    one_plus_kappa = 1 + tf.linalg.diag_part(r) * tf.linalg.diag_part(r_tilde)
    a, sweeps = sylvester_lib._solve_coordinates(  # pylint: disable=protected-access
        tf.constant(c), r, r_tilde, tf.constant(b), one_plus_kappa)
    assert 1 <= int(sweeps) <= m + 1
    a64, r64, rt64 = (np.asarray(t, np.float64) for t in (a, r, r_tilde))
    residual = a64 + np.einsum("bij,bj->bi", r64, np.tanh(
        np.einsum("bij,bj->bi", rt64, a64) + b)) - c
    bound = np.abs(c) + np.abs(a64) + np.einsum("bij->bi", np.abs(r64))
    assert np.max(np.abs(residual) / bound) < 50 * np.finfo(dtype).eps


def test_flow_density_integrates_to_one_in_two_dimensions():
    """A Sylvester-transformed normal in 2D is a density: its grid integral is 1."""
    q = householder_product(np.array([[1.0, 2.0]]))
    r, r_tilde = sylvester_constrain_diagonals(np.array([[1.5, 2.0], [0.0, -0.5]]),
                                               np.array([[0.8, -1.0], [0.0, 2.0]]))
    dist = tfp.distributions.TransformedDistribution(
        tfp.distributions.MultivariateNormalDiag(tf.zeros(2, tf.float64)),
        Sylvester(q, r, r_tilde, tf.constant([0.3, -0.2], tf.float64)))
    grid = np.linspace(-9, 9, 301)
    points = np.stack(np.meshgrid(grid, grid, indexing="ij"), axis=-1).reshape(-1, 2)
    total = np.sum(np.exp(dist.log_prob(points).numpy())) * (grid[1] - grid[0]) ** 2
    assert abs(total - 1) < 2e-3  # Riemann sum on a grid of step 0.06 over [−9, 9]².


# ---- Errors -----------------------------------------------------------------------------


def test_static_shape_errors_name_the_argument():
    q, r, r_tilde, b = _params(REGIMES[0], np.float32)
    with pytest.raises(ValueError, match="`q` must have shape \\[..., D, M\\] with M <= D"):
        Sylvester(np.zeros([B, 2, 3], np.float32), r, r_tilde, b)
    with pytest.raises(ValueError, match="`r` must be square"):
        Sylvester(q, r[..., :2], r_tilde, b)
    with pytest.raises(ValueError, match="`q` and `r_tilde` must agree on M"):
        Sylvester(q, r, np.zeros([B, 2, 2], np.float32), b)
    with pytest.raises(ValueError, match="`b` must have shape"):
        Sylvester(q, r, r_tilde, np.float32(0))
    with pytest.raises(ValueError, match="`b` has batch shape \\(3,\\)"):
        Sylvester(q, r, r_tilde, np.zeros([3, M], np.float32))
    with pytest.raises(TypeError, match="must share one floating dtype"):
        Sylvester(q.astype(np.float64), r, r_tilde, b)


def test_input_of_wrong_event_size_raises():
    bijector = Sylvester(*_params(REGIMES[0], np.float32))
    with pytest.raises(ValueError, match="`x`.*event size.*5"):
        bijector.forward(np.zeros([B, 3], np.float32))
    with pytest.raises(ValueError, match="`y`.*event size.*5"):
        bijector.inverse(np.zeros([B, 1], np.float32))


def test_validate_args_rejects_non_orthonormal_q_and_folding_diagonals():
    q, r, r_tilde, b = _params(REGIMES[0], np.float32)
    Sylvester(q, r, r_tilde, b, validate_args=True)  # Valid parameters pass.
    with pytest.raises(tf.errors.InvalidArgumentError, match="`q` must have orthonormal"):
        Sylvester(q * 1.01, r, r_tilde, b, validate_args=True)
    r_bad = r.copy()
    r_bad[..., 0, 0], r_tilde[..., 0, 0] = 2.0, -0.5
    with pytest.raises(tf.errors.InvalidArgumentError, match="`r` and `r_tilde` must satisfy"):
        Sylvester(q, r_bad, r_tilde, b, validate_args=True)


def test_validate_args_checks_variables_at_use():
    q, r, r_tilde, b = _params(REGIMES[0], np.float32)
    q_var = tf.Variable(q)
    bijector = Sylvester(q_var, r, r_tilde, b, validate_args=True)
    bijector.forward(np.zeros([B, D], np.float32))
    q_var.assign(q * 2)
    with pytest.raises(tf.errors.InvalidArgumentError, match="`q` must have orthonormal"):
        bijector.forward(np.zeros([B, D], np.float32))


def test_dynamic_shape_mismatches_are_asserted_under_validate_args():
    q, r, r_tilde, b = _params(REGIMES[0], np.float32)
    spec = tf.TensorSpec(None, tf.float32)

    @tf.function(input_signature=[spec, spec])
    def forward(b_, z):
        return Sylvester(q, r, r_tilde, b_, validate_args=True).forward(z)

    forward(b, np.zeros([B, D], np.float32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="`b` must have size M"):
        forward(np.zeros([B, 2], np.float32), np.zeros([B, D], np.float32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="`x`"):
        forward(b, np.zeros([B, 2], np.float32))
