"""The one int -> TFP stateless-seed convention.

TFP's stateless samplers take an `int32` tensor of shape `[2]`. A Python/NumPy int `s` (or a
scalar integer tensor) maps to `[s, 0]` (the convention of serving's signatures, which documents
it to users); a shape-`[2]` seed passes through as `int32`. An `int64` seed (what `keras.random.SeedGenerator.next()`
yields) keeps its low 32 bits: `tf.cast` int64 -> int32 wraps around, which XLA compiles.
"""

import numbers

import numpy as np
import tensorflow as tf

__all__ = ["derived_seed", "stateless_seed"]


def stateless_seed(seed):
    """Returns `seed` as a TFP stateless seed: `int32` `Tensor` of shape `[2]`, or `None`.

    Args:
      seed: `None`; a Python/NumPy int `s` (-> `[s, 0]`, s in [-2³¹, 2³¹)); a scalar integer
        tensor `s` (-> `[s, 0]`); or an integer tensor, array or list of shape `[2]` (-> cast
        to `int32`). int64 values keep their low 32 bits.

    Raises:
      ValueError: a bool, a float, an int outside int32, or a tensor whose static shape is
        neither `[]` nor `[2]`.
    """
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)):
        raise ValueError(f"`seed` must be an int or an int tensor of shape [2], got {seed!r}.")
    if isinstance(seed, (numbers.Integral, np.integer)):
        if not -(2**31) <= int(seed) < 2**31:
            raise ValueError(f"`seed` must fit in int32, got {seed!r}.")
        return tf.constant([int(seed), 0], dtype=tf.int32)
    tensor = tf.convert_to_tensor(seed)
    if not tensor.dtype.is_integer:
        raise ValueError(
            f"`seed` must be an int or an int tensor of shape [] or [2], got dtype "
            f"{tensor.dtype.name}."
        )
    tensor = tensor if tensor.dtype == tf.int32 else tf.cast(tensor, tf.int32)
    if tensor.shape.rank == 0:
        return tf.stack([tensor, tf.zeros_like(tensor)])
    if not tensor.shape.is_compatible_with([2]):
        raise ValueError(
            f"`seed` must be an int or an int tensor of shape [] or [2], got shape "
            f"{tensor.shape}."
        )
    return tensor


def derived_seed(seed, index):
    """An independent int seed in [0, 2³⁰) for part `index` of something seeded with `seed`.

    Layers give each weight initializer its own seed this way, so one user-facing `seed`
    decides every initial weight without two parts sharing a stream (`seed + index` would
    make part 1 of seed 0 and part 0 of seed 1 identical). `None` stays `None` (Keras's
    global random state).
    """
    if seed is None:
        return None
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0] % 2**30)
