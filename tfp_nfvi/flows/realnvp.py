"""The `realnvp` flow step: an affine coupling step (Dinh et al., 2017).

`y_{1:d} = x_{1:d}`, `y_{d+1:D} = x_{d+1:D} exp(s(x_{1:d}, c)) + t(x_{1:d}, c)` with
`d = ⌊D/2⌋` and `(t, s)` from a `CouplingNetwork`, as `tfb.RealNVP`: one network pass in
both directions. Needs `D ≥ 2`.
"""

import tensorflow_probability as tfp

from tfp_nfvi.flows import networks
from tfp_nfvi.flows import step

tfb = tfp.bijectors

__all__ = ["RealNVPStep"]


class RealNVPStep(step.NetworkStep):
    """One RealNVP coupling step; see `step.NetworkStep` for the arguments."""

    def __init__(self, event_size, **kwargs):
        super().__init__(event_size, **kwargs)
        self.check_event_size(self.event_size)

    @classmethod
    def check_event_size(cls, event_size, **options):
        if event_size < 2:
            raise ValueError(
                f"'realnvp' needs an event size of at least 2 (it splits the coordinates), got "
                f"latent/event size {event_size}."
            )

    def make_network(self, **network_kwargs):
        d = self.event_size
        return networks.CouplingNetwork(d // 2, d - d // 2, **network_kwargs)

    def bijector_from_fn(self, fn):
        return tfb.RealNVP(num_masked=self.event_size // 2, shift_and_log_scale_fn=fn)
