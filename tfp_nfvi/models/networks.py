"""Default encoder and decoder networks of `FlowVAE`: plain multilayer perceptrons.

The defaults are the benchmark workload W1: encoder `784 → 512 → 256` and decoder
`D → 256 → 512 → 784`, ReLU hidden layers. The encoder's output `h` (256 units) feeds the
posterior layer's linear heads; the decoder's last layer is linear and emits the likelihood's
parameters (Bernoulli logits for binary data). Rezende & Mohamed (2015) used 400-unit maxout
MLPs with a 40-dimensional latent; any Keras model mapping `[B, 784] → [B, H]` (encoder) or
`[..., D] → [..., P]` (decoder) can replace these.
"""

import keras

from tfp_nfvi.internal import seeds
from tfp_nfvi.internal import validation

__all__ = ["mlp_decoder", "mlp_encoder"]


def _kernel_initializer(seed, index):
    return keras.initializers.GlorotUniform(seed=seeds.derived_seed(seed, index))


def mlp_encoder(hidden_units=(512, 256), activation="relu", name="encoder", seed=None):
    """`x ↦ h`: `Dense(u, activation)` for each `u` in `hidden_units`.

    Args:
      hidden_units: layer widths; the last is the size `H` of `h`.
      activation: a Keras activation for every layer.
      name: the model's name.
      seed: int seed of the (Glorot uniform) initial kernels; None: Keras's global RNG.

    Returns:
      An unbuilt `keras.Sequential`.
    """
    hidden_units = validation.check_int_sequence(hidden_units, "hidden_units")
    if not hidden_units:
        raise ValueError(
            "`hidden_units` of an encoder must be non-empty (its last width is the size H of "
            "h), got ()."
        )
    return keras.Sequential(
        [keras.layers.Dense(u, activation=activation, name=f"dense_{i}",
                            kernel_initializer=_kernel_initializer(seed, i))
         for i, u in enumerate(hidden_units)],
        name=name,
    )


def mlp_decoder(output_size, hidden_units=(256, 512), activation="relu", name="decoder",
                seed=None):
    """`z ↦ η`: hidden `Dense(u, activation)` layers, then a linear `Dense(output_size)`.

    Args:
      output_size: the number of likelihood parameters per example (784 Bernoulli logits).
      hidden_units: hidden layer widths (may be empty or None for a linear decoder).
      activation: a Keras activation for the hidden layers.
      name: the model's name.
      seed: int seed of the (Glorot uniform) initial kernels; None: Keras's global RNG.

    Returns:
      An unbuilt `keras.Sequential`.
    """
    output_size = validation.check_positive_int(output_size, "output_size")
    hidden_units = validation.check_int_sequence(
        () if hidden_units is None else hidden_units, "hidden_units")
    layers = [keras.layers.Dense(u, activation=activation, name=f"dense_{i}",
                                 kernel_initializer=_kernel_initializer(seed, i))
              for i, u in enumerate(hidden_units)]
    layers.append(keras.layers.Dense(
        output_size, name="logits",
        kernel_initializer=_kernel_initializer(seed, len(hidden_units))))
    return keras.Sequential(layers, name=name)
