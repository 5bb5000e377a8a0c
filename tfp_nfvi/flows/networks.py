"""Keras 3 networks that drive TFP's `MaskedAutoregressiveFlow` and `RealNVP`.

TFP's `tfb.AutoregressiveNetwork` and `tfb.real_nvp_default_template` are tf-keras objects
whose weights a Keras 3 model never sees. These layers replace them:

* `MADE` (Germain et al., 2015) maps `x ∈ R^D` to `(shift, log_scale) ∈ R^D × R^D` with
  output `i` depending only on `x_{<i}`; it is a valid `shift_and_log_scale_fn` for
  `tfb.MaskedAutoregressiveFlow`, `y_i = x_i exp(log_scale_i(x_{<i})) + shift_i(x_{<i})`.
* `CouplingNetwork` maps the `d` conditioning coordinates to `(shift, log_scale)` for the
  other `D - d`; it is a valid `shift_and_log_scale_fn` for `tfb.RealNVP`.

Both accept an optional context `c` (an encoder output, Kingma et al. 2016): it enters the
first hidden layer as `W_c c`, which the masks never touch, so the autoregressive property
holds for every context. The context has shape `[B, C]` and broadcasts against inputs
`[B, D]` or `[S, B, D]` (right-aligned, as TFP's batch semantics).

In a MADE the first coordinate's outputs see no hidden unit (their mask columns are zero:
they depend on `x_{<1}`, nothing), so a context that enters only the first hidden layer never
reaches them, and for `D = 1` the whole step ignores it. With `context_to_output=True` (MADE's
default) the context also feeds the outputs directly, `out = W_o h + V_o c + b_o` with `V_o`
unmasked, so every output depends on it: the output-layer part of what TFP's
`AutoregressiveNetwork(conditional=True)` does with its default
`conditional_input_layers='all_layers'` (the hidden layers see `c` through the first one
already). `V_o` starts small like `W_o`. `context_to_output=False` is the network of
tfp_nfvi 0.1, and what a saved MADE config without the key means.

The log-scale is soft-clamped, `log_scale = c · tanh(raw / c)` with `c = log_scale_clip`,
so each step scales by at most `exp(±c)`, with gradient ≈ 1 near 0. The output layer
starts small (a truncated normal of stddev `output_init_scale / sqrt(fan_in)`, zero bias),
so a fresh flow is close to the identity.

With `params_per_output=P` a network returns `P` raw parameters per transformed coordinate,
`[..., n, P]`, instead of `(shift, log_scale)` (the spline steps' bin widths, heights and
slopes).
"""

import keras
import numpy as np
import tensorflow as tf

from tfp_nfvi.internal import validation

__all__ = ["CouplingNetwork", "MADE", "made_masks"]


def made_masks(event_size, hidden_units, num_outputs_per_input=2):
    """The MADE connectivity masks for inputs in natural order `1..D`.

    Degrees: input `i` (0-based) has degree `i + 1`; hidden unit `k` of every layer has degree
    `k mod max(1, D - 1) + 1`; the `j`-th output block repeats the input degrees. A hidden unit
    of degree `m` sees inputs of degree `≤ m`; an output of degree `d` sees hidden units of
    degree `< d`, so output `i` depends on `x_{<i}` only (output 0 is a constant).

    Args:
      event_size: `D`, the number of inputs.
      hidden_units: sizes of the hidden layers.
      num_outputs_per_input: the outputs are `num_outputs_per_input` blocks of `D` (block `j`
        holds parameter `j` of every coordinate).

    Returns:
      A list of float32 numpy masks, one per weight matrix, of shapes `[D, H_1]`, ...,
      `[H_L, num_outputs_per_input * D]`.
    """
    in_degrees = np.arange(1, event_size + 1)
    degrees = [in_degrees]
    for units in hidden_units:
        degrees.append(np.arange(units) % max(1, event_size - 1) + 1)
    masks = [
        (d_out[None, :] >= d_in[:, None]).astype(np.float32)
        for d_in, d_out in zip(degrees[:-1], degrees[1:])
    ]
    out_degrees = np.tile(in_degrees, num_outputs_per_input)
    masks.append((out_degrees[None, :] > degrees[-1][:, None]).astype(np.float32))
    return masks


