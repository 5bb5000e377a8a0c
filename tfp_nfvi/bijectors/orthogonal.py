"""Matrices with orthonormal columns for the Sylvester flow: Björck orthogonalization (O-SNF)
and the fixed permutations of the triangular variant (T-SNF) (van den Berg et al., 2018).

The Householder variant (H-SNF) is `tfp_nfvi.bijectors.householder_product`.
"""

import numpy as np
import tensorflow as tf

from tfp_nfvi.bijectors import _checks

__all__ = ["orthogonalize_bjorck", "orthonormality_error", "triangular_q"]

# Cap on Björck iterations; the loop stops as soon as every matrix is within `tolerance`.
# From the Frobenius scaling the smallest singular value grows ~1.5x per step until it nears 1,
# then converges quadratically: ~log(‖A‖_F/σ_min(A))/log(1.5) + 6 steps.
_BJORCK_MAX_ITERATIONS = 100


def orthonormality_error(q):
    """max |(QᵀQ − I)ᵢⱼ| over the last two axes: 0 for exactly orthonormal columns.

    Args:
      q: float `Tensor` of shape [..., D, M].

    Returns:
      A `Tensor` of shape [...].
    """
    with tf.name_scope("orthonormality_error"):
        q = tf.convert_to_tensor(q, dtype=_checks.float_dtype({"q": q}), name="q")
        gram = tf.linalg.matmul(q, q, adjoint_a=True)
        return tf.reduce_max(tf.abs(tf.linalg.set_diag(gram, tf.linalg.diag_part(gram) - 1)),
                             axis=[-2, -1])


def orthogonalize_bjorck(a, max_iterations=_BJORCK_MAX_ITERATIONS, tolerance=None):
    """The orthonormal polar factor of A (M ≤ D columns) by Björck's iteration (O-SNF).

    Q₀ = A/‖A‖_F,  Qₖ₊₁ = Qₖ(I + ½(I − QₖᵀQₖ))   (Björck & Bowie, 1971; van den Berg et al.,
    2018, eq. 13). With A = UΣVᵀ each step maps every singular value σ to σ(3 − σ²)/2 and keeps
    U and V, so Qₖ → UVᵀ, the orthonormal matrix nearest to A, if and only if A has full
    column rank and every singular value of Q₀ lies in (0, √3). Dividing by the Frobenius
    norm ‖A‖_F ≥ σ_max(A) puts them all in (0, 1], so the iteration converges for every A of
    full column rank; a small σ/‖A‖_F grows by ~1.5x per step before the quadratic phase, so
    ill-conditioned A needs more steps (a rank-deficient A never converges and stops at the
    cap with `orthonormality_error(Q)` > tolerance).

    The loop (a `tf.while_loop` with `maximum_iterations`, so it compiles with XLA and has
    gradients there) stops once `orthonormality_error` ≤ `tolerance` for every matrix in the
    batch, or after `max_iterations` steps. Gradients flow through the iterations, as in the
    paper.

    Args:
      a: float `Tensor` of shape [..., D, M], M ≤ D, unconstrained (e.g. one matrix per
        example from an encoder).
      max_iterations: Python `int`, the cap on iterations.
      tolerance: Python `float`, the target of max |QᵀQ − I|; `None` means 100·eps of the
        dtype (~1.2e-5 for float32, ~2.2e-14 for float64), a few times the floor rounding
        leaves.

    Returns:
      Q, a `Tensor` of shape [..., D, M].

    Raises:
      ValueError: `a` of rank < 2, or with more columns than rows (M > D), statically.
    """
    with tf.name_scope("orthogonalize_bjorck"):
        dtype = _checks.float_dtype({"a": a})
        a = tf.convert_to_tensor(a, dtype=dtype, name="a")
        _check_tall(a, "a")
        if tolerance is None:
            tolerance = 100 * np.finfo(dtype.as_numpy_dtype).eps
        frobenius = tf.sqrt(tf.reduce_sum(tf.square(a), axis=[-2, -1], keepdims=True))
        tiny = np.finfo(dtype.as_numpy_dtype).tiny
        q = a / tf.maximum(frobenius, tiny)
        num_columns = tf.shape(a)[-1]
        eye = tf.eye(num_columns, dtype=dtype)

        def body(q, _):
            gram = tf.linalg.matmul(q, q, adjoint_a=True)
            residual = eye - gram
            error = tf.reduce_max(tf.abs(residual))
            return q + 0.5 * tf.linalg.matmul(q, residual), error

        q, _ = tf.while_loop(
            lambda q, error: error > tolerance,
            body,
            (q, tf.constant(np.inf, dtype)),
            maximum_iterations=max_iterations)
        return q


def triangular_q(event_size, reverse=False, dtype=tf.float32):
    """The constant Q of the triangular Sylvester flow (T-SNF): I, or the reversal permutation.

    van den Berg et al. (2018) alternate Q = I and Q = the permutation that reverses the order
    of the coordinates between steps, so that with upper triangular R, R̃ successive steps
    couple the coordinates in opposite orders.

    Args:
      event_size: Python `int` D.
      reverse: Python `bool`; `False` gives I, `True` the reversal (ones on the anti-diagonal).
      dtype: the float dtype.

    Returns:
      A constant `Tensor` of shape [D, D].
    """
    eye = np.eye(event_size)
    return tf.constant(eye[::-1] if reverse else eye, dtype=dtype)


def _check_tall(q, name):
    """Raises `ValueError` if `q`'s static shape is not [..., D, M] with M ≤ D."""
    if q.shape.rank is not None and q.shape.rank < 2:
        raise ValueError(
            f"Argument `{name}` must have shape [..., D, M] (rank >= 2); received shape "
            f"{q.shape}.")
    if q.shape.rank is None:
        return
    rows, columns = (tf.compat.dimension_value(d) for d in q.shape[-2:])
    if rows is not None and columns is not None and columns > rows:
        raise ValueError(
            f"Argument `{name}` must have shape [..., D, M] with M <= D (at most D orthonormal "
            f"columns exist in D dimensions); received shape {q.shape}.")
