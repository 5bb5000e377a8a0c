"""`ConditionalFlow`: a conditional density model p(y | x) built from a normalizing flow.

A conditioner network maps the input x to features c = h(x); a `flows.Flow` over y takes c as
its context (a conditional Gaussian base N(μ(c), diag σ(c)²) and steps f_k(·; c) whose
parameters come from c):

    generative (default):  y = f_K ∘ ... ∘ f_1(z_0; c),  z_0 ~ N(μ(c), σ(c)²),
                           log p(y | x) = log N(f⁻¹(y); μ, σ²) − log |det ∂f/∂z_0|,
    normalizing:           z = f_K ∘ ... ∘ f_1(y; c) ~ N(μ(c), σ(c)²),
                           log p(y | x) = log N(f(y); μ, σ²) + log |det ∂f/∂y|.

Both are maximum likelihood: `fit(x, y)` minimizes the mean negative log-likelihood
−(1/B) Σ_b log p(y_b | x_b) (nats per data point). They differ in which way the steps run:

* **generative**: the steps map the base to the data, as in a VAE posterior, so `log_prob`
  runs every step's *inverse* (planar: a bracketed Newton root search whose gradient is the
  implicit-function gradient; radial: a closed-form quadratic; MAF: one network pass; IAF and
  `nsf_iaf`: D sequential passes; coupling steps: one pass) and `sample` the forward passes.
  The distribution is `flow(c)` itself.
* **normalizing**: the steps map the data to the base (`tfd.TransformedDistribution(base,
  tfb.Invert(f))`), so `log_prob` needs only forward passes (planar, radial, IAF and
  `nsf_iaf`: one pass each; MAF: D passes) and `sample` the inverses.

For the same weights W the two directions define different densities: the normalizing model
with weights W is the pull-back of the base through f_W, the generative one its push-forward,
so log p_gen(f_W(z)) + log p_norm(z) = log N(z) + log N(f_W(z)) (both `log |det|` terms cancel);
the tests check this identity for every step kind. For autoregressive steps the normalizing
direction with `"iaf*K"` is the generative direction with `"maf*K"` (steps in reverse order,
same networks).

Which is the default. `benchmarks/cde_benchmark.py --study=directions` trained both on Energy
(2-D y; 2 random splits each, the `cde` command's protocol, planar and radial steps centred
on the base mean's path; steps/s on a shared 2-core CPU beside another job, comparable within
the run only):

| flow | test NLL, generative | test NLL, normalizing | steps/s gen. | steps/s norm. |
|---|---|---|---|---|
| planar*8 | −1.22 ± 0.24 | −1.18 ± 0.02 | 168 | 155 |
| radial*8 | −1.03 ± 0.02 | −1.19 ± 0.10 | 194 | 188 |
| maf*4 | −1.38 ± 0.17 | −1.35 ± 0.15 | 113 | 96 |
| nsf_coupling*4 | −1.32 ± 0.07 | −1.47 ± 0.04 | 132 | 108 |

The generative direction is the default: the test NLLs are within the split-to-split spread
for planar and MAF, and it trains faster for planar (its root search costs little at these
sizes), MAF (one network pass for the density instead of D) and the coupling spline; it is
also the direction the VAE posteriors use, so a spec means the same map in both models. The
normalizing direction was ahead here for the coupling spline (by 0.15 nats) and for radial
(by 0.16 nats; it trained radial faster in an earlier run with uncentred steps, 434 vs 294
steps/s, and level in this one), and it is faster for IAF-type steps (one pass for the
density instead of D): pass `direction="normalizing"` for those.

Noise regularization (Rothfuss et al., 2019, "Noise Regularization for Conditional Density
Estimation", arXiv:1907.08982): with `x_noise` = η_x > 0 or `y_noise` = η_y > 0 every training
batch is perturbed, x + η_x ε, y + η_y ε' (ε, ε' ~ N(0, I), fresh each step), which smooths
the fitted density and keeps it from collapsing onto the few hundred training points of a
small data set (the noise scales are in the data's units: standardize the data first). The
model then fits p convolved with N(0, η_y² I), so η_y also limits how sharp p(y | x) can get
(per coordinate σ ≳ η_y): data whose y is nearly determined by x want a small η_y. Evaluation (`test_step`, `log_prob`) sees the data unperturbed.

Noise for `sample`/`mean` comes from `stateless.stateless_normal` (identical with and without
XLA) seeded by a stateless seed, or, when none is given, by the model's
`keras.random.SeedGenerator`.
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_nfvi import flows
from tfp_nfvi.internal import seeds
from tfp_nfvi.internal import validation
from tfp_nfvi.models import networks
from tfp_nfvi.models import stateless

tfb = tfp.bijectors
tfd = tfp.distributions

__all__ = ["ConditionalFlow", "DIRECTIONS"]

DIRECTIONS = ("generative", "normalizing")


def _check_direction(direction):
    if direction not in DIRECTIONS:
        raise ValueError(
            f"`direction` must be one of {', '.join(map(repr, DIRECTIONS))}, got {direction!r}.")
    return direction


@keras.saving.register_keras_serializable(package="tfp_nfvi")
class ConditionalFlow(keras.Model):
    """A flow density p(y | x) whose base and steps are functions of features of x.

    Example:

        from tfp_nfvi import models

        model = models.ConditionalFlow(input_size=8, event_size=1, flow="radial*8", seed=0)
        model.compile()                                     # Adam(1e-3), jit_compile=True
        model.fit(x_train, y_train, batch_size=64, epochs=100,
                  validation_data=(x_val, y_val))           # minimizes the NLL of y given x
        model.log_prob(x_test, y_test)                      # log p(y | x), [B] nats
        model.sample(x_test, 100, seed=[1, 2])              # [100, B, 1]
        model.mean(x_test, num_samples=1000, seed=[3, 4])   # E[y | x] by sampling, [B, 1]

    Progress-bar metrics: `loss` (the objective: mean NLL plus any regularization losses) and
    `nll` (mean −log p(y | x) per data point, nats).

    `model(x)` returns q(y | x), a `tfd.TransformedDistribution` with batch `[B]`, event
    `[D]`; `predict(x)` the sample mean E[y | x] with 100 draws.

    Args:
      input_size: `P`, the size of x.
      event_size: `D`, the size of y.
      flow: a flow spec (`tfp_nfvi.flows.parse_flow_spec`), e.g. `"radial*8"` (the default:
        conditional in every coordinate, also for 1-D y), `"planar*8"`, `"maf*4"`,
        `"nsf_coupling(bins=8)*4"` (D >= 2); `"diag"` is the conditional Gaussian
        N(μ(x), diag σ(x)²). See `benchmarks/results/cde.md` for how they compare.
      direction: `"generative"` (the steps map the base to y; `log_prob` runs their
        inverses) or `"normalizing"` (they map y to the base; `log_prob` runs their forward
        passes). See the module docstring.
      conditioner: a Keras model `[B, P] → [B, C]`; default `mlp_encoder(conditioner_units)`.
      conditioner_units, activation: widths and activation of the default conditioner.
      flow_kwargs: extra arguments of `flows.Flow` (`hidden_units` of network steps,
        `min_scale`, `trainable_base`, ...).
      x_noise, y_noise: standard deviations of the Gaussian noise added to x and y in
        training (noise regularization; 0 switches it off).
      seed: int seed of the initialization of the flow and of the training-noise and
        sampling seed streams (None: random).
      **kwargs: `keras.Model` arguments (name, dtype, ...).
    """

    def __init__(
        self,
        input_size,
        event_size,
        flow="radial*8",
        direction="generative",
        conditioner=None,
        conditioner_units=(64, 64),
        activation="relu",
        flow_kwargs=None,
        x_noise=0.0,
        y_noise=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.input_size = validation.check_positive_int(input_size, "input_size")
        self.event_size = validation.check_positive_int(event_size, "event_size")
        self.direction = _check_direction(direction)
        self.flow_spec = flow if isinstance(flow, str) or flow is None else [
            list(step) for step in flows.parse_flow_spec(flow)]
        self.conditioner_units = validation.check_int_sequence(
            conditioner_units, "conditioner_units")
        self.activation = activation
        self._custom_conditioner = conditioner is not None
        self.conditioner = conditioner or networks.mlp_encoder(
            self.conditioner_units, activation, name="conditioner",
            seed=seeds.derived_seed(seed, 0))  # `seed` decides every initial weight.
        self.flow_kwargs = dict(flow_kwargs or {})
        self.flow = flows.Flow(self.event_size, flow=self.flow_spec, seed=seed, name="flow",
                               **self.flow_kwargs)
        self.x_noise = validation.check_positive_float(x_noise, "x_noise", allow_zero=True)
        self.y_noise = validation.check_positive_float(y_noise, "y_noise", allow_zero=True)
        self.seed = seed
        self.noise_seed_generator = keras.random.SeedGenerator(seed, name="noise_seed")
        self.sample_seed_generator = keras.random.SeedGenerator(seed, name="sample_seed")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.nll_tracker = keras.metrics.Mean(name="nll")
        self._compiled_fns = {}

    # ----------------------------------------------------------------------------- building

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 2 or input_shape[-1] != self.input_size:
            raise ValueError(
                f"{self.name}: `x` must have shape [B, {self.input_size}], got shape "
                f"{input_shape}.")
        if not self.conditioner.built:
            self.conditioner.build(input_shape)
        if not self.flow.built:
            self.flow.build(self.conditioner.compute_output_shape(input_shape))
        self.built = True

    def _ensure_built(self):
        if not self.built:
            self.build((None, self.input_size))

    def compile(self, optimizer=None, jit_compile=True, **kwargs):
        """Configures training: Adam(1e-3) and XLA by default. The loss (the NLL) is built in."""
        if optimizer is None:
            optimizer = keras.optimizers.Adam(learning_rate=1e-3)
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)
        self._compiled_fns = {}

    def get_compile_config(self):
        # The optimizer and XLA setting, so `keras.saving.load_model` compiles the model again.
        return {"optimizer": keras.saving.serialize_keras_object(self.optimizer),
                "jit_compile": self.jit_compile} if self.compiled else {}

    def compile_from_config(self, config):
        self.compile(optimizer=keras.saving.deserialize_keras_object(config["optimizer"]),
                     jit_compile=config["jit_compile"])
        if self.built:  # So that the saved optimizer state loads into it.
            self.optimizer.build(self.trainable_variables)

    @property
    def metrics(self):
        return [self.loss_tracker, self.nll_tracker]

    # ------------------------------------------------------------------------- checking

    def _check(self, value, name, size):
        """`value` as a float tensor, with a clear error unless its shape is `[B, size]`."""
        value = tf.convert_to_tensor(value, dtype=self.compute_dtype)
        shape = value.shape
        if shape.rank is not None and (shape.rank != 2 or shape[-1] not in (None, size)):
            raise ValueError(
                f"`{name}` must have shape [B, {size}], got {tuple(shape.as_list())}.")
        return value

    def _check_pair(self, x, y):
        x = self._check(x, "x", self.input_size)
        y = self._check(y, "y", self.event_size)
        bx, by = x.shape[0], y.shape[0]
        if bx is not None and by is not None and bx != by:
            raise ValueError(
                f"`x` and `y` must have the same batch size, got {bx} and {by} rows.")
        return x, y

    # ----------------------------------------------------------------------- distributions

    def context(self, x, training=False):
        """The conditioner's features c = h(x), `[B, C]`."""
        self._ensure_built()
        return self.conditioner(self._check(x, "x", self.input_size), training=training)

    def conditional_distribution(self, x, training=False):
        """q(y | x): a `tfd.TransformedDistribution`, batch `[B]`, event `[D]`.

        Generative: the `Flow` at c = h(x). Normalizing: its base with `tfb.Invert` of its
        bijector, so that `log_prob` runs the steps' forward passes.
        """
        q = self.flow(self.context(x, training=training))
        if self.direction == "normalizing":
            q = tfd.TransformedDistribution(q.distribution, tfb.Invert(q.bijector))
        return q

    def call(self, x, training=False):
        """q(y | x) (see `conditional_distribution`)."""
        return self.conditional_distribution(x, training=training)

    def _log_prob(self, x, y, training=False):
        x, y = self._check_pair(x, y)
        return self.conditional_distribution(x, training=training).log_prob(y)

    def _compiled(self, name, fn):
        """`fn` as a `tf.function`, under XLA unless the model was compiled without it."""
        jit = bool(getattr(self, "_jit_compile", None) is not False)
        key = (name, jit)
        if key not in self._compiled_fns:
            self._compiled_fns[key] = tf.function(fn, jit_compile=jit, reduce_retracing=True)
        return self._compiled_fns[key]

    def log_prob(self, x, y):
        """log p(y | x) `[B]` (nats), compiled (XLA unless compiled with jit_compile=False)."""
        self._ensure_built()
        x, y = self._check_pair(x, y)
        return self._compiled("log_prob", self._log_prob)(x, y)

    def _seed(self, seed):
        if seed is None:
            seed = self.sample_seed_generator.next()
        return seeds.stateless_seed(seed)

    def sample_from(self, x, num_samples, seed):
        """The traceable sampler behind `sample` (and serving): `[S, B, D]` for a stateless seed.

        z_0 = μ(c) + σ(c) ε with ε = `stateless_normal(seed)`, pushed through q's bijector (the
        steps' forward passes, or their inverses in the normalizing direction).
        `num_samples` may be a Python int or a scalar int32 tensor.
        """
        q = self.conditional_distribution(x)
        base = q.distribution
        loc = base.loc
        shape = tf.concat([tf.reshape(tf.cast(num_samples, tf.int32), [1]), tf.shape(loc)], 0)
        z0 = loc + base.stddev() * stateless.stateless_normal(shape, seed, loc.dtype)
        return q.bijector.forward(z0)

    def sample(self, x, num_samples=1, seed=None):
        """`num_samples` draws y ~ p(y | x) per row of x: `[num_samples, B, D]`.

        Args:
          x: float `[B, P]`.
          num_samples: S >= 1.
          seed: a stateless seed (int `[2]`), or an int `s` meaning `[s, 0]`; None draws one
            from the model's seed stream.
        """
        self._ensure_built()
        num_samples = validation.check_positive_int(num_samples, "num_samples")
        x = self._check(x, "x", self.input_size)
        fn = self._compiled(
            ("sample", num_samples), lambda x, seed: self.sample_from(x, num_samples, seed))
        return fn(x, self._seed(seed))

    def mean(self, x, num_samples=1000, seed=None):
        """E[y | x] `[B, D]` estimated by the mean of `num_samples` draws."""
        return tf.reduce_mean(self.sample(x, num_samples, seed), axis=0)

    # ----------------------------------------------------------------------------- training

    def _update_metrics(self, loss, nll):
        self.loss_tracker.update_state(loss)
        self.nll_tracker.update_state(nll)
        return {m.name: m.result() for m in self.metrics}

    def _loss(self, data, training):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if y is None:
            raise ValueError(
                f"{self.name}: `fit`/`evaluate` need targets: pass `(x, y)` (got x only).")
        x, y = self._check_pair(x, y)
        if training and (self.x_noise or self.y_noise):
            seed = seeds.stateless_seed(self.noise_seed_generator.next())
            noise = stateless.stateless_normal(
                tf.stack([tf.shape(x)[0], self.input_size + self.event_size]), seed, x.dtype)
            x = x + self.x_noise * noise[:, : self.input_size]
            y = y + self.y_noise * noise[:, self.input_size :]
        log_prob = self._log_prob(x, y, training=training)
        if sample_weight is None:
            nll = -tf.reduce_mean(log_prob)
        else:
            weight = tf.cast(tf.reshape(sample_weight, [-1]), log_prob.dtype)
            nll = -tf.reduce_sum(weight * log_prob) / tf.reduce_sum(weight)
        loss = nll + tf.add_n(self.losses) if training and self.losses else nll
        return loss, nll

    def train_step(self, data):
        self._ensure_built()
        with tf.GradientTape() as tape:
            loss, nll = self._loss(data, training=True)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return self._update_metrics(loss, nll)

    def test_step(self, data):
        return self._update_metrics(*self._loss(data, training=False))

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return tf.reduce_mean(self.sample_from(x, 100, self._seed(None)), axis=0)

    # ------------------------------------------------------------------------ serialization

    def get_config(self):
        config = super().get_config()
        config.update(
            input_size=self.input_size,
            event_size=self.event_size,
            flow=self.flow_spec,
            direction=self.direction,
            conditioner=(keras.saving.serialize_keras_object(self.conditioner)
                         if self._custom_conditioner else None),
            conditioner_units=list(self.conditioner_units),
            activation=self.activation,
            # With the options whose defaults changed since v0.1 (`flows.flow.LEGACY_OPTIONS`).
            flow_kwargs={**self.flow_kwargs, **flows.flow.legacy_option_values(self.flow)},
            x_noise=self.x_noise,
            y_noise=self.y_noise,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["flow_kwargs"] = flows.flow.with_legacy_options(config.get("flow_kwargs"))
        if config.get("conditioner") is not None:
            config["conditioner"] = keras.saving.deserialize_keras_object(config["conditioner"])
        return cls(**config)
