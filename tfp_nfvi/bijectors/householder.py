"""The Householder flow of Tomczak & Welling (2016) as a TFP bijector, and products of
Householder reflections (the orthogonal Q of the Householder Sylvester flow)."""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import tensor_util

from tfp_nfvi.bijectors import _checks

tfb = tfp.bijectors

__all__ = ["Householder", "householder_product"]


def _unit_axis(v):
    """Returns v/‖v‖ over the last axis, or 0 where v is (numerically) zero.

    The reflection depends only on the direction of v, so v is first divided by s = max|vᵢ|
    (taken as a constant: v/‖v‖ is 0-homogeneous, so this leaves the gradient exact) and the
    norm never under- or overflows. Where s < sqrt(tiny) (tiny the dtype's smallest normal
    number; ~1e-19 in float32, ~1e-154 in float64) the direction is not resolved and the
    axis is 0, which makes I − 2uuᵀ the identity: still orthogonal, so log|det| = 0 holds
    everywhere. The gradient of u with respect to v is (I − uuᵀ)/‖v‖, bounded by 1/sqrt(tiny),
    and 0 in the identity branch (both branches are `tf.where`-guarded, so no NaN reaches it).
    """
    scale = tf.stop_gradient(tf.reduce_max(tf.abs(v), axis=-1, keepdims=True))
    resolved = scale >= np.sqrt(np.finfo(v.dtype.as_numpy_dtype).tiny)
    w = tf.where(resolved, v / tf.where(resolved, scale, tf.ones_like(scale)), 0)
    squared_norm = tf.reduce_sum(tf.square(w), axis=-1, keepdims=True)  # In [1, D] or 0.
    return w * tf.math.rsqrt(tf.where(resolved, squared_norm, tf.ones_like(squared_norm)))


def _reflect(u, z):
    """(I − 2uuᵀ)z for a unit (or zero) axis u, broadcasting batch dimensions."""
    return z - 2 * tf.reduce_sum(u * z, axis=-1, keepdims=True) * u


def householder_product(vs):
    """Q = H₁H₂⋯H_K, Hₖ = I − 2vₖvₖᵀ/‖vₖ‖²: an orthogonal matrix from K unconstrained vectors.

    The orthogonal Q of the Householder Sylvester flow (H-SNF, van den Berg et al., 2018); with
    K = D reflections every orthogonal matrix of determinant (−1)^D is reachable. A zero
    vₖ contributes the identity instead of a reflection (see `Householder`).

    Args:
      vs: float `Tensor` of shape [..., K, D] (e.g. one set of K vectors per example), K known
        statically.

    Returns:
      Q, a `Tensor` of shape [..., D, D] with orthonormal columns to within ~K·eps.

    Raises:
      ValueError: `vs` of rank < 2 or with a number of vectors K unknown statically.
    """
    with tf.name_scope("householder_product"):
        dtype = _checks.float_dtype({"vs": vs})
        vs = tf.convert_to_tensor(vs, dtype=dtype, name="vs")
        if vs.shape.rank is not None and vs.shape.rank < 2:
            raise ValueError(
                f"Argument `vs` must have shape [..., K, D] (rank >= 2); received shape "
                f"{vs.shape}.")
        num_vectors = tf.compat.dimension_value(vs.shape[-2]) if vs.shape.rank else None
        if num_vectors is None:
            raise ValueError(
                f"Argument `vs` must have a statically known number of vectors K (shape "
                f"[..., K, D]); received shape {vs.shape}.")
        units = _unit_axis(vs)
        # Reflecting every row of Q multiplies it by Hₖ on the right (Hₖ is symmetric):
        # Q ← QHₖ, from Q = I. A Python loop over the static K compiles with XLA.
        q = tf.eye(tf.shape(vs)[-1], batch_shape=tf.shape(vs)[:-2], dtype=dtype)
        for k in range(num_vectors):
            q = _reflect(units[..., k, tf.newaxis, :], q)
        return q


class Householder(tfb.AutoCompositeTensorBijector):
    """The Householder flow f(z) = (I − 2vvᵀ/‖v‖²)z (Tomczak & Welling, 2016).

    A reflection across the hyperplane with normal `v`: volume preserving (log|det ∂f/∂z| = 0)
    and its own inverse. `v` has shape `[..., D]`; leading dimensions are batch dimensions
    that broadcast against those of `z`, so an encoder may emit one `v` per example (`[B, D]`
    acting on `z` of shape `[B, D]` or `[S, B, D]`).

    `v` is an unconstrained real vector of any norm: it is normalized inside, with a guard
    (see `_unit_axis`): where max|vᵢ| < sqrt(tiny) (~1e-19 in float32) the map is the
    identity, so values and gradients stay finite at v = 0. The gradient with respect to v is
    zero there: initialize v away from 0 (a reflection has no continuous extension to v = 0).

    The log-det is a scalar 0 (`is_constant_jacobian=True`), which TFP broadcasts, as for
    `tfb.Householder`.

    Why not `tfp.bijectors.Householder`: it takes a unit `reflection_axis` and normalizes with
    `tf.math.l2_normalize`, whose ε = 1e-12 on ‖v‖² makes the map x − 2(vᵀx)v·10¹² for
    ‖v‖ < 1e-6, not orthogonal, while it still reports log-det 0; and it checks no shapes.
    Network outputs have no fixed norm, so this bijector normalizes them itself.

    #### Example

    ```python
    from tfp_nfvi.bijectors import Householder
    flow = Householder(v=tf.random.normal([B, D]))   # one reflection per example
    flow.forward(tf.zeros([16, B, D]))               # shape [16, B, D]
    ```

    #### References

    [1] J. M. Tomczak and M. Welling. Improving Variational Auto-Encoders using Householder
        Flow. NIPS 2016 Workshop on Bayesian Deep Learning. https://arxiv.org/abs/1611.09630
    """

    def __init__(self, v, validate_args=False, name="householder"):
        """Builds a Householder reflection.

        Args:
          v: float `Tensor` (or `Variable`) of shape [..., D], the normal of the mirror; any
            norm.
          validate_args: Python `bool`; if `True`, shapes known only at run time are checked.
          name: Python `str` name for the ops this bijector creates.

        Raises:
          TypeError: `v` is not floating point.
          ValueError: `v` is a scalar.
        """
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            dtype = _checks.float_dtype({"v": v})
            self._v = tensor_util.convert_nonref_to_tensor(v, dtype=dtype, name="v")
            _checks.check_static_parameter_shapes({"v": self._v}, {})
            super().__init__(
                forward_min_event_ndims=1,
                is_constant_jacobian=True,
                validate_args=validate_args,
                dtype=dtype,
                parameters=parameters,
                name=name)

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict(v=tfp.util.ParameterProperties(event_ndims=1))

    @property
    def v(self):
        """The raw normal vector (any norm)."""
        return self._v

    def _apply(self, x, name):
        v = tf.convert_to_tensor(self._v)
        x = _checks.with_event_size_check(x, name, v, self.validate_args)
        return _reflect(_unit_axis(v), x)

    def _forward(self, x):
        return self._apply(x, "x")

    def _inverse(self, y):
        return self._apply(y, "y")

    def _forward_log_det_jacobian(self, x):
        return tf.zeros([], dtype=self.dtype)

    def _parameter_control_dependencies(self, is_init):
        if not self.validate_args or is_init == tensor_util.is_ref(self._v):
            return []
        return _checks.event_size_assertions({"v": self._v})