class _ShiftLogScaleNetwork(keras.layers.Layer):
    """An MLP `x (+ context) -> (shift, log_scale)` with optional weight masks.

    Subclasses fix the input/output sizes and the masks; this class owns the weights, the
    context projection, the soft clamp and the serialization.
    """

    def __init__(
        self,
        hidden_units=(64, 64),
        context_size=None,
        activation="relu",
        log_scale_clip=3.0,
        output_init_scale=1e-2,
        params_per_output=None,
        context_to_output=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.seed = seed
        self.context_to_output = bool(context_to_output)
        self.params_per_output = (
            None if params_per_output is None
            else validation.check_positive_int(params_per_output, "params_per_output"))
        self.hidden_units = validation.check_int_sequence(hidden_units, "hidden_units")
        if not self.hidden_units:
            raise ValueError("`hidden_units` must name at least one hidden layer, got ().")
        self.context_size = (
            None if context_size is None
            else validation.check_positive_int(context_size, "context_size")
        )
        self.activation = keras.activations.get(activation)
        self.log_scale_clip = float(log_scale_clip)
        self.output_init_scale = float(output_init_scale)

    @property
    def _num_params(self):
        return 2 if self.params_per_output is None else self.params_per_output

    # Subclasses define: _input_size, _output_size, _masks().
    def _masks(self):
        return [None] * (len(self.hidden_units) + 1)

    def _seed(self, index):
        """A distinct initializer seed per weight matrix (None: Keras's global RNG)."""
        return None if self.seed is None else self.seed + index

    def _output_initializer(self, index):
        return keras.initializers.VarianceScaling(
            scale=self.output_init_scale**2, mode="fan_in", distribution="truncated_normal",
            seed=self._seed(index))

    def build(self, input_shape=None):
        sizes = (self._input_size,) + self.hidden_units
        self._kernels, self._biases = [], []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            self._kernels.append(
                self.add_weight(
                    shape=(fan_in, fan_out), initializer=keras.initializers.GlorotUniform(seed=self._seed(i)),
                    name=f"kernel_{i}"
                )
            )
            self._biases.append(self.add_weight(shape=(fan_out,), initializer="zeros", name=f"bias_{i}"))
        if self.context_size is not None:
            self.context_kernel = self.add_weight(
                shape=(self.context_size, self.hidden_units[0]),
                initializer=keras.initializers.GlorotUniform(seed=self._seed(len(sizes))),
                name="context_kernel",
            )
        self.output_kernel = self.add_weight(
            shape=(self.hidden_units[-1], self._num_params * self._output_size),
            initializer=self._output_initializer(len(sizes) + 1),
            name="output_kernel",
        )
        self.output_bias = self.add_weight(
            shape=(self._num_params * self._output_size,), initializer="zeros",
            name="output_bias"
        )
        # Created last, so the weights of a network without it keep their v0.1 order.
        self.context_output_kernel = None
        if self.context_size is not None and self.context_to_output:
            self.context_output_kernel = self.add_weight(
                shape=(self.context_size, self._num_params * self._output_size),
                initializer=self._output_initializer(len(sizes) + 2),
                name="context_output_kernel",
            )

    def _masked(self, kernel, mask):
        kernel = tf.convert_to_tensor(kernel)
        return kernel if mask is None else kernel * tf.cast(mask, kernel.dtype)

    def call(self, x, context=None):
        x = tf.convert_to_tensor(x, dtype=self.compute_dtype)
        if x.shape[-1] is not None and x.shape[-1] != self._input_size:
            raise ValueError(
                f"{self.name}: input `x` must have last dimension {self._input_size}, got "
                f"shape {x.shape}."
            )
        if (context is None) != (self.context_size is None):
            raise ValueError(
                f"{self.name}: built with context_size={self.context_size} but called with "
                f"context={'None' if context is None else 'a tensor'}; pass a context iff "
                "context_size is set."
            )
        # The masks are NumPy arrays made into constants here, in the graph that runs the
        # layer (a constant made in `build` belongs to the graph that built it, which a lazy
        # build inside a traced training step leaves inaccessible to later graphs).
        masks = self._masks()
        h = tf.matmul(x, self._masked(self._kernels[0], masks[0])) + self._biases[0]
        if context is not None:
            context = tf.convert_to_tensor(context, dtype=self.compute_dtype)
            if context.shape[-1] is not None and context.shape[-1] != self.context_size:
                raise ValueError(
                    f"{self.name}: `context` must have last dimension {self.context_size}, "
                    f"got shape {context.shape}."
                )
            h = h + tf.matmul(context, tf.convert_to_tensor(self.context_kernel))
        h = self.activation(h)
        for kernel, bias, mask in zip(self._kernels[1:], self._biases[1:], masks[1:-1]):
            h = self.activation(tf.matmul(h, self._masked(kernel, mask)) + bias)
        out = tf.matmul(h, self._masked(self.output_kernel, masks[-1])) + self.output_bias
        if self.context_output_kernel is not None:
            out = out + tf.matmul(context, tf.convert_to_tensor(self.context_output_kernel))
        if self.params_per_output is not None:
            # Block j of the outputs holds parameter j of every coordinate: [..., D, P].
            out = tf.reshape(out, tf.concat(
                [tf.shape(out)[:-1], [self.params_per_output, self._output_size]], axis=0))
            return tf.linalg.matrix_transpose(out)
        shift, raw_log_scale = tf.split(out, 2, axis=-1)
        clip = tf.constant(self.log_scale_clip, out.dtype)
        return shift, clip * tf.tanh(raw_log_scale / clip)

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_units=list(self.hidden_units),
            context_size=self.context_size,
            activation=keras.activations.serialize(self.activation),
            log_scale_clip=self.log_scale_clip,
            output_init_scale=self.output_init_scale,
            params_per_output=self.params_per_output,
            context_to_output=self.context_to_output,
            seed=self.seed,
        )
        return config


