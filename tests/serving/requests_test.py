"""Tests for tfp_nfvi.serving.requests: the checks and seeds every signature applies."""

import numpy as np
import pytest
import tensorflow as tf

from tfp_nfvi.serving import requests


def test_non_negative_seed_is_the_stateless_seed_and_negative_draws_fresh_ones():
    np.testing.assert_array_equal(requests.stateless_seed(5).numpy(), [5, 0])
    fresh = [requests.stateless_seed(requests.SEED_DEFAULT).numpy() for _ in range(3)]
    assert all(s.dtype == np.int32 and s.shape == (2,) and (s >= 0).all() for s in fresh)
    assert len({tuple(s) for s in fresh}) == 3


def test_default_seed_is_a_tensor_so_signatures_record_it():
    default = requests.default_seed()
    assert isinstance(default, tf.Tensor) and default.dtype == tf.int32
    assert int(default) == requests.SEED_DEFAULT


@pytest.mark.parametrize("fn", [lambda f: f, lambda f: tf.function(f, jit_compile=False)])
def test_checked_shape_passes_good_values_and_names_bad_ones(fn):
    check = fn(lambda v: requests.checked_shape(v, "x", [None, 3]))
    np.testing.assert_array_equal(check(tf.ones([2, 3])).numpy(), np.ones([2, 3]))
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="check_x_shape|3"):
        check(tf.ones([2, 4]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="`x` must be finite"):
        check(tf.constant([[0.0, np.nan, 1.0]]))


def test_checked_count_enforces_its_range_in_the_graph():
    check = tf.function(lambda n: requests.checked_count(n, "n", 1, requests.MAX_DRAWS),
                        input_signature=[tf.TensorSpec([], tf.int32)])
    assert int(check(tf.constant(4))) == 4
    with pytest.raises(tf.errors.InvalidArgumentError, match="`n` must be >= 1"):
        check(tf.constant(0))
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"`n` must be <= {2**16}"):
        check(tf.constant(requests.MAX_DRAWS + 1))


def test_check_export_dir_refuses_an_existing_saved_model(tmp_path):
    assert requests.check_export_dir(tmp_path, overwrite=False) == str(tmp_path)
    (tmp_path / "saved_model.pb").write_bytes(b"")
    with pytest.raises(ValueError, match="already holds a SavedModel"):
        requests.check_export_dir(tmp_path, overwrite=False)
    assert requests.check_export_dir(tmp_path, overwrite=True) == str(tmp_path)


def test_spec_names_the_input():
    spec = requests.spec([None, 3], tf.float32, "x")
    assert spec.name == "x" and spec.shape.as_list() == [None, 3]
