"""Tests for tfp_nfvi.training.timing: steady-state steps per second, kept across restarts."""

import math
import time

import pytest
import tensorflow as tf

from tfp_nfvi.training import timing


def _epoch(timer, epoch, compile_seconds=0.0):
    """One epoch of 5 steps in executions of 2; Keras reports 0-based last steps."""
    timer.on_epoch_begin(epoch)
    time.sleep(compile_seconds)  # "Compilation": not counted in the steady state.
    for last_step in (1, 3, 5):
        timer.on_train_batch_end(last_step)
        time.sleep(0.05)
    timer.on_epoch_end(epoch)


def test_first_execution_is_left_out_of_the_steady_state():
    timer = timing.StepTimer()
    timer.set_params({"steps": 5})
    timer.on_train_begin()
    _epoch(timer, 0, compile_seconds=0.2)
    # Steps 3-5 (the last execution holds 1 real step) in ~0.1 s (a busy machine: more).
    assert 3 / 0.5 < timer.steps_per_second < 3 / 0.09
    assert timer.epoch_seconds[0] >= 0.35
    assert timer.train_seconds >= timer.epoch_seconds[0] and timer.timed_epochs == 1
    assert math.isnan(timing.StepTimer().steps_per_second)


def test_totals_restored_from_a_checkpoint_cover_the_earlier_epochs(tmp_path):
    first = timing.StepTimer()
    first.set_params({"steps": 5})
    first.on_train_begin()
    _epoch(first, 0)
    _epoch(first, 1)
    path = first.state.save(str(tmp_path / "timer"))
    resumed = timing.StepTimer()
    resumed.set_params({"steps": 5})
    resumed.state.restore(path).assert_consumed()
    resumed.on_train_begin()
    _epoch(resumed, 2)
    assert resumed.timed_epochs == 3 and resumed.epoch_seconds == pytest.approx(
        resumed.epoch_seconds[-1:])  # This fit's epochs only.
    assert resumed.train_seconds == pytest.approx(
        first.train_seconds + resumed.epoch_seconds[0], abs=0.02)
    # 3 epochs × 3 steady steps, ~0.1 s each.
    assert int(resumed.state.steady_steps) == 9
    assert 9 / 1.5 < resumed.steps_per_second < 9 / 0.27
    assert isinstance(resumed.state, tf.train.Checkpoint)
