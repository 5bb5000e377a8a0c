"""Planar and radial flows at extreme parameters and inputs: no NaN, and ±∞ only where exact.

A bounded sweep, vectorized as one batch of parameter sets per dtype (float32 and float64):

  planar: |u|, ‖w‖ in {1e-3, 1, 1e3} (plus ‖w‖ = 1e-12, 1e-8 and w = 0), u aligned with,
          opposite to or orthogonal to w (opposite makes wᵀu down to −1e6, far past the fold
          where 1 + wᵀû = softplus(wᵀu) underflows), b in {−50, 0, 50}, inputs with
          coordinates in {0, ±1e-3, ±1, ±1e4}.
  radial: α in {1e-8, 1e-3, 1, 1e3}, β in {−α, −α(1 − 1e-3), 0, α, 1e3α} (β = −α exactly is
          what `radial_constrain` gives in float32 for raw β ≲ −17), centres 0 and ±1e3, and
          inputs at the centre and at distances 1e-6, 1 and 1e4 from it.

For every member it evaluates forward, inverse and both log-dets, and the gradients of each
(with a fixed random cotangent) with respect to every parameter and the input, and asserts
that every value is finite except where ±∞ is the exact answer:

  radial, β = −α, input at the centre: the map collapses a neighbourhood onto the centre, so
  log|det ∂f/∂z| = D·log(1 + β/α) = −∞ and the inverse log-det at the centre is +∞ (and
  `log_prob` there is +∞). The gradients of both log-dets at such a point, and the gradient
  of the inverse there (f⁻¹(y) − z₀ ~ √(α/‖y − z₀‖)·(y − z₀), which has no derivative at
  y = z₀), are excluded; the inverse itself must return the centre.

No other exclusion: in particular the planar fold (wᵀu ≪ 0) must give a finite forward
log-det ≈ log softplus(wᵀu), a finite inverse and inverse log-det, and finite gradients.
"""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_nfvi.bijectors import Planar, PlanarStack, Radial

tfb = tfp.bijectors

DTYPES = [np.float32, np.float64]


def _grid(*axes):
    """Cartesian product of the given 1-D index ranges, one flat array per axis."""
    return [g.reshape(-1) for g in np.meshgrid(*[np.arange(n) for n in axes], indexing="ij")]


def _evaluate(make_bijector, params, x, dtype, seed=0):
    """Values and gradients of forward, inverse, FLDJ and ILDJ of a batch of bijectors.

    Args:
      make_bijector: callable(*params) -> bijector with batch shape [N].
      params: list of NumPy arrays with leading dimension N.
      x: NumPy array [N, D]; used as the forward input and as the inverse input.

    Returns:
      dict name -> NumPy array with leading dimension N (the value, or a gradient of that
      method's output with respect to one parameter or the input).
    """
    variables = [tf.constant(p.astype(dtype)) for p in params]
    x = tf.constant(x.astype(dtype))
    rng = np.random.default_rng(seed)
    results = {}
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(variables + [x])
        bijector = make_bijector(*variables)
        outputs = {
            "forward": bijector.forward(x),
            "inverse": bijector.inverse(tf.identity(x)),
            "fldj": bijector.forward_log_det_jacobian(x, event_ndims=1),
            "ildj": bijector.inverse_log_det_jacobian(tf.identity(x), event_ndims=1),
        }
    for name, value in outputs.items():
        results[name] = value.numpy()
        # A random cotangent, so that no Jacobian row can cancel out of the gradient.
        cotangent = tf.constant(rng.uniform(0.5, 1.5, size=value.shape).astype(dtype))
        grads = tape.gradient(value, variables + [x], output_gradients=cotangent)
        for i, grad in enumerate(grads):
            assert grad is not None, f"no gradient of {name} with respect to input {i}"
            results[f"d{name}/d{'x' if i == len(variables) else f'param{i}'}"] = grad.numpy()
    return results


def _non_finite_members(results, allowed):
    """dict name -> indices of batch members with a non-finite entry that is not allowed.

    `allowed` maps a result name to a boolean mask [N] (or a callable(value) -> mask) of
    members where that result may be ±∞ (never NaN).
    """
    failures = {}
    for name, value in results.items():
        per_member = value.reshape(value.shape[0], -1)
        nan = np.isnan(per_member).any(axis=1)
        inf = np.isinf(per_member).any(axis=1)
        ok_inf = allowed.get(name, np.zeros(value.shape[0], bool))
        bad = nan | (inf & ~ok_inf)
        if bad.any():
            failures[name] = np.flatnonzero(bad)
    return failures


def _describe(failures, params, x, names):
    """A short failure message: per result, how many members failed and the first one."""
    lines = []
    for key, members in failures.items():
        i = members[0]
        first = ", ".join(f"{n}={p[i]}" for n, p in zip(names, params))
        lines.append(f"{key}: {len(members)} members, e.g. {first}, x={x[i]}")
    return "\n".join(lines)


