"""`run_cde(config)`: repeated train/test runs of a `ConditionalFlow` on a tabular data set.

The library behind `python -m tfp_nfvi.cde`; see `tfp_nfvi.configs.CDEConfig` for the
settings and `cde_protocol` for the protocol (random 70/30 splits seeded by `[seed, r]`, a
validation part of the training split for early stopping, x and y standardized with training
statistics). For each of `repeats` splits a `ConditionalFlow` is trained by maximum likelihood
(Adam, mini-batches, early stopping on the validation NLL, the best epoch's weights kept) and
its mean test NLL per data point is measured in standardized units and in original units,
NLL_orig = NLL_std + Σ_j log σ_j.

Noise selection. With `x_noise_grid` and/or `y_noise_grid` set, each split trains one model
per (x_noise, y_noise) of the grids' product (all from the same initialization, each with its
own early stopping) and keeps the one with the lowest validation NLL, i.e. the noise
regularization's strength is a hyperparameter chosen per split on the validation part of the
training split; the test rows only ever see the chosen model. Without grids the single
(`x_noise`, `y_noise`) is used.

One model (and one compiled training step) per noise candidate serves every repeat: before
repeat r its weights are set to a fresh initialization seeded `seed + r` and its optimizer
state is reset, so the XLA compilation is paid once per run and candidate, not once per split.

With `output_dir` the run writes:

* `results.json`: the settings; `nll_std_mean`, `nll_std_sd`, `nll_orig_mean`,
  `nll_orig_sd` (mean and sample standard deviation, ddof = 1, over repeats; nats per data
  point), `nll_std`/`nll_orig` per repeat, `y_log_scale` (Σ log σ_j of each split), epochs
  and best epochs, `validation_nll` (the kept model's best), `steps_per_second` (steady
  state), seconds (all candidates), `num_parameters`, `noise_candidates`; with grids also
  `x_noise_selected`/`y_noise_selected` per repeat and `candidate_validation_nll` (per repeat,
  one per candidate, in `noise_candidates`' order).
* `density.png`: p(y | x) for test inputs of the first split (`cde_report`).
* `checkpoints/repeat_<r>.keras`: each split's trained model (`keras.saving.load_model`).
* `saved_model/`: the first split's model as a SavedModel taking x and y in original units
  (`serving.export_conditional_saved_model`; signatures `sample` and `log_prob`).
"""

import dataclasses
import json
import os
import time

import keras
import numpy as np
import tensorflow as tf

from tfp_nfvi import configs
from tfp_nfvi import data
from tfp_nfvi import models
from tfp_nfvi import serving
from tfp_nfvi.training import cde_protocol
from tfp_nfvi.training import cde_report
from tfp_nfvi.training import timing

__all__ = ["DENSITY_FILE", "load_dataset", "run_cde"]

RESULTS_FILE = "results.json"
DENSITY_FILE = "density.png"
CHECKPOINT_DIR = "checkpoints"
SAVED_MODEL_DIR = "saved_model"


def load_dataset(config):
    """The `TabularData` named by `config.dataset` (a UCI name, or a CSV path + `targets`)."""
    if config.dataset in data.UCI_DATASETS:
        if config.targets is not None:
            raise ValueError(
                f"`targets` is for a CSV --dataset; the {config.dataset} data set has fixed "
                f"targets, got targets={config.targets!r}.")
        return data.load_uci(config.dataset, data_dir=config.data_dir)
    if not os.path.isfile(config.dataset):
        raise ValueError(
            f"`dataset` must be one of {data.UCI_DATASETS} or the path of a CSV file, got "
            f"{config.dataset!r} (no such file).")
    if config.targets is None:
        raise ValueError(
            f"`targets` must name the y columns of the CSV --dataset {config.dataset!r} "
            "(e.g. --targets=col1,col2).")
    return data.load_csv(config.dataset, config.targets)


