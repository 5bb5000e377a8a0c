"""End-to-end tests of the main job, `python -m tfp_nfvi.train`, on a tiny budget.

Exact resume is checked twice: a run stopped after 2 epochs and resumed to 3 equals an
uninterrupted 3-epoch run, and a training subprocess killed with SIGKILL in the middle of an
epoch (epoch length 5, `steps_per_execution` 2: the epoch is not a multiple of it) resumes to the
bit-identical final state of an uninterrupted run.
"""

import dataclasses
import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_nfvi import configs
from tfp_nfvi import flows
from tfp_nfvi import training
from tfp_nfvi.training import job

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
# A few steps of a small flow on 256 (resume: 80) digits: seconds, yet every stage of the job
# runs. Without XLA: compilation would dominate these few steps.
TINY = dict(flow="planar*2", latent_dim=8, batch_size=64, max_train_examples=256,
            iw_samples=20, steps_per_execution=2, warmup_epochs=1.25, jit_compile=False,
            verbose=0)
RESULT_KEYS = {"flow", "test_elbo", "test_nll", "iw_samples", "seconds_per_epoch",
               "steps_per_second", "num_parameters"}
# 80 digits in batches of 16: 5 steps per epoch, not a multiple of steps_per_execution=2.
KILL = dict(TINY, batch_size=16, max_train_examples=80, iw_samples=2)


def _env():
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # The command must be quiet on its own.
    return env


def _flags(**settings):
    return [f"--{k}={v}" if not isinstance(v, bool) else f"--{'' if v else 'no'}{k}"
            for k, v in settings.items()]


def _command(cwd, *flags):
    return subprocess.run([sys.executable, "-m", "tfp_nfvi.train", *flags], cwd=cwd,
                          env=_env(), capture_output=True, text=True, timeout=600, check=False)


def _checkpoint_values(run_dir):
    """Every tensor of the run's latest checkpoint, by name (the step counter included; the
    timing totals left out: wall-clock time differs between runs)."""
    path = tf.train.latest_checkpoint(os.path.join(run_dir, training.CHECKPOINT_DIR))
    reader = tf.train.load_checkpoint(path)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if not name.startswith(("_CHECKPOINTABLE_OBJECT_GRAPH", "timer/"))}


def _assert_same_state(a, b):
    values_a, values_b = _checkpoint_values(a), _checkpoint_values(b)
    assert values_a.keys() == values_b.keys()
    for name, value in values_a.items():
        np.testing.assert_array_equal(value, values_b[name], err_msg=name)