def _planar_sweep(dim=2):
    """Parameter sets and inputs for the planar sweep, as arrays with leading dimension N."""
    rng = np.random.default_rng(0)
    direction = rng.normal(size=dim)
    direction /= np.linalg.norm(direction)
    orthogonal = np.array([-direction[1], direction[0]] + [0.0] * (dim - 2))
    w_norms = [0.0, 1e-12, 1e-8, 1e-3, 1.0, 1e3]
    u_norms = [0.0, 1e-3, 1.0, 1e3]
    u_directions = [direction, -direction, orthogonal]
    biases = [-50.0, 0.0, 50.0]
    x_scales = [0.0, 1e-3, -1e-3, 1.0, -1.0, 1e4, -1e4]
    iw, iu, idir, ib, ix, ixdir = _grid(
        len(w_norms), len(u_norms), len(u_directions), len(biases), len(x_scales), 2)
    w = np.array(w_norms)[iw, None] * direction
    u = np.array(u_norms)[iu, None] * np.stack(u_directions)[idir]
    b = np.array(biases)[ib]
    # Inputs along w (which moves wᵀx + b) or orthogonal to it.
    x = np.array(x_scales)[ix, None] * np.stack([direction, orthogonal])[ixdir]
    return [u, w, b], x


def _radial_sweep(dim=2):
    rng = np.random.default_rng(1)
    direction = rng.normal(size=dim)
    direction /= np.linalg.norm(direction)
    centers = [0.0, 1e3, -1e3]
    alphas = [1e-8, 1e-3, 1.0, 1e3]
    beta_over_alpha = [-1.0, -(1 - 1e-3), 0.0, 1.0, 1e3]
    distances = [0.0, 1e-6, 1.0, 1e4]
    ic, ia, ib, idist = _grid(len(centers), len(alphas), len(beta_over_alpha), len(distances))
    center = np.array(centers)[ic, None] * np.ones(dim)
    alpha = np.array(alphas)[ia]
    # β = −α exactly (not −α·1.0 rounded differently), as `radial_constrain` can give.
    beta = np.where(ib == 0, -alpha, np.array(beta_over_alpha)[ib] * alpha)
    x = center + np.array(distances)[idist, None] * direction
    return [center, alpha, beta], x