@keras.saving.register_keras_serializable(package="tfp_nfvi")
class MADE(_ShiftLogScaleNetwork):
    """Masked autoencoder for distribution estimation, as a Keras 3 layer.

    `MADE(D)(x, context=None)` returns `(shift, log_scale)`, each of shape `x.shape`
    (broadcast with the context's batch shape), where `shift_i` and `log_scale_i` depend on
    `x_{<i}` (natural order; put a `tfb.Permute` between steps for other orders) and on the
    context. Use it as

        made = MADE(D, context_size=H)
        tfb.MaskedAutoregressiveFlow(lambda x: made(x, context=h))

    Args:
      event_size: `D`.
      hidden_units: hidden layer sizes (each should be ≥ D - 1 so every input is used).
      context_size: size `C` of the conditional input, or `None` for none.
      activation: hidden activation.
      log_scale_clip: `c` in `log_scale = c · tanh(raw / c)`.
      output_init_scale: relative stddev of the output layer at initialization.
      context_to_output: also feed the context straight to the outputs, so that every
        output, the first coordinate's included, depends on it (see the module docstring).
        False is tfp_nfvi 0.1's network; a saved config without the key loads as False.
      seed: int seed of the weight initializers (`None`: Keras's global RNG).
    """

    def __init__(self, event_size, hidden_units=(64, 64), context_to_output=True, **kwargs):
        super().__init__(hidden_units=hidden_units, context_to_output=context_to_output,
                         **kwargs)
        self.event_size = validation.check_positive_int(event_size, "event_size")
        self._input_size = self._output_size = self.event_size

    def _masks(self):
        return made_masks(self.event_size, self.hidden_units, self._num_params)

    def get_config(self):
        return {**super().get_config(), "event_size": self.event_size}

    @classmethod
    def from_config(cls, config):
        return cls(**{"context_to_output": False, **config})  # Saved before the option: 0.1's.


@keras.saving.register_keras_serializable(package="tfp_nfvi")
class CouplingNetwork(_ShiftLogScaleNetwork):
    """The `shift_and_log_scale_fn` of a RealNVP coupling step, as a Keras 3 layer.

    `CouplingNetwork(d, D - d)(x_{1:d}, context=None)` returns `(shift, log_scale)` of shape
    `[..., D - d]` for `y_{d+1:D} = x_{d+1:D} exp(log_scale) + shift`. Use it as

        net = CouplingNetwork(d, D - d, context_size=H)
        tfb.RealNVP(num_masked=d, shift_and_log_scale_fn=lambda x, n: net(x, context=h))

    Args:
      num_masked: `d`, the number of conditioning (unchanged) coordinates.
      output_units: `D - d`, the number of transformed coordinates.
      **kwargs: as for `MADE` (hidden_units, context_size, activation, ...).
    """

    def __init__(self, num_masked, output_units, hidden_units=(64, 64), **kwargs):
        super().__init__(hidden_units=hidden_units, **kwargs)
        self.num_masked = validation.check_positive_int(num_masked, "num_masked")
        self.output_units = validation.check_positive_int(output_units, "output_units")
        self._input_size, self._output_size = self.num_masked, self.output_units

    def get_config(self):
        return {
            **super().get_config(),
            "num_masked": self.num_masked,
            "output_units": self.output_units,
        }
