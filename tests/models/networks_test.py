"""Tests for tfp_nfvi.models.networks: the default MLPs' architecture, linearity, errors."""

import keras
import numpy as np
import pytest

from tfp_nfvi.models import networks


def _widths(model):
    return [layer.units for layer in model.layers]


def test_default_encoder_and_decoder_are_the_w1_workload():
    encoder = networks.mlp_encoder()
    decoder = networks.mlp_decoder(784)
    encoder.build((None, 784))
    decoder.build((None, 40))
    assert _widths(encoder) == [512, 256] and _widths(decoder) == [256, 512, 784]
    assert [layer.activation.__name__ for layer in encoder.layers] == ["relu", "relu"]
    assert decoder.layers[-1].activation.__name__ == "linear"
    assert encoder.compute_output_shape((None, 784)) == (None, 256)
    assert decoder.compute_output_shape((None, 40)) == (None, 784)


def test_encoder_output_is_nonnegative_relu_features():
    encoder = networks.mlp_encoder((8, 5), name="enc")
    h = keras.ops.convert_to_numpy(encoder(np.random.default_rng(0).normal(size=(6, 3))))
    assert h.shape == (6, 5) and (h >= 0).all() and encoder.name == "enc"


@pytest.mark.parametrize("hidden_units", [(), None])
def test_decoder_without_hidden_layers_is_affine(hidden_units):
    decoder = networks.mlp_decoder(4, hidden_units)
    z = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    out = keras.ops.convert_to_numpy(decoder(z))
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in decoder.layers[0].weights)
    np.testing.assert_allclose(out, z @ kernel + bias, rtol=1e-5, atol=1e-6)
    # Affine: the output at the midpoint is the midpoint of the outputs.
    mid = keras.ops.convert_to_numpy(decoder((z[:1] + z[1:2]) / 2))
    np.testing.assert_allclose(mid, (out[:1] + out[1:2]) / 2, rtol=1e-5, atol=1e-5)


def test_networks_round_trip_through_their_config():
    decoder = networks.mlp_decoder(6, (4,), activation="tanh")
    clone = keras.Sequential.from_config(decoder.get_config())
    clone.build((None, 2))
    assert _widths(clone) == [4, 6] and clone.layers[0].activation.__name__ == "tanh"


@pytest.mark.parametrize("hidden_units, match", [
    ((), "non-empty"), ((64, 0), r"hidden_units\[1\]"), ((3.5,), r"hidden_units\[0\]"),
    ("64", "sequence of positive integers"), (64, "sequence of positive integers")])
def test_bad_encoder_units_are_rejected(hidden_units, match):
    with pytest.raises(ValueError, match=match):
        networks.mlp_encoder(hidden_units)


@pytest.mark.parametrize("kwargs, match", [
    (dict(output_size=0), "`output_size` must be a positive integer, got 0"),
    (dict(output_size=4, hidden_units=(True,)), r"hidden_units\[0\]")])
def test_bad_decoder_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        networks.mlp_decoder(**kwargs)
