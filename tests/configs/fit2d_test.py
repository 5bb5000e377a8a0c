"""Tests for tfp_nfvi.configs.fit2d: the settings of the 2D-energy fit."""

import pytest

from tfp_nfvi import configs
from tfp_nfvi import targets


def test_energy_names_are_the_targets():
    assert configs.fit2d.ENERGY_NAMES == tuple(targets.ENERGY_NAMES)


def test_settings_are_validated():
    assert configs.Fit2DConfig().num_steps == 10_000
    for name, bad in (("num_steps", 0), ("learning_rate", 0.0), ("anneal_steps", -1),
                      ("grid_points", 1), ("energy", "U5"), ("elbo_samples", 1.5)):
        with pytest.raises(ValueError, match=f"`{name}`"):
            configs.Fit2DConfig(**{name: bad})
    assert configs.Fit2DConfig(anneal_steps=0).anneal_steps == 0  # Annealing off.
