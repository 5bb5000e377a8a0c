"""`AmortizedFlowPosterior`: q(z | x) as a flow whose parameters come from an encoder output.

For an encoder output `h ∈ R^H` (per example) the layer returns the `Flow` at context `h`,

    q(z | x) = TransformedDistribution(N(μ(h), diag σ(h)²), f_K ∘ ... ∘ f_1),

with batch shape `[B]` and event shape `[D]`: planar `(u_k, w_k, b_k)`, radial
`(z0_k, α_k, β_k)` and the other parameterized steps are per-example linear functions of `h`
(Rezende & Mohamed, 2015; van den Berg et al., 2018), and the MAF/IAF/RealNVP networks take
`h` as their context (Kingma et al., 2016). See `flow.Flow` for the base, the head and the
initialization (close to the identity, so training starts from the diagonal Gaussian).

Training draws `z_K, log q(z_K|x)` with `q.experimental_sample_and_log_prob(seed=seed)`,
which runs the forward pass only (no inverse); `q.log_prob(z)` at arbitrary `z` uses the
inverses. Seeds are TFP stateless seeds (`int32` tensors of shape `[2]`); convert a
`keras.random.SeedGenerator` seed (int64) with `to_tfp_seed`.
"""

import keras

from tfp_nfvi.flows import flow as flow_lib
from tfp_nfvi.internal import seeds
from tfp_nfvi.internal import validation

__all__ = ["AmortizedFlowPosterior", "to_tfp_seed"]


# The package's one int -> stateless-seed convention (an int `s` means `[s, 0]`; int64
# seeds from `keras.random.SeedGenerator` keep their low 32 bits), under its v0.1 name.
to_tfp_seed = seeds.stateless_seed


@keras.saving.register_keras_serializable(package="tfp_nfvi")
class AmortizedFlowPosterior(flow_lib.Flow):
    """Maps an encoder output `h` of shape `[B, H]` to a flow posterior `q(z | x)`.

    Example:

        posterior = AmortizedFlowPosterior(latent_dim=40, flow="planar*16")
        q = posterior(h)                                   # batch [B], event [40]
        z, log_q = q.experimental_sample_and_log_prob(seed=seed)   # [B, 40], [B]

    `q.distribution` is the base `tfd.MultivariateNormalDiag`; with a sample shape `S`,
    `z, log_q` have shapes `[S, B, D]` and `[S, B]`.

    Args:
      latent_dim: `D`.
      flow: a flow spec (see `parse_flow_spec`), e.g. `"planar*16"`, `"iaf*4"`, `"diag"`.
      hidden_units: hidden sizes of each network step's network.
      activation: their hidden activation.
      log_scale_clip: soft bound on their per-step log-scale.
      context_to_output: `MADE` networks also feed `h` to their outputs (see `Flow`).
      center_planar: where planar steps center their hyperplanes: "mean_path" (on the
        image of the base mean μ(h) under the steps before each), "base_mean" or "off"
        (see `Flow`).
      center_radial: where radial steps put their centres: "mean_path" (relative to the same
        path), "base_mean" or "off" (see `Flow`).
      min_scale: floor added to the base standard deviation.
      head_init_scale: relative stddev of the parameter head at initialization.
      validate_args: passed to the bijectors.
      seed: int seed of the initialization (None: Keras's global random state).
      **kwargs: `keras.layers.Layer` arguments (name, dtype, ...).
    """

    context_description = "encoder output `h`"

    def __init__(
        self,
        latent_dim,
        flow="planar*16",
        hidden_units=(64, 64),
        activation="relu",
        log_scale_clip=3.0,
        context_to_output=True,
        center_planar="mean_path",
        center_radial="mean_path",
        min_scale=1e-4,
        head_init_scale=1e-2,
        validate_args=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            validation.check_positive_int(latent_dim, "latent_dim"), flow=flow,
            hidden_units=hidden_units, activation=activation, log_scale_clip=log_scale_clip,
            context_to_output=context_to_output, center_planar=center_planar,
            center_radial=center_radial, min_scale=min_scale,
            head_init_scale=head_init_scale, validate_args=validate_args, seed=seed, **kwargs)
        self.latent_dim = self.event_size

    def call(self, h):
        if h is None:
            raise ValueError(f"{self.name}: expected an encoder output `h` of shape [B, H].")
        return super().call(h)

    def get_config(self):
        config = super().get_config()
        for key in ("event_size", "init_scale", "base_scale", "trainable_base", "batch_shape"):
            config.pop(key)
        config["latent_dim"] = self.latent_dim
        return config
