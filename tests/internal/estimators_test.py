"""Tests for tfp_nfvi.internal.estimators: the chunked log-mean-exp equals the direct one."""

import numpy as np
import pytest
import tensorflow as tf

from tfp_nfvi.internal import estimators


def _chunked(log_w, sizes):
    state = estimators.log_mean_exp_init(tf.shape(log_w)[1:], log_w.dtype)
    start = 0
    for size in sizes:
        state = estimators.log_mean_exp_accumulate(state, log_w[start:start + size])
        start += size
    return estimators.log_mean_exp_result(state)


def _direct(log_w):
    log_w = np.asarray(log_w, np.float64)
    m = log_w.max(axis=0)
    return m + np.log(np.mean(np.exp(log_w - m), axis=0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sizes", [[10], [3, 3, 3, 1], [1] * 10, [7, 3]])
def test_chunked_equals_direct_log_mean_exp(dtype, sizes):
    # Widely spread weights (as from a poor posterior): a naive mean of exp would overflow.
    log_w = (np.random.default_rng(0).normal(size=(10, 4)) * 200.0).astype(dtype)
    result = _chunked(tf.constant(log_w), sizes)
    assert result.dtype == dtype and result.shape == [4]
    np.testing.assert_allclose(result.numpy(), _direct(log_w), rtol=1e-6 if dtype == np.float32
                               else 1e-12)


def test_equal_weights_give_that_weight():
    log_w = tf.fill([6, 3], tf.constant(-1234.5, tf.float64))
    np.testing.assert_allclose(_chunked(log_w, [4, 2]).numpy(), -1234.5, rtol=1e-14)


def test_all_zero_weights_give_minus_inf_not_nan():
    log_w = tf.constant([[-np.inf, 0.0], [-np.inf, -np.inf]], tf.float32)
    result = _chunked(log_w, [1, 1]).numpy()
    assert result[0] == -np.inf
    np.testing.assert_allclose(result[1], np.log(0.5), rtol=1e-6)


def test_gradient_matches_direct_softmax_weights():
    log_w = tf.constant(np.random.default_rng(1).normal(size=(5, 2)), tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(log_w)
        result = tf.reduce_sum(_chunked(log_w, [2, 3]))
    expected = tf.nn.softmax(log_w, axis=0)  # d logmeanexp / d log_w_s = w_s / Σ w.
    np.testing.assert_allclose(tape.gradient(result, log_w).numpy(), expected.numpy(),
                               rtol=1e-12)


def test_runs_in_compiled_while_loop_with_dynamic_batch():
    @tf.function(jit_compile=True, input_signature=[tf.TensorSpec([None, None], tf.float32)])
    def loop(log_w):
        num_chunks = tf.shape(log_w)[0] // 2
        state = estimators.log_mean_exp_init(tf.shape(log_w)[1:], tf.float32)
        _, state = tf.while_loop(
            lambda i, _: i < num_chunks,
            lambda i, st: (i + 1, estimators.log_mean_exp_accumulate(st, log_w[2 * i:2 * i + 2])),
            (tf.constant(0), state))
        return estimators.log_mean_exp_result(state)

    log_w = np.random.default_rng(2).normal(size=(8, 3)).astype(np.float32) * 5
    np.testing.assert_allclose(loop(log_w).numpy(), _direct(log_w), rtol=1e-5)


def test_empty_state_result_is_nan_mean_of_no_samples():
    state = estimators.log_mean_exp_init([2], tf.float32)
    assert np.isnan(estimators.log_mean_exp_result(state).numpy()).all()
