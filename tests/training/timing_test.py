"""Tests for tfp_nfvi.training.timing: steady-state steps per second."""

import math
import time

from tfp_nfvi.training import timing


def test_first_execution_is_left_out_of_the_steady_state():
    timer = timing.StepTimer()
    timer.set_params({"steps": 5})
    timer.on_epoch_begin(0)
    time.sleep(0.2)  # "Compilation": not counted.
    for last_step in (1, 3, 5):  # Executions of 2 steps; Keras reports 0-based last steps.
        timer.on_train_batch_end(last_step)
        time.sleep(0.05)
    timer.on_epoch_end(0)
    # 5 - 2 = 4 steady steps (the last execution holds 1 real step) in ~0.1 s.
    assert 4 / 0.2 < timer.steps_per_second < 4 / 0.09
    assert timer.epoch_seconds[0] >= 0.35
    assert math.isnan(timing.StepTimer().steps_per_second)
