"""K consecutive planar flows as one TFP bijector, their parameter-only work done at once."""

import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import prefer_static as ps
from tensorflow_probability.python.internal import tensor_util

from tfp_nfvi.bijectors import _checks
# The stack is the planar flow K times: share its constraint, its cancellation-free log-det
# (with the exact fold handling) and its inverse (root search and differentiable Newton step).
from tfp_nfvi.bijectors.planar import _log_abs_det  # pylint: disable=protected-access
from tfp_nfvi.bijectors.planar import _planar_params  # pylint: disable=protected-access
from tfp_nfvi.bijectors.planar import _solve_preactivation  # pylint: disable=protected-access

tfb = tfp.bijectors

__all__ = ["PlanarStack"]


class PlanarStack(tfb.AutoCompositeTensorBijector):
    """K planar flows f = f_K ∘ ... ∘ f_1, f_k(z) = z + û_k·tanh(w_kᵀz + b_k), as one bijector.

    Equal to `tfb.Chain([Planar(u[..., K-1, :], w[..., K-1, :], b[..., K-1]), ...,
    Planar(u[..., 0, :], w[..., 0, :], b[..., 0])])` (step 0 acts first), to float rounding,
    in value, log-det and gradients, also at a fold (see `Planar`). The parameters are stacked:
    `u`, `w` of shape `[..., K, D]` and `b` of shape `[..., K]`, unconstrained reals, each
    step constrained as in `Planar`, û_k = u_k + (m(w_kᵀu_k) − w_kᵀu_k)·w_k/‖w_k‖²,
    m(x) = −1 + softplus(x). Leading dimensions are batch dimensions that broadcast against
    those of `z`, as for `Planar` (an amortized flow: `u, w: [B, K, D]`, `b: [B, K]`).

    Why a stack: most of a planar step's work depends only on its parameters (û_k, wᵀû_k,
    log(1 + w_kᵀû_k) and the fold-safe pieces of the log-det). Here that work is done for the
    K steps at once, one op over the K axis, and only the z-dependent part runs step by step:

      z_0 = z,   a_k = w_kᵀz_{k−1} + b_k,   z_k = z_{k−1} + û_k·tanh(a_k),   f(z) = z_K,

    after which the log-det is again one op over all K pre-activations:

      log|det ∂f/∂z| = Σ_k log(1 + (1 − tanh²a_k)·w_kᵀû_k),

    each term in `Planar`'s cancellation-free form (finite at a fold, where 1 + w_kᵀû_k
    underflows). A chain of K `Planar`s repeats all of it per step: a deep flow (K = 80) is
    then dominated by the per-op (or per-XLA-kernel) overhead of tiny [B, D] tensors.

    The inverse runs the steps in reverse, each solving the 1-D monotone root problem of
    `Planar` (bracketed safeguarded Newton, then one differentiable Newton step), and
    log|det ∂f⁻¹/∂y| = −Σ_k log(1 + (1 − tanh²a_k)·w_kᵀû_k) at the recovered a_k.

    K must be known statically (it is the length of the step-by-step loop).

    #### Example

    ```python
    from tfp_nfvi.bijectors import PlanarStack
    B, K, D = 8, 16, 2
    flow = PlanarStack(u=tf.zeros([B, K, D]), w=tf.ones([B, K, D]), b=tf.zeros([B, K]))
    y = flow.forward(tf.zeros([4, B, D]))        # shape [4, B, D]
    flow.forward_log_det_jacobian(y, event_ndims=1)   # shape [4, B]
    ```

    #### References

    [1] D. J. Rezende and S. Mohamed. Variational Inference with Normalizing Flows.
        ICML 2015. https://arxiv.org/abs/1505.05770
    """

    def __init__(self, u, w, b, validate_args=False, name="planar_stack"):
        """Builds a stack of K planar bijectors.

        Args:
          u: float `Tensor` (or `Variable`, `DeferredTensor`) of shape [..., K, D], the raw
            directions of the shifts, step 0 first.
          w: float `Tensor` of shape [..., K, D], the normals of the hyperplanes.
          b: float `Tensor` of shape [..., K], the offsets.
          validate_args: Python `bool`; if `True`, shapes that are only known at run time are
            checked by assertions.
          name: Python `str` name for the ops this bijector creates.

        Raises:
          TypeError: the parameters are not floating point or of different dtypes.
          ValueError: static shapes that do not fit: `u`, `w` of rank < 2 or of different
            [K, D], `b` of rank 0 or whose K differs from theirs, batch shapes that do not
            broadcast, or a K that is not known statically.
        """
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            dtype = _checks.float_dtype({"u": u, "w": w, "b": b})
            self._u = tensor_util.convert_nonref_to_tensor(u, dtype=dtype, name="u")
            self._w = tensor_util.convert_nonref_to_tensor(w, dtype=dtype, name="w")
            self._b = tensor_util.convert_nonref_to_tensor(b, dtype=dtype, name="b")
            self._num_steps = _static_num_steps(self._u, self._w, self._b)
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
            u=tfp.util.ParameterProperties(event_ndims=2),
            w=tfp.util.ParameterProperties(event_ndims=2),
            b=tfp.util.ParameterProperties(event_ndims=1))

    @property
    def u(self):
        """The raw `u`, [..., K, D] (each step uses `planar_constrain(u_k, w_k)` in its place)."""
        return self._u

    @property
    def w(self):
        return self._w

    @property
    def b(self):
        return self._b

    @property
    def num_steps(self):
        """K, the number of planar steps."""
        return self._num_steps

    def _params(self):
        """(û, w, b, (1 + wᵀû, log(1 + wᵀû))) for all K steps: one op each over the K axis."""
        return _planar_params(self._u, self._w, self._b)

    def _forward_terms(self, x):
        """(f(x), the K pre-activations [..., K], fold terms), computed once per input."""

        def compute():
            u_hat, w, b, fold_terms = self._params()
            z = _checks.with_event_size_check(x, "x", w, self.validate_args)
            preactivations = []
            # The z-dependent part, step by step, unrolled: measured against a `tf.scan` and
            # a while loop with a hand-written gradient (benchmarks/results/planar_stack.md).
            # Unstacked once: the gradient of K slices would be K zero-padded [..., K, D] sums.
            for u_k, w_k, b_k in zip(*(tf.unstack(t, axis=-2) for t in (u_hat, w)),
                                     tf.unstack(b, axis=-1)):
                a = tf.reduce_sum(w_k * z, axis=-1) + b_k
                z = z + u_k * tf.tanh(a)[..., tf.newaxis]
                preactivations.append(a)
            return z, tf.stack(preactivations, axis=-1), fold_terms

        return _checks.memoized(
            self._cache.forward_attributes(x), "planar_stack_forward", compute)

    def _forward(self, x):
        return self._forward_terms(x)[0]

    def _forward_log_det_jacobian(self, x):
        _, preactivations, fold_terms = self._forward_terms(x)
        return tf.reduce_sum(_log_abs_det(preactivations, *fold_terms), axis=-1)

    def _inverse_terms(self, y):
        """(f⁻¹(y), the K pre-activations [..., K], fold terms), solved once per input."""

        def compute():
            u_hat, w, b, fold_terms = self._params()
            z = _checks.with_event_size_check(y, "y", w, self.validate_args)
            preactivations = []
            # Unstacked once: the gradient of K slices would be K zero-padded [..., K, D] sums.
            steps = zip(*(tf.unstack(t, axis=-2) for t in (u_hat, w)),
                        *(tf.unstack(t, axis=-1) for t in (b,) + tuple(fold_terms)))
            for u_k, w_k, b_k, *fold_k in reversed(list(steps)):
                a = _solve_preactivation(tf.reduce_sum(w_k * z, axis=-1) + b_k, fold_k)
                z = z - u_k * tf.tanh(a)[..., tf.newaxis]
                preactivations.append(a)
            return z, tf.stack(preactivations[::-1], axis=-1), fold_terms

        return _checks.memoized(
            self._cache.inverse_attributes(y), "planar_stack_inverse", compute)

    def _inverse(self, y):
        return self._inverse_terms(y)[0]

    def _inverse_log_det_jacobian(self, y):
        _, preactivations, fold_terms = self._inverse_terms(y)
        return -tf.reduce_sum(_log_abs_det(preactivations, *fold_terms), axis=-1)

    def _parameter_control_dependencies(self, is_init):
        if not self.validate_args:
            return []
        assertions = []
        if is_init != any(tensor_util.is_ref(p) for p in (self._u, self._w)):
            assertions += _checks.event_size_assertions({"u": self._u, "w": self._w})
        if is_init != any(tensor_util.is_ref(p) for p in (self._u, self._w, self._b)):
            assertions += [
                tf.debugging.assert_equal(
                    ps.shape(self._u)[-2], ps.shape(self._w)[-2],
                    message="Arguments `u` and `w` must have the same number of steps K "
                    "(shape [..., K, D])."),
                tf.debugging.assert_equal(
                    ps.shape(self._b)[-1], ps.shape(self._u)[-2],
                    message="Argument `b` must have shape [..., K] with the K of `u` "
                    "(shape [..., K, D])."),
            ]
        return assertions


