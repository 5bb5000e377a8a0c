"""The `planar` flow step: `Planar(u, w, b)` with `θ = [u, w, b] ∈ R^{2D+1}`.

`f(z) = z + û h(wᵀz + b)` (Rezende & Mohamed, 2015); the `Planar` bijector takes any real
`(u, w, b)` and applies the invertibility constraint `û` itself. A global step starts at
`u, w ~ N(0, init_scale²)`, `b = 0`; an amortized one at the flow head's (near-zero) output,
near the identity. Consecutive planar steps of a flow run as one `PlanarStack`.
"""

import numpy as np

from tfp_nfvi import bijectors
from tfp_nfvi.flows import step

__all__ = ["PlanarStep"]


class PlanarStep(step.ParameterizedStep):
    """One planar step; see `step.ParameterizedStep` for the arguments."""

    bijector_class = bijectors.Planar
    stacked_bijector_class = bijectors.PlanarStack

    def __init__(self, event_size, **kwargs):
        super().__init__(event_size, **kwargs)
        self.num_params = 2 * self.event_size + 1

    def bijector_args(self, params):
        d = self.event_size
        return params[..., :d], params[..., d : 2 * d], params[..., 2 * d]

    def global_init_stddev(self):
        return np.concatenate([np.full([2 * self.event_size], self.init_scale), [0.0]])
