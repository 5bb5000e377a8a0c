"""The `nsf_coupling` flow step: a rational-quadratic spline coupling step (Durkan et al., 2019).

`y_{1:d} = x_{1:d}`, `y_{d+1:D} = spline(x_{d+1:D}; θ(x_{1:d}, c))` with `d = ⌊D/2⌋`, the
spline's parameters from a `CouplingNetwork` (see `spline`), as `tfb.RealNVP` with a
`bijector_fn`: one network pass in both directions. Needs `D ≥ 2`. Options: `"bins"` (K,
default 8) and the interval `[−B, B]` (`bound`, default 5; the identity outside it).
"""

import tensorflow_probability as tfp

from tfp_nfvi.flows import networks
from tfp_nfvi.flows import realnvp
from tfp_nfvi.flows import spline

tfb = tfp.bijectors

__all__ = ["SplineCouplingStep"]


class SplineCouplingStep(spline.SplineOptions, realnvp.RealNVPStep):
    """One spline coupling step; see `step.NetworkStep` for the arguments."""

    def make_network(self, **network_kwargs):
        d = self.event_size
        return networks.CouplingNetwork(
            d // 2, d - d // 2, params_per_output=spline.num_spline_params(self.num_bins),
            **network_kwargs)

    def bijector_from_fn(self, fn):
        return tfb.RealNVP(num_masked=self.event_size // 2,
                           bijector_fn=self.spline_fn(fn))
