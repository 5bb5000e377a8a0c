"""Tests for tfp_nfvi.bijectors.Radial, and a mixed planar/radial flow density."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_nfvi.bijectors import Planar, Radial, radial_constrain

tfb = tfp.bijectors
tfd = tfp.distributions

D = 3
B = 4

# Regimes: (name, raw α, raw β offset): α = softplus(raw α), β = −α + softplus(raw β).
REGIMES = [
    ("random", None, None),
    ("alpha_near_zero", -15.0, None),
    ("beta_near_minus_alpha", None, -12.0),
    ("both_extreme", -12.0, -12.0),
    ("large_beta", None, 6.0),
]


def _params(regime, dtype, seed=0, batch=(B,)):
    rng = np.random.default_rng(seed)
    center = rng.normal(size=batch + (D,))
    raw_alpha = rng.normal(size=batch) if regime[1] is None else np.full(batch, regime[1])
    raw_beta = rng.normal(size=batch) if regime[2] is None else np.full(batch, regime[2])
    alpha, beta = radial_constrain(raw_alpha, raw_beta)
    return [x.astype(dtype) for x in (center, alpha.numpy(), beta.numpy())]


def _points(dtype, shape, seed=1, scale=2.0):
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(dtype)


def test_radial_constrain_gives_valid_parameters():
    alpha, beta = radial_constrain(np.linspace(-30, 30, 101), np.linspace(30, -30, 101))
    assert np.all(alpha.numpy() > 0) and np.all(beta.numpy() >= -alpha.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("regime", REGIMES, ids=[r[0] for r in REGIMES])
def test_round_trips(regime, dtype):
    """f⁻¹(f(z)) = z and f(f⁻¹(y)) = y (NumPy inputs, so TFP's cache cannot answer).

    Tolerance: the inverse is closed form, so float64 holds to ~1e-12 and float32 to ~1e-5
    relative to the largest coordinate, except near β = −α where f contracts a ball to almost
    a point and f⁻¹ amplifies rounding in y by up to (α + r)/(α + β + r).
    """
    bijector = Radial(*_params(regime, dtype))
    z = _points(dtype, (5, B, D))
    y = bijector.forward(z).numpy()
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(bijector.inverse(y).numpy(), z, atol=tol * 10)
    y_direct = _points(dtype, (5, B, D), seed=2, scale=5.0)
    x = bijector.inverse(y_direct).numpy()
    np.testing.assert_allclose(bijector.forward(x).numpy(), y_direct, atol=tol * 50)


@pytest.mark.parametrize("regime", REGIMES, ids=[r[0] for r in REGIMES])
def test_log_dets_match_autodiff_jacobian(regime):
    """FLDJ(z) = log|det ∂f/∂z| from a batch Jacobian, and ILDJ(y) = −FLDJ(f⁻¹(y))."""
    bijector = Radial(*_params(regime, np.float64))
    z = tf.constant(_points(np.float64, (B, D)))
    with tf.GradientTape() as tape:
        tape.watch(z)
        y = bijector.forward(z)
    _, expected = np.linalg.slogdet(tape.batch_jacobian(y, z).numpy())
    np.testing.assert_allclose(
        bijector.forward_log_det_jacobian(z, 1).numpy(), expected, rtol=1e-9, atol=1e-9)
    y_new = _points(np.float64, (B, D), seed=3, scale=4.0)
    x = bijector.inverse(y_new).numpy()
    np.testing.assert_allclose(
        bijector.inverse_log_det_jacobian(y_new, 1).numpy(),
        -bijector.forward_log_det_jacobian(x, 1).numpy(), rtol=1e-9, atol=1e-9)


def test_values_and_gradients_are_finite_at_the_center():
    """At z = z₀ the norm's gradient is undefined; the flow still returns the right Jacobian."""
    center, alpha, beta = _params(REGIMES[0], np.float64)
    variables = [tf.Variable(p) for p in (center, alpha, beta)]
    bijector = Radial(*variables)
    z = tf.constant(center)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(z)
        y = bijector.forward(z)
        fldj = bijector.forward_log_det_jacobian(z, 1)
        ildj = bijector.inverse_log_det_jacobian(tf.identity(y), 1)
        loss = tf.reduce_sum(y) + tf.reduce_sum(fldj) + tf.reduce_sum(ildj)
    np.testing.assert_allclose(y.numpy(), center)
    # f is (1 + β/α)·(z − z₀) + z₀ to first order at the center: log det = D·log(1 + β/α).
    np.testing.assert_allclose(fldj.numpy(), D * np.log1p(beta / alpha), rtol=1e-12)
    np.testing.assert_allclose(ildj.numpy(), -fldj.numpy(), rtol=1e-12)
    jacobian = tape.batch_jacobian(y, z).numpy()
    np.testing.assert_allclose(
        jacobian, (1 + beta / alpha)[:, None, None] * np.eye(D), rtol=1e-12)
    for grad in tape.gradient(loss, variables + [z]):
        assert grad is not None and np.all(np.isfinite(grad.numpy()))


def test_parameter_gradients_are_finite_away_from_the_center():
    variables = [tf.Variable(p) for p in _params(REGIMES[3], np.float32)]
    bijector = Radial(*variables)
    z = _points(np.float32, (5, B, D))
    with tf.GradientTape() as tape:
        loss = (tf.reduce_sum(bijector.forward(z))
                + tf.reduce_sum(bijector.forward_log_det_jacobian(z, 1))
                + tf.reduce_sum(bijector.inverse(z + 1))
                + tf.reduce_sum(bijector.inverse_log_det_jacobian(z + 1, 1)))
    for grad in tape.gradient(loss, variables):
        assert grad is not None and np.all(np.isfinite(grad.numpy()))


@pytest.mark.parametrize(
    "param_batch, z_shape",
    [((), (6, D)), ((B,), (6, B, D)), ((2, B), (2, B, D)), ((2, B), (5, 1, B, D))],
)
def test_batch_shapes_broadcast(param_batch, z_shape):
    center, alpha, beta = _params(REGIMES[0], np.float64, batch=param_batch)
    bijector = Radial(center, alpha, beta)
    assert bijector.experimental_batch_shape() == param_batch
    z = _points(np.float64, z_shape)
    y = bijector.forward(z).numpy()
    ildj = bijector.inverse_log_det_jacobian(z, 1).numpy()
    out_batch = np.broadcast_shapes(z_shape[:-1], param_batch)
    assert y.shape == out_batch + (D,) and ildj.shape == out_batch
    z_b = np.broadcast_to(z, out_batch + (D,))
    for index in np.ndindex(*param_batch):
        single = bijector[index]
        assert single.experimental_batch_shape() == ()
        sel = (Ellipsis,) + index + (slice(None),)
        np.testing.assert_allclose(y[sel], single.forward(z_b[sel]).numpy(), rtol=1e-12)
        np.testing.assert_allclose(
            ildj[(Ellipsis,) + index], single.inverse_log_det_jacobian(z_b[sel], 1).numpy(),
            rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_xla_matches_eager(dtype):
    bijector = Radial(*_params(REGIMES[2], dtype))
    z = _points(dtype, (5, B, D))

    def all_methods(bij, x):
        return (bij.forward(x), bij.inverse(x), bij.forward_log_det_jacobian(x, 1),
                bij.inverse_log_det_jacobian(x, 1))

    eager = all_methods(bijector, tf.constant(z))
    compiled = tf.function(all_methods, jit_compile=True)(bijector, tf.constant(z))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for e, c in zip(eager, compiled):
        np.testing.assert_allclose(c.numpy(), e.numpy(), rtol=tol, atol=tol)


def _mixed_flow_2d():
    """A chain of 8 alternating planar and radial flows in 2D (float64), fixed seed."""
    rng = np.random.default_rng(42)
    flows = []
    for k in range(8):
        if k % 2 == 0:
            flows.append(Planar(rng.normal(size=2), rng.normal(size=2) * 1.5, rng.normal()))
        else:
            alpha, beta = radial_constrain(np.float64(rng.normal()), np.float64(rng.normal()))
            flows.append(Radial(rng.normal(size=2), alpha, beta))
    base = tfd.MultivariateNormalDiag(loc=tf.zeros(2, tf.float64))
    return tfd.TransformedDistribution(base, tfb.Chain(flows))


def test_mixed_chain_density_integrates_to_one():
    """∫ q(y) dy = 1 over a 2D grid.

    Grid: [−12, 12]², 601² points (spacing 0.04), midpoint rule. Tolerance 2e-3: the mass
    outside the box is < 1e-6 (checked from samples), and the rule's error for a smooth
    density at this spacing is ~1e-4; an error in a log-det of even 1% would move the
    integral by ~1e-2.
    """
    dist = _mixed_flow_2d()
    samples = dist.sample(20000, seed=(3, 4)).numpy()
    assert np.max(np.abs(samples)) < 12
    edges = np.linspace(-12, 12, 602)
    mid = (edges[1:] + edges[:-1]) / 2
    grid = np.stack(np.meshgrid(mid, mid), axis=-1).reshape(-1, 2)
    log_prob = tf.function(dist.log_prob, jit_compile=True)(grid).numpy()
    total = np.sum(np.exp(log_prob)) * (edges[1] - edges[0]) ** 2
    assert abs(total - 1.0) < 2e-3, total


def test_sample_and_log_prob_agrees_with_log_prob():
    """The forward-only log q along samples equals log_prob (which inverts) at those points."""
    dist = _mixed_flow_2d()
    samples, log_q = dist.experimental_sample_and_log_prob(500, seed=(5, 6))
    recomputed = dist.log_prob(samples.numpy()).numpy()
    np.testing.assert_allclose(log_q.numpy(), recomputed, rtol=1e-9, atol=1e-9)


# ---- Errors -----------------------------------------------------------------------------


def test_scalar_center_raises():
    with pytest.raises(ValueError, match="`center`.*rank"):
        Radial(0.0, 1.0, 0.0)


def test_alpha_with_an_event_dimension_raises():
    with pytest.raises(ValueError, match="`alpha` has shape \\(4, 3\\)"):
        Radial(np.zeros([B, 3]), np.ones([B, 3]), np.zeros([B]))


def test_input_of_wrong_event_size_raises():
    bijector = Radial(np.zeros([3]), 1.0, 0.0)
    with pytest.raises(ValueError, match="`x`.*event size.*3"):
        bijector.forward(np.zeros([5, 2]))
    with pytest.raises(ValueError, match="`y`.*event size.*3"):
        bijector.inverse_log_det_jacobian(np.zeros([5, 4]), 1)


def test_integer_parameters_raise_type_error():
    with pytest.raises(TypeError, match="`center`.*floating point"):
        Radial(np.zeros([3], np.int64), 1, 0)


@pytest.mark.parametrize(
    "alpha, beta, message",
    [(0.0, 0.0, "`alpha` must be positive"), (-1.0, 2.0, "`alpha` must be positive"),
     (1.0, -1.5, "`beta` must satisfy beta >= -alpha")],
)
def test_invalid_alpha_beta_raise_under_validate_args(alpha, beta, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        Radial(np.zeros([2]), alpha, beta, validate_args=True)


def test_invalid_variable_values_are_caught_when_used():
    alpha = tf.Variable(1.0)
    bijector = Radial(np.zeros([2], np.float32), alpha, -0.5, validate_args=True)
    bijector.forward(np.ones([2], np.float32))
    alpha.assign(0.25)  # Now β = −0.5 < −α.
    with pytest.raises(tf.errors.InvalidArgumentError, match="`beta`"):
        bijector.forward(np.ones([2], np.float32))


# ---- Exact points: the centre when β = −α -----------------------------------------------


def _collapsing_parameters(dtype):
    """Both examples of β = −α exactly: from `radial_constrain` (raw β = −20 rounds β to −α
    in float32; in float64 β = −α + 2e-9) and given directly."""
    alpha, beta = radial_constrain(dtype(0.5413), dtype(-20.0))
    return [(alpha.numpy(), beta.numpy()), (dtype(1.0), dtype(-1.0))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inverse_at_the_center_when_beta_is_minus_alpha(dtype):
    """f(z) − z₀ = (z − z₀)·r/(α + r) when β = −α, so f(z₀) = z₀ and f⁻¹(z₀) = z₀ (it was
    NaN, 0·α/0); the map collapses a neighbourhood onto z₀, so the inverse log-det there is
    +∞ and log_prob(z₀) = +∞ (never NaN). For β > −α (float64's first example) the values
    are finite and match the closed form D·log(1 + β/α) at the centre."""
    center = np.array([0.5, -2.0], dtype)
    for alpha, beta in _collapsing_parameters(dtype):
        bijector = Radial(center, alpha, beta, validate_args=True)
        y = center[np.newaxis]
        np.testing.assert_array_equal(bijector.inverse(y).numpy(), y)
        ildj = bijector.inverse_log_det_jacobian(y, 1).numpy()
        base = tfd.MultivariateNormalDiag(loc=tf.zeros(2, dtype))
        log_prob = tfd.TransformedDistribution(base, bijector).log_prob(y).numpy()
        if beta == -alpha:
            np.testing.assert_array_equal(ildj, [np.inf])
            np.testing.assert_array_equal(log_prob, [np.inf])
        else:
            np.testing.assert_allclose(ildj, [-2 * np.log1p(beta / alpha)], rtol=1e-6)
            assert np.all(np.isfinite(log_prob))
        # Near the centre the inverse is continuous: it tends to the centre.
        near = center + np.array([[1e-6, 0.0]], dtype)
        assert np.all(np.abs(bijector.inverse(near).numpy() - center) < 1e-2)


def test_one_dimensional_collapse_gives_minus_infinity_not_nan():
    """With D = 1 there is no tangential term; (D − 1)·log(0) was 0·(−∞) = NaN."""
    bijector = Radial(np.zeros([1]), 1.0, -1.0)
    np.testing.assert_array_equal(
        bijector.forward_log_det_jacobian(np.zeros([1, 1]), 1).numpy(), [-np.inf])
    np.testing.assert_array_equal(
        bijector.inverse_log_det_jacobian(np.zeros([1, 1]), 1).numpy(), [np.inf])
    # Away from the centre, D = 1: f(z) = z·|z|/(1 + |z|), log f'(z) = log(|z|(2 + |z|)) −
    # 2·log(1 + |z|).
    z = np.array([[0.5], [-3.0]])
    np.testing.assert_allclose(
        bijector.forward_log_det_jacobian(z, 1).numpy(),
        np.log(np.abs(z[:, 0]) * (2 + np.abs(z[:, 0]))) - 2 * np.log1p(np.abs(z[:, 0])))
