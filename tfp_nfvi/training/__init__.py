"""tfp_nfvi.training: the FlowVAE training job behind `python -m tfp_nfvi.train`.

    from tfp_nfvi import configs, training
    results = training.train(configs.TrainConfig(epochs=5, output_dir="/tmp/run"))

Pieces, one per module, each usable on its own with `keras.Model.fit`:
  train(config, callbacks=()): the whole job (`job`): data, model, fit, evaluation, export.
  epoch_dataset, EpochCounter: one epoch of batches as a function of (seed, epoch) (`pipeline`).
  RunCheckpoint, CheckpointError: a consistent checkpoint per epoch, exact resume
    (`checkpointing`).
  ResumableEarlyStopping: `keras.callbacks.EarlyStopping` with checkpointed state.
  BestWeights: `keras.callbacks.ModelCheckpoint` of the best validation epoch.
  StepTimer: seconds per epoch and steady-state steps per second (`timing`).
  evaluate_test, save_figure: test ELBO / NLL and the samples figure (`report`).
  run_cde(config): conditional density estimation on tabular data (`cde`), behind
    `python -m tfp_nfvi.cde`; split_and_standardize, CDESplit, Standardizer: its protocol
    (`cde_protocol`); its figure (`cde_report`).
"""

from tfp_nfvi.training.best_weights import BestWeights
from tfp_nfvi.training.cde import run_cde
from tfp_nfvi.training.cde_protocol import CDESplit
from tfp_nfvi.training.cde_protocol import Standardizer
from tfp_nfvi.training.cde_protocol import split_and_standardize
from tfp_nfvi.training.checkpointing import CheckpointError
from tfp_nfvi.training.checkpointing import RunCheckpoint
from tfp_nfvi.training.early_stopping import ResumableEarlyStopping
from tfp_nfvi.training.job import CHECKPOINT_DIR
from tfp_nfvi.training.job import RESULTS_FILE
from tfp_nfvi.training.job import SAMPLES_FILE
from tfp_nfvi.training.job import SAVED_MODEL_DIR
from tfp_nfvi.training.job import TENSORBOARD_DIR
from tfp_nfvi.training.job import train
from tfp_nfvi.training.pipeline import EpochCounter
from tfp_nfvi.training.pipeline import epoch_dataset
from tfp_nfvi.training.report import evaluate_test
from tfp_nfvi.training.report import save_figure
from tfp_nfvi.training.timing import StepTimer

__all__ = [
    "BestWeights",
    "CDESplit",
    "CHECKPOINT_DIR",
    "CheckpointError",
    "EpochCounter",
    "RESULTS_FILE",
    "ResumableEarlyStopping",
    "RunCheckpoint",
    "SAMPLES_FILE",
    "SAVED_MODEL_DIR",
    "Standardizer",
    "StepTimer",
    "TENSORBOARD_DIR",
    "epoch_dataset",
    "evaluate_test",
    "run_cde",
    "save_figure",
    "split_and_standardize",
    "train",
]
