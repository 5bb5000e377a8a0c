"""`ResumableEarlyStopping`: Keras's `EarlyStopping` whose state survives a restart.

`keras.callbacks.EarlyStopping` keeps its state (epochs waited, best value, best epoch) in
Python attributes and resets them in `on_train_begin`, so a run resumed from a checkpoint would
forget how long it had waited and could stop later than the uninterrupted run. This subclass
mirrors the state in variables, which the training checkpoint saves (`state`), and takes them
back in `on_train_begin`. The best weights are not kept in memory (`restore_best_weights` is
off): `keras.callbacks.ModelCheckpoint` writes them to disk, where a restart finds them.
"""

import math

import keras
import tensorflow as tf

__all__ = ["ResumableEarlyStopping"]


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """`EarlyStopping` on a metric to maximize, with checkpointable state.

    Args:
      monitor: the metric, e.g. "val_elbo" (larger is better).
      patience: epochs without improvement before stopping; 0 never stops (the best epoch is
        still tracked).

    Attributes:
      state: a `tf.train.Checkpoint` of the variables `wait`, `best` and `best_epoch` (−1 until
        an epoch has been scored), to be saved with the model.
    """

    def __init__(self, monitor, patience):
        super().__init__(monitor=monitor, mode="max", patience=patience or math.inf)
        self.state = tf.train.Checkpoint(
            wait=tf.Variable(0, dtype=tf.int64, trainable=False, name="wait"),
            best=tf.Variable(-math.inf, dtype=tf.float64, trainable=False, name="best"),
            best_epoch=tf.Variable(-1, dtype=tf.int64, trainable=False, name="best_epoch"),
        )

    @property
    def saved_best_epoch(self):
        """The 0-based best epoch recorded so far, or −1."""
        return int(self.state.best_epoch)

    @property
    def saved_best(self):
        """The best monitored value recorded so far (−inf before the first)."""
        return float(self.state.best)

    @property
    def exhausted(self):
        """Whether the recorded wait already reaches the patience (a finished run)."""
        return int(self.state.wait) >= self.patience

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.saved_best_epoch >= 0:  # Restored from a checkpoint.
            self.wait = int(self.state.wait)
            self.best = self.saved_best
            self.best_epoch = self.saved_best_epoch

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if self.best is not None:
            self.state.wait.assign(self.wait)
            self.state.best.assign(self.best)
            self.state.best_epoch.assign(self.best_epoch)
