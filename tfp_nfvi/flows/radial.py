"""The `radial` flow step: `Radial(z0, α, β)` with `θ = [z0, raw α, raw β] ∈ R^{D+2}`.

`f(z) = z + β h(α, r)(z − z0)`, `r = ‖z − z0‖`, `h = 1 / (α + r)` (Rezende & Mohamed, 2015);
`(α, β) = radial_constrain(raw α, raw β)` gives `α > 0`, `β ≥ −α`. A global step starts
with centres `z0 ~ N(0, 1)` (spread over the base's typical set) and `raw α, raw β ~
N(0, init_scale²)` (so β ≈ 0: near the identity). An amortized step starts at the identity:
at raw α = raw β the constraint gives β = −softplus(raw α) + softplus(raw β) = 0, so θ = 0
(centre 0, α = log 2, β = 0) is the identity map (`identity_params`).
"""

import numpy as np

from tfp_nfvi import bijectors
from tfp_nfvi.flows import step

__all__ = ["RadialStep"]


class RadialStep(step.ParameterizedStep):
    """One radial step; see `step.ParameterizedStep` for the arguments."""

    bijector_class = bijectors.Radial

    def __init__(self, event_size, **kwargs):
        super().__init__(event_size, **kwargs)
        self.num_params = self.event_size + 2

    def bijector_args(self, params):
        d = self.event_size
        alpha, beta = bijectors.radial_constrain(params[..., d], params[..., d + 1])
        return params[..., :d], alpha, beta

    def identity_params(self):
        """θ = 0: raw α = raw β gives β = 0, the identity map (centre z0 = 0, α = log 2)."""
        return np.zeros([self.num_params])

    def global_init_stddev(self):
        return np.concatenate([np.ones([self.event_size]), np.full([2], self.init_scale)])
