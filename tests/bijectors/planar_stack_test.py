"""Tests for tfp_nfvi.bijectors.PlanarStack: equal to a chain of Planars, log-dets, XLA, errors."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_nfvi.bijectors import Planar, PlanarStack

tfb = tfp.bijectors

B, K, D = 3, 5, 4
# (name, u scale, w scale, b scale); "fold" puts every step at w_kᵀu_k = −120, where
# 1 + w_kᵀû_k = softplus(−120) underflows in float32 (the log-det stays finite, ≈ −120).
REGIMES = [
    ("random", 1.0, 1.0, 1.0),
    ("large_u", 30.0, 1.0, 1.0),
    ("large_w", 1.0, 30.0, 5.0),
    ("tiny_w", 1.0, 1e-7, 1.0),
    ("fold", 1.0, 1.0, 0.0),
]
# Float tolerances of the stack against the chain (the pre-activations are summed in another
# order: a_k = c_k + Σ_j (w_kᵀû_j)·h_j instead of w_kᵀz_{k−1} + b_k).
RTOL = {np.float32: 2e-4, np.float64: 1e-10}


def _params(regime, dtype, batch=(B,), seed=0):
    name, u_scale, w_scale, b_scale = regime
    rng = np.random.default_rng(seed)
    u = rng.normal(size=batch + (K, D)) * u_scale
    w = rng.normal(size=batch + (K, D)) * w_scale
    if name == "fold":
        u = -120.0 * w / np.sum(w**2, axis=-1, keepdims=True)
    b = rng.normal(size=batch + (K,)) * b_scale
    return [tf.constant(p.astype(dtype)) for p in (u, w, b)]


def _chain(u, w, b):
    """The same flow as a `tfb.Chain` of K `Planar`s (step 0 acts first)."""
    return tfb.Chain(
        [Planar(u[..., k, :], w[..., k, :], b[..., k]) for k in range(u.shape[-2])][::-1])


def _outputs_and_gradients(make, params, x):
    """forward, inverse and both log-dets of `make(*params)`, and their parameter/input grads."""
    x = tf.constant(x)
    rng = np.random.default_rng(2)
    results = {}
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(params + [x])
        bijector = make(*params)
        outputs = dict(
            forward=bijector.forward(x),
            fldj=bijector.forward_log_det_jacobian(x, event_ndims=1),
            inverse=bijector.inverse(tf.identity(x)),
            ildj=bijector.inverse_log_det_jacobian(tf.identity(x), event_ndims=1))
    for name, value in outputs.items():
        results[name] = value.numpy()
        cotangent = tf.constant(rng.uniform(0.5, 1.5, value.shape).astype(value.dtype.name))
        grads = tape.gradient(value, params + [x], output_gradients=cotangent)
        for arg, grad in zip(("u", "w", "b", "x"), grads):
            results[f"d{name}/d{arg}"] = grad.numpy()
    return results


def _assert_close(actual, expected, rtol):
    for key, value in expected.items():
        scale = max(1.0, float(np.max(np.abs(value))))  # relative to the largest entry
        np.testing.assert_allclose(actual[key], value, rtol=rtol, atol=rtol * scale,
                                   err_msg=key)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("regime", REGIMES, ids=[r[0] for r in REGIMES])
def test_values_and_gradients_equal_a_chain_of_planars(regime, dtype):
    params = _params(regime, dtype)
    x = np.random.default_rng(1).normal(size=(2, B, D)).astype(dtype)
    stack = _outputs_and_gradients(PlanarStack, params, x)
    chain = _outputs_and_gradients(_chain, params, x)
    assert all(np.all(np.isfinite(v)) for v in stack.values())
    _assert_close(stack, chain, RTOL[dtype])


# Well-conditioned regimes (with |û| ~ 1e7, as for tiny w, a round trip loses digits in the
# chain too; the chain-equality test above covers those).
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("regime", [REGIMES[0], REGIMES[2]], ids=["random", "large_w"])
def test_round_trip(regime, dtype):
    bijector = PlanarStack(*_params(regime, dtype))
    z = tf.constant(np.random.default_rng(3).normal(size=(6, B, D)).astype(dtype))
    z_back = bijector.inverse(tf.identity(bijector.forward(z)))
    np.testing.assert_allclose(z_back, z, rtol=RTOL[dtype], atol=RTOL[dtype])
    y = tf.identity(bijector.forward(z))
    np.testing.assert_allclose(
        bijector.inverse_log_det_jacobian(y, event_ndims=1),
        -bijector.forward_log_det_jacobian(z, event_ndims=1), rtol=RTOL[dtype], atol=1e-3
        if dtype == np.float32 else 1e-9)


@pytest.mark.parametrize("regime", REGIMES[:4], ids=[r[0] for r in REGIMES[:4]])
def test_log_dets_match_autodiff_jacobian(regime):
    u, w, b = _params(regime, np.float64, batch=())  # one flow, a batch of points
    bijector = PlanarStack(u, w, b)
    z = tf.constant(np.random.default_rng(4).normal(size=(7, D)))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(z)
        y = bijector.forward(z)
        y_in = tf.identity(y)
        tape.watch(y_in)
        z_back = bijector.inverse(y_in)
    _, forward = np.linalg.slogdet(tape.batch_jacobian(y, z).numpy())
    _, inverse = np.linalg.slogdet(tape.batch_jacobian(z_back, y_in).numpy())
    np.testing.assert_allclose(bijector.forward_log_det_jacobian(z, 1), forward, atol=1e-8)
    np.testing.assert_allclose(bijector.inverse_log_det_jacobian(y_in, 1), inverse, atol=1e-8)


@pytest.mark.parametrize(
    "param_batch, z_shape, expected",
    [((), (6, D), (6,)), ((B,), (2, B, D), (2, B)), ((B,), (D,), (B,)), ((2, 1), (B, D), (2, B))])
def test_batch_shapes_broadcast(param_batch, z_shape, expected):
    bijector = PlanarStack(*_params(REGIMES[0], np.float32, batch=param_batch))
    assert bijector.experimental_batch_shape() == param_batch
    z = tf.zeros(z_shape)
    assert bijector.forward(z).shape == expected + (D,)
    assert bijector.forward_log_det_jacobian(z, 1).shape == expected
    assert bijector.inverse(tf.ones(z_shape)).shape == expected + (D,)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_xla_matches_eager(dtype):
    params = _params(REGIMES[0], dtype)
    z = tf.constant(np.random.default_rng(5).normal(size=(2, B, D)).astype(dtype))

    def step(u, w, b, z):
        with tf.GradientTape() as tape:
            tape.watch([u, w, b])
            bijector = PlanarStack(u, w, b)
            loss = tf.reduce_sum(bijector.forward(z) ** 2) - tf.reduce_sum(
                bijector.forward_log_det_jacobian(z, 1))
        return [loss, bijector.inverse(z)] + tape.gradient(loss, [u, w, b])

    eager = step(*params, z)
    compiled = tf.function(step, jit_compile=True)(*params, z)
    for a, c in zip(eager, compiled):
        np.testing.assert_allclose(c, a, rtol=RTOL[dtype], atol=RTOL[dtype])


def test_single_step_equals_planar():
    u, w, b = _params(REGIMES[0], np.float64)
    stack = PlanarStack(u[:, :1], w[:, :1], b[:, :1])
    planar = Planar(u[:, 0], w[:, 0], b[:, 0])
    z = tf.constant(np.random.default_rng(6).normal(size=(2, B, D)))
    np.testing.assert_allclose(stack.forward(z), planar.forward(z), rtol=1e-14)
    np.testing.assert_allclose(
        stack.forward_log_det_jacobian(z, 1), planar.forward_log_det_jacobian(z, 1), rtol=1e-14)


def test_static_shape_errors_name_the_argument():
    u, w, b = tf.zeros([B, K, D]), tf.zeros([B, K, D]), tf.zeros([B, K])
    with pytest.raises(ValueError, match=r"`u` must have shape \[..., K, D\].*\(4,\)"):
        PlanarStack(tf.zeros([D]), tf.zeros([D]), tf.zeros([]))
    with pytest.raises(ValueError, match="same number of steps K.*b: \\(3, 2\\)"):
        PlanarStack(u, w, tf.zeros([B, 2]))
    with pytest.raises(ValueError, match="same event size"):
        PlanarStack(u, tf.zeros([B, K, D + 1]), b)
    with pytest.raises(ValueError, match="event size"):
        PlanarStack(u, w, b).forward(tf.zeros([B, D + 1]))
    with pytest.raises(TypeError, match="floating"):
        PlanarStack(np.zeros([K, D], np.int32), np.zeros([K, D], np.int32), np.zeros([K], np.int32))


def test_unknown_number_of_steps_raises_and_dynamic_shapes_are_asserted():
    @tf.function(input_signature=[tf.TensorSpec([None, None, D])] * 2 + [tf.TensorSpec(None)])
    def unknown_k(u, w, b):
        return PlanarStack(u, w, b).forward(tf.zeros([D]))

    with pytest.raises(ValueError, match="known statically"):
        unknown_k.get_concrete_function()

    @tf.function(input_signature=[tf.TensorSpec([None, K, None])] * 2 + [tf.TensorSpec([K])])
    def dynamic_d(u, w, b):
        return PlanarStack(u, w, b, validate_args=True).forward(tf.zeros([2, D]))

    with pytest.raises(tf.errors.InvalidArgumentError, match="same event size"):
        dynamic_d(tf.zeros([1, K, D]), tf.zeros([1, K, D + 1]), tf.zeros([K]))
