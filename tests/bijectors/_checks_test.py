"""Tests for tfp_nfvi.bijectors._checks: argument checks and the per-input memo."""

import numpy as np
import pytest
import tensorflow as tf

from tfp_nfvi.bijectors import _checks


def test_float_dtype_is_the_common_floating_dtype():
    assert _checks.float_dtype({"a": np.zeros(2, np.float64), "b": 1.0}) == tf.float64
    assert _checks.float_dtype({"a": [1.0], "b": 2.0}) == tf.float32  # The hint.


def test_float_dtype_names_the_arguments_and_their_dtypes():
    with pytest.raises(TypeError, match=r"`a`, `b` must share one floating dtype.*float64"):
        _checks.float_dtype({"a": np.zeros(2, np.float32), "b": np.zeros(2, np.float64)})
    with pytest.raises(TypeError, match=r"`a` must be floating point.*int32"):
        _checks.float_dtype({"a": np.zeros(2, np.int32)})


def test_static_parameter_shapes_accept_broadcasting_batches():
    _checks.check_static_parameter_shapes(
        {"u": tf.zeros([4, 1, 3]), "w": tf.zeros([5, 3])}, {"b": tf.zeros([5])})


@pytest.mark.parametrize(
    "vectors, scalars, message",
    [({"u": tf.zeros([])}, {}, r"`u` must have shape \[..., D\]"),
     ({"u": tf.zeros([2, 3]), "w": tf.zeros([2, 4])}, {}, r"`u` and `w`.*received 3 and 4"),
     ({"u": tf.zeros([2, 3]), "w": tf.zeros([5, 3])}, {},
      r"`w` has shape \(5, 3\), whose batch shape \(5,\)"),
     ({"u": tf.zeros([2, 3])}, {"b": tf.zeros([2, 3])}, r"`b` has shape \(2, 3\).*`u`")],
)
def test_static_parameter_shapes_raise_with_the_argument_name(vectors, scalars, message):
    with pytest.raises(ValueError, match=message):
        _checks.check_static_parameter_shapes(vectors, scalars)


def test_with_event_size_check_static_and_dynamic():
    params = tf.zeros([3])
    with pytest.raises(ValueError, match=r"`x` must have event size.*3.*\(5, 2\)"):
        _checks.with_event_size_check(tf.zeros([5, 2]), "x", params, validate_args=False)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
    def checked(x):
        return _checks.with_event_size_check(x, "x", params, validate_args=True)

    np.testing.assert_array_equal(checked(tf.ones([2, 3])).numpy(), np.ones([2, 3]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="`x`"):
        checked(tf.ones([2, 2]))


def test_memoized_computes_once_per_key_inside_a_trace_and_always_eagerly():
    calls = []

    def compute():
        calls.append(1)
        return tf.constant(1.0)

    _checks.memoized({}, "k", compute)
    _checks.memoized({}, "k", compute)
    assert len(calls) == 2  # Eager: never cached (a Variable may change between calls).

    @tf.function
    def traced():
        attributes = {}
        a = _checks.memoized(attributes, "k", compute)
        b = _checks.memoized(attributes, "k", compute)
        _checks.memoized(attributes, "other", compute)
        return a + b

    calls.clear()
    assert float(traced()) == 2.0
    assert len(calls) == 2  # "k" once, "other" once.
