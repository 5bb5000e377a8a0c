r"""Trains a `FlowVAE` on binarized MNIST: the package's main job.

    python -m tfp_nfvi.train --output_dir=runs/quickstart            # ~45 s on 2 CPU cores
    python -m tfp_nfvi.train --flow=planar*32 --dataset=mnist --epochs=100 --output_dir=runs/p32
    python -m tfp_nfvi.train --output_dir=runs/p32 --epochs=200 --resume   # continue a run

With no flags it trains a planar*16 flow VAE briefly on the embedded digits. The output
directory receives:

* `checkpoints/`: a `tf.train.Checkpoint` every epoch (weights, optimizer slots and step
  counter, the model's seed-stream states, the epoch and the early-stopping state);
  `--resume` restores the latest one and continues exactly where the run stopped.
* `tensorboard/`: TensorBoard logs (loss, elbo, reconstruction, kl, validation metrics).
* `results.json`: flow, test_elbo (mean ELBO on the test set, nats, negative), test_nll
  (importance-sampled −log p(x) with `--iw_samples` draws, nats, positive), iw_samples,
  seconds_per_epoch, steps_per_second (steady state: each epoch's first execution, which
  includes compilation, is left out), num_parameters, and the settings of the run.
* `samples.png`: test digits, their reconstructions and samples from the model.
* `saved_model/` (or `--export_dir`): the trained model as a SavedModel that runs without
  tfp_nfvi or TFP (`tfp_nfvi.serving.export_saved_model`; signatures in the README).

Training stops early when the validation ELBO has not improved for `--patience` epochs and
the best weights are restored. Data order is a function of (seed, epoch) only, so a resumed
run sees the same batches as an uninterrupted one.
"""

import json
import math
import os
import time

from absl import app
from absl import flags
from absl import logging

import tfp_nfvi  # pylint: disable=unused-import  # Selects the TensorFlow backend.
import keras  # pylint: disable=g-bad-import-order
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from tfp_nfvi import data
from tfp_nfvi import distribute
from tfp_nfvi import models
from tfp_nfvi import serving

FLAGS = flags.FLAGS

flags.DEFINE_string("flow", "planar*16", "Posterior flow spec, e.g. planar*16, radial*8, iaf*2, diag.")
flags.DEFINE_integer("latent_dim", 40, "Size of the latent z.")
flags.DEFINE_integer("epochs", 30, "Number of training epochs (total, including resumed ones).")
flags.DEFINE_integer("batch_size", 128, "Training batch size.")
flags.DEFINE_float("learning_rate", 1e-3, "Adam learning rate.")
flags.DEFINE_integer(
    "warmup_steps", -1,
    "KL warm-up length T in beta_t = min(1, 0.01 + t/T) (the paper: 10000); 0: off; -1: "
    "min(10000, half of this run's planned steps), so short runs end at beta = 1.")
flags.DEFINE_string("dataset", "embedded", "'embedded' (shipped digits), 'mnist' or a file path.")
flags.DEFINE_string("output_dir", "runs/flow_vae", "Where checkpoints, logs and results go.")
flags.DEFINE_string(
    "export_dir", None, "Where the SavedModel goes; default <output_dir>/saved_model.")
flags.DEFINE_bool("jit_compile", True, "Compile train/eval steps with XLA.")
flags.DEFINE_integer("iw_samples", 1000, "Importance samples per test digit for test_nll.")
flags.DEFINE_integer("seed", 0, "Seed of initialization, data order and posterior samples.")
flags.DEFINE_bool("resume", False, "Continue from the latest checkpoint in --output_dir.")
flags.DEFINE_integer("patience", 10, "Early stopping: epochs without a better validation ELBO.")
flags.DEFINE_integer("steps_per_execution", 8, "Training steps per compiled call (W1: 121 steps/s at 1, 159 at 16).")
flags.DEFINE_integer("num_samples", 1, "Posterior samples per example in the training bound.")
flags.DEFINE_integer("max_train_examples", None, "Use only the first N training digits.")
flags.DEFINE_integer("iw_chunk_size", 100, "Importance samples per compiled chunk.")
flags.DEFINE_integer("verbose", 1, "Keras verbosity: 1 progress bar, 2 one line per epoch.")
flags.DEFINE_enum(
    "strategy", "default", distribute.STRATEGIES,
    "tf.distribute strategy: default (one device), mirrored (all GPUs of this host), "
    "multi_worker (one process per host, each with its TF_CONFIG). --batch_size is global.")

