"""`RunCheckpoint`: one consistent snapshot of a training run per epoch, and exact resume.

Each epoch's end writes a `tf.train.Checkpoint` of the model (weights and seed-stream states),
the optimizer (slots and iteration counter), the number of finished epochs and the given extra
state (early stopping's). `tf.train.CheckpointManager` writes the files first and then replaces
the `checkpoint` index file atomically, so a run killed at any moment leaves the previous
checkpoint intact and named. Because the input pipeline ends every epoch's iterator with the
epoch (`tfp_nfvi.training.pipeline`), the checkpoint of epoch e holds exactly e × steps_per_epoch
optimizer steps, whatever `steps_per_execution` is.

Why not `keras.callbacks.BackupAndRestore`: it writes the weights (`latest.weights.h5`) and the
epoch (`training_metadata.json`) as two files, one after the other and in place, so a kill
between or during the writes leaves weights of one epoch beside the epoch number of another (or
a truncated file); it saves no callback state; and it deletes its backup when training ends,
while `--resume` continues finished runs to more epochs.

The run's settings are stored beside the checkpoints (`run_config.json`); `restore` refuses a
checkpoint whose model- or trajectory-deciding settings differ from the current run's, and a
truncated or corrupt checkpoint raises `CheckpointError` naming the file.
"""

import json
import os

import keras
import tensorflow as tf

__all__ = ["CONFIG_FILE", "CheckpointError", "RunCheckpoint", "saved_config"]

CONFIG_FILE = "run_config.json"


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed: corrupt, truncated, or of another configuration."""


def saved_config(directory):
    """The settings recorded in `directory` (`run_config.json`), or None where there are none.

    Raises:
      CheckpointError: the file is truncated or corrupt (it is named).
    """
    path = os.path.join(directory, CONFIG_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{path} is truncated or corrupt ({error}).") from None


class RunCheckpoint(keras.callbacks.Callback):
    """Saves the run every epoch (`on_epoch_end`) and restores the latest save (`restore`).

    Args:
      directory: where checkpoints and `run_config.json` go.
      model: the compiled Keras model (its optimizer is saved with it).
      config: a dict of the run's settings (JSON-serializable).
      fixed_keys: the keys of `config` a resumed run must share with the saved run.
      max_to_keep: checkpoints kept.
      optional_state: a dict of trackables saved like `state` but restored only where the
        checkpoint holds them: state added after runs began (`StepTimer.state`), which the
        checkpoints of earlier versions lack; those keep their initial values.
      **state: more trackables to save and restore (e.g. `ResumableEarlyStopping.state`).
    """

    def __init__(self, directory, model, config, fixed_keys, max_to_keep=2,
                 optional_state=None, **state):
        super().__init__()
        self.directory = directory
        self.config = dict(config)
        self.fixed_keys = tuple(fixed_keys)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        required = dict(model=model, optimizer=model.optimizer, epoch=self.epoch, **state)
        optional_state = dict(optional_state or {})
        self.checkpoint = tf.train.Checkpoint(**required, **optional_state)
        # A second root over the same saved names, without `optional_state`: restoring through
        # it checks that every object of `required` is in the file.
        self._required = tf.train.Checkpoint(**required)
        self.manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep)

    @property
    def config_path(self):
        return os.path.join(self.directory, CONFIG_FILE)

    def start(self):
        """Begins a new run in `directory`: records its settings (replacing an older run's)."""
        os.makedirs(self.directory, exist_ok=True)
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=2)

    def _check_config(self):
        saved = saved_config(self.directory)
        if saved is None:
            return  # Checkpoints from before settings were recorded: the restore checks shapes.
        differ = [k for k in self.fixed_keys if k in saved and saved[k] != self.config.get(k)]
        if differ:
            was = " ".join(f"--{k}={saved[k]}" for k in differ)
            now = " ".join(f"--{k}={self.config.get(k)}" for k in differ)
            raise CheckpointError(
                f"cannot resume the run in {self.directory}: it was trained with {was}, this "
                f"command has {now}. Use those values, or a new --output_dir.")

    def restore(self):
        """Restores the latest checkpoint, if any; returns the number of finished epochs.

        Raises:
          CheckpointError: the run's settings differ from the saved ones in `fixed_keys`, or
            the checkpoint is truncated, corrupt or of another model (the file is named).
        """
        try:
            path = self.manager.latest_checkpoint
        except Exception as error:  # pylint: disable=broad-except  # A garbled index file.
            raise CheckpointError(
                f"{os.path.join(self.directory, 'checkpoint')} is corrupt ({error}).") from None
        if path is None:
            return 0
        self._check_config()
        try:
            self._required.restore(path).assert_existing_objects_matched().expect_partial()
            self.checkpoint.restore(path).expect_partial()
        except (tf.errors.OpError, ValueError, AssertionError, IndexError, RuntimeError) as error:
            message = getattr(error, "message", None) or str(error)
            raise CheckpointError(
                f"checkpoint {path} (.index/.data files) is truncated, corrupt or was written "
                f"by another model: {message.strip().splitlines()[0]}") from None
        return int(self.epoch)

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.assign(epoch + 1)
        self.manager.save(checkpoint_number=epoch + 1)
