"""A running log-mean-exp over chunks of log-weights, for importance-sampled log-likelihoods.

For log-weights log w_s (s = 1..S) arriving in chunks along axis 0,

    log (1/S) Σ_s w_s = logsumexp_s(log w_s) − log S,

computed as a running `L ← log_add_exp(L, reduce_logsumexp(chunk, axis=0))` from L = −inf, so
memory grows with the chunk, not with S (the IWAE bound of Burda et al., 2016, arXiv:1509.00519,
evaluated with S samples). `tfp.math.log_add_exp(−inf, a) = a`, so the first chunk needs no
special case and the state is a plain loop variable (XLA-friendly in `tf.while_loop`).

    state = log_mean_exp_init(batch_shape, dtype)
    for chunk in chunks:                      # each [S_i, *batch_shape]
        state = log_mean_exp_accumulate(state, chunk)
    result = log_mean_exp_result(state)       # [*batch_shape]
"""

import tensorflow as tf
import tensorflow_probability as tfp

__all__ = ["log_mean_exp_init", "log_mean_exp_accumulate", "log_mean_exp_result"]


def log_mean_exp_init(batch_shape, dtype):
    """The empty state: (running logsumexp = −inf of shape `batch_shape`, count = 0 in `dtype`)."""
    dtype = tf.as_dtype(dtype)
    return (tf.fill(batch_shape, tf.constant(-float("inf"), dtype)), tf.zeros([], dtype))


def log_mean_exp_accumulate(state, log_w):
    """Adds a chunk `log_w` of shape `[S_i, *batch_shape]` (reduced along axis 0) to `state`."""
    total, count = state
    log_w = tf.convert_to_tensor(log_w, dtype=total.dtype)
    chunk = tf.reduce_logsumexp(log_w, axis=0)
    size = tf.cast(tf.shape(log_w)[0], total.dtype)
    # log_add_exp(−inf, −inf) is NaN ((−inf) − (−inf) inside); a chunk whose weights are all 0
    # (or the empty state) must leave −inf, so both inputs are swapped for 0 where the larger
    # one is −inf (the inner `where` keeps the gradient finite too).
    empty = tf.equal(tf.maximum(total, chunk), -float("inf"))
    zeros = tf.zeros_like(total)
    combined = tfp.math.log_add_exp(
        tf.where(empty, zeros, total), tf.where(empty, zeros, chunk))
    return (tf.where(empty, total, combined), count + size)


def log_mean_exp_result(state):
    """log (1/S) Σ_s exp(log w_s) over every chunk accumulated (NaN if none was: 0 samples)."""
    total, count = state
    return total - tf.math.log(count)
