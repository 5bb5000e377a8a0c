"""The radial flow of Rezende & Mohamed (2015) as a TFP bijector."""

import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import dtype_util
from tensorflow_probability.python.internal import parameter_properties
from tensorflow_probability.python.internal import tensor_util

from tfp_nfvi.bijectors import _checks
from tfp_nfvi.internal import numerics

tfb = tfp.bijectors

__all__ = ["Radial", "radial_constrain"]


def radial_constrain(raw_alpha, raw_beta):
    """Maps unconstrained reals (e.g. a network's outputs) to valid radial parameters.

    α = softplus(raw_α) > 0 and β = −α + softplus(raw_β) ≥ −α (Rezende & Mohamed, 2015,
    Appendix A), which makes the radial map invertible.

    Args:
      raw_alpha: float `Tensor` of shape [...].
      raw_beta: float `Tensor` of shape [...], broadcasting with `raw_alpha`.

    Returns:
      (alpha, beta), float `Tensor`s of the broadcast shape.
    """
    with tf.name_scope("radial_constrain"):
        dtype = _checks.float_dtype({"raw_alpha": raw_alpha, "raw_beta": raw_beta})
        alpha = tf.math.softplus(tf.convert_to_tensor(raw_alpha, dtype=dtype))
        beta = -alpha + tf.math.softplus(tf.convert_to_tensor(raw_beta, dtype=dtype))
        return alpha, beta