class _EpochProgress(keras.callbacks.Callback):
    """One progress bar per split over its (maximum) epochs: loss and validation NLL."""

    def __init__(self, epochs, title):
        super().__init__()
        self.epochs, self.title = epochs, title

    def on_train_begin(self, logs=None):
        print(self.title)
        self.bar = keras.utils.Progbar(self.epochs, stateful_metrics=["nll", "val_nll"])

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.bar.update(epoch + 1, [(k, float(logs[k])) for k in ("nll", "val_nll") if k in logs])


def _make_model(config, table, seed, noise=None):
    """A fresh model seeded `seed`; `noise` = (x_noise, y_noise), default the config's."""
    x_noise, y_noise = noise if noise is not None else (config.x_noise, config.y_noise)
    keras.utils.set_random_seed(seed)
    model = models.ConditionalFlow(
        input_size=table.x.shape[1], event_size=table.y.shape[1], flow=config.flow,
        direction=config.direction,
        conditioner_units=configs.cde.parse_units(config.conditioner_units),
        flow_kwargs={"hidden_units": configs.cde.parse_units(config.hidden_units)},
        x_noise=x_noise, y_noise=y_noise, seed=seed)
    model.build((None, table.x.shape[1]))
    return model


def _reset(model, fresh, optimizer_init):
    """Gives `model` the weights and seed streams of `fresh`, its optimizer its initial state."""
    model.set_weights(fresh.get_weights())
    for generator in ("noise_seed_generator", "sample_seed_generator"):
        getattr(model, generator).state.assign(getattr(fresh, generator).state)
    for variable, value in zip(model.optimizer.variables, optimizer_init):
        variable.assign(value)


def _fit(model, split, config, repeat):
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_nll", mode="min", patience=config.patience or config.epochs + 1)
    timer = timing.StepTimer()
    callbacks = [stopper, timer]
    if config.verbose:
        callbacks.append(_EpochProgress(config.epochs, f"split {repeat + 1}/{config.repeats}"))
    # tf.data pipelines (cached; reshuffled each epoch from the split's seed): Keras adapts
    # NumPy arrays anew every epoch, which costs ten times a small epoch's training steps.
    # Full batches only (the remainder, < batch_size rows, changes every epoch): one static
    # shape, one XLA compilation.
    train = tf.data.Dataset.from_tensor_slices((split.x_train, split.y_train)).cache().shuffle(
        len(split.x_train), seed=config.seed + repeat).batch(config.batch_size,
                                                             drop_remainder=True)
    validation = tf.data.Dataset.from_tensor_slices(
        (split.x_validation, split.y_validation)).cache().batch(len(split.x_validation))
    start = time.perf_counter()
    history = model.fit(train, epochs=config.epochs, validation_data=validation,
                        shuffle=False, callbacks=callbacks, verbose=0).history
    seconds = time.perf_counter() - start
    # EarlyStopping restores the best weights only when it stops the run: keep them always.
    if stopper.best_weights is not None:
        model.set_weights(stopper.best_weights)
    val = history["val_nll"]
    return dict(epochs=len(val), best_epoch=int(np.argmin(val)) + 1,
                validation_nll=float(np.min(val)), train_seconds=seconds,
                steps_per_second=timer.steps_per_second)


