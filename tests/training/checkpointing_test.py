"""Tests for tfp_nfvi.training.checkpointing: consistent snapshots and refusals to resume."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_nfvi.training import checkpointing


def _model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("adam", loss="mse")
    model.optimizer.build(model.trainable_variables)
    return model


def _saver(tmp_path, model, **config):
    return checkpointing.RunCheckpoint(str(tmp_path), model, dict(dict(flow="a", epochs=2),
                                                                  **config), ("flow",))


def test_save_and_restore_round_trip(tmp_path):
    model = _model()
    saver = _saver(tmp_path, model)
    assert saver.restore() == 0  # Nothing saved yet.
    saver.start()
    model.layers[0].kernel.assign([[1.0], [2.0]])
    saver.on_epoch_end(2)
    model.layers[0].kernel.assign([[0.0], [0.0]])
    other = _model()
    assert _saver(tmp_path, other, epochs=9).restore() == 3  # epochs may change on resume.
    np.testing.assert_array_equal(other.layers[0].kernel.numpy(), [[1.0], [2.0]])


def test_other_settings_and_corrupt_files_are_refused_by_name(tmp_path):
    saver = _saver(tmp_path, _model())
    saver.start()
    saver.on_epoch_end(0)
    with pytest.raises(checkpointing.CheckpointError, match="--flow=a.*--flow=b"):
        _saver(tmp_path, _model(), flow="b").restore()
    (tmp_path / "ckpt-1.index").write_bytes(b"garbage")
    with pytest.raises(checkpointing.CheckpointError, match="ckpt-1.*corrupt"):
        _saver(tmp_path, _model()).restore()
    (tmp_path / checkpointing.CONFIG_FILE).write_text("{trunc")
    with pytest.raises(checkpointing.CheckpointError, match="run_config.json is truncated"):
        _saver(tmp_path, _model()).restore()


def _saver_with_optional(directory, variable):
    return checkpointing.RunCheckpoint(str(directory), _model(), dict(flow="a"), ("flow",),
                                       optional_state=dict(timer=variable))


def test_optional_state_is_saved_and_may_be_missing_from_earlier_checkpoints(tmp_path):
    counter = tf.Variable(0, dtype=tf.int64)
    saver = _saver_with_optional(tmp_path / "new", counter)
    saver.start()
    counter.assign(7)
    saver.on_epoch_end(0)
    restored = tf.Variable(0, dtype=tf.int64)
    assert _saver_with_optional(tmp_path / "new", restored).restore() == 1
    assert int(restored) == 7
    # A checkpoint written without it (an earlier version) restores; the variable keeps its
    # initial value. A missing required object is still refused.
    old = _saver(tmp_path / "old", _model())
    old.start()
    old.on_epoch_end(0)
    missing = tf.Variable(5, dtype=tf.int64)
    assert _saver_with_optional(tmp_path / "old", missing).restore() == 1
    assert int(missing) == 5
    with pytest.raises(checkpointing.CheckpointError, match="ckpt-1"):
        checkpointing.RunCheckpoint(str(tmp_path / "old"), _model(), dict(flow="a"), ("flow",),
                                    timer=tf.train.Checkpoint(v=missing)).restore()