def _collapsed(params, x, dtype):
    """Members with β = −α and the input at the centre once rounded to `dtype` (in float32,
    1e3 + 1e-6 is 1e3)."""
    center, alpha, beta = [p.astype(dtype) for p in params]
    return (beta == -alpha) & np.all(x.astype(dtype) == center, axis=-1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_planar_sweep_has_no_non_finite_values_or_gradients(dtype):
    params, x = _planar_sweep()
    results = _evaluate(Planar, params, x, dtype)
    failures = _non_finite_members(results, allowed={})
    assert not failures, _describe(failures, params, x, ("u", "w", "b"))


@pytest.mark.parametrize("dtype", DTYPES)
def test_planar_stack_sweep_is_finite_and_one_step_equals_planar(dtype):
    """`PlanarStack` over the planar sweep: each member as a stack of one step is finite and
    gives Planar's values and gradients (to rounding), and each member followed by
    the next member of the sweep as a stack of two steps stays finite, also where the first
    step folds or moves x by 1e7."""
    params, x = _planar_sweep()
    planar = _evaluate(Planar, params, x, dtype)
    one_step = _evaluate(
        lambda u, w, b: PlanarStack(u[:, None], w[:, None], b[:, None]), params, x, dtype)
    assert not _non_finite_members(one_step, allowed={})
    # Equal to rounding for inputs with |x| <= 1: with |x| = 1e4 nearly orthogonal to w, wᵀx is
    # a cancellation that the stack's matrix product rounds differently (fused multiply-adds;
    # see test_sweep_has_the_same_non_finite_values_under_xla), amplified by |û| up to 1e3.
    # Elsewhere wᵀx + b is rounded at eps·(‖w‖‖x‖ + |b|), which moves y by up to |û| times that.
    rtol = 1e-5 if dtype == np.float32 else 1e-13
    small = np.abs(x).max(axis=-1) <= 1
    u, w, b = (np.abs(p[small]).reshape(small.sum(), -1).max(axis=1) for p in params)
    rounding = u * (w * np.abs(x[small]).max(axis=-1) + b)
    # In float32 only the values: a gradient through that rounding (e.g. of y in w, ∝ û·xᵀ
    # with |û| ~ 1/‖w‖) is as ill-conditioned; float64 compares gradients too.
    for key, value in planar.items():
        if dtype == np.float32 and key.startswith("d"):
            continue
        value, other = (v[small].reshape(small.sum(), -1) for v in (value, one_step[key]))
        size = np.maximum(np.maximum(1.0, rounding), np.abs(value).max(axis=1))[:, None]
        np.testing.assert_array_less(
            np.abs(other - value), np.broadcast_to(rtol * size, value.shape) + 1e-30, err_msg=key)
    pairs = [np.stack([p, np.roll(p, 1, axis=0)], axis=1) for p in params]
    two_steps = _evaluate(PlanarStack, pairs, x, dtype)
    chain = _evaluate(
        lambda u, w, b: tfb.Chain([Planar(u[:, 1], w[:, 1], b[:, 1]),
                                   Planar(u[:, 0], w[:, 0], b[:, 0])]), pairs, x, dtype)
    # Two folds in a row can overflow the inverse's gradient (each step's 1/g' is capped at
    # √(largest float), their product is not): allowed where the chain overflows too.
    allowed = {key: ~np.isfinite(value.reshape(len(value), -1)).all(axis=1)
               for key, value in chain.items() if key.startswith("dinverse")}
    assert not _non_finite_members(chain, allowed=allowed)
    failures = _non_finite_members(two_steps, allowed=allowed)
    assert not failures, _describe(failures, pairs, x, ("u", "w", "b"))


@pytest.mark.parametrize("dtype", DTYPES)
def test_radial_sweep_has_no_non_finite_values_or_gradients(dtype):
    params, x = _radial_sweep()
    collapsed = _collapsed(params, x, dtype)
    results = _evaluate(Radial, params, x, dtype)
    # The exact ±∞ answers (see the module docstring), asserted to be of the right sign.
    np.testing.assert_array_equal(results["fldj"][collapsed], -np.inf)
    np.testing.assert_array_equal(results["ildj"][collapsed], np.inf)
    np.testing.assert_array_equal(results["inverse"][collapsed], x[collapsed].astype(dtype))
    allowed = {"fldj": collapsed, "ildj": collapsed}
    for name in ("fldj", "ildj", "inverse"):
        for key in results:
            if key.startswith(f"d{name}/"):
                results[key] = np.where(
                    collapsed.reshape((-1,) + (1,) * (results[key].ndim - 1)), 0.0, results[key])
    failures = _non_finite_members(results, allowed)
    assert not failures, _describe(failures, params, x, ("center", "alpha", "beta"))


def _all_methods(make_bijector):
    def all_methods(x, *params):
        bijector = make_bijector(*params)
        return (bijector.forward(x), bijector.inverse(x),
                bijector.forward_log_det_jacobian(x, 1),
                bijector.inverse_log_det_jacobian(x, 1))

    return all_methods


@pytest.mark.parametrize("dtype", DTYPES)
def test_sweep_has_the_same_non_finite_values_under_xla(dtype):
    """Compiled, the bijectors are finite at the same members (XLA's own rewrites must not
    bring a NaN back), and radial's values agree with eager ones.

    Planar's values are not compared here: the sweep holds inputs nearly orthogonal to w
    with |x| = 1e4, where wᵀx + b is a cancellation that XLA rounds differently (fused
    multiply-adds), and at a fold log|det| ≈ log((wᵀx + b)² + softplus(wᵀu)) turns that
    rounding into O(1) differences. planar_test compares XLA and eager on ordinary inputs.
    """
    for make, (params, x) in ((Planar, _planar_sweep()), (Radial, _radial_sweep())):
        params = [tf.constant(p.astype(dtype)) for p in params]
        x = tf.constant(x.astype(dtype))
        all_methods = _all_methods(make)
        eager = all_methods(x, *params)
        compiled = tf.function(all_methods, jit_compile=True)(x, *params)
        for e, c in zip(eager, compiled):
            e, c = e.numpy(), c.numpy()
            assert not np.isnan(c).any()
            np.testing.assert_array_equal(c[~np.isfinite(e)], e[~np.isfinite(e)])
            assert np.isfinite(c[np.isfinite(e)]).all()
            if make is Radial:  # Closed form, well conditioned: agrees to float rounding.
                np.testing.assert_allclose(c, e, rtol=1e-5, atol=1e-5)


def test_sweeps_cover_the_documented_regimes():
    """The grid does reach the fold, tiny ‖w‖ and β = −α at the centre (so the sweeps test
    what the docstring says)."""
    (u, w, _), _ = _planar_sweep()
    w_dot_u = np.sum(u * w, axis=-1)
    assert w_dot_u.min() <= -1e5 and np.any((w_dot_u < -800) & (np.linalg.norm(u, axis=-1) < 2e3))
    assert np.any(np.linalg.norm(w, axis=-1) == 1e-12)
    params, x = _radial_sweep()
    # β = −α at the centre for every centre and α (more in float32, where 1e3 + 1e-6 = 1e3).
    assert _collapsed(params, x, np.float64).sum() == 3 * 4
    assert _collapsed(params, x, np.float32).sum() > 3 * 4
