"""`build_flow_surrogate`: a global (non-amortized) trainable flow for `tfp.vi`.

    q(z) = TransformedDistribution(N(μ, diag σ²), f_K ∘ ... ∘ f_1)

is the `Flow` layer called without a context: `μ`, `σ = softplus(ρ + softplus⁻¹(1)) +
min_scale` and every step's parameters are its own weights, which the distribution reads
when it runs (`tfp.util.DeferredTensor`s and `tf.Module`s over the underlying
`tf.Variable`s), so `q.trainable_variables` lists them all and
`tfp.vi.fit_surrogate_posterior(target_log_prob_fn, q, optimizer, num_steps)` trains them.

Initialization (seeded by `seed`): μ = 0, σ = `base_scale`; planar `u, w ~ N(0,
init_scale²)`, `b = 0`; radial centres `~ N(0, 1)`, raw `α, β ~ N(0, init_scale²)`; network
output layers start small (see the step modules).

A structured event (`event_size` a list or dict of sizes) splits the flow's vector with
`tfb.Split` (and `tfb.Restructure` for dicts); a `batch_shape` gives a batch of independent
surrogates (flows without network steps only).
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_nfvi.flows import flow as flow_lib

tfb = tfp.bijectors
tfd = tfp.distributions

__all__ = ["build_flow_surrogate"]


def _event_sizes(event_size):
    """Validates `event_size` (int, or list/tuple/dict of ints); returns the flat sizes."""
    sizes = tf.nest.flatten(event_size)
    ok = sizes and all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in sizes
    )
    if not ok or (not isinstance(event_size, (int, np.integer)) and not isinstance(
        event_size, (list, tuple, dict)
    )):
        raise ValueError(
            f"`event_size` must be a positive int or a list/dict of positive ints, got "
            f"{event_size!r}."
        )
    return [int(s) for s in sizes]


def build_flow_surrogate(
    event_size,
    flow="planar*32",
    dtype=tf.float32,
    seed=None,
    name=None,
    batch_shape=(),
    hidden_units=(32, 32),
    init_scale=0.1,
    base_scale=1.0,
    min_scale=1e-4,
    validate_args=False,
):
    """Builds a trainable flow surrogate posterior for `tfp.vi.fit_surrogate_posterior`.

    Example:

        q = build_flow_surrogate(2, flow="planar*16", seed=0)
        tfp.vi.fit_surrogate_posterior(target.log_prob, q, tf.optimizers.Adam(1e-2), 1000)
        q.log_prob(grid)      # any points, through the inverses

    Args:
      event_size: `D` (int), or a list/dict of sizes for a structured event (samples are
        then lists/dicts of vectors).
      flow: a flow spec (see `parse_flow_spec`).
      dtype: float dtype of the variables.
      seed: int seed for the initialization (`None`: random).
      name: name of the distribution.
      batch_shape: batch shape of independent surrogates (flows without network steps).
      hidden_units: hidden sizes of each network step's network.
      init_scale: stddev of the random initialization of the step parameters.
      base_scale: initial standard deviation of the Gaussian base (σ of `q_0`).
      min_scale: floor added to the base standard deviation.
      validate_args: passed to the distribution and bijectors.

    Returns:
      A `tfd.TransformedDistribution` whose `trainable_variables` are all its parameters.
    """
    sizes = _event_sizes(event_size)
    if seed is None:
        seed = int(np.random.randint(2**30))
    layer = flow_lib.Flow(
        sum(sizes), flow=flow, hidden_units=hidden_units, init_scale=init_scale,
        base_scale=base_scale, min_scale=min_scale, batch_shape=batch_shape,
        validate_args=validate_args, seed=seed, dtype=tf.as_dtype(dtype).name,
        name=name or "flow_surrogate")
    layer.build(None)
    q = layer(None)
    bijector = q.bijector
    if not isinstance(event_size, (int, np.integer)):
        structure = tf.nest.pack_sequence_as(event_size, list(range(len(sizes))))
        bijector = tfb.Chain([tfb.Restructure(structure), tfb.Split(sizes), bijector])
    return tfd.TransformedDistribution(
        q.distribution, bijector, validate_args=validate_args, name=name or "flow_surrogate"
    )
