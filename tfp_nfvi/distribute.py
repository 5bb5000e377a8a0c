"""Running tfp_nfvi models under `tf.distribute`: strategies, per-replica seeds, chief files.

Our models are ordinary Keras 3 models, so data parallelism is TensorFlow's own: build the
model and its optimizer inside `strategy.scope()` and call `fit`. Keras splits every global
batch of `B` examples over the `R` replicas (`B / R` each), runs `train_step` once per replica
and all-reduces (sums) the gradients before one optimizer update of the mirrored weights.
This module holds the few pieces that a custom `train_step` with random noise needs on top:

* **Loss scaling.** The replicas' gradients are *summed*, so each replica's loss must be
  `Σ_{i ∈ replica} ℓ_i / B` (`tf.nn.compute_average_loss`), not its local mean; then the
  all-reduced gradient is `∇ (1/B) Σ_i ℓ_i`, the single-device gradient of the same batch.
* **Per-replica seeds** (`replica_seed`). A `keras.random.SeedGenerator` is a mirrored
  variable: every replica draws the *same* step seed `s_t`. Used directly, all replicas would
  draw identical posterior noise ε (correlated gradient estimates: `R` replicas would be no
  better than one). Replica `r` therefore samples with
  `s_{t,r} = stateless_fold_in(s_t, r)`, `r = replica_id_in_sync_group` (`0 ≤ r < R`, unique
  across all workers). With a single replica the seed is left unchanged, so a model behaves
  exactly as before when no strategy is used.
* **XLA** (`split_jit_compile`). Keras compiles its whole step function, including the
  cross-replica all-reduce, with `jit_compile=True`; XLA cannot compile a function that
  spans several devices or processes. With more than one replica we compile the per-replica
  loss and gradient computation instead and keep the all-reduce and optimizer update outside
  XLA.
* **Logs under MultiWorkerMirroredStrategy** (`reducible_logs`). Keras 3 reduces
  `train_step`'s outputs with `strategy.reduce("MEAN", value, axis=0)` on multi-worker
  strategies, which fails on scalars (tensorflow/tensorflow#72388); giving each log the
  shape `[1]` makes that reduction the mean over replicas.
* **Files from several workers** (`is_chief`, `worker_path`). Every worker must take part
  in saving (reading mirrored and on-read variables may need collectives), but only the
  chief's files are kept; the others write to a scratch path and delete it.

Example (one host, all its GPUs; on a CPU-only host, its logical CPU devices):

    strategy = tfp_nfvi.distribute.make_strategy("mirrored")
    with strategy.scope():
        model = tfp_nfvi.models.FlowVAE(...)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(train_dataset, epochs=10)       # global batch size as in the dataset
"""

import os
import shutil

import tensorflow as tf

from tfp_nfvi.internal import validation

__all__ = [
    "STRATEGIES",
    "is_chief",
    "is_multi_worker",
    "make_strategy",
    "num_replicas",
    "reducible_logs",
    "remove_worker_path",
    "replica_seed",
    "scale_loss",
    "set_logical_cpu_devices",
    "split_jit_compile",
    "worker_path",
]

STRATEGIES = ("default", "mirrored", "multi_worker")


def set_logical_cpu_devices(count):
    """Splits the host CPU into `count` logical devices (before TensorFlow initializes).

    Lets `MirroredStrategy` run `count` replicas on one CPU, e.g. to test data-parallel
    training without GPUs. It must run before any TensorFlow operation places a tensor;
    calling it again with the same `count` is a no-op.

    Args:
      count: number of logical CPU devices, a positive integer.

    Returns:
      The list of logical CPU device names.

    Raises:
      ValueError: `count` is not a positive integer.
      RuntimeError: TensorFlow already initialized its devices with another split.
    """
    count = validation.check_positive_int(count, "count")
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if len(current or [None]) != count:
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
            )
        except RuntimeError as e:
            raise RuntimeError(
                f"Cannot split the CPU into {count} logical devices: TensorFlow already "
                f"initialized {len(tf.config.list_logical_devices('CPU'))}. Call "
                "`set_logical_cpu_devices` at program start, before any TensorFlow op."
            ) from e
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def make_strategy(name="default", devices=None, timeout_seconds=None):
    """Builds a `tf.distribute.Strategy` by name.

    * `"default"`: TensorFlow's default (no-op) strategy, one replica on the default device.
    * `"mirrored"`: `tf.distribute.MirroredStrategy` over `devices`; by default all GPUs,
      or, on a host without GPUs, all logical CPU devices (see `set_logical_cpu_devices`).
    * `"multi_worker"`: `tf.distribute.MultiWorkerMirroredStrategy`, one process per host,
      each with its `TF_CONFIG` (cluster addresses and this worker's index), all GPUs of
      each host (or its CPU). Create it at program start, before other TensorFlow ops.
      Without `TF_CONFIG` it runs as a single worker.

    Args:
      name: one of `STRATEGIES`.
      devices: device names for `"mirrored"`; must be `None` for the other strategies.
      timeout_seconds: for `"multi_worker"`, abort a collective (e.g. when a peer died)
        after this many seconds instead of waiting forever; `None` waits.

    Returns:
      The strategy.

    Raises:
      ValueError: an unknown `name`, or `devices` for a strategy that does not take them.
    """
    if name not in STRATEGIES:
        raise ValueError(f"`name` must be one of {STRATEGIES}, got {name!r}.")
    if devices is not None and name != "mirrored":
        raise ValueError(
            f"`devices` is only for the 'mirrored' strategy, got devices={devices!r} "
            f"with name={name!r}."
        )
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if devices is None and not tf.config.list_logical_devices("GPU"):
            devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout_seconds)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def _replica_context():
    """The replica context, or `None` in a strategy's cross-replica context."""
    return tf.distribute.get_replica_context()


