"""The planar flow of Rezende & Mohamed (2015) as a TFP bijector."""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import tensor_util

from tfp_nfvi.bijectors import _checks

tfb = tfp.bijectors

__all__ = ["Planar", "planar_constrain"]

# Cap on the safeguarded-Newton iterations of the inverse; the loop stops as soon as every
# root has converged. benchmarks/bijectors_benchmark.py measures the iterations actually needed
# (float32 and float64) over random and near-singular parameters; see `_find_root`.
_MAX_ROOT_ITERATIONS = 40


def _min_w_norm(dtype):
    """The norm below which the divisor ‖w‖ in û is clamped: eps², 1.4e-14 for float32.

    Below it the gradient of û with respect to w, of size |m(wᵀu) − wᵀu|/‖w‖², would exceed
    ~1/eps⁴ (5e27 in float32), leaving too little of the dtype's range for the cotangents it
    is multiplied by; at and above it û is exact.
    """
    return np.finfo(dtype.as_numpy_dtype).eps ** 2


def _log_softplus(t):
    """log(softplus(t)), finite for every finite t.

    softplus(t) = e^t(1 − e^t/2 + …) underflows for t ≲ −104 in float32 (−745 in float64),
    but for t < log(eps) its logarithm is t to within eps/2, so that branch returns t (and
    the other branch only sees t ≥ log(eps), where softplus is normal). No TFP function gives
    this (tfp.math has softplus and log1mexp, not the log of softplus).
    """
    log_eps = np.log(np.finfo(t.dtype.as_numpy_dtype).eps).astype(t.dtype.as_numpy_dtype)
    small = t < log_eps
    return tf.where(small, t, tf.math.log(tf.math.softplus(tf.where(small, log_eps, t))))


def _planar_params(u, w, b):
    """(û, w, b, (1 + wᵀû, log(1 + wᵀû))) as tensors: a planar bijector's parameter-only work.

    Shared by `Planar` and `PlanarStack` (where the arguments carry a K axis before D).
    """
    w = tf.convert_to_tensor(w)
    u_hat, one_plus_wu_hat, log_one_plus_wu_hat = _planar_terms(tf.convert_to_tensor(u), w)
    return u_hat, w, tf.convert_to_tensor(b), (one_plus_wu_hat, log_one_plus_wu_hat)


def _planar_terms(u, w):
    """Returns (û, 1 + wᵀû, log(1 + wᵀû)) for raw parameters u, w of shape [..., D].

    û = u + (m(wᵀu) − wᵀu)·w/‖w‖² with m(x) = −1 + softplus(x), so wᵀû = m(wᵀu) > −1.
    Since m(t) − t = softplus(−t) − 1 and 1 + m(t) = softplus(t), both are computed without
    cancellation, and log(1 + wᵀû) = log softplus(wᵀu) is computed in log space: it stays
    finite (≈ wᵀu) where softplus(wᵀu) underflows to 0 (the map then folds to the dtype's
    precision, yet its log-det is finite). The division is written as
    ((m − t)/‖w‖)·(w/‖w‖), so that no intermediate of the gradient is of size 1/‖w‖⁴.

    Where ‖w‖ < c = `_min_w_norm` the divisor ‖w‖ is clamped to c; there û = u + (m − t)·w/c²
    and 1 + wᵀû = (1 − λ)(1 + t) + λ·softplus(t), λ = ‖w‖²/c² < 1, a convex combination that is
    > 0 unless |u| > 1/c (with |t| ≤ c·|u|, softplus(t) ≈ log 2).
    """
    t = tf.reduce_sum(w * u, axis=-1)
    w_sq = tf.reduce_sum(tf.square(w), axis=-1)
    min_norm = _min_w_norm(w.dtype)
    clamped = w_sq < min_norm**2
    # The clamp puts max() before sqrt, so sqrt's slope is never infinite (no norm at 0).
    norm = tf.sqrt(tf.maximum(w_sq, min_norm**2))
    direction = w / norm[..., tf.newaxis]  # Unit vector, or shorter where clamped.
    m_minus_t = tf.math.softplus(-t) - 1
    u_hat = u + (m_minus_t / norm)[..., tf.newaxis] * direction
    convex = 1 + t + m_minus_t * tf.reduce_sum(tf.square(direction), axis=-1)
    one_plus_wu_hat = tf.where(clamped, convex, tf.math.softplus(t))
    log_one_plus_wu_hat = tf.where(
        clamped, tf.math.log(tf.where(clamped, convex, tf.ones_like(convex))), _log_softplus(t))
    return u_hat, one_plus_wu_hat, log_one_plus_wu_hat


