"""Tests for tfp_nfvi.configs.train: the settings of the training job."""

import dataclasses
import subprocess
import sys

import pytest

from tfp_nfvi import configs


def test_defaults_are_the_quickstart():
    config = configs.TrainConfig()
    assert (config.flow, config.latent_dim, config.epochs, config.dataset) == (
        "planar*16", 40, 30, "embedded")
    # The warm-up is in epochs, independent of --epochs (15 epochs: half the default 30).
    assert config.warmup_epochs == 15.0


def test_numeric_settings_are_validated():
    for name, bad in (("learning_rate", -1.0), ("latent_dim", 0), ("epochs", 2.5),
                      ("warmup_epochs", float("inf")), ("patience", -1), ("seed", -3),
                      ("max_train_examples", 0), ("verbose", 3), ("binarization", "soft"),
                      ("learning_rate_schedule", "linear"), ("gradient_clip_norm", 0.0)):
        with pytest.raises(ValueError, match=f"`{name}`"):
            configs.TrainConfig(**{name: bad})


def test_resume_fixed_settings_are_fields():
    names = {f.name for f in dataclasses.fields(configs.TrainConfig)}
    assert set(configs.TrainConfig.RESUME_FIXED) <= names
    assert {"flow", "latent_dim"} <= set(configs.TrainConfig.RESUME_FIXED)
    assert "epochs" not in configs.TrainConfig.RESUME_FIXED  # Resume continues to more epochs.
    assert configs.TrainConfig().resume_fixed == configs.TrainConfig.RESUME_FIXED
    # ... except when the learning rate's schedule spans the epoch budget.
    cosine = configs.TrainConfig(learning_rate_schedule="cosine")
    assert cosine.resume_fixed == configs.TrainConfig.RESUME_FIXED + ("epochs",)


def test_configs_import_no_tensorflow_in_a_command_process():
    """A command parses its flags before TensorFlow loads (`tfp_nfvi/__init__.py` is lazy in
    a command's process; `sys.orig_argv` is what it reads to know)."""
    code = ("import sys; sys.orig_argv = [sys.executable, '-m', 'tfp_nfvi.train']; "
            "import tfp_nfvi.configs, tfp_nfvi.cli; print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
