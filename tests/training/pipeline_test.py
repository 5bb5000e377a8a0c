"""Tests for tfp_nfvi.training.pipeline: one epoch of batches, a function of (seed, epoch)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_nfvi.training import pipeline


def _epoch(x, epoch_value, **kwargs):
    epoch = tf.Variable(epoch_value, dtype=tf.int64)
    return np.stack(list(pipeline.epoch_dataset(x, 4, 7, epoch, **kwargs).as_numpy_iterator()))


def test_an_epoch_is_a_permutation_that_depends_on_seed_and_epoch_only():
    x = np.arange(22, dtype=np.float32)[:, None]
    first = _epoch(x, 3)
    assert first.shape == (5, 4, 1)  # 22 // 4 full batches, the remainder dropped.
    assert len(set(first.ravel())) == 20
    np.testing.assert_array_equal(first, _epoch(x, 3))  # Same (seed, epoch): same batches.
    assert not np.array_equal(first, _epoch(x, 4))


def test_binary_digits_come_out_as_the_same_float32_batches_in_the_same_order():
    # Row i holds the 5 bits of i: binary data (held as uint8 inside), decoded back to i.
    index = np.arange(22)
    bits = ((index[:, None] >> np.arange(5)) & 1).astype(np.float32)
    batches = _epoch(bits, 3)
    assert batches.dtype == np.float32 and batches.shape == (5, 4, 5)
    decoded = (batches * 2.0 ** np.arange(5)).sum(-1)
    # The same permutation as for non-binary (float32-held) rows.
    np.testing.assert_array_equal(decoded, _epoch(index[:, None].astype(np.float32), 3)[..., 0])


def test_the_epoch_is_read_when_iteration_starts():
    x = np.arange(8, dtype=np.float32)[:, None]
    epoch = tf.Variable(0, dtype=tf.int64)
    dataset = pipeline.epoch_dataset(x, 4, 7, epoch)
    assert dataset.cardinality() == 2
    epoch.assign(5)
    np.testing.assert_array_equal(np.stack(list(dataset.as_numpy_iterator())), _epoch(x, 5))


def test_dynamic_binarization_draws_bernoulli_with_the_grey_levels_as_means():
    grey = np.full((400, 50), 0.3, np.float32)
    draws = _epoch(grey, 0, dynamic_binarization=True)
    assert set(np.unique(draws)) <= {0.0, 1.0}
    # 100 batches x 4 x 50 = 20,000 draws: the mean's standard error is 0.0032; 5 of them.
    assert abs(draws.mean() - 0.3) < 0.016
    assert not np.array_equal(draws, _epoch(grey, 1, dynamic_binarization=True))
    np.testing.assert_array_equal(draws, _epoch(grey, 0, dynamic_binarization=True))


def test_fit_takes_exactly_one_epoch_per_epoch_when_steps_per_execution_does_not_divide_it():
    """5 batches, steps_per_execution=2: the third execution runs 1 step, not 2."""
    x = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    epoch = tf.Variable(0, dtype=tf.int64)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3)])
    model.compile("sgd", loss="mse", steps_per_execution=2)
    iterations = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, e, logs=None):
            iterations.append(int(self.model.optimizer.iterations))

    dataset = pipeline.epoch_dataset(x, 4, 0, epoch).map(lambda b: (b, b))
    model.fit(dataset, epochs=3, shuffle=False, verbose=0,
              callbacks=[pipeline.EpochCounter(epoch), Record()])
    assert iterations == [5, 10, 15] and int(epoch) == 2


def test_batch_larger_than_the_data_is_refused():
    with pytest.raises(ValueError, match="`batch_size` 9 exceeds the 8 training examples"):
        pipeline.epoch_dataset(np.zeros((8, 2), np.float32), 9, 0, tf.Variable(0, tf.int64))


def test_compact_binary_holds_binary_digits_as_uint8_and_leaves_other_data_alone():
    bits = (np.random.default_rng(0).random((6, 5)) < 0.5).astype(np.float32)
    compact = pipeline.compact_binary(bits)
    assert compact.dtype == np.uint8
    np.testing.assert_array_equal(compact.astype(np.float32), bits)
    grey = np.full((2, 3), 0.5, np.float32)
    assert pipeline.compact_binary(grey).dtype == np.float32


def test_evaluation_dataset_yields_every_row_in_order_as_float32():
    bits = (np.random.default_rng(1).random((7, 5)) < 0.5).astype(np.float32)
    batches = list(pipeline.evaluation_dataset(bits, 3).as_numpy_iterator())
    assert [b.shape[0] for b in batches] == [3, 3, 1]  # The last batch is kept.
    assert all(b.dtype == np.float32 for b in batches)
    np.testing.assert_array_equal(np.concatenate(batches), bits)