def planar_constrain(u, w):
    """Maps raw planar parameters to û with wᵀû > −1, which makes the planar map invertible.

    û = u + (m(wᵀu) − wᵀu)·w/‖w‖², m(x) = −1 + softplus(x) (Rezende & Mohamed, 2015, App. A).
    `Planar` applies this itself; use it to inspect the effective û.

    Args:
      u: float `Tensor` of shape [..., D].
      w: float `Tensor` of shape [..., D] broadcasting with `u`.

    Returns:
      û, a `Tensor` of the broadcast shape of `u` and `w`.
    """
    with tf.name_scope("planar_constrain"):
        dtype = _checks.float_dtype({"u": u, "w": w})
        u = tf.convert_to_tensor(u, dtype=dtype, name="u")
        w = tf.convert_to_tensor(w, dtype=dtype, name="w")
        _checks.check_static_parameter_shapes({"u": u, "w": w}, {})
        return _planar_terms(u, w)[0]


def _log_abs_det(x, one_plus_c, log_one_plus_c):
    """log(1 + (1 − tanh²x)·c) for c = wᵀû > −1, computed without cancellation or underflow.

    With e = exp(−2|x|): tanh²x = expm1(−2|x|)²/(1 + e)² and 1 − tanh²x = 4e/(1 + e)², so
    1 + (1 − tanh²x)·c = tanh²x + (1 − tanh²x)(1 + c) = (expm1(−2|x|)² + 4e(1 + c))/(1 + e)²,
    a sum of non-negative terms. Finite, with finite gradients, for all x; it equals
    log(1 + c) at x = 0 and tends to 0 as |x| → ∞.

    At a fold, σ = 1 + c = softplus(wᵀu) may be subnormal or 0 (wᵀu ≲ −87 in float32, −708
    in float64) while its log `log_one_plus_c` (L) is finite. For such flows (σ < tiny/eps)
    and |x| < x₀ = 2·√tiny/eps (1.8e-12 in float32), where tanh²x = x² and cosh²x = 1 to
    far below eps, the value is log(x² + σ), evaluated with both terms scaled by e^{2ℓ}:

      log(x² + σ) = log((x·e^ℓ)² + e^{L + 2ℓ}) − 2ℓ,   ℓ = clip((log(tiny/eps) − L)/2, 0, K),

    with e^K = eps/(x₀·√tiny), so that for every normal x ≠ 0 (TensorFlow flushes subnormals
    to zero on CPU) eps²/2 ≤ x·e^ℓ ≤ eps/√tiny: neither its square nor the reciprocal that
    the gradient of the log takes comes near the ends of the normal range. e^{L + 2ℓ} =
    tiny/eps unless L is so low (L < log(tiny/eps) − 2K) that it is below the rounding of
    (x·e^ℓ)² (it is floored at tiny, < 1e-9 of that). At x = 0 the value is L itself. For
    |x| ≥ x₀ the first form is exact to eps/4 (4σ ≤ 4·tiny/eps against expm1(−2|x|)² ≥
    16·tiny/eps²). The two forms share one `log`, so a flow away from any fold pays only a
    few selects.
    """
    np_dtype = x.dtype.as_numpy_dtype
    info = np.finfo(np_dtype)
    log_sigma_min = np.log(info.tiny / info.eps)
    x0 = np_dtype(2 * np.sqrt(info.tiny) / info.eps)
    max_scale = np.log(info.eps / (x0 * np.sqrt(info.tiny)))
    # Per flow. ℓ is a constant for autodiff: the value does not depend on it, so this is
    # exact, and it keeps the backward pass to one reduction per flow for σ (as without the
    # fold form; each per-flow tensor met per element costs a reduction in the gradient).
    near_fold = log_one_plus_c < log_sigma_min
    log_scale = tf.stop_gradient(
        tf.clip_by_value((log_sigma_min - log_one_plus_c) / 2, 0, max_scale))
    # σ, or for a fold flow e^{L + 2ℓ} (= tiny/eps unless L is below log(tiny/eps) − 2K); the
    # first form uses it too, which for |x| ≥ x₀ changes its value by < eps/4.
    sigma = tf.where(
        near_fold, tf.maximum(tf.exp(log_one_plus_c + 2 * log_scale), info.tiny), one_plus_c)
    # Per element: the two forms share one `log`; each tf.where branch sees only arguments
    # whose value and gradient are finite.
    abs_x = tf.abs(x)
    abs_x2 = -2 * abs_x
    e = tf.exp(abs_x2)
    fold = near_fold & (abs_x < x0)
    scaled_x = tf.minimum(abs_x, x0) * tf.exp(log_scale)
    argument = tf.where(
        fold, tf.square(scaled_x) + sigma, tf.square(tf.math.expm1(abs_x2)) + 4 * e * sigma)
    offset = tf.where(fold, -2 * log_scale, -2 * tf.math.log1p(e))
    # At x = 0 the value is L itself, also where e^{L + 2ℓ} underflows.
    return tf.where(fold & (x == 0), log_one_plus_c, tf.math.log(argument) + offset)