class Radial(tfb.AutoCompositeTensorBijector):
    """The radial flow f(z) = z + β·h(r)·(z − z₀), h(r) = 1/(α + r), r = ‖z − z₀‖.

    Rezende & Mohamed (2015). The map contracts (β < 0) or expands (β > 0) space around the
    `center` z₀. It is invertible for α > 0 and β ≥ −α; network outputs map to such values
    with `radial_constrain`: α = softplus(raw_α), β = −α + softplus(raw_β). With
    `validate_args=True` the constraints are asserted.

    Shapes: `center` is `[..., D]`, `alpha` and `beta` are `[...]`; leading dimensions are
    batch dimensions that broadcast against those of `z` (one flow per example: `[B, D]`,
    `[B]`, `[B]`).

    Log-det-Jacobian (the Jacobian is (1 + βh)I + βh′r·ûûᵀ, û = (z − z₀)/r):

      log|det ∂f/∂z| = (D − 1)·log(1 + βh) + log(1 + βh + βh′r)
                     = (D − 1)·log((α + β + r)/(α + r)) + log(1 + αβ/(α + r)²),

    the last factor evaluated as (α(α + β) + r(2α + r))/(α + r)², a sum of non-negative terms.

    Inverse: y − z₀ = (1 + βh(r))(z − z₀), so ρ = ‖y − z₀‖ = r(1 + β/(α + r)), i.e.
    r² + (α + β − ρ)r − αρ = 0, whose non-negative root is taken in a cancellation-free form;
    then z − z₀ = (y − z₀)(α + r)/(α + β + r).

    The norm has an exact value and a finite (zero) gradient at z = z₀, so the flow, its
    log-det and their gradients are finite at the center.

    #### Example

    ```python
    import tensorflow_probability as tfp
    from tfp_nfvi.bijectors import Radial, radial_constrain
    tfd = tfp.distributions

    alpha, beta = radial_constrain(raw_alpha=0.5, raw_beta=-1.)
    flow = Radial(center=[1., 0.], alpha=alpha, beta=beta)
    q = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(loc=[0., 0.]), flow)
    z, log_q = q.experimental_sample_and_log_prob(4, seed=(1, 2))
    ```

    #### References

    [1] D. J. Rezende and S. Mohamed. Variational Inference with Normalizing Flows.
        ICML 2015. https://arxiv.org/abs/1505.05770
    """

    def __init__(self, center, alpha, beta, validate_args=False, name="radial"):
        """Builds a radial bijector.

        Args:
          center: float `Tensor` (or `Variable`) of shape [..., D], the reference point z₀.
          alpha: float `Tensor` of shape [...], α > 0.
          beta: float `Tensor` of shape [...], β ≥ −α.
          validate_args: Python `bool`; if `True`, α > 0, β ≥ −α and shapes known only at run
            time are asserted.
          name: Python `str` name for the ops this bijector creates.

        Raises:
          TypeError: the parameters are not floating point or of different dtypes.
          ValueError: static shapes that do not fit: `center` of rank 0, or batch shapes
            (`center.shape[:-1]`, `alpha.shape`, `beta.shape`) that do not broadcast.
        """
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            dtype = _checks.float_dtype({"center": center, "alpha": alpha, "beta": beta})
            self._center = tensor_util.convert_nonref_to_tensor(
                center, dtype=dtype, name="center")
            self._alpha = tensor_util.convert_nonref_to_tensor(alpha, dtype=dtype, name="alpha")
            self._beta = tensor_util.convert_nonref_to_tensor(beta, dtype=dtype, name="beta")
            _checks.check_static_parameter_shapes(
                {"center": self._center}, {"alpha": self._alpha, "beta": self._beta})
            super().__init__(
                forward_min_event_ndims=1,
                validate_args=validate_args,
                dtype=dtype,
                parameters=parameters,
                name=name)

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict(
            center=tfp.util.ParameterProperties(event_ndims=1),
            alpha=tfp.util.ParameterProperties(
                shape_fn=lambda sample_shape: sample_shape[:-1],
                default_constraining_bijector_fn=(
                    lambda: tfb.Softplus(low=dtype_util.eps(dtype)))),
            # β ≥ −α depends on α, so no fixed constraining bijector exists (as for
            # `tfd.Uniform`'s `high`); build β with `radial_constrain`.
            beta=tfp.util.ParameterProperties(
                shape_fn=lambda sample_shape: sample_shape[:-1],
                default_constraining_bijector_fn=parameter_properties.BIJECTOR_NOT_IMPLEMENTED))

    @property
    def center(self):
        return self._center

    @property
    def alpha(self):
        return self._alpha

    @property
    def beta(self):
        return self._beta

    def _params(self):
        return (tf.convert_to_tensor(self._center), tf.convert_to_tensor(self._alpha),
                tf.convert_to_tensor(self._beta))

    def _forward_terms(self, x):
        """Returns (x − z₀, ‖x − z₀‖, α, β), computed once per input tensor."""

        def compute():
            center, alpha, beta = self._params()
            d = _checks.with_event_size_check(x, "x", center, self.validate_args) - center
            return d, numerics.safe_norm(d), alpha, beta

        return _checks.memoized(self._cache.forward_attributes(x), "radial_forward", compute)

    def _forward(self, x):
        d, r, alpha, beta = self._forward_terms(x)
        return x + (beta / (alpha + r))[..., tf.newaxis] * d

    def _log_det_at_radius(self, d, r, alpha, beta):
        """log|det ∂f/∂z| at radius r; −∞ exactly where β = −α and r = 0 (the map collapses
        a neighbourhood of the centre onto it)."""
        event_size = tf.cast(tf.shape(d)[-1], d.dtype)
        alpha_plus_r = alpha + r
        log_alpha_plus_r = tf.math.log(alpha_plus_r)
        radial = tf.math.log(alpha * (alpha + beta) + r * (alpha + alpha_plus_r)) - (
            2 * log_alpha_plus_r)
        tangential = tf.math.log((alpha + beta) + r) - log_alpha_plus_r
        # For D = 1 there is no tangential direction: 0·(−∞) would be NaN at the collapse.
        return tf.where(event_size > 1, (event_size - 1) * tangential, tf.zeros_like(tangential)) + (
            radial)

    def _forward_log_det_jacobian(self, x):
        return self._log_det_at_radius(*self._forward_terms(x))

    def _inverse_terms(self, y):
        """Returns (y − z₀, r = ‖f⁻¹(y) − z₀‖, α, β, z₀), computed once per input tensor."""

        def compute():
            center, alpha, beta = self._params()
            d = _checks.with_event_size_check(y, "y", center, self.validate_args) - center
            rho = numerics.safe_norm(d)
            # r² + B r − αρ = 0 with B = α + β − ρ; non-negative root without cancellation:
            # r = (−B + √Δ)/2 for B < 0, r = 2αρ/(B + √Δ) for B ≥ 0, Δ = B² + 4αρ.
            linear = alpha + beta - rho
            sqrt_disc = tf.sqrt(tf.square(linear) + 4 * alpha * rho)
            negative = linear < 0
            denominator = linear + sqrt_disc
            safe = negative | (denominator <= 0)  # Only y = z₀ with α + β = 0 has a zero one.
            r = tf.where(
                negative,
                (sqrt_disc - linear) / 2,
                2 * alpha * rho / tf.where(safe, tf.ones_like(linear), denominator))
            return d, r, alpha, beta, center

        return _checks.memoized(self._cache.inverse_attributes(y), "radial_inverse", compute)

    def _inverse(self, y):
        d, r, alpha, beta, center = self._inverse_terms(y)
        # α + β + r = 0 only where β = −α and y = z₀ (so d = 0 and r = 0): there f⁻¹(z₀) = z₀,
        # as f(z) − z₀ = (z − z₀)·r/(α + r) vanishes only at r = 0. The divisor is replaced
        # there (both in value and gradient), so the result is d·(α/1) = 0, not 0·(α/0).
        denominator = alpha + beta + r
        collapsed = denominator <= 0
        scale = (alpha + r) / tf.where(collapsed, tf.ones_like(denominator), denominator)
        return center + d * scale[..., tf.newaxis]

    def _inverse_log_det_jacobian(self, y):
        d, r, alpha, beta, _ = self._inverse_terms(y)
        return -self._log_det_at_radius(d, r, alpha, beta)

    def _parameter_control_dependencies(self, is_init):
        if not self.validate_args:
            return []
        assertions = []
        if is_init != tensor_util.is_ref(self._center):
            assertions += _checks.event_size_assertions({"center": self._center})
        if is_init != tensor_util.is_ref(self._alpha):
            assertions.append(tf.debugging.assert_positive(
                self._alpha, message="Argument `alpha` must be positive (alpha > 0)."))
        if is_init != (tensor_util.is_ref(self._alpha) or tensor_util.is_ref(self._beta)):
            assertions.append(tf.debugging.assert_greater_equal(
                self._beta, -tf.convert_to_tensor(self._alpha),
                message="Argument `beta` must satisfy beta >= -alpha."))
        return assertions