RESULTS_FILE = "results.json"
SAMPLES_FILE = "samples.png"
SAVED_MODEL_DIR = "saved_model"
CHECKPOINT_DIR = "checkpoints"
TENSORBOARD_DIR = "tensorboard"
_EVAL_BATCH = 100


def epoch_dataset(x, batch_size, seed, first_epoch, last_epoch):
    """Batches of `x` for epochs `first_epoch .. last_epoch - 1`, one stream.

    Epoch e is `x` permuted by `stateless_shuffle(seed=(seed, e))` and cut into full batches
    (the remainder is dropped, so every step has one shape and compiles once); the order
    depends on (seed, e) only, so resuming at epoch e reproduces the uninterrupted run.
    """
    x = tf.constant(x)
    n = int(x.shape[0])

    def one_epoch(e):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n), seed=tf.stack([tf.constant(seed, tf.int64), e]))
        return tf.data.Dataset.from_tensor_slices(tf.gather(x, order)).batch(
            batch_size, drop_remainder=True)

    epochs = tf.data.Dataset.range(first_epoch, last_epoch)
    return epochs.flat_map(one_epoch).prefetch(tf.data.AUTOTUNE)


class RunState(keras.callbacks.Callback):
    """Checkpoints every epoch, stops early on the validation ELBO, and times the steps.

    The checkpoint holds the model (its weights and seed-generator states), the optimizer
    (slots and iteration counter), the number of finished epochs and the early-stopping
    state, so a restored run continues exactly.
    """

    def __init__(self, model, directory, patience, steps_per_epoch):
        super().__init__()
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.best = tf.Variable(-np.inf, dtype=tf.float64, trainable=False, name="best_val_elbo")
        self.wait = tf.Variable(0, dtype=tf.int64, trainable=False, name="wait")
        self.best_epoch = tf.Variable(-1, dtype=tf.int64, trainable=False, name="best_epoch")
        # The KL warm-up length in force (resolved from --warmup_steps=-1 on the first run).
        self.warmup_steps = tf.Variable(model.warmup_steps, dtype=tf.int64, trainable=False,
                                        name="warmup_steps")
        self.checkpoint = tf.train.Checkpoint(
            model=model, optimizer=model.optimizer, epoch=self.epoch, best=self.best,
            wait=self.wait, best_epoch=self.best_epoch, warmup_steps=self.warmup_steps)
        self.best_checkpoint = tf.train.Checkpoint(model=model)
        self.manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep=2)
        self._best_path = os.path.join(directory, "best", "weights")
        self.patience = patience
        self.steps_per_epoch = steps_per_epoch
        self.train_seconds = []  # Steady-state seconds per epoch (compilation excluded).
        self.epoch_seconds = []
        self.steady_steps = 0

    def restore(self):
        """Restores the latest checkpoint; returns the number of finished epochs."""
        if self.manager.latest_checkpoint is None:
            return 0
        self.checkpoint.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
        logging.info("Restored %s (epoch %d).", self.manager.latest_checkpoint, int(self.epoch))
        return int(self.epoch)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._first_done = None
        self._train_end = None
        self._batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1
        if self._first_done is None:
            self._first_done = time.perf_counter()
            self._first_steps = batch + 1  # Keras reports the last step of an execution.

    def on_test_begin(self, logs=None):
        if getattr(self, "_train_end", None) is None and getattr(self, "_first_done", None):
            self._train_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        self.on_test_begin()
        if self._train_end is None:
            self._train_end = now
        self.epoch_seconds.append(now - self._epoch_start)
        steady = self.steps_per_epoch - self._first_steps
        if steady > 0:
            self.train_seconds.append(self._train_end - self._first_done)
            self.steady_steps += steady
        self.epoch.assign(epoch + 1)
        val_elbo = (logs or {}).get("val_elbo")
        if val_elbo is not None and math.isfinite(val_elbo):
            if val_elbo > float(self.best):
                self.best.assign(val_elbo)
                self.best_epoch.assign(epoch)
                self.wait.assign(0)
                self.best_checkpoint.write(self._best_path)
            else:
                self.wait.assign_add(1)
        self.manager.save(checkpoint_number=epoch + 1)
        if self.patience and int(self.wait) >= self.patience:
            logging.info("Validation ELBO has not improved for %d epochs: stopping.", int(self.wait))
            self.model.stop_training = True

    def restore_best(self):
        """Loads the weights of the best validation epoch (if any was recorded)."""
        if int(self.best_epoch) >= 0:
            self.best_checkpoint.read(self._best_path).expect_partial()

    @property
    def steps_per_second(self):
        seconds = sum(self.train_seconds)
        return self.steady_steps / seconds if seconds > 0 else float("nan")