def _find_root(target, wu_hat, one_plus_wu_hat, log_one_plus_wu_hat=None,
               max_iterations=_MAX_ROOT_ITERATIONS):
    """Solves g(x) = x + c·tanh(x) − q = 0 (c = wᵀû > −1) for every element; returns (x, steps).

    g is strictly increasing (g'(x) = 1 + c(1 − tanh²x) ≥ min(1, 1 + c) > 0) and, as
    |tanh| ≤ 1, its root lies in [q − |c|, q + |c|]. Each step takes Newton's step when it
    stays in the current bracket and shrinks at least as fast as bisection would (Numerical
    Recipes' `rtsafe`), and bisects otherwise, then shrinks the bracket by the sign of g. The
    `tf.while_loop` has at most `max_iterations` steps (XLA compiles it) and stops once no
    element moved by more than a few ulps; `steps` is the number of steps taken. Measured:
    at most 10 steps for float32 and float64, also near a fold (1 + c ≈ 1e-7).

    `tfp.math.find_root_chandrupatla` was the first choice, but compiled with XLA it returned
    NaN for an element of a large batch whose root it finds in eager mode, so this
    solver only ever divides by g' > 0.

    `log_one_plus_wu_hat` is log(1 + c), which stays finite at a fold where 1 + c underflows
    (see `_log_abs_det`); it is computed from `one_plus_wu_hat` when omitted. Where g'
    underflows the Newton step is not finite and the step bisects.
    """
    eps = np.finfo(target.dtype.as_numpy_dtype).eps
    q, c, one_plus_c, log_one_plus_c = target, wu_hat, one_plus_wu_hat, log_one_plus_wu_hat
    if log_one_plus_c is None:  # Callers that do not reach the fold (1 + c is normal).
        log_one_plus_c = tf.math.log(one_plus_c)
    low, high = q - tf.abs(c), q + tf.abs(c)
    x = tf.clip_by_value(q - c * tf.tanh(q), low, high)
    width = high - low

    def body(step, x, low, high, dx, dx_old, _):
        g = x + c * tf.tanh(x) - q
        low = tf.where(g <= 0, x, low)
        high = tf.where(g >= 0, x, high)
        newton_dx = g * tf.exp(-_log_abs_det(x, one_plus_c, log_one_plus_c))
        newton = x - newton_dx
        # Newton's step, unless it leaves the bracket or shrinks slower than bisection would
        # (Numerical Recipes' `rtsafe`): near a fold (wᵀû → −1, x → 0) g is locally cubic,
        # where plain Newton converges only linearly with ratio 2/3.
        tolerance = 2 * eps * (1 + tf.abs(x))
        use_newton = (newton >= low) & (newton <= high) & (
            (2 * tf.abs(newton_dx) <= dx_old) | (tf.abs(newton_dx) <= tolerance))
        x_next = tf.where(use_newton, newton, low + (high - low) / 2)
        dx_old, dx = dx, tf.abs(x_next - x)
        moved = tf.reduce_any(dx > 2 * tolerance)
        return step + 1, x_next, low, high, dx, dx_old, moved

    steps, x, *_ = tf.while_loop(
        lambda *state: state[-1],
        body,
        (tf.constant(0), x, low, high, width, width, tf.constant(True)),
        maximum_iterations=max_iterations)
    return x, steps


