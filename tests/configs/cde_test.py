"""Tests for tfp_nfvi.configs.cde: the settings of `python -m tfp_nfvi.cde`."""

import pytest

from tfp_nfvi import configs
from tfp_nfvi import data
from tfp_nfvi.models import conditional_flow


def test_restated_names_agree_with_the_library():
    assert configs.cde.UCI_DATASETS == tuple(data.UCI_DATASETS)
    assert configs.cde.DIRECTIONS == conditional_flow.DIRECTIONS


def test_settings_are_validated():
    config = configs.CDEConfig()
    assert (config.repeats, config.test_fraction, config.direction) == (5, 0.3, "generative")
    for name, bad in (("repeats", 0), ("test_fraction", 1.0), ("validation_fraction", 0.0),
                      ("direction", "backwards"), ("conditioner_units", "64,x"),
                      ("hidden_units", ""), ("y_noise", -1.0), ("learning_rate", 0.0)):
        with pytest.raises(ValueError, match=f"`{name}`"):
            configs.CDEConfig(**{name: bad})


def test_noise_grids():
    config = configs.CDEConfig(x_noise=0.3, y_noise_grid="0.1, 0.05,0.02")
    assert config.noise_candidates == ((0.3, 0.1), (0.3, 0.05), (0.3, 0.02))
    config = configs.CDEConfig(x_noise_grid="0.2,0.1", y_noise_grid="0.1,0")
    assert config.noise_candidates == ((0.2, 0.1), (0.2, 0.0), (0.1, 0.1), (0.1, 0.0))
    assert configs.CDEConfig(y_noise=0.05).noise_candidates == ((0.2, 0.05),)
    for name, bad in (("y_noise_grid", "0.1,x"), ("y_noise_grid", "0.1,-0.1"),
                      ("x_noise_grid", "0.1,0.1"), ("x_noise_grid", "")):
        with pytest.raises(ValueError, match=f"`{name}` must be distinct comma-separated"):
            configs.CDEConfig(**{name: bad})


def test_parse_units():
    assert configs.cde.parse_units("64, 32") == (64, 32)
