"""`train(config)`: trains a `FlowVAE` on binarized MNIST, evaluates it and writes the run.

The library behind `python -m tfp_nfvi.train`; see `tfp_nfvi.configs.TrainConfig` for the
settings. The output directory receives:

* `checkpoints/`: a `tf.train.Checkpoint` every epoch (weights, optimizer slots and step counter,
  the model's seed-stream states, the epoch, the early-stopping state and the timing totals),
  the run's settings (`run_config.json`) and the best epoch's weights
  (`best-<epoch>.weights.h5`); `resume=True` restores the latest checkpoint and continues
  exactly where the run stopped, even after a crash (`tfp_nfvi.training.checkpointing`).
  `run_config.json` also records the posterior's options whose defaults have changed between
  versions (`flows.flow.LEGACY_OPTIONS`), so a run started by an earlier version resumes with
  the network its checkpoints hold.
* `tensorboard/`: TensorBoard logs (`keras.callbacks.TensorBoard`: loss, elbo, reconstruction,
  kl per epoch under `train/` and `validation/`).
* `results.json`: flow, test_elbo (mean ELBO on the test set, nats, negative), test_nll
  (importance-sampled −log p(x) with `iw_samples` draws, nats, positive), iw_samples,
  seconds_per_epoch (this call's epochs), steps_per_second (steady state: each epoch's first
  execution, which includes compilation, is left out), train_seconds and the timed_epochs they
  cover (with steps_per_second, these include the epochs of earlier, resumed calls: the timing
  is checkpointed; runs started before it was count from their resume), eval_seconds,
  num_parameters, and the settings of the run.
* `samples.png`: test digits, their reconstructions and samples from the model.
* `saved_model/` (or `export_dir`): the trained model as a SavedModel that runs without
  tfp_nfvi or TFP (`tfp_nfvi.serving.export_saved_model`).

Training stops early when the validation ELBO has not improved for `patience` epochs, and the
best epoch's weights are evaluated and exported. `learning_rate_schedule="cosine"` decays the
learning rate to 0 over the `epochs` budget. The KL warm-up lasts `warmup_epochs` epochs of
optimizer steps, whatever `epochs` is, so continuing a run to more epochs keeps its schedule.
"""

import dataclasses
import json
import os
import time

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from tfp_nfvi import data
from tfp_nfvi import distribute
from tfp_nfvi import flows
from tfp_nfvi import models
from tfp_nfvi import serving
from tfp_nfvi.training import best_weights
from tfp_nfvi.training import checkpointing
from tfp_nfvi.training import early_stopping
from tfp_nfvi.training import pipeline
from tfp_nfvi.training import report
from tfp_nfvi.training import timing

__all__ = ["CHECKPOINT_DIR", "RESULTS_FILE", "SAMPLES_FILE", "SAVED_MODEL_DIR",
           "TENSORBOARD_DIR", "train"]

RESULTS_FILE = "results.json"
SAMPLES_FILE = "samples.png"
SAVED_MODEL_DIR = "saved_model"
CHECKPOINT_DIR = "checkpoints"
TENSORBOARD_DIR = "tensorboard"
_MONITOR = "val_elbo"
_EVAL_BATCH = 100
_POSTERIOR_KWARGS = "posterior_kwargs"  # The key of `run_config.json` that records them.


def _posterior_kwargs(checkpoint_dir, resume):
    """The posterior's options: today's defaults, or those of the run that `resume` continues.

    A run recorded without them was started before they were recorded, by a version whose
    defaults were `flows.flow.LEGACY_OPTIONS` (e.g. MADE networks without the context-to-output
    connection): rebuilding that network is what lets its checkpoints restore.
    """
    saved = checkpointing.saved_config(checkpoint_dir) if resume else None
    if saved is None:
        return {}
    return flows.flow.with_legacy_options(saved.get(_POSTERIOR_KWARGS))


