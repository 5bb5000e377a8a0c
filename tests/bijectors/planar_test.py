"""Tests for tfp_nfvi.bijectors.Planar: bijectivity, log-dets, batch shapes, XLA, errors."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_nfvi.bijectors import Planar, planar_constrain

D = 3
B = 4

# Parameter regimes: (name, u scale, w scale, b scale). "negative_wu" makes wᵀu very negative,
# so 1 + wᵀû = softplus(wᵀu) is tiny and the map nearly folds.
REGIMES = [
    ("random", 1.0, 1.0, 1.0),
    ("large_u", 100.0, 1.0, 1.0),
    ("large_w", 1.0, 30.0, 5.0),
    ("tiny_w", 1.0, 1e-7, 1.0),
    ("zero_w", 1.0, 0.0, 1.0),
    ("negative_wu", 1.0, 1.0, 0.0),
]


def _params(regime, dtype, seed=0, batch=(B,)):
    _, u_scale, w_scale, b_scale = regime
    rng = np.random.default_rng(seed)
    u = rng.normal(size=batch + (D,)) * u_scale
    w = rng.normal(size=batch + (D,)) * w_scale
    if regime[0] == "negative_wu":
        u = -8.0 * w / np.sum(w**2, axis=-1, keepdims=True)  # wᵀu = −8.
    b = rng.normal(size=batch) * b_scale
    return [x.astype(dtype) for x in (u, w, b)]


def _points(dtype, shape, seed=1, scale=2.0):
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("regime", REGIMES, ids=[r[0] for r in REGIMES])
def test_round_trips(regime, dtype):
    """f⁻¹(f(z)) = z and f(f⁻¹(y)) = y; float64 to ~1e-12 relative, float32 to ~1e-4.

    Inputs go in as NumPy arrays so that TFP's forward/inverse cache cannot answer.
    """
    bijector = Planar(*_params(regime, dtype))
    z = _points(dtype, (5, B, D))
    y = bijector.forward(z).numpy()
    scale = 1.0 + np.max(np.abs(y))
    tol = 1e-12 if dtype == np.float64 else 2e-4
    np.testing.assert_allclose(bijector.inverse(y).numpy(), z, atol=tol * scale)
    y_direct = _points(dtype, (5, B, D), seed=2, scale=5.0)
    x = bijector.inverse(y_direct).numpy()
    np.testing.assert_allclose(bijector.forward(x).numpy(), y_direct, atol=tol * scale)
    assert np.all(np.isfinite(bijector.forward_log_det_jacobian(z, 1).numpy()))
    assert np.all(np.isfinite(bijector.inverse_log_det_jacobian(y_direct, 1).numpy()))


def test_round_trip_float64_is_near_machine_precision():
    bijector = Planar(*_params(REGIMES[0], np.float64, seed=5))
    z = _points(np.float64, (200, B, D), seed=6)
    z_back = bijector.inverse(bijector.forward(z).numpy()).numpy()
    assert np.max(np.abs(z_back - z)) < 50 * np.finfo(np.float64).eps * np.max(np.abs(z))


@pytest.mark.parametrize("regime", REGIMES, ids=[r[0] for r in REGIMES])
def test_log_dets_match_autodiff_jacobian(regime):
    """FLDJ(z) = log|det ∂f/∂z| from a batch Jacobian, and ILDJ(y) = −FLDJ(f⁻¹(y))."""
    u, w, b = _params(regime, np.float64)
    bijector = Planar(u, w, b)
    z = tf.constant(_points(np.float64, (B, D)))
    with tf.GradientTape() as tape:
        tape.watch(z)
        y = bijector.forward(z)
    jacobian = tape.batch_jacobian(y, z)
    _, expected = np.linalg.slogdet(jacobian.numpy())
    fldj = bijector.forward_log_det_jacobian(z, event_ndims=1).numpy()
    np.testing.assert_allclose(fldj, expected, rtol=1e-9, atol=1e-9)
    y_new = _points(np.float64, (B, D), seed=3, scale=4.0)
    ildj = bijector.inverse_log_det_jacobian(y_new, event_ndims=1).numpy()
    x = bijector.inverse(y_new).numpy()
    np.testing.assert_allclose(
        ildj, -bijector.forward_log_det_jacobian(x, event_ndims=1).numpy(), rtol=1e-9, atol=1e-9)


def test_constraint_gives_w_dot_u_hat_equal_to_m_of_w_dot_u():
    """wᵀû = m(wᵀu) = −1 + softplus(wᵀu) > −1 for any raw (u, w), even wᵀu ≪ −1.

    Tolerance: wᵀû is a sum of terms of size ‖w‖‖û‖, so it is exact to ~eps·‖w‖‖û‖.
    """
    rng = np.random.default_rng(7)
    w = rng.normal(size=(1000, D)) * 3
    u = rng.normal(size=(1000, D)) * 50
    u_hat = planar_constrain(u, w).numpy()
    wu = np.sum(w * u, axis=-1)
    w_dot_u_hat = np.sum(w * u_hat, axis=-1)
    expected = np.logaddexp(0.0, wu) - 1
    atol = 1e-14 * np.linalg.norm(w, axis=-1) * np.linalg.norm(u_hat, axis=-1)
    assert np.all(np.abs(w_dot_u_hat - expected) <= atol + 1e-15)
    assert np.all(w_dot_u_hat > -1 - atol)
    assert np.sum(wu < -1) > 100  # The sweep does exercise the constrained branch.


@pytest.mark.parametrize(
    "param_batch, z_shape",
    [((), (6, D)), ((B,), (6, B, D)), ((2, B), (2, B, D)), ((2, B), (5, 1, B, D))],
)
def test_batch_shapes_broadcast(param_batch, z_shape):
    """Batched parameters act element-wise: each batch member equals its unbatched bijector."""
    u, w, b = _params(REGIMES[0], np.float64, batch=param_batch)
    bijector = Planar(u, w, b)
    assert bijector.experimental_batch_shape() == param_batch
    z = _points(np.float64, z_shape)
    y = bijector.forward(z).numpy()
    fldj = bijector.forward_log_det_jacobian(z, 1).numpy()
    out_batch = np.broadcast_shapes(z_shape[:-1], param_batch)
    assert y.shape == out_batch + (D,) and fldj.shape == out_batch
    z_b = np.broadcast_to(z, out_batch + (D,))
    for index in np.ndindex(*param_batch):
        single = Planar(u[index], w[index], b[index])
        sel = (Ellipsis,) + index + (slice(None),)
        np.testing.assert_allclose(y[sel], single.forward(z_b[sel]).numpy(), rtol=1e-12)
        np.testing.assert_allclose(
            fldj[(Ellipsis,) + index], single.forward_log_det_jacobian(z_b[sel], 1).numpy(),
            rtol=1e-12)
        sliced = bijector[index]
        assert sliced.experimental_batch_shape() == ()
        np.testing.assert_allclose(sliced.u.numpy(), u[index])


def test_amortized_parameters_broadcast_against_samples():
    """An encoder's (u, w, b) of batch [B] transform z of shape [S, B, D] and round-trip."""
    u, w, b = _params(REGIMES[0], np.float32)
    bijector = Planar(u, w, b)
    z = _points(np.float32, (7, B, D))
    y = bijector.forward(z)
    assert y.shape == (7, B, D)
    assert bijector.inverse_log_det_jacobian(y.numpy(), 1).shape == (7, B)
    np.testing.assert_allclose(bijector.inverse(y.numpy()).numpy(), z, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_xla_matches_eager(dtype):
    u, w, b = _params(REGIMES[2], dtype)
    bijector = Planar(u, w, b)
    z = _points(dtype, (5, B, D))

    def all_methods(bij, x):
        return (bij.forward(x), bij.inverse(x), bij.forward_log_det_jacobian(x, 1),
                bij.inverse_log_det_jacobian(x, 1))

    eager = all_methods(bijector, tf.constant(z))
    compiled = tf.function(all_methods, jit_compile=True)(bijector, tf.constant(z))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for e, c in zip(eager, compiled):
        np.testing.assert_allclose(c.numpy(), e.numpy(), rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("w_scale", [1.0, 0.0], ids=["random_w", "zero_w"])
def test_parameter_gradients_are_finite(w_scale):
    """Gradients of forward, both log-dets and the inverse reach every parameter, finitely."""
    u, w, b = _params(("g", 1.0, w_scale, 1.0), np.float32)
    variables = [tf.Variable(p) for p in (u, w, b)]
    bijector = Planar(*variables)
    z = _points(np.float32, (5, B, D))
    with tf.GradientTape() as tape:
        loss = (tf.reduce_sum(bijector.forward(z)) + tf.reduce_sum(
            bijector.forward_log_det_jacobian(z, 1)) + tf.reduce_sum(bijector.inverse(z + 1))
            + tf.reduce_sum(bijector.inverse_log_det_jacobian(z + 1, 1)))
    grads = tape.gradient(loss, variables)
    for grad in grads:
        assert grad is not None and np.all(np.isfinite(grad.numpy()))


def test_inverse_gradient_matches_finite_differences():
    """The Newton-polished root carries the implicit-function gradient of the inverse."""
    u, w, b = _params(REGIMES[0], np.float64)
    y = _points(np.float64, (B, D), seed=9)

    def loss(u_, w_, b_):
        bij = Planar(u_, w_, b_)
        return tf.reduce_sum(tf.sin(bij.inverse(y))) + tf.reduce_sum(
            bij.inverse_log_det_jacobian(y, 1))

    params = [tf.constant(p) for p in (u, w, b)]
    with tf.GradientTape() as tape:
        tape.watch(params)
        value = loss(*params)
    grads = tape.gradient(value, params)
    step = 1e-6
    for i, param in enumerate((u, w, b)):
        flat = param.reshape(-1)
        for j in range(0, flat.size, 3):
            plus, minus = flat.copy(), flat.copy()
            plus[j] += step
            minus[j] -= step
            args_p = [p for p in (u, w, b)]
            args_m = list(args_p)
            args_p[i], args_m[i] = plus.reshape(param.shape), minus.reshape(param.shape)
            numeric = (loss(*args_p) - loss(*args_m)).numpy() / (2 * step)
            np.testing.assert_allclose(
                grads[i].numpy().reshape(-1)[j], numeric, rtol=1e-5, atol=1e-6)


def test_forward_follows_variable_updates_in_eager_mode():
    """The per-input memo of wᵀz + b (used inside tf.function) never serves stale values."""
    b = tf.Variable(0.0)
    bijector = Planar([1.0, 0.0], [1.0, 1.0], b)
    z = tf.constant([[0.5, 0.2]])
    bijector.forward(z)
    b.assign(1.0)
    np.testing.assert_allclose(
        bijector.forward(z).numpy(), Planar([1.0, 0.0], [1.0, 1.0], 1.0).forward(z).numpy())


def test_chain_step_under_xla_matches_eager():
    """forward + fldj + gradients of a planar chain agree compiled and eager (the compiled
    path shares wᵀz + b between forward and log-det through TFP's per-input cache)."""
    flows = [Planar(*[tf.Variable(p) for p in _params(REGIMES[0], np.float64, seed=s)])
             for s in range(3)]
    chain = tfp.bijectors.Chain(flows)
    variables = chain.trainable_variables
    z = tf.constant(_points(np.float64, (5, B, D)))

    def step(z):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(chain.forward(z) ** 2) - tf.reduce_sum(
                chain.forward_log_det_jacobian(z, 1))
        return [loss] + list(tape.gradient(loss, variables))

    for e, c in zip(step(z), tf.function(step, jit_compile=True)(z)):
        np.testing.assert_allclose(c.numpy(), e.numpy(), rtol=1e-10)


def test_make_trainable_builds_variables_of_the_right_shapes():
    bijector = tfp.experimental.util.make_trainable(
        Planar, batch_and_event_shape=[B, D], seed=(1, 2))
    shapes = sorted(tuple(v.shape) for v in bijector.trainable_variables)
    assert shapes == sorted([(B, D), (B, D), (B,)])
    assert bijector.experimental_batch_shape() == (B,)
    z = _points(np.float32, (B, D))
    np.testing.assert_allclose(bijector.inverse(bijector.forward(z).numpy()).numpy(), z,
                               atol=1e-4)


# ---- Errors -----------------------------------------------------------------------------


def test_mismatched_event_sizes_of_u_and_w_raise():
    with pytest.raises(ValueError, match="`u` and `w`.*event size"):
        Planar(np.zeros([B, 3]), np.zeros([B, 2]), np.zeros([B]))


def test_scalar_u_raises():
    with pytest.raises(ValueError, match="`u`.*rank"):
        Planar(0.0, np.zeros([2]), 0.0)


def test_b_with_an_event_dimension_raises():
    with pytest.raises(ValueError, match="`b` has shape \\(4, 3\\)"):
        Planar(np.zeros([B, 3]), np.zeros([B, 3]), np.zeros([B, 3]))


def test_input_of_wrong_event_size_raises():
    bijector = Planar(np.zeros([3]), np.ones([3]), 0.0)
    with pytest.raises(ValueError, match="`x`.*event size.*3"):
        bijector.forward(np.zeros([5, 2]))
    with pytest.raises(ValueError, match="`y`.*event size.*3"):
        bijector.inverse(np.zeros([5, 1]))


def test_integer_parameters_raise_type_error():
    with pytest.raises(TypeError, match="floating point"):
        Planar(np.zeros([3], np.int32), np.ones([3], np.int32), np.int32(0))


def test_mixed_dtypes_raise_type_error():
    with pytest.raises(TypeError, match="`u`, `w`, `b` must share one floating dtype"):
        Planar(np.zeros([3], np.float32), np.ones([3], np.float64), 0.0)


def test_dynamic_shape_mismatches_are_asserted_under_validate_args():
    """Shapes unknown until run time are checked by assertions when validate_args=True."""
    spec = tf.TensorSpec([None, None], tf.float32)

    @tf.function(input_signature=[spec, spec, spec])
    def forward(u, w, z):
        return Planar(u, w, tf.zeros([2]), validate_args=True).forward(z)

    ok = tf.ones([2, 3])
    forward(ok, ok, ok)
    with pytest.raises(tf.errors.InvalidArgumentError, match="`u` and `w`"):
        forward(ok, tf.ones([2, 1]), ok)
    with pytest.raises(tf.errors.InvalidArgumentError, match="`x`"):
        forward(ok, ok, tf.ones([2, 1]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_root_search_converges_in_few_iterations_even_near_a_fold(dtype):
    """The inverse's safeguarded Newton search stops within 12 steps (cap 40) with a residual
    of a few ulps, including 1 + wᵀû = softplus(wᵀu) down to ~1e-7 where g is nearly cubic."""
    from tfp_nfvi.bijectors import planar as planar_lib  # pylint: disable=g-import-not-at-top

    rng = np.random.default_rng(11)
    one_plus_c = np.logaddexp(0.0, rng.normal(size=5000) * 4)
    q = rng.normal(size=5000) * 3
    q[:50] = rng.normal(size=50) * 1e-6  # Roots at the fold's inflection point x ≈ 0.
    args = [tf.constant(v.astype(dtype)) for v in (q, one_plus_c - 1, one_plus_c, np.log(one_plus_c))]
    x, steps = planar_lib._find_root(*args)  # pylint: disable=protected-access
    assert int(steps) <= 12
    q64, c64 = [a.numpy().astype(np.float64) for a in args[:2]]
    x = x.numpy().astype(np.float64)
    residual = np.abs(x + c64 * np.tanh(x) - q64) / (1 + np.abs(q64) + np.abs(c64))
    assert residual.max() < 8 * np.finfo(dtype).eps


# ---- Exact points: the fold and tiny w ---------------------------------------------------


@pytest.mark.parametrize("dtype, w_dot_u", [(np.float32, -110.0), (np.float64, -800.0)])
def test_fold_where_one_plus_w_dot_u_hat_underflows(dtype, w_dot_u):
    """wᵀu = −110 (float32) or −800 (float64): 1 + wᵀû = softplus(wᵀu) underflows to 0.

    At y = 0 (wᵀy + b = 0) the exact inverse is 0 (f(0) = 0 + û·tanh(0)), the forward
    log-det at 0 is log softplus(wᵀu) = wᵀu to within e^{wᵀu}, and the inverse log-det is its
    negative. These were [[nan, nan]], −inf and nan.
    """
    bijector = Planar(np.array([w_dot_u / 10, 0.0], dtype), np.array([10.0, 0.0], dtype),
                      dtype(0.0))
    zero = np.zeros([1, 2], dtype)
    np.testing.assert_array_equal(bijector.inverse(zero).numpy(), zero)
    np.testing.assert_allclose(bijector.forward_log_det_jacobian(zero, 1).numpy(), [w_dot_u])
    np.testing.assert_allclose(bijector.inverse_log_det_jacobian(zero, 1).numpy(), [-w_dot_u])
    base = tfp.distributions.MultivariateNormalDiag(loc=tf.zeros(2, dtype))
    log_prob = tfp.distributions.TransformedDistribution(base, bijector).log_prob(zero)
    np.testing.assert_allclose(log_prob.numpy(), base.log_prob(zero).numpy() - w_dot_u)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_det_near_the_fold_matches_a_high_precision_reference(dtype):
    """log(1 + (1 − tanh²x)·wᵀû) and its gradients against 50-digit arithmetic, for wᵀu from
    −1e6 (far past underflow) to 30 and x from 0 to 20, including x ≈ √softplus(wᵀu), where
    the two terms of tanh²x + softplus(wᵀu)·sech²x are equal.

    Tolerance: 8 eps relative to max(1, |value|), the rounding of a few operations.
    """
    mpmath = pytest.importorskip("mpmath")
    from tfp_nfvi.bijectors import planar as planar_lib  # pylint: disable=g-import-not-at-top

    mpmath.mp.dps = 50
    w_dot_u = np.array([-1e6, -1500.0, -800.0, -300.0, -150.0, -110.0, -60.0, -20.0, -1.0, 0.0,
                        30.0])
    # Around both ends of the scaled form (x₀ = 1.8e-12 in float32, 1.3e-138 in float64) and
    # down to the smallest normal numbers (TensorFlow flushes subnormals to zero on CPU).
    xs = [0.0, 2.3e-308, 1e-300, 1e-138, 1e-137, 1.2e-38, 1e-30, 1e-20, 1e-12, 1e-11, 1e-4,
          0.3, 20.0]
    t, x = [a.reshape(-1) for a in np.meshgrid(w_dot_u, xs, indexing="ij")]
    # Add the points where x² = softplus(t), when representable.
    t = np.concatenate([t, w_dot_u])
    x = np.concatenate([x, np.exp(w_dot_u / 2)])
    x = x.astype(dtype)
    t = t.astype(dtype)
    x[(x > 0) & (x < np.finfo(dtype).tiny)] = 0  # A subnormal would be read as 0.

    def reference(t_, x_):
        sigma = mpmath.log1p(mpmath.exp(mpmath.mpf(float(t_))))
        x_ = mpmath.mpf(float(x_))
        return float(mpmath.log(mpmath.tanh(x_)**2 + sigma / mpmath.cosh(x_)**2))

    def reference_gradients(t_, x_):
        """∂/∂x and ∂/∂t of log(tanh²x + σ·sech²x), σ = softplus(t), in closed form."""
        t_, x_ = mpmath.mpf(float(t_)), mpmath.mpf(float(x_))
        sigma, sech_sq = mpmath.log1p(mpmath.exp(t_)), 1 / mpmath.cosh(x_)**2
        inner = mpmath.tanh(x_)**2 + sigma * sech_sq
        d_x = 2 * mpmath.tanh(x_) * sech_sq * (1 - sigma) / inner
        d_t = sech_sq / (1 + mpmath.exp(-t_)) / inner
        return float(d_x), float(d_t)

    expected = np.array([reference(a, b) for a, b in zip(t, x)])
    expected_dx, expected_dt = np.array([reference_gradients(a, b) for a, b in zip(t, x)]).T
    t_tensor, x_tensor = tf.constant(t), tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([t_tensor, x_tensor])
        one_plus_c = tf.math.softplus(t_tensor)
        log_one_plus_c = planar_lib._log_softplus(t_tensor)  # pylint: disable=protected-access
        value = planar_lib._log_abs_det(  # pylint: disable=protected-access
            x_tensor, one_plus_c, log_one_plus_c)
    actual = value.numpy()
    eps = np.finfo(dtype).eps
    bad = np.abs(actual - expected) > 8 * eps * np.maximum(1.0, np.abs(expected))
    assert not bad.any(), list(zip(t[bad], x[bad], actual[bad], expected[bad]))
    # Gradients (d/dx up to 2/x = 1.7e38, d/dt in [0, 1]): 64 eps relative or absolute (the
    # first form's d/dx near x = 0 is a difference of O(1) terms, so exact to ~eps absolute).
    d_x, d_t = [g.numpy() for g in tape.gradient(value, [x_tensor, t_tensor])]
    assert np.all(np.isfinite(d_x)) and np.all(np.isfinite(d_t))
    np.testing.assert_allclose(d_x, expected_dx, rtol=64 * eps, atol=64 * eps)
    np.testing.assert_allclose(d_t, expected_dt, rtol=64 * eps, atol=64 * eps)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inverse_near_the_fold_is_finite_and_backward_stable(dtype):
    """Past the fold f is nearly flat along w around wᵀz + b = 0, so f⁻¹ is ill-conditioned;
    it must still be finite, and f(f⁻¹(y)) = y to the rounding of y (backward stability)."""
    bijector = Planar(np.array([-11.0, 0.0], dtype), np.array([10.0, 0.0], dtype), dtype(0.0))
    y = np.array([[0.0, 0.0], [1e-30, 1.0], [-1e-7, 3.0], [1e-3, -2.0], [0.5, 0.0],
                  [30.0, 1.0]], dtype)
    x = bijector.inverse(y).numpy()
    assert np.all(np.isfinite(x))
    assert np.all(np.isfinite(bijector.inverse_log_det_jacobian(y, 1).numpy()))
    np.testing.assert_allclose(bijector.forward(x).numpy(), y, rtol=0,
                               atol=8 * np.finfo(dtype).eps * (1 + np.abs(y).max()))


@pytest.mark.parametrize("w_norm", [1e-8, 1e-10, 1e-12])
def test_float32_gradients_for_tiny_w_are_finite_and_match_float64(w_norm):
    """The division by ‖w‖² in û once differentiated into 1/‖w‖⁴ (1e40 for ‖w‖ = 1e-10),
    which overflows float32 although the gradient itself (~1/‖w‖²) does not.

    Tolerance 1e-4 relative: the float32 rounding of a few products of O(1/‖w‖²) terms.
    """
    rng = np.random.default_rng(3)
    u, w = rng.normal(size=(2, B, D))
    w *= w_norm / np.linalg.norm(w, axis=-1, keepdims=True)
    b = rng.normal(size=B)
    z = _points(np.float64, (5, B, D))

    def gradients(dtype):
        params = [tf.constant(p.astype(dtype)) for p in (u, w, b)]
        with tf.GradientTape() as tape:
            tape.watch(params)
            bijector = Planar(*params)
            x = tf.constant(z.astype(dtype))
            loss = (tf.reduce_sum(bijector.forward(x))
                    + tf.reduce_sum(bijector.forward_log_det_jacobian(x, 1))
                    + tf.reduce_sum(bijector.inverse_log_det_jacobian(x, 1)))
        return [g.numpy().astype(np.float64) for g in tape.gradient(loss, params)]

    for g32, g64 in zip(gradients(np.float32), gradients(np.float64)):
        assert np.all(np.isfinite(g32))
        np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-4 * np.abs(g64).max())