def _solve_preactivation(target, fold_terms):
    """The x with x + wᵀû·tanh(x) = `target` (wᵀy + b), differentiable in every input.

    `fold_terms` is (1 + wᵀû, log(1 + wᵀû)). The root search (`_find_root`) runs on constants;
    one Newton step from its root, x ← x − g(x)/g'(x) with g'(x) = 1 + (1 − tanh²x)wᵀû > 0,
    carries the gradient (the implicit-function gradient of the root). At a fold g'
    underflows (1/g' = e^110 for wᵀu = −110 in float32), so 1/g' is capped at √(largest
    float): the root is already exact to a few ulps, so the step's value is unaffected, and
    only gradients whose exact size exceeds that are capped.
    """
    wu_hat = fold_terms[0] - 1
    root, _ = _find_root(*(tf.stop_gradient(v) for v in (target, wu_hat) + tuple(fold_terms)))
    root = tf.stop_gradient(root)
    log_cap = np.log(np.finfo(target.dtype.as_numpy_dtype).max) / 2
    residual = root + wu_hat * tf.tanh(root) - target
    inverse_slope = tf.exp(tf.minimum(-_log_abs_det(root, *fold_terms), log_cap))
    return root - residual * inverse_slope


class Planar(tfb.AutoCompositeTensorBijector):
    """The planar flow f(z) = z + û·tanh(wᵀz + b) (Rezende & Mohamed, 2015).

    The parameters `u`, `w` (shape `[..., D]`) and `b` (shape `[...]`) are unconstrained reals:
    the bijector uses û = u + (m(wᵀu) − wᵀu)·w/‖w‖², m(x) = −1 + softplus(x) (see
    `planar_constrain`), for which wᵀû > −1, so every parameter value gives an invertible map.
    Leading dimensions of the parameters are batch dimensions that broadcast against those of
    `z`: an encoder may emit one (u, w, b) per example, `u, w: [B, D]`, `b: [B]`, and transform
    `z` of shape `[B, D]` or `[S, B, D]`.

    Log-det-Jacobian (matrix determinant lemma), with x = wᵀz + b:

      log|det ∂f/∂z| = log(1 + (1 − tanh²x)·ûᵀw),

    evaluated in a cancellation-free form (see `_log_abs_det`).

    Inverse: f moves z only along û, so with a = wᵀz, y = f(z) satisfies
    wᵀy = a + wᵀû·tanh(a + b), strictly increasing in a. The solver finds x = a + b from
    x + wᵀû·tanh(x) = wᵀy + b, which is bracketed by wᵀy + b ± |wᵀû| (as |tanh| ≤ 1), with
    a safeguarded Newton/bisection search (a bounded `tf.while_loop`, so it compiles with XLA)
    and one final Newton step; z = y − û·tanh(x). The Newton step is differentiable: its gradient is the
    implicit-function gradient of the root, so `log_prob` of a flow is differentiable in the
    parameters without backpropagating through the root search.

    #### Example

    ```python
    import tensorflow_probability as tfp
    from tfp_nfvi.bijectors import Planar
    tfd = tfp.distributions

    flow = Planar(u=[1., 0.5], w=[2., -1.], b=0.3)
    q = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(loc=[0., 0.]), flow)
    z, log_q = q.experimental_sample_and_log_prob(4, seed=(1, 2))
    flow.inverse(flow.forward(z))  # == z

    # Amortized: one flow per example, batch shape [B].
    B, D = 8, 2
    flow = Planar(u=tf.zeros([B, D]), w=tf.ones([B, D]), b=tf.zeros([B]))
    flow.forward(tf.zeros([16, B, D]))  # shape [16, B, D]
    ```

    #### References

    [1] D. J. Rezende and S. Mohamed. Variational Inference with Normalizing Flows.
        ICML 2015. https://arxiv.org/abs/1505.05770
    """

    def __init__(self, u, w, b, validate_args=False, name="planar"):
        """Builds a planar bijector.

        Args:
          u: float `Tensor` (or `Variable`) of shape [..., D], the raw direction of the shift.
          w: float `Tensor` of shape [..., D], the normal of the hyperplane.
          b: float `Tensor` of shape [...], the offset.
          validate_args: Python `bool`; if `True`, shapes that are only known at run time are
            checked by assertions.
          name: Python `str` name for the ops this bijector creates.

        Raises:
          TypeError: the parameters are not floating point or of different dtypes.
          ValueError: static shapes that do not fit: `u`, `w` of rank 0 or of different
            event sizes, or batch shapes (`u.shape[:-1]`, `w.shape[:-1]`, `b.shape`) that do
            not broadcast.
        """
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            dtype = _checks.float_dtype({"u": u, "w": w, "b": b})
            self._u = tensor_util.convert_nonref_to_tensor(u, dtype=dtype, name="u")
            self._w = tensor_util.convert_nonref_to_tensor(w, dtype=dtype, name="w")
            self._b = tensor_util.convert_nonref_to_tensor(b, dtype=dtype, name="b")
            _checks.check_static_parameter_shapes(
                {"u": self._u, "w": self._w}, {"b": self._b})
            super().__init__(
                forward_min_event_ndims=1,
                validate_args=validate_args,
                dtype=dtype,
                parameters=parameters,
                name=name)

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict(
            u=tfp.util.ParameterProperties(event_ndims=1),
            w=tfp.util.ParameterProperties(event_ndims=1),
            # `b` is one scalar per flow: its shape is the input's shape without the event.
            b=tfp.util.ParameterProperties(
                event_ndims=0, shape_fn=lambda sample_shape: sample_shape[:-1]))

    @property
    def u(self):
        """The raw `u` (the bijector uses `planar_constrain(u, w)` in its place)."""
        return self._u

    @property
    def w(self):
        return self._w

    @property
    def b(self):
        return self._b

    def _params(self):
        """Returns (û, w, b, (1 + wᵀû, log(1 + wᵀû))) as tensors."""
        return _planar_params(self._u, self._w, self._b)

    def _forward_terms(self, x):
        """Returns (û, wᵀx + b, (1 + wᵀû, log(1 + wᵀû))), computed once per input tensor."""

        def compute():
            u_hat, w, b, fold_terms = self._params()
            z = _checks.with_event_size_check(x, "x", w, self.validate_args)
            return u_hat, tf.reduce_sum(w * z, axis=-1) + b, fold_terms

        return _checks.memoized(self._cache.forward_attributes(x), "planar_forward", compute)

    def _forward(self, x):
        u_hat, preactivation, _ = self._forward_terms(x)
        return x + u_hat * tf.tanh(preactivation)[..., tf.newaxis]

    def _forward_log_det_jacobian(self, x):
        _, preactivation, fold_terms = self._forward_terms(x)
        return _log_abs_det(preactivation, *fold_terms)

    def _inverse_terms(self, y):
        """Returns (û, x, (1 + wᵀû, log(1 + wᵀû))) with x = wᵀf⁻¹(y) + b, solved once per
        input tensor."""

        def compute():
            u_hat, w, b, fold_terms = self._params()
            z = _checks.with_event_size_check(y, "y", w, self.validate_args)
            return u_hat, _solve_preactivation(tf.reduce_sum(w * z, axis=-1) + b, fold_terms), \
                fold_terms

        return _checks.memoized(self._cache.inverse_attributes(y), "planar_inverse", compute)

    def _inverse(self, y):
        u_hat, x, _ = self._inverse_terms(y)
        return y - u_hat * tf.tanh(x)[..., tf.newaxis]

    def _inverse_log_det_jacobian(self, y):
        _, x, fold_terms = self._inverse_terms(y)
        return -_log_abs_det(x, *fold_terms)

    def _parameter_control_dependencies(self, is_init):
        if not self.validate_args:
            return []
        if is_init != any(tensor_util.is_ref(p) for p in (self._u, self._w)):
            return _checks.event_size_assertions({"u": self._u, "w": self._w})
        return []