def num_replicas():
    """Number of replicas in sync under the current strategy (1 without one)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def replica_seed(seed):
    """The stateless seed replica `r` should sample with: `stateless_fold_in(seed, r)`.

    `seed` is the step seed every replica shares (e.g. `SeedGenerator.next()`); folding in
    `r = replica_id_in_sync_group` gives each replica its own noise stream. With one replica
    in sync, or outside a replica context, `seed` is returned unchanged.

    Args:
      seed: a stateless seed, an integer tensor of shape `[2]`.

    Returns:
      An `int32` seed of shape `[2]` (or `seed` itself with a single replica).
    """
    ctx = _replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return seed
    return tf.random.experimental.stateless_fold_in(seed, ctx.replica_id_in_sync_group)


def scale_loss(loss):
    """A replica's share of a batch-mean loss, `loss / R`, to differentiate.

    The optimizer sums the replicas' gradients. With the global batch split evenly, each
    replica's mean over its `B / R` examples divided by `R` sums to the mean over all `B`,
    so the update equals the single-device one; this is what Keras does for built-in losses.
    With one replica `loss` is returned unchanged.

    Args:
      loss: a scalar, the mean over this replica's examples (plus any regularization).

    Returns:
      The scalar to differentiate.
    """
    replicas = num_replicas()
    return loss if replicas == 1 else loss * (1.0 / replicas)


def split_jit_compile(jit_compile, strategy=None):
    """Where XLA goes: `(jit_compile for Keras's step, jit_compile per replica)`.

    With one replica Keras compiles the whole step (`(jit_compile, False)`). With several,
    Keras's step holds the all-reduce across devices or hosts, which XLA cannot compile, so
    the model compiles its per-replica loss and gradient instead: `(False, True)` when
    `jit_compile` is `True`. `"auto"` keeps Keras's rule, which turns XLA off under a
    strategy.

    Args:
      jit_compile: `True`, `False` or `"auto"`, as for `keras.Model.compile`.
      strategy: the strategy the model was built under (default: the current one).

    Returns:
      A pair `(keras_jit_compile, per_replica_jit_compile)`.
    """
    strategy = strategy or tf.distribute.get_strategy()
    if jit_compile is True and strategy.num_replicas_in_sync > 1:
        return False, True
    return jit_compile, False


def is_multi_worker(strategy=None):
    """Whether `strategy` (default: the current one) spans several worker processes."""
    strategy = strategy or tf.distribute.get_strategy()
    return isinstance(
        strategy, tf.distribute.MultiWorkerMirroredStrategy
    ) and strategy.extended._in_multi_worker_mode()  # pylint: disable=protected-access


def reducible_logs(logs):
    """Makes `train_step`/`test_step` logs reducible under `MultiWorkerMirroredStrategy`.

    Under a multi-worker strategy every scalar becomes shape `[1]`, so Keras's
    `strategy.reduce("MEAN", log, axis=0)` averages the replicas' values (and returns a
    scalar again); elsewhere `logs` is returned unchanged.

    Args:
      logs: a dict of scalar tensors.

    Returns:
      The dict to return from `train_step`.
    """
    if not is_multi_worker(tf.distribute.get_strategy()):
        return logs
    return {k: tf.reshape(v, [1]) if v.shape.rank == 0 else v for k, v in logs.items()}


def is_chief(strategy=None):
    """Whether this worker keeps the files (always true outside multi-worker training)."""
    strategy = strategy or tf.distribute.get_strategy()
    return not is_multi_worker(strategy) or strategy.extended.should_checkpoint


def worker_path(path, strategy=None):
    """Where this worker writes a file or directory that only the chief keeps.

    The chief (or a single process) writes `path` itself; worker `k` writes
    `<dirname(path)>/.worker_<k>/<basename(path)>`, to be removed with
    `remove_worker_path`. The parent directory is created. All workers must save (the save
    may run collectives).

    Args:
      path: the file or directory the run should produce.
      strategy: the strategy (default: the current one).

    Returns:
      The path to write to.
    """
    strategy = strategy or tf.distribute.get_strategy()
    head, tail = os.path.split(os.path.normpath(path))
    if not is_chief(strategy):
        head = os.path.join(head, f".worker_{strategy.cluster_resolver.task_id}")
    os.makedirs(head or ".", exist_ok=True)
    return os.path.join(head, tail)


def remove_worker_path(path, strategy=None):
    """Deletes a non-chief worker's scratch copy written to `worker_path(path)`."""
    strategy = strategy or tf.distribute.get_strategy()
    if is_chief(strategy):
        return
    scratch = os.path.dirname(worker_path(path, strategy))
    shutil.rmtree(scratch, ignore_errors=True)
