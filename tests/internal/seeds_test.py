"""Tests for tfp_nfvi.internal.seeds: the int -> [s, 0] convention, casts and XLA."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_nfvi.internal import seeds


def test_none_passes_through():
    assert seeds.stateless_seed(None) is None


@pytest.mark.parametrize("value", [0, 7, np.int64(123), -5, 2**31 - 1])
def test_int_maps_to_s_zero(value):
    seed = seeds.stateless_seed(value)
    assert seed.dtype == tf.int32 and seed.shape == [2]
    np.testing.assert_array_equal(seed.numpy(), [int(value), 0])


@pytest.mark.parametrize("value", [[3, 4], np.array([3, 4], np.int64), tf.constant([3, 4])])
def test_pair_is_cast_to_int32(value):
    seed = seeds.stateless_seed(value)
    assert seed.dtype == tf.int32
    np.testing.assert_array_equal(seed.numpy(), [3, 4])


@pytest.mark.parametrize("dtype", [tf.int32, tf.int64])
def test_scalar_tensor_maps_to_s_zero_also_in_a_graph(dtype):
    np.testing.assert_array_equal(seeds.stateless_seed(tf.constant(9, dtype)).numpy(), [9, 0])
    traced = tf.function(seeds.stateless_seed,
                         input_signature=[tf.TensorSpec([], dtype)], jit_compile=True)
    np.testing.assert_array_equal(traced(tf.constant(-3, dtype)).numpy(), [-3, 0])


def test_int64_keeps_low_32_bits():
    high = (5 << 32) + 9
    seed = seeds.stateless_seed(tf.constant([high, -(1 << 40) - 2], tf.int64))
    np.testing.assert_array_equal(seed.numpy(), [9, -2])


def test_int64_cast_compiles_and_matches_eager():
    value = tf.constant([(7 << 32) + 11, 13], tf.int64)
    compiled = tf.function(seeds.stateless_seed, jit_compile=True)
    np.testing.assert_array_equal(compiled(value).numpy(), seeds.stateless_seed(value).numpy())


def test_int_seed_drives_tfp_sampler_like_explicit_pair():
    a = tf.stack(tfp.random.split_seed(seeds.stateless_seed(42), n=2))
    b = tf.stack(tfp.random.split_seed(tf.constant([42, 0], tf.int32), n=2))
    np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("value", [True, 1.5, 2**31, -(2**31) - 1, [1, 2, 3], [[1, 2]], [1.0, 2.0]])
def test_rejects_bad_seeds_naming_the_argument(value):
    with pytest.raises(ValueError, match="`seed`"):
        seeds.stateless_seed(value)
