"""Flow steps: one Keras 3 layer per step kind, mapping a context to a TFP bijector.

A normalizing flow `z_K = f_K ∘ ... ∘ f_1(z_0)` is a list of steps. A step owns its trainable
state and, given a context `c`, returns its bijector (zuko's `LazyTransform(c)`, Pyro's
`ConditionalTransform.condition(c)`, in TFP's vocabulary):

    step(c) -> tfb.Bijector f_k(· ; c)

* `c = None`: a **global** flow (a `tfp.vi` surrogate). The step's parameters are its own
  weights, of shape `batch_shape + [P]`, and the bijector reads them when it runs (through
  `tfp.util.DeferredTensor` or a `tf.Module` that lists them), so a distribution built once
  keeps following the optimizer's updates.
* `c` a tensor `[B, C]` (encoder features `h`, or a conditioning input `x`): an **amortized**
  or **conditional** flow whose bijector has batch shape `[B]` (per-example parameters that
  broadcast against `z` of shape `[B, D]` or `[S, B, D]`).

Two families share this interface:

* `ParameterizedStep` (planar, radial, ...): `f = make_bijector(θ)` for `P` unconstrained
  reals `θ`; the bijector enforces its own invertibility constraints (by reparameterization).
  Given a context, `θ` is a linear function of `c`: the `Flow` computes it for all such steps
  with one dense head and hands each step its slice (`call(c, params=θ)`), one matrix product
  instead of `K` small ones.
* `NetworkStep` (maf, iaf, realnvp, ...): the bijector calls a Keras network on the
  coordinates (and `c`, which enters its first hidden layer and, in autoregressive steps'
  `MADE`, also its outputs). A coordinate reversal
  precedes every such step after the first (see `Flow`).

A new step kind is one module with a subclass and one line in `flows/registry.py`.
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

__all__ = ["FlowStep", "NetworkStep", "ParameterizedStep"]


class FlowStep(keras.layers.Layer):
    """Base class of flow steps: `step(context=None) -> tfb.Bijector` on `R^D`.

    Args:
      event_size: `D`.
      seed: int seed of the initialization (None: Keras's global RNG).
      kind_index: how many steps of the same kind precede this one in its flow (a step kind
        may alternate something with it, as the triangular Sylvester flow does).
      validate_args: passed to the bijector.
      **kwargs: `keras.layers.Layer` arguments.
    """

    # Options a flow spec may give this kind, `"name(key=value)"`: key -> constructor argument.
    spec_options = {}
    # Whether a fixed coordinate reversal goes before this step when an earlier step of the
    # flow also has it set (autoregressive and coupling steps see the coordinates in order).
    reverses_coordinates = False
    # The `Flow` option that says where a context flow centers this kind's head output
    # (`ParameterizedStep.center_params`: "center_planar", "center_radial"), or None.
    center_option = None

    def __init__(self, event_size, seed=None, kind_index=0, validate_args=False, **kwargs):
        super().__init__(**kwargs)
        self.event_size = int(event_size)
        self.seed = seed
        self.kind_index = int(kind_index)
        self.validate_args = bool(validate_args)

    @classmethod
    def check_event_size(cls, event_size, **options):
        """Raises a ValueError naming the step kind if it cannot act on `R^event_size`."""

    def get_config(self):
        config = super().get_config()
        config.update(event_size=self.event_size, seed=self.seed, kind_index=self.kind_index,
                      validate_args=self.validate_args)
        return config


class ParameterizedStep(FlowStep):
    """A step whose bijector is a function of `P` unconstrained reals `θ`.

    Subclasses define `num_params` (an int attribute set in `__init__`), `bijector_args(θ)`
    (`[..., P]` → the bijector's constructor arguments, constraints applied), `bijector_class`,
    and optionally `param_sizes()` (θ's fields), `global_init_stddev()` and `identity_params()`.

    Args:
      event_size: `D`.
      batch_shape: batch shape of the parameters of a global step (a batch of independent
        flows); an amortized step's batch comes from the context.
      init_scale: stddev of the random initialization of a global step's parameters.
      **kwargs: `FlowStep` arguments.
    """

    bijector_class = None
    # A bijector class that takes `bijector_args` of parameters stacked over K consecutive
    # steps (`[..., K, P]`, sliced on the last axis) and equals the chain of their
    # bijectors, or None. `Flow` builds one for each run of consecutive steps of one name.
    stacked_bijector_class = None

    def __init__(self, event_size, batch_shape=(), init_scale=0.1, **kwargs):
        super().__init__(event_size, **kwargs)
        self.batch_shape = tuple(int(b) for b in batch_shape)
        self.init_scale = float(init_scale)

    def bijector_args(self, params):
        raise NotImplementedError

    def param_sizes(self):
        """The sizes of θ's fields, in order (they sum to `P`); one field unless overridden.

        A step whose `bijector_args` and `center_params` read θ field by field (with
        `split_params`, and `tf.concat` to put a θ together) declares them here, and the
        `Flow`'s head computes each field with its own product. Why: autodiff turns a slice
        of the head's output into a zero-padded copy in the backward pass, and XLA on CPU fuses
        the sum of those pads with the parameters' whole gradient computation into one loop
        that does not vectorize (half the time of a planar*80 VAE training step, measured in
        benchmarks/results/speed_levers.md); `tf.split` and `tf.concat` differentiate into
        each other, which XLA cancels, so each field's cotangent goes straight to its product.
        """
        return (self.num_params,)

    def split_params(self, params):
        """θ `[..., P]` as its fields (`param_sizes`), `tf.split` on the last axis."""
        return tf.split(params, self.param_sizes(), axis=-1)

    def global_init_stddev(self):
        """Per-parameter stddev `[P]` of a global step's initial `θ ~ N(0, diag s²)`."""
        return np.full([self.num_params], self.init_scale)

    def identity_params(self):
        """A `θ` (float64 `[P]`) at which the bijector is the identity map, or None.

        The `Flow`'s head starts with this as its bias (and a small kernel), so a fresh
        amortized or conditional step is the identity up to the kernel's small output; None
        leaves the bias at 0. Only an initializer: global steps and loaded weights ignore it.
        """
        return None

    def center_params(self, params, loc, follow_path=True):
        """`(θ relative to loc, the image of loc)` for a run of steps (if `center_option`).

        Args:
          params: the head's output for `n` consecutive steps of this kind, `[..., n, P]`.
          loc: the point the run is centered on, `[..., D]`.
          follow_path: center each step on the image of `loc` under the run's steps before
            it (the option's "mean_path"), else every step on `loc` ("base_mean").

        Returns:
          The parameters `[..., n, P]` and, when following the path, `f(loc)` `[..., D]`
          (the run's bijector applied to `loc`, where the next steps are centered), else None.
        """
        raise NotImplementedError

    def build(self, context_shape=None):
        if context_shape is None:
            stddev = self.global_init_stddev()
            shape = self.batch_shape + (self.num_params,)
            seed = None if self.seed is None else (int(self.seed), 0)

            def initializer(shape=shape, dtype=None):
                noise = (
                    tf.random.stateless_normal(shape, seed=seed, dtype=dtype)
                    if seed is not None
                    else keras.random.normal(shape, dtype=dtype)
                )
                return noise * tf.constant(stddev, dtype)

            self.params = self.add_weight(shape=shape, initializer=initializer, name="params")
        self.built = True

    def call(self, context=None, params=None):
        """The bijector at `θ = params` (a head's slice) or, globally, at this step's weights."""
        if params is not None:
            args = self.bijector_args(tf.convert_to_tensor(params, self.compute_dtype))
        elif context is None:
            variable = self.params.value
            template = self.bijector_args(tf.convert_to_tensor(variable))
            args = [
                tfp.util.DeferredTensor(
                    variable, lambda p, i=i: self.bijector_args(p)[i], shape=t.shape,
                    dtype=t.dtype)
                for i, t in enumerate(template)
            ]
        else:
            raise ValueError(
                f"{self.name}: an amortized {type(self).__name__} takes its parameters from "
                "the flow's head (`params=`); call the `Flow`, not the step."
            )
        return self.bijector_class(*args, validate_args=self.validate_args)

    @classmethod
    def stacked(cls, steps, params=None):
        """One `stacked_bijector_class` for consecutive `steps` of this kind, step 0 first.

        `params` is their head slice `[..., K, P]`; without it (a global flow) the bijector
        reads the steps' weights when it runs, stacked on axis -2 (one `DeferredTensor` per
        argument that lists all K variables).
        """
        first = steps[0]
        if params is not None:
            args = first.bijector_args(tf.convert_to_tensor(params, first.compute_dtype))
        else:
            variables = [s.params.value for s in steps]

            def stack(_):
                return tf.stack([tf.convert_to_tensor(v) for v in variables], axis=-2)

            template = first.bijector_args(stack(None))
            args = [
                tfp.util.DeferredTensor(
                    variables[0], lambda p, i=i: first.bijector_args(stack(p))[i],
                    shape=t.shape, dtype=t.dtype, also_track=variables[1:])
                for i, t in enumerate(template)
            ]
        return cls.stacked_bijector_class(*args, validate_args=first.validate_args)

    def get_config(self):
        config = super().get_config()
        config.update(batch_shape=list(self.batch_shape), init_scale=self.init_scale)
        return config


class _NetworkFn(tf.Module):
    """`x -> network(x, context)`, a `tf.Module` that lists the network's variables.

    TFP bijectors keep their `shift_and_log_scale_fn`; when it is a `tf.Module`,
    `distribution.trainable_variables` finds the variables (Keras 3 variables are not
    `tf.Variable`s, so they are listed through `.value`). Extra positional arguments (RealNVP
    passes the number of outputs) are ignored.
    """

    def __init__(self, network, context):
        super().__init__(name=network.name)
        self._network = network
        self._context = context
        self.network_variables = [w.value for w in network.weights]

    def __call__(self, x, *unused_args):
        return self._network(x, context=self._context)


class NetworkStep(FlowStep):
    """A step whose bijector runs a Keras network over the coordinates (and the context).

    Subclasses define `make_network(**network_kwargs)` and `bijector_from_fn(fn)`, where
    `fn(x) -> network outputs`.

    Args:
      event_size: `D`.
      hidden_units: hidden sizes of the network.
      activation: its hidden activation.
      log_scale_clip: soft bound on its log-scale outputs (affine steps).
      context_to_output: for `MADE` networks (autoregressive steps): the context also feeds
        the outputs directly, so the first coordinate's transform depends on it (False: the
        v0.1 network, whose first coordinate ignores the context). Coupling networks' outputs
        all see the context anyway and ignore it.
      **kwargs: `FlowStep` arguments.
    """

    reverses_coordinates = True

    def __init__(self, event_size, hidden_units=(64, 64), activation="relu",
                 log_scale_clip=3.0, context_to_output=True, **kwargs):
        super().__init__(event_size, **kwargs)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.activation = activation
        self.log_scale_clip = float(log_scale_clip)
        self.context_to_output = bool(context_to_output)
        self.network = None

    def make_network(self, **network_kwargs):
        raise NotImplementedError

    def bijector_from_fn(self, fn):
        raise NotImplementedError

    def build(self, context_shape=None):
        context_size = None if context_shape is None else int(context_shape[-1])
        self.network = self.make_network(
            hidden_units=self.hidden_units,
            context_size=context_size,
            activation=self.activation,
            log_scale_clip=self.log_scale_clip,
            seed=self.seed,
            dtype=self.dtype_policy,
            name=f"{self.name}_network",
        )
        self.network.build(None)
        self.built = True

    def call(self, context=None, params=None):
        del params  # Network steps have no head parameters.
        return self.bijector_from_fn(_NetworkFn(self.network, context))

    def get_config(self):
        config = super().get_config()
        config.update(hidden_units=list(self.hidden_units), activation=self.activation,
                      log_scale_clip=self.log_scale_clip,
                      context_to_output=self.context_to_output)
        return config

