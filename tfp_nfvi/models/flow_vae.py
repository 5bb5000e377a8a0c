"""`FlowVAE`: a variational autoencoder whose posterior is a normalizing flow.

Generative model and amortized posterior (Rezende & Mohamed, 2015, Sec. 4-6):

    p(x, z) = p(z) p(x | z),       p(z) = N(0, I_D),   p(x | z) = ∏_i Bernoulli(x_i; σ(g(z)_i))
    q(z_K | x):  z_0 ~ N(μ(h), diag σ(h)²),  z_K = f_K ∘ ... ∘ f_1(z_0),  h = encoder(x),

    log q(z_K | x) = log N(z_0; μ, σ²) − Σ_k log |det ∂f_k/∂z_{k−1}|.

Training maximizes the evidence lower bound, estimated with S reparameterized samples,

    ELBO(x) = E_q[log p(x | z_K)] − E_q[log q(z_K | x) − log p(z_K)]
            ≈ (1/S) Σ_s [log p(x | z^s) − (log q(z^s | x) − log p(z^s))],

i.e. "reconstruction" minus "kl" (a Monte Carlo KL that includes the flow's log-det). The loss
is the negative warmed-up bound −(reconstruction − β_t · kl) with the KL weight of the paper,
β_t = min(1, β_0 + t / T) (β_0 = 0.01, T = 10,000 steps by default), where t is the
optimizer's iteration counter, so a restored checkpoint resumes the schedule. Evaluation
(`test_step`) reports the true bound (β = 1).

The marginal likelihood is estimated by importance sampling with the posterior as proposal,

    log p(x) ≈ log (1/S) Σ_s p(x, z^s) / q(z^s | x),   z^s ~ q(z | x),

evaluated with a running log-sum-exp over chunks of samples, so memory is bounded by the chunk
size for any S (the papers use 200 to 5,000). By Jensen the ELBO is below E[estimate] ≤ log p(x).

Randomness is stateless: a tracked `keras.random.SeedGenerator` supplies the seed of every
training step (and another one that of evaluation), so runs are deterministic for a given
`seed` and the generators' states are checkpointed. The base noise ε ~ N(0, I) comes from
`stateless.stateless_normal` (TensorFlow's own stateless samplers give different numbers
under XLA), and z_K, log q(z_K | x) from the flow's forward pass and forward log-det (the
forward half of `experimental_sample_and_log_prob`, never an inverse), so a loss is the same
with and without `jit_compile`.

Precision: with `precision="mixed_bfloat16"` the default encoder and decoder compute their
matrix products in bfloat16 (`keras.DTypePolicy("mixed_bfloat16")`: float32 weights and
gradients, bfloat16 activations; Micikevicius et al., 2018, and Kalamkar et al., 2019, "A
Study of BFLOAT16 for Deep Learning Training"), and their outputs h and the logits g(z) are
cast back to float32 at the model's boundary, so the flow, its log-determinants, the
likelihood and the ELBO stay float32. bfloat16 keeps float32's exponent range, so no loss
scaling is needed. It pays where the CPU or accelerator multiplies bfloat16 natively (AMX,
AVX512-BF16, tensor cores); measure before choosing it, and compare the ELBO reached.
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_nfvi import distribute
from tfp_nfvi import flows
from tfp_nfvi.internal import estimators
from tfp_nfvi.internal import schedules
from tfp_nfvi.internal import seeds
from tfp_nfvi.internal import validation
from tfp_nfvi.models import likelihoods
from tfp_nfvi.models import networks
from tfp_nfvi.models import stateless

tfd = tfp.distributions

__all__ = ["FlowVAE"]

# The `precision` settings: float32 everywhere, or bfloat16 encoder/decoder matrix products.
PRECISIONS = ("float32", "mixed_bfloat16")

# Offset between the training and evaluation seed streams (any fixed odd number).
_EVAL_SEED_OFFSET = 7919
# Chunks of the importance-sampled estimate that TensorFlow's executor may run at once
# (`tf.while_loop`'s `parallel_iterations`, 10 by default). Each chunk's draws and decoder
# pass do not depend on the previous chunk, so with 10 several chunks' `[S_i, B, P]` buffers
# are alive together. 2 keeps the overlap of one chunk's element-wise work with the next
# one's matrix products and bounds the memory: the default W1 command (S = 1,000 in chunks
# of 100 per 100 digits) peaks at 1,455 MiB instead of 1,650 with the same estimate
# (the draws do not depend on it) and evaluation time (84.0 vs 85.0 s; W4 -1.5% on a
# quiet machine; `benchmarks/results/speed_levers.md`).
_CHUNKS_IN_FLIGHT = 2


def _unpack_x(data):
    """`x` from what `fit`/`evaluate` pass: `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`."""
    x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    return x


@keras.saving.register_keras_serializable(package="tfp_nfvi")
class FlowVAE(keras.Model):
    """A VAE with a normalizing-flow posterior, trained by maximizing the ELBO.

    Example:

        from tfp_nfvi import data, models

        splits = data.load_binarized_mnist("embedded")
        vae = models.FlowVAE(latent_dim=40, flow="planar*16", seed=0)
        vae.compile()                    # Adam(1e-3), jit_compile=True
        vae.fit(splits.train, batch_size=128, epochs=5,
                validation_data=(splits.validation,))
        vae.evaluate(splits.test)                            # loss, elbo, reconstruction, kl
        vae.log_likelihood(splits.test[:100], num_samples=1000, seed=[1, 2])   # [100] nats

    Progress-bar metrics (per example, averaged over the epoch, nats): `loss` (the warmed-up
    negative bound, the negative ELBO in evaluation), `elbo`, `reconstruction` (E_q log p(x|z))
    and `kl` (E_q[log q(z|x) − log p(z)]).

    Calling the model, `vae(x)`, returns the per-example ELBO `[B]` with one sample drawn from
    the evaluation seed stream; `predict` does the same batch-wise.

    Args:
      latent_dim: `D`, the size of z.
      flow: the posterior's flow spec (`tfp_nfvi.flows.parse_flow_spec`), e.g. `"planar*16"`,
        `"radial*8"`, `"iaf*2"`; `"diag"` is the diagonal Gaussian.
      event_size: the data dimension `P` (784 for MNIST).
      encoder: a Keras model `[B, P] → [B, H]`; default `mlp_encoder(encoder_units)`.
      decoder: a Keras model `[N, D] → [N, k P]` emitting the likelihood's parameters;
        default `mlp_decoder(k P, decoder_units)`.
      encoder_units, decoder_units, activation: sizes and activation of the default networks.
      likelihood: observation model name (`likelihoods.LIKELIHOODS`), `"bernoulli"`.
      prior: `"standard_normal"`, p(z) = N(0, I).
      num_samples: posterior samples per example in the training bound.
      warmup_steps: T in β_t = min(1, β_0 + t / T); 0 or None switches warm-up off (β = 1).
      warmup_initial: β_0.
      seed: int seed of the initial weights (of the default encoder and decoder and of the
        posterior) and of the training and evaluation seed streams. None: random; the
        weights then follow Keras's global random state (`keras.utils.set_random_seed`).
      posterior_kwargs: extra arguments of `AmortizedFlowPosterior` (e.g. `hidden_units` of
        MADE networks, `min_scale`).
      precision: `"float32"`, or `"mixed_bfloat16"`: the default encoder's and decoder's
        layers compute in bfloat16 with float32 weights (see the module docstring); the
        flow and the bound stay float32. Custom `encoder`/`decoder` networks keep the
        dtype policies they were built with (their outputs are cast to float32 either way).
      **kwargs: `keras.Model` arguments (name, dtype, ...).
    """

    def __init__(
        self,
        latent_dim=40,
        flow="planar*16",
        event_size=784,
        encoder=None,
        decoder=None,
        encoder_units=(512, 256),
        decoder_units=(256, 512),
        activation="relu",
        likelihood="bernoulli",
        prior="standard_normal",
        num_samples=1,
        warmup_steps=10000,
        warmup_initial=0.01,
        seed=None,
        posterior_kwargs=None,
        precision="float32",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.latent_dim = validation.check_positive_int(latent_dim, "latent_dim")
        self.event_size = validation.check_positive_int(event_size, "event_size")
        self.num_samples = validation.check_positive_int(num_samples, "num_samples")
        self.warmup_steps = validation.check_positive_int(warmup_steps or 0, "warmup_steps", True)
        self.warmup_initial = float(warmup_initial)
        if not 0.0 <= self.warmup_initial <= 1.0:
            raise ValueError(f"`warmup_initial` must be in [0, 1], got {warmup_initial!r}.")
        if prior != "standard_normal":
            raise ValueError(f"Unknown `prior` {prior!r}; expected 'standard_normal'.")
        self.prior_name = prior
        self.likelihood_name = likelihood
        num_params = likelihoods.num_likelihood_params(likelihood, self.event_size)
        self.flow = flows.parse_flow_spec(flow)  # Validates the spec early.
        self.flow_spec = flow if isinstance(flow, str) or flow is None else [
            list(step) for step in self.flow
        ]
        self.activation = activation
        self.encoder_units = validation.check_int_sequence(encoder_units, "encoder_units")
        self.decoder_units = validation.check_int_sequence(decoder_units, "decoder_units")
        self._custom_encoder = encoder is not None
        self._custom_decoder = decoder is not None
        if precision not in PRECISIONS:
            raise ValueError(f"Unknown `precision` {precision!r}; expected one of {PRECISIONS}.")
        self.precision = precision
        # `seed` decides every initial weight: each part gets its own derived seed.
        self.encoder = encoder or networks.mlp_encoder(
            self.encoder_units, activation, seed=seeds.derived_seed(seed, 0))
        self.decoder = decoder or networks.mlp_decoder(
            num_params, self.decoder_units, activation, seed=seeds.derived_seed(seed, 1))
        if precision != "float32":
            for network, custom in ((self.encoder, encoder), (self.decoder, decoder)):
                for layer in () if custom is not None else network.layers:
                    layer.dtype_policy = precision
        self.posterior_kwargs = dict(posterior_kwargs or {})
        self.posterior = flows.AmortizedFlowPosterior(
            self.latent_dim, flow=self.flow_spec, name="posterior",
            **{"seed": seeds.derived_seed(seed, 2), **self.posterior_kwargs}
        )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="train_seed")
        self.eval_seed_generator = keras.random.SeedGenerator(
            None if seed is None else seed + _EVAL_SEED_OFFSET, name="eval_seed"
        )
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.elbo_tracker = keras.metrics.Mean(name="elbo")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self._log_likelihood_fns = {}
        self._estimator_pieces = {}
        self._replica_jit = False

    # ----------------------------------------------------------------------------- building

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 2 or input_shape[-1] != self.event_size:
            raise ValueError(
                f"{self.name}: expected inputs x of shape [batch, {self.event_size}], got shape "
                f"{input_shape}."
            )
        if not self.encoder.built:
            self.encoder.build(input_shape)
        if not self.posterior.built:
            self.posterior.build(self.encoder.compute_output_shape(input_shape))
        if not self.decoder.built:
            self.decoder.build((None, self.latent_dim))
        out = self.decoder.compute_output_shape((None, self.latent_dim))
        expected = likelihoods.num_likelihood_params(self.likelihood_name, self.event_size)
        if out[-1] != expected:
            raise ValueError(
                f"{self.name}: the decoder must emit {expected} {self.likelihood_name} "
                f"parameters per example, its output shape is {out}."
            )
        self.built = True

    def _ensure_built(self):
        # `fit` may run `train_step` before anything calls the model: build it here (at trace
        # time) so the model is built, saved and restored as one whole.
        if not self.built:
            self.build((None, self.event_size))

    def compile(self, optimizer=None, jit_compile=True, steps_per_execution=1, **kwargs):
        """Configures training: Adam(1e-3) and XLA by default. The loss is built in."""
        if optimizer is None:
            optimizer = keras.optimizers.Adam(learning_rate=1e-3)
        # Under a multi-replica tf.distribute strategy XLA compiles each replica's loss and
        # gradient (`train_step`), not Keras's whole step with its cross-device all-reduce.
        jit_compile, self._replica_jit = distribute.split_jit_compile(
            jit_compile, self.distribute_strategy)
        super().compile(
            optimizer=optimizer,
            jit_compile=jit_compile,
            steps_per_execution=steps_per_execution,
            **kwargs,
        )
        self._log_likelihood_fns = {}

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return {
            "optimizer": keras.saving.serialize_keras_object(self.optimizer),
            "jit_compile": self.jit_compile,
            "steps_per_execution": self.steps_per_execution,
        }

    def compile_from_config(self, config):
        config = dict(config)
        optimizer = keras.saving.deserialize_keras_object(config.pop("optimizer", None))
        self.compile(optimizer=optimizer, **config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    @property
    def metrics(self):
        return [self.loss_tracker, self.elbo_tracker, self.reconstruction_tracker,
                self.kl_tracker]

    # ------------------------------------------------------------------- model distributions

    def prior_distribution(self, dtype=tf.float32):
        """p(z) = N(0, I_D), event shape `[D]`."""
        return tfd.MultivariateNormalDiag(loc=tf.zeros([self.latent_dim], dtype=dtype))

    def posterior_distribution(self, x, training=False):
        """q(z | x): a `tfd.TransformedDistribution`, batch `[B]`, event `[D]`."""
        return self.posterior(self._features(x, training))

    def decode_logits(self, z, training=False):
        """The decoder's likelihood parameters g(z) (Bernoulli logits), shape `[..., k P]`."""
        self._ensure_built()
        z = tf.convert_to_tensor(z, dtype=self.compute_dtype)
        batch_shape = tf.shape(z)[:-1]
        flat = self.decoder(tf.reshape(z, [-1, self.latent_dim]), training=training)
        flat = tf.cast(flat, self.compute_dtype)  # float32 logits under any `precision`.
        return tf.reshape(flat, tf.concat([batch_shape, tf.shape(flat)[-1:]], axis=0))

    def likelihood_distribution(self, z, training=False):
        """p(x | z), event shape `[P]`, batch shape `z.shape[:-1]`."""
        return likelihoods.make_likelihood(self.likelihood_name, self.decode_logits(z, training))

    # --------------------------------------------------------------------------- estimators

    def _seed(self, seed, generator):
        if seed is None:
            # Under tf.distribute, replica r draws with stateless_fold_in(step seed, r).
            seed = distribute.replica_seed(generator.next())
        return seeds.stateless_seed(seed)

    def encode(self, x, seed=None):
        """Draws z ~ q(z | x) once per example.

        Args:
          x: float `[B, P]`.
          seed: a stateless seed (int `[2]`), or an int `s` meaning `[s, 0]`; None draws one
            from the evaluation stream.

        Returns:
          `(z, log_q, base_loc, base_scale)`: z `[B, D]`, log q(z | x) `[B]`, and μ, σ `[B, D]`
          of the flow's Gaussian base.
        """
        q = self.posterior_distribution(x)
        z, log_q = self.sample_posterior(q, [], self._seed(seed, self.eval_seed_generator))
        return z, log_q, q.distribution.loc, q.distribution.stddev()

    @staticmethod
    def sample_posterior(q, sample_shape, seed):
        """`(z_K, log q(z_K | x))` for z_0 = μ + σ ε, ε = `stateless_normal`, shapes `S + [B, D]`.

        The same draw as `q.experimental_sample_and_log_prob` up to the noise generator:
        log q(z_K) = log N(z_0; μ, σ²) − log |det ∂z_K/∂z_0|, by the forward pass only.
        """
        base = q.distribution
        loc, scale = base.loc, base.stddev()
        # `sample_shape` may hold tensors (a run-time sample count, as in serving).
        sample_shape = tf.cast(tf.reshape(tf.convert_to_tensor(sample_shape), [-1]), tf.int32)
        shape = tf.concat([sample_shape, tf.shape(loc)], axis=0)
        z0 = loc + scale * stateless.stateless_normal(shape, seed, loc.dtype)
        log_q0 = base.log_prob(z0)
        return q.bijector.forward(z0), log_q0 - q.bijector.forward_log_det_jacobian(
            z0, event_ndims=1)

    def _bound_terms(self, x, seed, num_samples, training=False):
        """Returns per-sample log p(x|z), log p(z), log q(z|x), each `[S, B]`."""
        x = tf.convert_to_tensor(x, dtype=self.compute_dtype)
        q = self.posterior_distribution(x, training=training)
        z, log_q = self.sample_posterior(q, [num_samples], seed)
        # The likelihood's closed form, as the importance-sampled estimate uses (`likelihoods`).
        log_px = likelihoods.likelihood_log_prob(
            self.likelihood_name, self.decode_logits(z, training=training), x)
        log_pz = self.prior_distribution(z.dtype).log_prob(z)
        return log_px, log_pz, log_q

    def elbo_terms(self, x, seed=None, num_samples=1, training=False):
        """Per-example `(reconstruction, kl)`, each `[B]`, averaged over `num_samples` draws.

        reconstruction = (1/S) Σ_s log p(x | z^s), kl = (1/S) Σ_s log q(z^s | x) − log p(z^s);
        the ELBO is their difference.
        """
        log_px, log_pz, log_q = self._bound_terms(
            x, self._seed(seed, self.eval_seed_generator), num_samples, training)
        return tf.reduce_mean(log_px, axis=0), tf.reduce_mean(log_q - log_pz, axis=0)

    def elbo(self, x, seed=None, num_samples=1):
        """Per-example ELBO `[B]` (nats), averaged over `num_samples` posterior draws."""
        reconstruction, kl = self.elbo_terms(x, seed, num_samples)
        return reconstruction - kl

    def log_likelihood(self, x, num_samples=1000, seed=None, chunk_size=None, precision=None):
        """Importance-sampled log p(x) `[B]` (nats): log (1/S) Σ_s p(x, z^s) / q(z^s | x).

        The S = `num_samples` draws are taken `chunk_size` at a time (default min(S, 100))
        by `importance_log_likelihood`, compiled and cached per `(S, chunk_size, precision)`.
        When the model was compiled with `jit_compile=True` (the default; also when not
        compiled) the sampler, the flow and the weights run under XLA and the decoder on
        TensorFlow's kernels (`importance_log_likelihood(..., jit_compile=True)`).

        Args:
          x: float `[B, P]`.
          num_samples: S, a positive int.
          seed: a stateless seed (int `[2]`), or an int `s` meaning `[s, 0]`; None draws one
            from the evaluation stream.
          chunk_size: draws per chunk (memory grows with `chunk_size` · B).
          precision: None (the model's `precision`), `"float32"` or `"mixed_bfloat16"`: the
            dtype of the default decoder's matrix products for this evaluation only (their
            bias, activations and logits, the encoder, the flow, the likelihood and the
            log-sum-exp stay float32). bfloat16 products run ~2x faster where TensorFlow's
            kernels use AMX or AVX512-BF16 (oneDNN), but round the products' inputs and
            outputs to bfloat16's 8-bit mantissa, which moves the estimate by a few
            hundredths of a nat per digit (measured in `benchmarks/results/iw_eval_speed.md`):
            report float32 figures. A custom decoder keeps its own dtype policy (only the
            model's own `precision` is accepted).
        """
        num_samples = validation.check_positive_int(num_samples, "num_samples")
        chunk_size = validation.check_positive_int(chunk_size or min(num_samples, 100), "chunk_size")
        chunk_size = min(chunk_size, num_samples)
        precision = self._check_eval_precision(precision or self.precision)
        seed = self._seed(seed, self.eval_seed_generator)
        jit = bool(getattr(self, "_jit_compile", None) is not False)
        key = (num_samples, chunk_size, jit, precision)
        if key not in self._log_likelihood_fns:

            def estimate(x, seed):
                return self.importance_log_likelihood(
                    x, num_samples, seed, chunk_size, jit_compile=jit, precision=precision)

            # The graph itself runs on TensorFlow's executor; `jit_compile` compiles its
            # pieces (see `importance_log_likelihood`).
            self._log_likelihood_fns[key] = tf.function(estimate, reduce_retracing=True)
        x = tf.convert_to_tensor(x, dtype=self.compute_dtype)
        return self._log_likelihood_fns[key](x, seed)

    def _check_eval_precision(self, precision):
        if precision not in PRECISIONS:
            raise ValueError(f"Unknown `precision` {precision!r}; expected one of {PRECISIONS}.")
        if self._custom_decoder and precision != self.precision:
            raise ValueError(
                f"`precision` {precision!r} of an estimate applies to the default decoder only; "
                f"this model's decoder is a custom network (precision {self.precision!r}).")
        return precision

    def _mlp_logits(self, z, dtype):
        """The default decoder's logits with its matrix products in `dtype`, `[..., P]`.

        Each `Dense` layer as `activation(float32(cast(h) @ cast(kernel)) + bias)`: the
        products in `dtype`, the bias, the activations and the logits in float32. Written
        out rather than through the layers' `mixed_bfloat16` policy because Grappler fuses
        a bfloat16 `MatMul` with its `BiasAdd` into a oneDNN kernel that runs these shapes
        2-4x slower than the bare bfloat16 product (TF 2.21 on AMX;
        `benchmarks/results/iw_eval_speed.md`), and so that only the products round.
        """
        self._ensure_built()
        h = tf.reshape(tf.convert_to_tensor(z, self.compute_dtype), [-1, self.latent_dim])
        for layer in self.decoder.layers:
            h = tf.matmul(tf.cast(h, dtype), tf.cast(layer.kernel, dtype))
            h = layer.activation(tf.cast(h, self.compute_dtype) + layer.bias)
        return tf.reshape(h, tf.concat([tf.shape(z)[:-1], tf.shape(h)[-1:]], axis=0))

    def importance_log_likelihood(self, x, num_samples, seed, chunk_size, jit_compile=False,
                                  precision=None):
        """The traceable estimator behind `log_likelihood` (and serving's signature), `[B]`.

        log p(x) ≈ log (1/S) Σ_s w_s with log w_s = log p(x | z^s) − (log q(z^s | x) −
        log p(z^s)), folded chunk by chunk into a running log-mean-exp
        (`tfp_nfvi.internal.estimators`), so memory grows with `chunk_size` · B, not with S
        (at most two chunks run at once). Chunk i draws min(`chunk_size`, S − i · `chunk_size`) samples with the seed
        `stateless_fold_in(seed, i)`: the result depends on the seed and the chunk size, not
        on how the call is batched. The encoder runs once per digit; each chunk then runs

        1. the posterior draws: z ~ q(z | x) and log q(z | x) − log p(z) from the encoder's
           output (the posterior's heads, the noise, the flow; `[S_i, B, D]`, `[S_i, B]`);
        2. the decoder's logits g(z), `[S_i, B, P]`: nearly all of the arithmetic (~1.07 MFLOP
           of matrix products per draw for the default 40-256-512-784 decoder);
        3. the weights log w = log p(x | z) − (log q − log p(z)) (the likelihood's closed form,
           `likelihoods.likelihood_log_prob`) and the running log-sum-exp.

        With `jit_compile=True`, steps 1 and 3 run as XLA-compiled functions and step 2 on
        TensorFlow's kernels: XLA fuses the sampler's, the flow's and the likelihood's
        element-wise work, while TensorFlow's oneDNN matrix products run these decoder shapes
        ~1.35x faster per CPU-second than XLA's CPU backend in float32 and ~2.7x in bfloat16
        (XLA's CPU backend does not use AMX; `benchmarks/results/iw_eval_speed.md`). The
        estimate is the same to float rounding either way (the noise is XLA-invariant).

        Args:
          x: float `[B, P]` tensor.
          num_samples: S >= 1, a Python int (every chunk has a static size: compiles under
            XLA) or a scalar int32 `Tensor` (a run-time S; the last, partial chunk then has a
            dynamic size, so `jit_compile` must be False).
          seed: a stateless seed, int32 `[2]`.
          chunk_size: a Python int >= 1.
          jit_compile: compile steps 1 and 3 with XLA (see above).
          precision: None (the model's decoder as it is) or the `precision` of the default
            decoder's matrix products for this estimate (see `log_likelihood`).
        """
        if precision is not None:
            self._check_eval_precision(precision)
        if jit_compile and tf.is_tensor(num_samples):
            raise ValueError(
                "`num_samples` must be a Python int when `jit_compile=True` (XLA needs static "
                f"chunk sizes), got the tensor {num_samples!r}.")
        x = tf.convert_to_tensor(x, dtype=self.compute_dtype)
        h = self._features(x)
        draw, weigh = self._posterior_draws, self._accumulate_weights
        if jit_compile:
            if "xla" not in self._estimator_pieces:
                self._estimator_pieces["xla"] = tuple(
                    tf.function(fn, jit_compile=True, reduce_retracing=True)
                    for fn in (draw, weigh))
            draw, weigh = self._estimator_pieces["xla"]

        decode = self.decode_logits
        if precision is not None and (precision, self.precision) != ("float32", "float32"):
            dtype = tf.bfloat16 if precision == "mixed_bfloat16" else tf.float32
            decode = lambda z: self._mlp_logits(z, dtype)  # pylint: disable=unnecessary-lambda-assignment

        def add_chunk(state, i, size):
            z, log_ratio = draw(h, size, tf.random.experimental.stateless_fold_in(seed, i))
            return weigh(state, x, decode(z), log_ratio)

        num_full = num_samples // chunk_size
        remainder = num_samples - num_full * chunk_size
        state = estimators.log_mean_exp_init(tf.shape(x)[:1], x.dtype)
        _, state = tf.while_loop(
            lambda i, _: i < num_full,
            lambda i, st: (i + 1, add_chunk(st, i, chunk_size)),
            (tf.constant(0), state),
            parallel_iterations=_CHUNKS_IN_FLIGHT,
        )
        if tf.is_tensor(remainder):
            state = tf.cond(remainder > 0, lambda: add_chunk(state, num_full, remainder),
                            lambda: state)
        elif remainder:
            state = add_chunk(state, num_full, remainder)
        return estimators.log_mean_exp_result(state)

    def _features(self, x, training=False):
        """The encoder's output h `[B, H]` in the model's compute dtype."""
        self._ensure_built()
        # The cast is the identity unless the encoder computes in another dtype (`precision`).
        return tf.cast(self.encoder(x, training=training), self.compute_dtype)

    def _posterior_draws(self, h, num_samples, seed):
        """`(z, log q(z | x) − log p(z))`, `[S, B, D]` and `[S, B]`, for S draws z ~ q(z | x)."""
        z, log_q = self.sample_posterior(self.posterior(h), [num_samples], seed)
        return z, log_q - self.prior_distribution(z.dtype).log_prob(z)

    def _log_weights(self, x, logits, log_ratio):
        """log w = log p(x | z) − (log q(z | x) − log p(z)), `[S, B]`, from the logits g(z)."""
        return likelihoods.likelihood_log_prob(self.likelihood_name, logits, x) - log_ratio

    def _accumulate_weights(self, state, x, logits, log_ratio):
        return estimators.log_mean_exp_accumulate(state, self._log_weights(x, logits, log_ratio))

    def log_importance_weights(self, x, num_samples, seed):
        """log w_s = log p(x, z^s) − log q(z^s | x) for `num_samples` draws z^s ~ q, `[S, B]`.

        One chunk of `importance_log_likelihood`, uncompiled: `num_samples` may be a Python
        int or a scalar `Tensor`, `seed` a stateless seed (int `[2]`).
        """
        x = tf.convert_to_tensor(x, dtype=self.compute_dtype)
        z, log_ratio = self._posterior_draws(self._features(x), num_samples, seed)
        return self._log_weights(x, self.decode_logits(z), log_ratio)

    def sample_latents(self, n, seed=None):
        """`n` draws z ~ p(z) = N(0, I), `[n, D]`, with the model's XLA-invariant noise."""
        return stateless.stateless_normal(
            [n, self.latent_dim], self._seed(seed, self.eval_seed_generator), self.compute_dtype)

    def sample(self, n, seed=None):
        """`n` draws of the model's mean image: E[x | z] = σ(g(z)), z ~ p(z); `[n, P]`."""
        return self.likelihood_distribution(self.sample_latents(n, seed)).mean()

    def reconstruct(self, x, seed=None):
        """E[x | z] for one z ~ q(z | x) per example, `[B, P]`."""
        z = self.encode(x, seed)[0]
        return self.likelihood_distribution(z).mean()

    def call(self, x, training=False):
        """The per-example ELBO `[B]` with one draw from the evaluation seed stream."""
        reconstruction, kl = self.elbo_terms(x, None, 1, training)
        return reconstruction - kl

    # ----------------------------------------------------------------------------- training

    def kl_weight(self, step=None):
        """β_t = min(1, β_0 + t / T) at optimizer step t (1 where warm-up is off)."""
        if step is None:
            step = self.optimizer.iterations if self.warmup_steps else 0
        return schedules.linear_warmup(
            tf.cast(step, self.compute_dtype), self.warmup_steps, self.warmup_initial)

    def _update_metrics(self, loss, reconstruction, kl):
        self.loss_tracker.update_state(loss)
        self.elbo_tracker.update_state(reconstruction - kl)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x = _unpack_x(data)
        seed = self._seed(None, self.seed_generator)
        step = self._loss_and_grads
        if self._replica_jit:  # The all-reduce in `apply` stays outside XLA.
            step = tf.function(step, jit_compile=True, reduce_retracing=True)
        grads, loss, reconstruction, kl = step(x, seed, self.kl_weight())
        self.optimizer.apply(grads, self.trainable_variables)
        return distribute.reducible_logs(self._update_metrics(loss, reconstruction, kl))

    def _loss_terms(self, x, seed, beta, training):
        """`(loss, reconstruction, kl)`: the batch means of the bound's terms over `num_samples`
        draws and loss = β · kl − reconstruction (plus the layers' losses when training)."""
        log_px, log_pz, log_q = self._bound_terms(x, seed, self.num_samples, training=training)
        reconstruction = tf.reduce_mean(log_px)
        kl = tf.reduce_mean(log_q - log_pz)
        loss = beta * kl - reconstruction
        if training and self.losses:
            loss += tf.add_n(self.losses)
        return loss, reconstruction, kl

    def _loss_and_grads(self, x, seed, beta):
        """This replica's gradient of the warmed-up negative ELBO, the loss and its terms."""
        with tf.GradientTape() as tape:
            loss, reconstruction, kl = self._loss_terms(x, seed, beta, training=True)
            # The optimizer sums the replicas' gradients: each differentiates loss / R.
            scaled_loss = distribute.scale_loss(loss)
        return tape.gradient(scaled_loss, self.trainable_variables), loss, reconstruction, kl

    def test_step(self, data):
        # The true bound (β = 1): the loss is the negative ELBO.
        loss, reconstruction, kl = self._loss_terms(
            _unpack_x(data), self._seed(None, self.eval_seed_generator), 1.0, training=False)
        return distribute.reducible_logs(self._update_metrics(loss, reconstruction, kl))

    def predict_step(self, data):
        return self(_unpack_x(data), training=False)

    # ------------------------------------------------------------------------ serialization

    def _trackable_children(self, save_type="checkpoint", **kwargs):
        # `keras.random.SeedGenerator` is not trackable itself: expose its state variables so
        # `tf.train.Checkpoint(model=...)` saves and restores the seed streams.
        children = super()._trackable_children(save_type, **kwargs)
        children["train_seed_state"] = self.seed_generator.state
        children["eval_seed_state"] = self.eval_seed_generator.state
        return children

    def _seed_states(self):
        return {"train_seed_state": self.seed_generator.state,
                "eval_seed_state": self.eval_seed_generator.state}

    def save_own_variables(self, store):
        # Keras writes layer variables only; the seed streams go into `.keras` files too, so a
        # reloaded model continues training with the same noise as the saved one.
        super().save_own_variables(store)
        for key, state in self._seed_states().items():
            store[key] = state

    def load_own_variables(self, store):
        seed_states = self._seed_states()
        super().load_own_variables({k: store[k] for k in store.keys() if k not in seed_states})
        for key, state in seed_states.items():
            if key in store:  # Files written before the seed streams were saved lack them.
                state.assign(store[key])

    def get_config(self):
        config = super().get_config()
        config.update(
            latent_dim=self.latent_dim,
            flow=self.flow_spec,
            event_size=self.event_size,
            encoder=(keras.saving.serialize_keras_object(self.encoder)
                     if self._custom_encoder else None),
            decoder=(keras.saving.serialize_keras_object(self.decoder)
                     if self._custom_decoder else None),
            encoder_units=list(self.encoder_units),
            decoder_units=list(self.decoder_units),
            activation=self.activation,
            likelihood=self.likelihood_name,
            prior=self.prior_name,
            num_samples=self.num_samples,
            warmup_steps=self.warmup_steps,
            warmup_initial=self.warmup_initial,
            seed=self.seed,
            # With the options whose defaults changed since v0.1 (`flows.flow.LEGACY_OPTIONS`).
            posterior_kwargs={**self.posterior_kwargs,
                              **flows.flow.legacy_option_values(self.posterior)},
            precision=self.precision,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["posterior_kwargs"] = flows.flow.with_legacy_options(config.get("posterior_kwargs"))
        for key in ("encoder", "decoder"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
