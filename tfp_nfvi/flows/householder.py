"""The `householder` flow step: a reflection `Householder(v)` with `θ = v ∈ R^D`.

`f(z) = (I − 2 v vᵀ/‖v‖²) z`, volume preserving (Tomczak & Welling, 2016): a chain of them
turns the Gaussian base's diagonal covariance into a full one. Given a context, `v` is a
per-example linear function of it; globally it starts at `v ~ N(0, init_scale²)` (never at
0, where a reflection has no gradient).
"""

from tfp_nfvi import bijectors
from tfp_nfvi.flows import step

__all__ = ["HouseholderStep"]


class HouseholderStep(step.ParameterizedStep):
    """One Householder reflection; see `step.ParameterizedStep` for the arguments."""

    bijector_class = bijectors.Householder

    def __init__(self, event_size, **kwargs):
        super().__init__(event_size, **kwargs)
        self.num_params = self.event_size

    def bijector_args(self, params):
        return (params,)