def test_command_writes_every_promised_file_and_is_quiet(tmp_path):
    out = tmp_path / "run"
    proc = _command(tmp_path, *_flags(**TINY, epochs=2, output_dir=out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Quiet by default: no TensorFlow log lines, no Keras warnings (e.g. shuffle ignored).
    assert proc.stderr == "", proc.stderr[-3000:]
    results = json.loads((out / training.RESULTS_FILE).read_text())
    assert json.loads(proc.stdout) == results
    assert RESULT_KEYS <= set(results)
    assert results["flow"] == "planar*2" and results["iw_samples"] == 20
    assert results["test_elbo"] < 0 < results["test_nll"]
    # -log p̂(x) <= -ELBO up to Monte Carlo noise (20 samples, 500 digits: well under a nat).
    assert results["test_nll"] <= -results["test_elbo"] + 1.0
    assert results["steps_per_second"] > 0 and results["seconds_per_epoch"] > 0
    assert results["num_parameters"] > 0 and results["epochs_run"] == 2
    assert results["warmup_steps"] == 5  # 1.25 epochs of 4 steps, whatever --epochs is.
    png = (out / training.SAMPLES_FILE).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    checkpoints = out / training.CHECKPOINT_DIR
    assert (checkpoints / "checkpoint").exists()
    assert list(checkpoints.glob("ckpt-2.index"))
    run_config = json.loads((checkpoints / "run_config.json").read_text())
    assert run_config["flow"] == "planar*2"
    assert run_config["posterior_kwargs"] == {  # Today's defaults.
        "context_to_output": True, "center_planar": "mean_path", "center_radial": "mean_path"}
    events = list((out / training.TENSORBOARD_DIR).rglob("events.out.tfevents.*"))
    assert {e.parent.name for e in events} == {"train", "validation"}


def test_resume_continues_exactly(tmp_path):
    """2 epochs + resume to 3 == 3 uninterrupted epochs: same losses, same final model."""
    config = configs.TrainConfig(**TINY, epochs=3, output_dir=str(tmp_path / "full"))
    full = training.train(config)
    split = dataclasses.replace(config, output_dir=str(tmp_path / "split"))
    first = training.train(dataclasses.replace(split, epochs=2))
    resumed = training.train(dataclasses.replace(split, resume=True))
    assert resumed["resumed_from_epoch"] == 2
    # The timing is checkpointed: the resumed call's totals cover all 3 epochs.
    assert first["timed_epochs"] == 2 and resumed["timed_epochs"] == 3
    assert resumed["train_seconds"] > first["train_seconds"]
    assert resumed["optimizer_steps"] == full["optimizer_steps"] == 3 * 256 // 64
    for key in ("loss", "elbo", "val_elbo"):
        np.testing.assert_array_equal(resumed["history"][key], full["history"][key][-1:])
    assert resumed["test_elbo"] == full["test_elbo"]
    assert resumed["test_nll"] == full["test_nll"]
    _assert_same_state(tmp_path / "full", tmp_path / "split")


def test_run_started_by_an_earlier_version_resumes(tmp_path, monkeypatch):
    """A checkpoint of an earlier version's network (MADE without the context-to-output
    connection; no posterior options recorded) resumes with that network, not today's."""
    config = configs.TrainConfig(**dict(TINY, flow="iaf*1"), epochs=1, output_dir=str(tmp_path))
    monkeypatch.setattr(job, "_posterior_kwargs", lambda *_: dict(flows.flow.LEGACY_OPTIONS))
    training.train(config)
    monkeypatch.undo()
    path = tmp_path / training.CHECKPOINT_DIR / "run_config.json"
    saved = json.loads(path.read_text())
    assert saved.pop("posterior_kwargs") == {
        "context_to_output": False, "center_planar": "off", "center_radial": "off"}
    path.write_text(json.dumps(saved))  # As the earlier version wrote it.
    resumed = training.train(dataclasses.replace(config, epochs=2, resume=True))
    assert resumed["resumed_from_epoch"] == 1 and resumed["epochs_run"] == 2
    assert np.isfinite(resumed["test_nll"])
    # A run started today records its options and resumes with them.
    fresh = dataclasses.replace(config, output_dir=str(tmp_path / "fresh"))
    training.train(fresh)
    assert training.train(dataclasses.replace(fresh, epochs=2, resume=True))[
        "resumed_from_epoch"] == 1


class _StopAfter(keras.callbacks.Callback):
    """Stops `fit` after `epochs` epochs, as an interruption would (the budget is unchanged)."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 >= self.epochs:
            self.model.stop_training = True


def test_cosine_schedule_spans_the_budget_and_resumes_exactly(tmp_path):
    config = configs.TrainConfig(**TINY, epochs=3, learning_rate_schedule="cosine",
                                 output_dir=str(tmp_path / "full"))
    rate = job._learning_rate(config, 12)
    np.testing.assert_allclose([float(rate(t)) for t in (0, 6, 12)], [1e-3, 5e-4, 0.0],
                               atol=1e-9)
    assert job._learning_rate(dataclasses.replace(config, learning_rate_schedule="constant"),
                              12) == 1e-3
    full = training.train(config)
    # Interrupted after 2 of its 3 epochs, then resumed: the same curve, the same end state.
    split = dataclasses.replace(config, output_dir=str(tmp_path / "split"))
    training.train(split, callbacks=[_StopAfter(2)])
    resumed = training.train(dataclasses.replace(split, resume=True))
    assert resumed["resumed_from_epoch"] == 2
    np.testing.assert_array_equal(resumed["history"]["loss"], full["history"]["loss"][-1:])
    _assert_same_state(tmp_path / "full", tmp_path / "split")
    # The schedule spans --epochs: resuming with another budget would bend it, so it is refused.
    with pytest.raises(training.CheckpointError, match="--epochs=3.*--epochs=5"):
        training.train(dataclasses.replace(split, epochs=5, resume=True))
    with pytest.raises(training.CheckpointError, match="--learning_rate_schedule=cosine"):
        training.train(dataclasses.replace(split, learning_rate_schedule="constant",
                                           resume=True))


_KILLED_RUN = """
import os, signal, sys
import keras
from tfp_nfvi import configs, training

class KillMidEpoch(keras.callbacks.Callback):
    # SIGKILL after the first execution of epoch 3 (0-based 2): ckpt-2 is on disk, and the
    # optimizer has already taken steps beyond it.
    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 2:
            os.kill(os.getpid(), signal.SIGKILL)
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

training.train(configs.TrainConfig(**{settings}), callbacks=[KillMidEpoch()])
"""


def test_resume_after_sigkill_mid_epoch_is_exact(tmp_path):
    """A run killed mid-epoch resumes from its last checkpoint to the uninterrupted end state."""
    full = training.train(configs.TrainConfig(**KILL, epochs=4, output_dir=str(tmp_path / "a")))
    settings = dict(KILL, epochs=4, output_dir=str(tmp_path / "b"))
    proc = subprocess.run([sys.executable, "-c", _KILLED_RUN.format(settings=settings)],
                          env=_env(), capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == -9, proc.stderr[-3000:]  # Killed, by SIGKILL.
    checkpoints = tmp_path / "b" / training.CHECKPOINT_DIR
    assert tf.train.latest_checkpoint(str(checkpoints)).endswith("ckpt-2")
    # The checkpoint is a consistent snapshot: exactly 2 epochs of 5 steps.
    assert tf.train.load_checkpoint(str(checkpoints / "ckpt-2")).get_tensor(
        "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == 10
    resumed = training.train(configs.TrainConfig(**settings, resume=True))
    assert resumed["resumed_from_epoch"] == 2
    assert resumed["optimizer_steps"] == full["optimizer_steps"] == 4 * 5
    np.testing.assert_array_equal(resumed["history"]["loss"], full["history"]["loss"][2:])
    _assert_same_state(tmp_path / "a", tmp_path / "b")
    assert resumed["test_elbo"] == full["test_elbo"]


def test_resume_refuses_corrupt_checkpoints_and_other_settings(tmp_path):
    out = tmp_path / "run"
    config = configs.TrainConfig(**KILL, epochs=1, output_dir=str(out))
    training.train(config)
    more = dataclasses.replace(config, epochs=2, resume=True)
    with pytest.raises(training.CheckpointError, match=r"--flow=planar\*2.*--flow=radial\*2"):
        training.train(dataclasses.replace(more, flow="radial*2"))
    with pytest.raises(training.CheckpointError, match="--latent_dim=8.*--latent_dim=4"):
        training.train(dataclasses.replace(more, latent_dim=4))
    # A truncated data file: the error says so and names the checkpoint.
    data_file = next((out / training.CHECKPOINT_DIR).glob("ckpt-1.data-*"))
    data_file.write_bytes(data_file.read_bytes()[:100])
    with pytest.raises(training.CheckpointError, match="ckpt-1.*truncated"):
        training.train(more)
    # Without the recorded settings (older runs) another model's checkpoint is still refused.
    (out / training.CHECKPOINT_DIR / "run_config.json").unlink()
    with pytest.raises(training.CheckpointError, match="ckpt-1"):
        training.train(dataclasses.replace(more, latent_dim=4))


def test_gradient_clip_norm_rescales_what_adam_sees():
    """Clipped at c, a gradient g of norm > c updates Adam exactly as g · c / ‖g‖ would; one
    of norm ≤ c is untouched. Off by default."""
    assert job._optimizer(configs.TrainConfig(), 10).global_clipnorm is None
    clip = configs.TrainConfig(gradient_clip_norm=2.0)
    spike, scaled, small = ([300.0, 400.0, 0.0], [1.2, 1.6, 0.0], [0.3, -0.4, 1.0])

    def trajectory(config, steps):
        optimizer = job._optimizer(config, 10)
        variable = keras.Variable(np.zeros(3, np.float32))
        optimizer.build([variable])
        for g in steps:
            optimizer.apply([tf.constant(g)], [variable])
        return variable.numpy()

    clipped = trajectory(clip, [spike, small])
    np.testing.assert_allclose(clipped, trajectory(configs.TrainConfig(), [scaled, small]),
                               rtol=1e-6)
    assert not np.allclose(clipped, trajectory(configs.TrainConfig(), [spike, small]))
    np.testing.assert_array_equal(trajectory(clip, [small, scaled]),
                                  trajectory(configs.TrainConfig(), [small, scaled]))


def test_command_line_mistakes_are_one_line(tmp_path):
    for flags, expected in (
        (["--learning_rate=-1"], "`learning_rate` must be a positive finite number, got -1.0"),
        (["--epochs=0"], "`epochs` must be a positive integer, got 0"),
        (["--warmup_epochs=-2"], "`warmup_epochs` must be a non-negative finite number"),
        (["--gradient_clip_norm=0"], "`gradient_clip_norm` must be a positive finite number"),
        (["--verbose=5"], "`verbose` must be one of 0, 1, 2, got 5"),
        (["--strategy=tpu"], "--strategy"),
        (["--batch_size=100000", "--max_train_examples=64", "--epochs=1", "--nojit_compile"],
         "Error: `batch_size` 100000 exceeds the 64 training digits"),
    ):
        proc = _command(tmp_path, f"--output_dir={tmp_path / 'x'}", *flags)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr and expected in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) <= 2, proc.stderr


def test_config_strategies_are_the_ones_distribute_accepts():
    from tfp_nfvi import distribute  # pylint: disable=g-import-not-at-top
    assert configs.train.STRATEGIES == distribute.STRATEGIES


def test_config_precisions_are_the_ones_flow_vae_accepts():
    from tfp_nfvi.models import flow_vae  # pylint: disable=g-import-not-at-top
    assert configs.train.PRECISIONS == flow_vae.PRECISIONS


_MIRRORED_RUN = """
from tfp_nfvi import distribute
distribute.set_logical_cpu_devices(2)
from tfp_nfvi import configs, training
results = training.train(configs.TrainConfig(**{settings}))
print(results["optimizer_steps"], results["steps_per_execution"])
"""


@pytest.mark.slow  # ~30 s: a subprocess with two logical CPUs.
def test_mirrored_training_with_an_epoch_not_divisible_by_steps_per_execution(tmp_path):
    """Two replicas, 5 steps per epoch, steps_per_execution 2: Keras's multi-step loop fails
    when a mirrored iterator ends inside an execution, so the job uses a divisor (1)."""
    settings = dict(KILL, epochs=2, strategy="mirrored", output_dir=str(tmp_path / "m"))
    proc = subprocess.run([sys.executable, "-c", _MIRRORED_RUN.format(settings=settings)],
                          env=_env(), capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["10", "1"]
