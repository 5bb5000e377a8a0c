"""`StepTimer`: wall-clock seconds per epoch and steady-state training steps per second."""

import math
import time

import keras

__all__ = ["StepTimer"]


class StepTimer(keras.callbacks.Callback):
    """Times each epoch, and the training steps after each epoch's first execution.

    The first compiled call of an epoch (it includes compilation in the first epoch, and the
    iterator's start in every epoch) is left out of `steps_per_second`: the steady state is the
    time from the end of the first execution to the end of the epoch's last training step (the
    start of validation), divided by the steps run in between.

    Attributes:
      epoch_seconds: wall-clock seconds of each epoch (training and validation).
      steps_per_second: steady-state steps per second over all epochs (NaN if none measured).
    """

    def __init__(self):
        super().__init__()
        self.epoch_seconds = []
        self._steady_seconds = 0.0
        self._steady_steps = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._first_end = None
        self._first_steps = 0
        self._last_end = None
        self._last_step = 0

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self._first_end is None:
            # Keras reports the last step of an execution (0-based).
            self._first_end, self._first_steps = now, batch + 1
        self._last_end, self._last_step = now, batch + 1

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds.append(time.perf_counter() - self._epoch_start)
        steps = self.params.get("steps") or self._last_step
        steady = min(steps, self._last_step) - self._first_steps
        if steady > 0:
            self._steady_seconds += self._last_end - self._first_end
            self._steady_steps += steady

    @property
    def steps_per_second(self):
        if self._steady_seconds <= 0:
            return math.nan
        return self._steady_steps / self._steady_seconds