def _static_num_steps(u, w, b):
    """K from the static shapes of `u` [..., K, D], `w` [..., K, D] and `b` [..., K]."""
    for name, value, rank in (("u", u, 2), ("w", w, 2), ("b", b, 1)):
        if value.shape.rank is not None and value.shape.rank < rank:
            expected = "[..., K]" if rank == 1 else "[..., K, D]"
            raise ValueError(
                f"Argument `{name}` must have shape {expected} (rank >= {rank}); received "
                f"shape {value.shape}.")
    sizes = {
        name: tf.compat.dimension_value(value.shape[axis]) if value.shape.rank else None
        for name, value, axis in (("u", u, -2), ("w", w, -2), ("b", b, -1))
    }
    known = {name: k for name, k in sizes.items() if k is not None}
    if len(set(known.values())) > 1:
        raise ValueError(
            "Arguments `u` [..., K, D], `w` [..., K, D] and `b` [..., K] must have the same "
            f"number of steps K; received shapes u: {u.shape}, w: {w.shape}, b: {b.shape}.")
    if not known:
        raise ValueError(
            "The number of steps K (`u`'s shape [..., K, D]) must be known statically; "
            f"received shapes u: {u.shape}, w: {w.shape}, b: {b.shape}.")
    return next(iter(known.values()))
