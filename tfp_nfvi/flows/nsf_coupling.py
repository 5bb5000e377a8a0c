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


class SplineCouplingStep(realnvp.RealNVPStep):
    """One spline coupling step; see `step.NetworkStep` for the arguments."""

    spec_options = {"bins": "num_bins"}

    def __init__(self, event_size, num_bins=8, bound=5.0, **kwargs):
        super().__init__(event_size, **kwargs)
        self.num_bins = int(num_bins)
        self.bound = float(bound)

    def make_network(self, **network_kwargs):
        d = self.event_size
        return networks.CouplingNetwork(
            d // 2, d - d // 2, params_per_output=spline.num_spline_params(self.num_bins),
            **network_kwargs)

    def bijector_from_fn(self, fn):
        return tfb.RealNVP(num_masked=self.event_size // 2,
                           bijector_fn=spline.SplineFn(fn, self.num_bins, self.bound))

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "bound": self.bound}
