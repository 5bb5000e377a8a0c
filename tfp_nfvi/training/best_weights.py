"""`BestWeights`: Keras's `ModelCheckpoint` keeping the weights of the best validation epoch.

Files are named by epoch (`best-0007.weights.h5` for the 7th epoch), and the two newest are
kept: the training checkpoint, written after this callback at each epoch's end, always names one
of them (`ResumableEarlyStopping`'s best epoch), so a run killed while a file is being written
still finds the best weights it recorded. On resume the threshold starts at the recorded best
value (`initial_value_threshold`), so an epoch is saved only if it beats every earlier one.
"""

import glob
import os

import keras

__all__ = ["BestWeights"]

_PATTERN = "best-{epoch:04d}.weights.h5"


class BestWeights(keras.callbacks.ModelCheckpoint):
    """Saves the weights whenever `monitor` (to maximize) improves.

    Args:
      directory: where the `best-<epoch>.weights.h5` files go.
      monitor: the metric, e.g. "val_elbo".
      initial_value_threshold: the best value of the run so far (on resume), or None.
    """

    def __init__(self, directory, monitor, initial_value_threshold=None):
        super().__init__(
            os.path.join(directory, _PATTERN), monitor=monitor, mode="max", save_best_only=True,
            save_weights_only=True, initial_value_threshold=initial_value_threshold, verbose=0)
        self.directory = directory

    def path(self, epoch):
        """The file of 0-based `epoch`."""
        return os.path.join(self.directory, _PATTERN.format(epoch=epoch + 1))

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        for stale in sorted(glob.glob(os.path.join(self.directory, "best-*.weights.h5")))[:-2]:
            os.remove(stale)

    def restore(self, epoch):
        """Loads the weights saved at 0-based `epoch` into the model; False if there are none."""
        path = self.path(epoch)
        if epoch < 0 or not os.path.exists(path):
            return False
        try:
            self.model.load_weights(path)
        except Exception as error:  # pylint: disable=broad-except  # h5py's errors vary.
            raise ValueError(f"best weights {path} are truncated or corrupt: {error}") from None
        return True