class ScalarLogger(keras.callbacks.Callback):
    """Writes every epoch's metrics as TensorBoard scalars (`train/…`, `validation/…`).

    Uses TensorFlow's own `tf.summary.write` with the scalars plugin's metadata, so the logs
    need no `tensorboard` package to be written (only to be viewed).
    """

    def __init__(self, log_dir):
        super().__init__()
        self.writers = {
            "train": tf.summary.create_file_writer(os.path.join(log_dir, "train")),
            "validation": tf.summary.create_file_writer(os.path.join(log_dir, "validation")),
        }
        self.metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
            data_class=summary_pb2.DATA_CLASS_SCALAR)

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            split, tag = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            with self.writers[split].as_default():
                tf.summary.write(tag, tf.constant(float(value)), step=epoch + 1,
                                 metadata=self.metadata)
        for writer in self.writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self.writers.values():
            writer.close()


def evaluate_test(vae, x, iw_samples, chunk_size, seed):
    """Mean test ELBO and importance-sampled NLL (nats), batch by batch, fixed seeds."""
    elbos, lls = [], []
    for i, start in enumerate(range(0, len(x), _EVAL_BATCH)):
        batch = x[start:start + _EVAL_BATCH]
        elbos.append(vae.elbo(batch, seed=[seed, 2 * i]).numpy())
        lls.append(vae.log_likelihood(batch, num_samples=iw_samples, seed=[seed, 2 * i + 1],
                                      chunk_size=chunk_size).numpy())
    return float(np.mean(np.concatenate(elbos))), -float(np.mean(np.concatenate(lls)))


def save_figure(vae, x, path, seed, num=10):
    """A PNG: `num` test digits, their reconstructions, and 2 rows of model samples."""
    import matplotlib  # pylint: disable=g-import-not-at-top
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top

    x = x[:num]
    num = len(x)
    rows = [("test digits", x), ("reconstructions", vae.reconstruct(x, seed=[seed, 1]).numpy())]
    samples = vae.sample(2 * num, seed=[seed, 2]).numpy()
    rows += [("samples", samples[:num]), ("", samples[num:])]
    side = int(round(math.sqrt(x.shape[-1])))
    fig, axes = plt.subplots(len(rows), num, figsize=(num, len(rows) + 0.5), squeeze=False)
    for r, (title, images) in enumerate(rows):
        for c in range(num):
            ax = axes[r][c]
            ax.imshow(images[c].reshape(side, side), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r][0].set_ylabel(title, fontsize=8)
    fig.suptitle("FlowVAE: test digits, reconstructions, samples", fontsize=10)
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)


