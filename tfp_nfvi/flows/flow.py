"""`Flow`: a list of flow steps plus a Gaussian base, as one Keras 3 layer.

Called on a context `c` (or `None`), the layer returns

    q(z | c) = TransformedDistribution(N(μ(c), diag σ(c)²), f_K(·; c) ∘ ... ∘ f_1(·; c)),

with the steps of a flow spec (`"planar*16"`, `"radial*4,iaf*2"`, `"diag"`, ...) acting on
`z_0` in spec order. The same layer is an amortized posterior (`c` = encoder features), a
conditional density model's flow (`c` = features of the conditioning input) and, with
`c = None`, a global flow for `tfp.vi`:

* **Base.** Given `c`: `[μ, ρ] = W_0 c + b_0` (the `base_head`); globally, `μ` and `ρ` are
  weights of shape `batch_shape + [D]`, initially `μ = 0`, `σ = base_scale`. In both,
  `σ = softplus(ρ + softplus⁻¹(1)) + min_scale`: σ ≈ 1 when ρ ≈ 0, `log σ` stays finite, and
  softplus grows linearly so a large ρ does not overflow. With `trainable_base=False` the
  base is N(0, I).
* **Parameterized steps** (planar, radial, ...): given `c`, one dense head (`flow_head`)
  emits the raw parameters of all of them, `Σ_k P_k` numbers per example, laid out kind by
  kind in registry order (all planar steps, then all radial steps, ...; within a kind in
  flow order), and each step gets its slice: one matrix product for the whole flow. The
  head's kernel starts as a truncated normal of stddev `head_init_scale / sqrt(C)` and its
  bias at each step's `identity_params()` (0 for a step without one), so the initial flow is
  the identity up to the kernel's small output. (Planar needs this: at θ = 0 its
  invertibility reparameterization makes each step a contraction, see `planar`.) Globally
  each step holds its own parameters.
* **Network steps** (maf, iaf, realnvp, ...) own a network that takes `c` as its context.
  A coordinate reversal `tfb.Permute([D-1, ..., 0])` precedes every such step after the
  first (as TFP's MAF examples and RealNVP's alternating masks): deterministic, volume
  preserving, one gather under XLA. Planar and radial steps need none.

Training draws `z_K, log q(z_K | c)` with `q.experimental_sample_and_log_prob(seed=seed)`,
the forward pass only; `q.log_prob(z)` at arbitrary `z` runs the inverses.

Initialization is seeded by `seed` (each step and head gets its own seed derived from it);
`seed=None` uses Keras's global random state.
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_nfvi.flows import registry
from tfp_nfvi.flows import spec as spec_lib
from tfp_nfvi.flows import step as step_lib
from tfp_nfvi.internal import seeds
from tfp_nfvi.internal import validation

tfb = tfp.bijectors
tfd = tfp.distributions

__all__ = ["Flow", "softplus_scale"]

_SOFTPLUS_INVERSE_ONE = float(np.log(np.expm1(1.0)))
# Flow options that each step family accepts (passed through from the `Flow`).
_STEP_OPTIONS = {
    step_lib.ParameterizedStep: ("batch_shape", "init_scale"),
    step_lib.NetworkStep: ("hidden_units", "activation", "log_scale_clip", "context_to_output"),
}
# Options whose default changed since v0.1, with the value a config saved without them means
# (`Flow.from_config`, and the models that keep a flow's arguments in their own config).
LEGACY_OPTIONS = {"context_to_output": False, "center_planar": "off", "center_radial": "off"}
# `center_planar` / `center_radial` values; the booleans are what configs saved by earlier
# versions hold for `center_planar`.
CENTER_VALUES = ("mean_path", "base_mean", "off")
_CENTER_BOOLEANS = {True: "base_mean", False: "off"}


def with_legacy_options(kwargs):
    """`kwargs` (a saved config's flow arguments) with `LEGACY_OPTIONS` filled in where absent."""
    kwargs = dict(kwargs or {})  # Given keys first, so a config's key order survives a load.
    return {**kwargs, **{k: v for k, v in LEGACY_OPTIONS.items() if k not in kwargs}}


def legacy_option_values(flow):
    """`{option: value}` of a `Flow` for each of `LEGACY_OPTIONS`, for a model's saved config."""
    return {key: getattr(flow, key) for key in LEGACY_OPTIONS}


def _check_center(value, name):
    if isinstance(value, (bool, np.bool_)):
        return _CENTER_BOOLEANS[bool(value)]
    if value not in CENTER_VALUES:
        raise ValueError(
            f"`{name}` must be one of {CENTER_VALUES} (or a saved config's True / False), "
            f"got {value!r}.")
    return value


def softplus_scale(raw, min_scale):
    """`σ = softplus(raw + softplus⁻¹(1)) + min_scale` (σ = 1 + min_scale at raw = 0)."""
    return tf.math.softplus(raw + _SOFTPLUS_INVERSE_ONE) + min_scale


def _softplus_scale_inverse(scale, min_scale):
    return float(np.log(np.expm1(scale - min_scale))) - _SOFTPLUS_INVERSE_ONE


def spec_to_config(flow):
    """A JSON-friendly form of a flow spec (strings stay, lists become `[name, count]`s)."""
    if flow is None or isinstance(flow, str):
        return flow
    return [list(step) for step in spec_lib.parse_flow_spec(flow)]


@keras.saving.register_keras_serializable(package="tfp_nfvi")
class Flow(keras.layers.Layer):
    """A normalizing flow `q(z | c)` (or `q(z)` for `c = None`) from a flow spec.

    Example:

        flow = Flow(2, "planar*4,realnvp*2", seed=0)
        q = flow(context)          # context [B, C]: batch [B], event [2]
        z, log_q = q.experimental_sample_and_log_prob(seed=[1, 2])
        q = Flow(2, "planar*8", seed=0)(None)     # a global flow: batch [], event [2]

    Args:
      event_size: `D`.
      flow: a flow spec (see `parse_flow_spec`).
      hidden_units: hidden sizes of each network step's network.
      activation: their hidden activation.
      log_scale_clip: soft bound on their per-step log-scale.
      context_to_output: the `MADE` networks of autoregressive steps (maf, iaf, nsf_iaf) also
        feed the context straight to their outputs, so every coordinate's transform depends
        on it (see `networks`). False is v0.1's network, in which the first coordinate's
        transform ignores the context (for D = 1: the whole step); a saved config without
        the key loads as False.
      center_planar: with a context, where planar steps put their hyperplanes (see
        `planar`): "mean_path" (the default), each step's offset relative to the point that
        the steps before it carry the base mean to, b_k = b̃_k − w_kᵀ m_{k−1} with m_0 = μ(c),
        m_k = f_k(m_{k−1}); "base_mean", relative to μ(c) itself, b_k = b̃_k − w_kᵀμ(c) (the
        previous version's `True`); "off", b_k = b̃_k as the head emits it (the earlier head,
        and `False`). A saved config without the key loads as "off".
      center_radial: with a context, where radial steps put their centres (see `radial`):
        "mean_path" (the default), z0_k = m_{k−1} + z̃0_k on the same path of the base mean
        as `center_planar`'s; "base_mean", z0_k = μ(c) + z̃0_k; "off", z0_k = z̃0_k as the
        head emits it (earlier versions, and a saved config without the key).
      min_scale: floor added to the base standard deviation.
      head_init_scale: relative stddev of the parameter head at initialization (context).
      init_scale: stddev of the random initialization of global step parameters.
      base_scale: initial standard deviation of a global base.
      trainable_base: False for a fixed N(0, I) base.
      batch_shape: batch shape of a global flow (independent flows; parameterized steps only).
      validate_args: passed to the bijectors.
      seed: int seed of the initialization (None: Keras's global random state).
      **kwargs: `keras.layers.Layer` arguments (name, dtype, ...).
    """

    # How errors name the context (subclasses say "encoder output `h`", ...).
    context_description = "context"

    def __init__(
        self,
        event_size,
        flow="planar*4",
        hidden_units=(64, 64),
        activation="relu",
        log_scale_clip=3.0,
        context_to_output=True,
        center_planar="mean_path",
        center_radial="mean_path",
        min_scale=1e-4,
        head_init_scale=1e-2,
        init_scale=0.1,
        base_scale=1.0,
        trainable_base=True,
        batch_shape=(),
        validate_args=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.event_size = validation.check_positive_int(event_size, "event_size")
        self.flow = spec_to_config(flow)
        self._names = spec_lib.expand_flow_spec(flow)
        self.hidden_units = validation.check_int_sequence(hidden_units, "hidden_units")
        self.activation = activation
        self.log_scale_clip = float(log_scale_clip)
        self.context_to_output = bool(context_to_output)
        self.center_planar = _check_center(center_planar, "center_planar")
        self.center_radial = _check_center(center_radial, "center_radial")
        self.min_scale = float(min_scale)
        self.head_init_scale = float(head_init_scale)
        self.init_scale = float(init_scale)
        self.base_scale = float(base_scale)
        if not self.base_scale > self.min_scale:
            raise ValueError(
                f"`base_scale` must exceed `min_scale` ({self.min_scale}), got {base_scale!r}.")
        self.trainable_base = bool(trainable_base)
        self.batch_shape = tuple(int(b) for b in batch_shape)
        self.validate_args = bool(validate_args)
        self.seed = seed
        self.context_size = None
        self.base_head = None
        self.flow_head = None
        self._kinds = [spec_lib.split_step_name(n) for n in self._names]
        for kind, options in self._kinds:
            registry.STEPS[kind].check_event_size(self.event_size, **options)
        if self.batch_shape and any(
            issubclass(registry.STEPS[kind], step_lib.NetworkStep) for kind, _ in self._kinds
        ):
            raise ValueError(
                f"`batch_shape` {self.batch_shape} is supported for flows without network "
                f"steps (diag/planar/radial), got flow {flow!r}."
            )

    # ---------------------------------------------------------------------------- building

    def _make_steps(self):
        options = dict(
            batch_shape=self.batch_shape, init_scale=self.init_scale,
            hidden_units=self.hidden_units, activation=self.activation,
            log_scale_clip=self.log_scale_clip, context_to_output=self.context_to_output,
        )
        steps = []
        for k, (kind, spec_options) in enumerate(self._kinds):
            cls = registry.STEPS[kind]
            kwargs = {
                key: options[key]
                for family, keys in _STEP_OPTIONS.items() if issubclass(cls, family)
                for key in keys
            }
            kind_index = sum(1 for other, _ in self._kinds[:k] if other == kind)
            steps.append(cls(
                self.event_size, seed=seeds.derived_seed(self.seed, k + 2), kind_index=kind_index,
                validate_args=self.validate_args, dtype=self.dtype_policy,
                name=f"{kind}_{k}", **kwargs, **spec_options))
        return steps

    def build(self, context_shape=None):
        d = self.event_size
        # The steps are assigned after the heads so the layer's weights are in v0.1's order
        # (base head, flow head, networks), which optimizer states saved by v0.1 rely on.
        steps = self._make_steps()
        if context_shape is None:
            if self.trainable_base:
                self.loc = self.add_weight(
                    shape=self.batch_shape + (d,), initializer="zeros", name="loc")
                self.raw_scale = self.add_weight(
                    shape=self.batch_shape + (d,),
                    initializer=keras.initializers.Constant(
                        _softplus_scale_inverse(self.base_scale, self.min_scale)),
                    name="raw_scale")
        else:
            context_shape = tuple(context_shape)
            if len(context_shape) < 2 or context_shape[-1] is None:
                raise ValueError(
                    f"{self.name}: the {self.context_description} must have shape [B, C] with "
                    f"a known C, got shape {context_shape}."
                )
            self.context_size = int(context_shape[-1])
            if self.trainable_base:
                self.base_head = keras.layers.Dense(
                    2 * d, name="base_head", dtype=self.dtype_policy,
                    kernel_initializer=keras.initializers.GlorotUniform(
                        seed=seeds.derived_seed(self.seed, 0)))
                self.base_head.build(context_shape)
            num_params = sum(
                s.num_params for s in steps if isinstance(s, step_lib.ParameterizedStep))
            if num_params:
                self.flow_head = keras.layers.Dense(
                    num_params,
                    kernel_initializer=keras.initializers.VarianceScaling(
                        scale=self.head_init_scale**2, mode="fan_in",
                        distribution="truncated_normal", seed=seeds.derived_seed(self.seed, 1)),
                    bias_initializer=keras.initializers.Constant(self._identity_bias(steps)),
                    name="flow_head", dtype=self.dtype_policy,
                )
                self.flow_head.build(context_shape)
        self.steps = steps
        for step in self.steps:
            step.build(None if context_shape is None else (None, self.context_size))
        self.built = True

    @property
    def networks(self):
        """The networks of the network steps, in flow order.

        Listed here (not only inside the steps) so a saved model's weights sit where v0.1 put
        them, `<flow>/networks/<made|coupling_network>`, and files saved by v0.1 load.
        """
        return [s.network for s in getattr(self, "steps", [])
                if isinstance(s, step_lib.NetworkStep)]

    # ------------------------------------------------------------------------------ calling

    def _head_groups(self):
        """The flow head's layout: lists of step indices, one block of the head per list.

        Kind by kind in registry order (v0.1's layout: all planar, then all radial), and
        within a kind by distinct options in order of appearance; steps in flow order.
        """
        return [
            [k for k, n in enumerate(self._names) if n == name]
            for kind, cls in registry.STEPS.items()
            if issubclass(cls, step_lib.ParameterizedStep)
            for name in dict.fromkeys(n for n, (c, _) in zip(self._names, self._kinds) if c == kind)
        ]

    def _identity_bias(self, steps):
        """The head bias at which every parameterized step is the identity (where it can be)."""
        blocks = []
        for indices in self._head_groups():
            for k in indices:
                theta = steps[k].identity_params()
                blocks.append(np.zeros([steps[k].num_params]) if theta is None else theta)
        return np.concatenate(blocks).astype(np.float32)

    def _head_blocks(self, context):
        """For each parameterized step, `(block, j)`: its parameters are `block[..., j, :]`.

        One block `[B, n, P]` per group of steps with the same name (else None per step), the
        flow head's output for the group's columns. Each field of θ (`param_sizes`: planar's
        u, w, b) is its own product with the head's weights, not a slice of one product: see
        `ParameterizedStep.param_sizes`. Consecutive steps of a group have consecutive `j`.
        `context` is a checked one (`_check_context`: a tensor in the compute dtype).
        """
        blocks = [None] * len(self.steps)
        if self.flow_head is None:
            return blocks
        kernel = tf.cast(self.flow_head.kernel, self.compute_dtype)
        bias = tf.cast(self.flow_head.bias, self.compute_dtype)
        batch = tf.shape(context)[:-1]
        offset = 0
        for indices in self._head_groups():
            step, n = self.steps[indices[0]], len(indices)
            size = step.num_params
            # The block's columns as [C, n, P]: one product per field (`param_sizes`).
            columns = tf.reshape(kernel[:, offset : offset + n * size], [-1, n, size])
            biases = tf.reshape(bias[offset : offset + n * size], [n, size])
            offset += n * size
            fields = []
            for field_columns, field_bias in zip(step.split_params(columns),
                                                 step.split_params(biases)):
                width = field_bias.shape[-1]
                field = tf.matmul(context, tf.reshape(field_columns, [-1, n * width]))
                fields.append(tf.reshape(field, tf.concat([batch, [n, width]], axis=0))
                              + field_bias)
            block = tf.concat(fields, axis=-1)
            for j, k in enumerate(indices):
                blocks[k] = (block, j)
        return blocks

    def _head_params(self, context):
        """Each parameterized step's slice of the flow head, in flow order (else None)."""
        return [None if entry is None else entry[0][..., entry[1], :]
                for entry in self._head_blocks(context)]

    def _check_context(self, context):
        if context is None:
            if self.context_size is not None:
                raise ValueError(
                    f"{self.name}: built for a {self.context_description} of size "
                    f"{self.context_size}, called with None.")
            return None
        if self.context_size is None:
            raise ValueError(f"{self.name}: a global flow takes no {self.context_description}.")
        context = tf.convert_to_tensor(context, dtype=self.compute_dtype)
        if context.shape.rank is not None and (
            context.shape.rank < 2 or context.shape[-1] != self.context_size
        ):
            raise ValueError(
                f"{self.name}: expected a {self.context_description} of shape "
                f"[B, {self.context_size}], got shape {context.shape}."
            )
        return context

    def _base(self, context):
        d, dtype = self.event_size, self.compute_dtype
        if not self.trainable_base:
            shape = self.batch_shape + (d,) if context is None else tf.concat(
                [tf.shape(context)[:-1], [d]], axis=0)
            return tfd.MultivariateNormalDiag(
                loc=tf.zeros(shape, dtype), scale_diag=tf.ones(shape, dtype))
        if context is None:
            scale = tfp.util.DeferredTensor(
                self.raw_scale.value, lambda r: softplus_scale(r, self.min_scale))
            return tfd.MultivariateNormalDiag(
                loc=self.loc.value, scale_diag=scale, validate_args=self.validate_args)
        loc, raw_scale = tf.split(self.base_head(context), 2, axis=-1)
        return tfd.MultivariateNormalDiag(
            loc=loc, scale_diag=softplus_scale(raw_scale, self.min_scale))

    def bijector(self, context=None):
        """The flow `f_K ∘ ... ∘ f_1` at `context` as one `tfb.Chain`."""
        context = self._check_context(context)
        return self._chain(context, self._base(context))

    def _center_modes(self, context):
        """Each step's centering ("mean_path", "base_mean" or "off"; see `center_planar`)."""
        if context is None or not self.trainable_base:  # A global step's θ is a free weight.
            return ["off"] * len(self.steps)
        return [getattr(self, s.center_option) if s.center_option else "off" for s in self.steps]

    def _chain(self, context, base):
        """`bijector` for an already checked context and the base distribution at it.

        A run of consecutive steps of one name whose kind has a `stacked_bijector_class`
        (planar: `PlanarStack`) becomes one bijector with stacked parameters (for a context,
        one slice of the flow head); it equals the chain of the steps' bijectors.

        Centering (`center_planar`, `center_radial`): a "base_mean" step is centered on μ(c);
        a "mean_path" step on `path`, which follows μ(c) through the flow, `path ← f(path)`
        after each bijector (in closed form inside a centered run: `center_params`), up to
        the last "mean_path" step.
        """
        blocks = [None] * len(self.steps) if context is None else self._head_blocks(context)
        modes = self._center_modes(context)
        mean = path = base.loc if any(m != "off" for m in modes) else None
        last_on_path = max((k for k, m in enumerate(modes) if m == "mean_path"), default=-1)
        reverse = np.arange(self.event_size - 1, -1, -1, dtype=np.int32)
        bijectors, seen, k = [], False, 0
        while k < len(self.steps):
            step, run = self.steps[k], 1
            if getattr(step, "stacked_bijector_class", None) is not None:
                while k + run < len(self.steps) and self._names[k + run] == self._names[k]:
                    run += 1
            if step.reverses_coordinates:
                if seen:
                    bijectors.append(tfb.Permute(permutation=reverse))
                    if k <= last_on_path:
                        path = bijectors[-1].forward(path)
                seen = True
            params = None if blocks[k] is None else (
                blocks[k][0][..., blocks[k][1] : blocks[k][1] + run, :])
            path_after = None
            if params is not None and modes[k] != "off":
                follow = modes[k] == "mean_path"
                params, path_after = step.center_params(
                    params, path if follow else mean, follow_path=follow)
            if run > 1:
                bijectors.append(type(step).stacked(self.steps[k : k + run], params=params))
            else:
                bijectors.append(
                    step(context, params=None if params is None else params[..., 0, :]))
            if k + run - 1 < last_on_path:
                path = bijectors[-1].forward(path) if path_after is None else path_after
            k += run
        return tfb.Chain(bijectors[::-1])

    def call(self, context=None):
        context = self._check_context(context)
        base = self._base(context)
        return tfd.TransformedDistribution(base, self._chain(context, base))

    def compute_output_spec(self, context=None):
        raise NotImplementedError(
            f"{self.name} returns a tfd.Distribution, not a tensor; call it on concrete "
            "tensors (eagerly or inside tf.function), not on symbolic keras.Input."
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            event_size=self.event_size,
            flow=self.flow,
            hidden_units=list(self.hidden_units),
            activation=self.activation,
            log_scale_clip=self.log_scale_clip,
            context_to_output=self.context_to_output,
            center_planar=self.center_planar,
            center_radial=self.center_radial,
            min_scale=self.min_scale,
            head_init_scale=self.head_init_scale,
            init_scale=self.init_scale,
            base_scale=self.base_scale,
            trainable_base=self.trainable_base,
            batch_shape=list(self.batch_shape),
            validate_args=self.validate_args,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**with_legacy_options(config))