def _learning_rate(config, total_steps):
    """Adam's learning rate: a float, or Keras's `CosineDecay` over `total_steps` steps.

    The schedule is a function of the optimizer's step counter, which the checkpoints hold, so
    a resumed run continues on the same curve (its `epochs` must not change: `resume_fixed`).
    """
    if config.learning_rate_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(config.learning_rate, total_steps)
    return config.learning_rate


def _optimizer(config, total_steps):
    """Adam with the config's learning rate and, when set, global-norm gradient clipping.

    Keras's `global_clipnorm` rescales the step's gradient g to g · c / ‖g‖ when ‖g‖ > c (the
    norm over all variables together), so a rare spike cannot inflate Adam's moment estimates;
    a step with ‖g‖ ≤ c is untouched.
    """
    return keras.optimizers.Adam(_learning_rate(config, total_steps),
                                 global_clipnorm=config.gradient_clip_norm)


def _load_data(config):
    splits = data.load_binarized_mnist(config.dataset, binarization=config.binarization,
                                       seed=config.seed)
    dynamic = config.binarization == "dynamic"
    train = splits.train_intensities if dynamic else splits.train
    x_train = data.validate_bernoulli_data(train[:config.max_train_examples], "train")
    # The run holds the held-out digits until it ends: as uint8 when binary (exact).
    x_val = pipeline.compact_binary(data.validate_bernoulli_data(splits.validation, "validation"))
    x_test = pipeline.compact_binary(data.validate_bernoulli_data(splits.test, "test"))
    if len(x_train) < config.batch_size:
        raise ValueError(
            f"`batch_size` {config.batch_size} exceeds the {len(x_train)} training digits.")
    return x_train, x_val, x_test


