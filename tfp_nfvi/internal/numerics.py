"""Numerical helpers with safe values and gradients."""

import tensorflow as tf

__all__ = ["safe_norm"]


def safe_norm(x, axis=-1, keepdims=False, eps=None):
    """Euclidean norm ‖x‖ = sqrt(Σ x²) over `axis`, with a finite value and gradient at x = 0.

    With `eps=None` (default) the value is exact and the gradient at x = 0 is 0 (not NaN): the
    "double where" trick, so the square root only ever sees positive values and neither the
    forward value nor the backward pass meets sqrt's infinite slope at 0. With `eps > 0` the
    result is sqrt(Σ x² + eps²) instead (smooth everywhere, ≥ eps).

    Args:
      x: float `Tensor`.
      axis: axis or axes to reduce.
      keepdims: keep the reduced axes with size 1.
      eps: `None` or a non-negative float.
    """
    x = tf.convert_to_tensor(x)
    squared = tf.reduce_sum(tf.square(x), axis=axis, keepdims=keepdims)
    if eps is not None:
        return tf.sqrt(squared + tf.cast(eps, squared.dtype) ** 2)
    positive = squared > 0
    return tf.where(
        positive, tf.sqrt(tf.where(positive, squared, tf.ones_like(squared))),
        tf.zeros_like(squared))
