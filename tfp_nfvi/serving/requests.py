"""What a signature does with the tensors a request gives it: seeds, shapes, counts.

One home for the request handling of every exported model (`saved_model.py` for the VAE and
the surrogate, `conditional.py` for `ConditionalFlow`): each signature input is checked in the
graph, so a bad request gets InvalidArgument naming the input instead of a NaN or a failure
deep inside a flow, and the loaded model keeps serving.

* `seed` (`int32` scalar, default `SEED_DEFAULT` = -1 stored in the SignatureDef):
  `stateless_seed(seed)` maps `seed >= 0` to the stateless seed `[seed, 0]` and `seed < 0` to a
  fresh OS-seeded one.
* data inputs: `checked_shape(value, name, shape)` (rank/size and finiteness).
* counts (`n` draws, `num_samples`): `checked_count(value, name, minimum, maximum)`, with the
  caps `MAX_DRAWS` and `MAX_IMPORTANCE_SAMPLES`.
"""

import os

import tensorflow as tf

from tfp_nfvi.internal import seeds

__all__ = [
    "MAX_DRAWS",
    "MAX_IMPORTANCE_SAMPLES",
    "SEED_DEFAULT",
    "check_export_dir",
    "checked_count",
    "checked_shape",
    "default_seed",
    "spec",
    "stateless_seed",
]

SEED_DEFAULT = -1
_INT32_MAX = 2**31 - 1


def stateless_seed(seed):
    """Maps the `seed` input of a signature to a TFP stateless seed (`int32`, shape `[2]`).

    `seed >= 0` gives `[seed, 0]` (the package's int -> stateless-seed convention,
    `tfp_nfvi.internal.seeds`); `seed < 0` gives two integers drawn uniformly from
    `[0, 2³¹ − 1)` by an OS-seeded op, a fresh seed on every call.

    Args:
      seed: integer scalar (Python int or `Tensor`).

    Returns:
      An `int32` `Tensor` of shape `[2]`.
    """
    seed = tf.cast(seed, tf.int32)
    fresh = tf.raw_ops.RandomUniformInt(
        shape=tf.constant([2], tf.int32),
        minval=tf.constant(0, tf.int32),
        maxval=tf.constant(_INT32_MAX, tf.int32),
        seed=0,
        seed2=0,
    )
    return tf.where(seed >= 0, seeds.stateless_seed(seed), fresh)


def default_seed():
    """The `seed` input's default, `SEED_DEFAULT` as a Tensor."""
    # A Tensor default (not a Python int) is what makes TF write a SignatureDef default.
    return tf.constant(SEED_DEFAULT, tf.int32)


def spec(shape, dtype, name):
    """A named `tf.TensorSpec` of a signature input."""
    return tf.TensorSpec(shape, dtype, name=name)


def check_export_dir(export_dir, overwrite):
    """`export_dir` as a str; refuses one that holds a SavedModel unless `overwrite`."""
    export_dir = os.fspath(export_dir)
    if not overwrite and os.path.exists(os.path.join(export_dir, "saved_model.pb")):
        raise ValueError(
            f"`export_dir` {export_dir!r} already holds a SavedModel; choose a new directory "
            "or pass overwrite=True."
        )
    return export_dir


# Largest `n` of a `sample` request and `num_samples` of a `log_likelihood` request: a request
# beyond them is refused (InvalidArgument) instead of exhausting the server's memory or time.
MAX_DRAWS = 2**16
MAX_IMPORTANCE_SAMPLES = 2**20


def checked_shape(value, name, shape):
    """`value` with run-time checks of its shape and finiteness (InvalidArgument naming `name`).

    Signature inputs carry a static shape, but TF Serving and session feeds do not enforce
    it; without this a batch of the wrong rank would fail deep inside a flow, or broadcast,
    and a NaN or infinite input would come back as a silent NaN answer.
    """
    value = tf.ensure_shape(value, shape, name=f"check_{name}_shape")
    return tf.debugging.assert_all_finite(value, f"`{name}` must be finite (no NaN or inf)")


def checked_count(value, name, minimum, maximum):
    """An `int32` scalar with graph assertions `minimum <= value <= maximum` (InvalidArgument)."""
    value = tf.convert_to_tensor(value, tf.int32)
    checks = [
        tf.debugging.assert_greater_equal(
            value, tf.constant(minimum, tf.int32), message=f"`{name}` must be >= {minimum}"),
        tf.debugging.assert_less_equal(
            value, tf.constant(maximum, tf.int32), message=f"`{name}` must be <= {maximum}"),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(value)