def train(config, callbacks=()):
    """Trains, evaluates and writes everything for `config`; returns the results dict.

    Args:
      config: a `tfp_nfvi.configs.TrainConfig`.
      callbacks: more Keras callbacks for `fit` (run after the job's own).

    Returns:
      The dict written to `results.json` (see the module docstring), with the per-epoch
      `history` of this session's `fit`.

    Raises:
      ValueError: bad data or settings; `CheckpointError` (a ValueError) when `config.resume`
        finds a corrupt checkpoint or one written with other settings.
    """
    # First, before any TensorFlow op (MultiWorkerMirroredStrategy requires it). Every worker
    # runs this; non-chief workers write their copies to `<parent>/.worker_<k>/<name>`.
    strategy = distribute.make_strategy(config.strategy)
    output_dir = distribute.worker_path(config.output_dir, strategy)
    steps_per_execution = config.steps_per_execution
    if distribute.is_multi_worker(strategy):
        steps_per_execution = 1  # Keras 3's multi-step loop fails under multi-worker.
    keras.utils.set_random_seed(config.seed)
    x_train, x_val, x_test = _load_data(config)
    steps_per_epoch = len(x_train) // config.batch_size
    steps_per_execution = min(steps_per_execution, steps_per_epoch)
    if strategy.num_replicas_in_sync > 1 and steps_per_epoch % steps_per_execution:
        # Keras 3's multi-step loop fails under MirroredStrategy when an epoch's iterator runs
        # out inside an execution (InvalidArgumentError in `multi_step_on_iterator`); use the
        # largest steps_per_execution that divides the epoch.
        steps_per_execution = max(d for d in range(1, steps_per_execution + 1)
                                  if steps_per_epoch % d == 0)
        logging.warning("--steps_per_execution=%d under %d replicas: %d divides the %d steps "
                        "per epoch.", config.steps_per_execution,
                        strategy.num_replicas_in_sync, steps_per_execution, steps_per_epoch)
    warmup_steps = int(round(config.warmup_epochs * steps_per_epoch))
    os.makedirs(output_dir, exist_ok=True)
    checkpoint_dir = os.path.join(output_dir, CHECKPOINT_DIR)

    with strategy.scope():
        vae = models.FlowVAE(latent_dim=config.latent_dim, flow=config.flow,
                             event_size=x_train.shape[-1], num_samples=config.num_samples,
                             warmup_steps=warmup_steps, seed=config.seed,
                             precision=config.precision,
                             posterior_kwargs=_posterior_kwargs(checkpoint_dir, config.resume))
        vae.build((None, x_train.shape[-1]))
        vae.compile(optimizer=_optimizer(config, config.epochs * steps_per_epoch),
                    jit_compile=config.jit_compile,
                    steps_per_execution=steps_per_execution)
        vae.optimizer.build(vae.trainable_variables)

    stopping = early_stopping.ResumableEarlyStopping(_MONITOR, config.patience)
    run_config = dict(dataclasses.asdict(config),
                      **{_POSTERIOR_KWARGS: vae.get_config()["posterior_kwargs"]})
    timer = timing.StepTimer()
    saver = checkpointing.RunCheckpoint(
        checkpoint_dir, vae, run_config, config.resume_fixed,
        optional_state=dict(timer=timer.state), early_stopping=stopping.state)
    initial_epoch = saver.restore() if config.resume else 0
    if initial_epoch == 0:
        saver.start()
    best = best_weights.BestWeights(
        checkpoint_dir, _MONITOR,
        initial_value_threshold=stopping.saved_best if stopping.saved_best_epoch >= 0 else None)
    best.set_model(vae)
    epoch = tf.Variable(initial_epoch, dtype=tf.int64, trainable=False, name="data_epoch")
    train_data = pipeline.epoch_dataset(x_train, config.batch_size, config.seed, epoch,
                                        dynamic_binarization=config.binarization == "dynamic")
    del x_train  # The pipeline holds its own (uint8 for binary digits) copy: free the float32 one.

    history = {}
    if initial_epoch < config.epochs and not stopping.exhausted:
        history = vae.fit(
            train_data,
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            shuffle=False,  # The pipeline orders the data (a function of seed and epoch).
            validation_data=pipeline.evaluation_dataset(x_val, _EVAL_BATCH),
            # Order matters: the early-stopping state and the best weights are updated before
            # the checkpoint that records them.
            callbacks=[pipeline.EpochCounter(epoch), timer, stopping, best, saver,
                       keras.callbacks.TensorBoard(
                           os.path.join(output_dir, TENSORBOARD_DIR), write_graph=False),
                       *callbacks],
            verbose=config.verbose,
        ).history
    optimizer_steps = int(vae.optimizer.iterations.numpy())  # .numpy(): may be mirrored.
    best.restore(stopping.saved_best_epoch)

    eval_start = time.perf_counter()
    test_elbo, test_nll = report.evaluate_test(
        vae, x_test, config.iw_samples, config.iw_chunk_size, config.seed)
    eval_seconds = time.perf_counter() - eval_start
    report.save_figure(vae, x_test, os.path.join(output_dir, SAMPLES_FILE), config.seed)
    export_dir = (distribute.worker_path(config.export_dir, strategy) if config.export_dir
                  else os.path.join(output_dir, SAVED_MODEL_DIR))
    serving.export_saved_model(vae, export_dir, num_samples=config.iw_samples,
                               chunk_size=min(config.iw_chunk_size, config.iw_samples),
                               overwrite=True)
    epoch_seconds = timer.epoch_seconds[1:] or timer.epoch_seconds
    results = dict(
        dataclasses.asdict(config),
        test_elbo=test_elbo,
        test_nll=test_nll,
        best_val_elbo=stopping.saved_best,
        best_epoch=stopping.saved_best_epoch + 1,
        epochs_run=int(saver.epoch),
        seconds_per_epoch=float(np.mean(epoch_seconds)) if epoch_seconds else float("nan"),
        steps_per_second=timer.steps_per_second,
        train_seconds=timer.train_seconds,
        timed_epochs=timer.timed_epochs,
        eval_seconds=eval_seconds,
        optimizer_steps=optimizer_steps,
        num_parameters=int(vae.count_params()),
        warmup_steps=warmup_steps,
        steps_per_execution=vae.steps_per_execution,
        resumed_from_epoch=initial_epoch,
        history={key: [float(v) for v in values] for key, values in history.items()},
        saved_model=export_dir,
    )
    with open(os.path.join(output_dir, RESULTS_FILE), "w") as f:
        json.dump(results, f, indent=2)
    return results