def run(flow="planar*16", latent_dim=40, epochs=30, batch_size=128, learning_rate=1e-3,
        warmup_steps=-1, dataset="embedded", output_dir="runs/flow_vae", jit_compile=True,
        iw_samples=1000, seed=0, resume=False, patience=10, steps_per_execution=8,
        num_samples=1, max_train_examples=None, iw_chunk_size=100, verbose=1,
        strategy="default", export_dir=None):
    """Trains, evaluates and writes everything; returns the results dict (see module doc)."""
    for name, value in (("epochs", epochs), ("batch_size", batch_size),
                        ("iw_samples", iw_samples), ("steps_per_execution", steps_per_execution)):
        if value < 1:
            raise ValueError(f"--{name} must be a positive integer, got {value}.")
    # First, before any TensorFlow op (MultiWorkerMirroredStrategy requires it). Every worker
    # runs this; non-chief workers write their copies to `<parent>/.worker_<k>/<name>`.
    strategy = distribute.make_strategy(strategy)
    output_dir = distribute.worker_path(output_dir, strategy)
    if distribute.is_multi_worker(strategy):
        steps_per_execution = 1  # Keras 3's multi-step loop fails under multi-worker.
    keras.utils.set_random_seed(seed)
    splits = data.load_binarized_mnist(dataset)
    x_train = data.validate_bernoulli_data(splits.train[:max_train_examples], "train")
    x_val = data.validate_bernoulli_data(splits.validation, "validation")
    x_test = data.validate_bernoulli_data(splits.test, "test")
    if len(x_train) < batch_size:
        raise ValueError(f"--batch_size={batch_size} exceeds the {len(x_train)} training digits.")
    steps_per_epoch = len(x_train) // batch_size
    os.makedirs(output_dir, exist_ok=True)
    if warmup_steps < 0:
        warmup_steps = min(10000, epochs * steps_per_epoch // 2)

    with strategy.scope():
        vae = models.FlowVAE(latent_dim=latent_dim, flow=flow, event_size=x_train.shape[-1],
                             num_samples=num_samples, warmup_steps=warmup_steps, seed=seed)
        vae.build((None, x_train.shape[-1]))
        vae.compile(optimizer=keras.optimizers.Adam(learning_rate), jit_compile=jit_compile,
                    steps_per_execution=min(steps_per_execution, steps_per_epoch))
        vae.optimizer.build(vae.trainable_variables)
    state = RunState(vae, os.path.join(output_dir, CHECKPOINT_DIR), patience, steps_per_epoch)
    initial_epoch = state.restore() if resume else 0
    # A resumed run keeps the original schedule (the auto warm-up depends on --epochs).
    vae.warmup_steps = warmup_steps = int(state.warmup_steps)
    stopped = bool(state.patience and int(state.wait) >= state.patience)

    start = time.perf_counter()
    history = {}
    if initial_epoch < epochs and not stopped:
        history = vae.fit(
            epoch_dataset(x_train, batch_size, seed, initial_epoch, epochs),
            epochs=epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            validation_data=tf.data.Dataset.from_tensor_slices(x_val).batch(_EVAL_BATCH),
            callbacks=[state, ScalarLogger(os.path.join(output_dir, TENSORBOARD_DIR))],
            verbose=verbose,
        ).history
    train_seconds = time.perf_counter() - start
    optimizer_steps = int(vae.optimizer.iterations.numpy())  # .numpy(): may be mirrored.
    state.restore_best()

    eval_start = time.perf_counter()
    test_elbo, test_nll = evaluate_test(vae, x_test, iw_samples, iw_chunk_size, seed)
    eval_seconds = time.perf_counter() - eval_start
    save_figure(vae, x_test, os.path.join(output_dir, SAMPLES_FILE), seed)
    export_dir = (distribute.worker_path(export_dir, strategy) if export_dir
                  else os.path.join(output_dir, SAVED_MODEL_DIR))
    serving.export_saved_model(vae, export_dir, num_samples=iw_samples,
                               chunk_size=min(iw_chunk_size, iw_samples), overwrite=True)
    epoch_seconds = state.epoch_seconds[1:] or state.epoch_seconds
    results = dict(
        flow=flow,
        latent_dim=latent_dim,
        dataset=dataset,
        test_elbo=test_elbo,
        test_nll=test_nll,
        iw_samples=iw_samples,
        best_val_elbo=float(state.best),
        best_epoch=int(state.best_epoch) + 1,
        epochs_run=int(state.epoch),
        seconds_per_epoch=float(np.mean(epoch_seconds)) if epoch_seconds else float("nan"),
        steps_per_second=state.steps_per_second,
        train_seconds=train_seconds,
        eval_seconds=eval_seconds,
        optimizer_steps=optimizer_steps,
        num_parameters=int(vae.count_params()),
        batch_size=batch_size,
        learning_rate=learning_rate,
        warmup_steps=warmup_steps,
        jit_compile=jit_compile,
        steps_per_execution=vae.steps_per_execution,
        seed=seed,
        resumed_from_epoch=initial_epoch,
        history={key: [float(v) for v in values] for key, values in history.items()},
        saved_model=export_dir,
    )
    with open(os.path.join(output_dir, RESULTS_FILE), "w") as f:
        json.dump(results, f, indent=2)
    return results


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    results = run(**{name: FLAGS[name].value for name in (
        "flow", "latent_dim", "epochs", "batch_size", "learning_rate", "warmup_steps", "dataset",
        "output_dir", "jit_compile", "iw_samples", "seed", "resume", "patience",
        "steps_per_execution", "num_samples", "max_train_examples", "iw_chunk_size", "verbose",
        "strategy", "export_dir")})
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    app.run(main)
