"""The `nsf_iaf` flow step: an inverse autoregressive rational-quadratic spline step.

`z'_i = spline(z_i; θ_i(z_{<i}, c))` inverted, as `tfb.Invert(tfb.MaskedAutoregressiveFlow(
bijector_fn=...))` with the spline parameters from a `MADE` network (Durkan et al., 2019, in
the inverse-autoregressive direction of Kingma et al., 2016): sampling and its log-det are one
network pass, the density at arbitrary points `D` sequential passes. Options: `"bins"` (K,
default 8) and the interval `[−B, B]` (`bound`, default 5; the identity outside it).
"""

import tensorflow_probability as tfp

from tfp_nfvi.flows import networks
from tfp_nfvi.flows import spline
from tfp_nfvi.flows import step

tfb = tfp.bijectors

__all__ = ["SplineIAFStep"]


class SplineIAFStep(spline.SplineOptions, step.NetworkStep):
    """One inverse autoregressive spline step; see `step.NetworkStep` for the arguments."""

    def make_network(self, **network_kwargs):
        return networks.MADE(
            self.event_size, params_per_output=spline.num_spline_params(self.num_bins),
            context_to_output=self.context_to_output, **network_kwargs)

    def bijector_from_fn(self, fn):
        return tfb.Invert(tfb.MaskedAutoregressiveFlow(
            bijector_fn=self.spline_fn(fn)))
