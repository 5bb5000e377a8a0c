"""The `radial` flow step: `Radial(z0, α, β)` with `θ = [z0, raw α, raw β] ∈ R^{D+2}`.

`f(z) = z + β h(α, r)(z − z0)`, `r = ‖z − z0‖`, `h = 1 / (α + r)` (Rezende & Mohamed, 2015);
`(α, β) = radial_constrain(raw α, raw β)` gives `α > 0`, `β ≥ −α`. A global step starts
with centres `z0 ~ N(0, 1)` (spread over the base's typical set) and `raw α, raw β ~
N(0, init_scale²)` (so β ≈ 0: near the identity). An amortized step starts at the identity:
at raw α = raw β the constraint gives β = −softplus(raw α) + softplus(raw β) = 0, so θ = 0
(centre 0, α = log 2, β = 0) is the identity map (`identity_params`).

**Centering** (`Flow(center_radial=...)`, for a context). A linear head emits the centre in
absolute coordinates, so at the identity start every centre is near 0 while the posterior's
mass sits around μ(c), far from it for most digits: the step then acts on the samples as a
nearly uniform shift and scale seen from afar. "mean_path" (the default) takes the head's
output as the centre's offset from the point that the steps before it carry μ(c) to,
z0_k = m_{k−1} + z̃0_k with m_0 = μ(c), m_k = f_k(m_{k−1}) (the path `center_planar` uses);
since m_{k−1} − z0_k = −z̃0_k, m_k = m_{k−1} − β_k z̃0_k / (α_k + ‖z̃0_k‖) needs no pass through
the bijectors (`center_params`). "base_mean" centres every step on μ(c) + z̃0_k; "off" is the
earlier, absolute head. At the identity start (θ = 0) a centred step's centre is m_{k−1} itself.
"""

import numpy as np
import tensorflow as tf

from tfp_nfvi import bijectors
from tfp_nfvi.flows import step
from tfp_nfvi.internal import numerics

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

    center_option = "center_radial"

    def center_params(self, params, loc, follow_path=True):
        """`[z̃0_k, raw α_k, raw β_k] ↦ [m_{k−1} + z̃0_k, raw α_k, raw β_k]`, and `m_n`.

        With m_0 = `loc`, f_k(m_{k−1}) = m_{k−1} − β_k z̃0_k / (α_k + ‖z̃0_k‖), so the centres of
        a run are `loc` plus an exclusive cumulative sum of those shifts. With
        `follow_path=False` every centre is `loc + z̃0_k` ("base_mean") and `m_n` is None.
        """
        d = self.event_size
        offset = params[..., :d]
        centers, image = loc[..., tf.newaxis, :], None
        if follow_path:
            _, alpha, beta = self.bijector_args(params)
            shifts = -(beta / (alpha + numerics.safe_norm(offset)))[..., tf.newaxis] * offset
            centers = centers + tf.math.cumsum(shifts, axis=-2, exclusive=True)
            image = centers[..., -1, :] + shifts[..., -1, :]
        return tf.concat([centers + offset, params[..., d:]], axis=-1), image

    def identity_params(self):
        """θ = 0: raw α = raw β gives β = 0, the identity map (centre z0 = 0, α = log 2)."""
        return np.zeros([self.num_params])

    def global_init_stddev(self):
        return np.concatenate([np.ones([self.event_size]), np.full([2], self.init_scale)])
