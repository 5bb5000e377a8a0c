"""The linear warm-up of a KL weight (or an annealing inverse temperature).

    β_t = min(1, β₀ + t / T)     for T = `warmup_steps` > 0,
    β_t = 1                      for T <= 0 (no warm-up),

the deterministic warm-up of Sønderby et al. (2016, arXiv:1602.02282) and the annealing schedule
of Rezende & Mohamed (2015, arXiv:1505.05770).
"""

import tensorflow as tf

__all__ = ["linear_warmup"]


def linear_warmup(step, warmup_steps, initial):
    """β at `step` for a linear warm-up from `initial` to 1 over `warmup_steps` steps.

    Works on Python numbers (returns a `float`) and on tensors (returns a float tensor, no
    Python control flow on values, so it compiles under XLA). `warmup_steps` <= 0 (a Python
    number or a tensor) switches the warm-up off: β = 1.

    Args:
      step: the current step t >= 0 (int, float or tensor).
      warmup_steps: T; T <= 0 disables the warm-up.
      initial: β₀, the weight at step 0.
    """
    if not any(tf.is_tensor(v) for v in (step, warmup_steps, initial)):
        if warmup_steps <= 0:
            return 1.0
        return float(min(1.0, initial + step / warmup_steps))
    dtype = next(
        (v.dtype for v in (initial, step) if tf.is_tensor(v) and v.dtype.is_floating),
        tf.float32,
    )
    step = tf.cast(step, dtype)
    warmup = tf.cast(warmup_steps, dtype)
    initial = tf.cast(initial, dtype)
    safe_warmup = tf.where(warmup > 0, warmup, tf.ones_like(warmup))
    ramp = tf.minimum(tf.ones([], dtype), initial + step / safe_warmup)
    return tf.where(warmup > 0, ramp, tf.ones_like(ramp))
