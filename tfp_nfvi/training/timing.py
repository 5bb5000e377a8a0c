"""`StepTimer`: wall-clock seconds per epoch and steady-state training steps per second."""

import math
import time

import keras
import tensorflow as tf

__all__ = ["StepTimer"]


class StepTimer(keras.callbacks.Callback):
    """Times each epoch, and the training steps after each epoch's first execution.

    The first compiled call of an epoch (it includes compilation in the first epoch, and the
    iterator's start in every epoch) is left out of `steps_per_second`: the steady state is the
    time from the end of the first execution to the end of the epoch's last training step (the
    start of validation), divided by the steps run in between.

    The totals live in variables (`state`): saved with a run's checkpoint and restored with it,
    they make `train_seconds` and `steps_per_second` of a resumed run cover the epochs trained
    before the restart too (`timed_epochs` says how many epochs they cover; the time between a
    run's last checkpoint and its interruption is lost with that epoch's work).

    Attributes:
      epoch_seconds: wall-clock seconds of each epoch of this timer's `fit` (training and
        validation).
      train_seconds: seconds from the start of each `fit` to the end of its last finished
        epoch, summed over `fit` calls (those of restored runs included).
      timed_epochs: the number of epochs `train_seconds` covers.
      steps_per_second: steady-state steps per second over those epochs (NaN if none measured).
      state: a `tf.train.Checkpoint` of the totals, for the run's checkpoint.
    """

    def __init__(self):
        super().__init__()
        self.epoch_seconds = []
        self.state = tf.train.Checkpoint(
            seconds=tf.Variable(0.0, dtype=tf.float64, trainable=False),
            epochs=tf.Variable(0, dtype=tf.int64, trainable=False),
            steady_seconds=tf.Variable(0.0, dtype=tf.float64, trainable=False),
            steady_steps=tf.Variable(0, dtype=tf.int64, trainable=False))

    def on_train_begin(self, logs=None):
        self._fit_start = time.perf_counter()
        self._seconds_before_fit = float(self.state.seconds)

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
        now = time.perf_counter()
        self.epoch_seconds.append(now - self._epoch_start)
        self.state.seconds.assign(self._seconds_before_fit + now - self._fit_start)
        self.state.epochs.assign_add(1)
        steps = self.params.get("steps") or self._last_step
        steady = min(steps, self._last_step) - self._first_steps
        if steady > 0:
            self.state.steady_seconds.assign_add(self._last_end - self._first_end)
            self.state.steady_steps.assign_add(steady)

    @property
    def train_seconds(self):
        return float(self.state.seconds)

    @property
    def timed_epochs(self):
        return int(self.state.epochs)

    @property
    def steps_per_second(self):
        seconds = float(self.state.steady_seconds)
        if seconds <= 0:
            return math.nan
        return int(self.state.steady_steps) / seconds