def run_cde(config):
    """Runs `config.repeats` train/test splits; returns (and writes) the results dict.

    Args:
      config: a `tfp_nfvi.configs.CDEConfig`.

    Returns:
      The dict written to `results.json` (see the module docstring).

    Raises:
      ValueError: bad data or settings (unknown data set, missing `targets`, a flow that
        cannot act on y, too few rows).
      FileNotFoundError: the data set's file is missing.
    """
    table = load_dataset(config)
    out = config.output_dir
    if out:
        os.makedirs(os.path.join(out, CHECKPOINT_DIR), exist_ok=True)
    candidates = config.noise_candidates
    trained = {}  # (x_noise, y_noise) -> (model, its optimizer's initial state).
    per_repeat = []
    for repeat in range(config.repeats):
        split = cde_protocol.split_and_standardize(
            table.x, table.y, config.seed, repeat, config.test_fraction,
            config.validation_fraction, config.x_clip)
        if len(split.x_train) < config.batch_size:
            raise ValueError(
                f"`batch_size` {config.batch_size} exceeds the {len(split.x_train)} training "
                "rows.")
        # Noise selection: one model per candidate, all from the same initialization; the
        # split keeps the one with the lowest validation NLL (the test rows are not looked at).
        fits = []
        for noise in candidates:
            fresh = _make_model(config, table, config.seed + repeat, noise)
            if noise not in trained:
                fresh.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                              jit_compile=config.jit_compile)
                fresh.optimizer.build(fresh.trainable_variables)
                trained[noise] = fresh, [v.numpy() for v in fresh.optimizer.variables]
            else:
                _reset(trained[noise][0], fresh, trained[noise][1])
            if config.verbose and len(candidates) > 1:
                print(f"x_noise={noise[0]}, y_noise={noise[1]}")
            fits.append(_fit(trained[noise][0], split, config, repeat))
        chosen = int(np.argmin([f["validation_nll"] for f in fits]))
        model = trained[candidates[chosen]][0]
        record = dict(fits[chosen], x_noise=candidates[chosen][0], y_noise=candidates[chosen][1],
                      train_seconds=float(sum(f["train_seconds"] for f in fits)),
                      candidate_validation_nll=[f["validation_nll"] for f in fits])
        nll_std = -float(np.mean(model.log_prob(split.x_test, split.y_test).numpy()))
        record.update(nll_std=nll_std, nll_orig=nll_std + split.y_standardizer.log_det,
                      y_log_scale=split.y_standardizer.log_det)
        per_repeat.append(record)
        if config.verbose:
            chosen_noise = (f" at x_noise={record['x_noise']}, y_noise={record['y_noise']} "
                            "(best validation NLL)" if len(candidates) > 1 else "")
            print(f"split {repeat + 1}: test NLL {nll_std:.4f} (standardized), "
                  f"{record['nll_orig']:.4f} (original units){chosen_noise}")
        if out:
            model.save(os.path.join(out, CHECKPOINT_DIR, f"repeat_{repeat}.keras"))
            if repeat == 0:
                cde_report.save_density_figure(
                    model, split, table.y_names, os.path.join(out, DENSITY_FILE),
                    seed=config.seed)
                if config.export:
                    serving.export_conditional_saved_model(
                        model, os.path.join(out, SAVED_MODEL_DIR),
                        x_loc=split.x_standardizer.loc, x_scale=split.x_standardizer.scale,
                        x_clip=config.x_clip,
                        y_loc=split.y_standardizer.loc, y_scale=split.y_standardizer.scale,
                        overwrite=True)

    def column(key):
        return [r[key] for r in per_repeat]

    def sd(values):
        return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")

    results = dict(
        dataclasses.asdict(config),
        rows=int(len(table.x)), x_names=list(table.x_names), y_names=list(table.y_names),
        nll_std_mean=float(np.mean(column("nll_std"))), nll_std_sd=sd(column("nll_std")),
        nll_orig_mean=float(np.mean(column("nll_orig"))), nll_orig_sd=sd(column("nll_orig")),
        steps_per_second=float(np.nanmean(column("steps_per_second"))),
        train_seconds=float(np.sum(column("train_seconds"))),
        num_parameters=int(model.count_params()),
        noise_candidates=[list(c) for c in candidates],
        **{key: column(key) for key in ("nll_std", "nll_orig", "y_log_scale", "epochs",
                                        "best_epoch", "validation_nll")},
    )
    if len(candidates) > 1:  # The levels each split chose, and every candidate's score.
        results.update(x_noise_selected=column("x_noise"), y_noise_selected=column("y_noise"),
                       candidate_validation_nll=column("candidate_validation_nll"))
    if out:
        results["saved_model"] = os.path.join(out, SAVED_MODEL_DIR) if config.export else None
        with open(os.path.join(out, RESULTS_FILE), "w") as f:
            json.dump(results, f, indent=2)
    return results
