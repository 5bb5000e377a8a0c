"""The `planar` flow step: `Planar(u, w, b)` with `θ = [u, w, b] ∈ R^{2D+1}`.

`f(z) = z + û h(wᵀz + b)` (Rezende & Mohamed, 2015); the `Planar` bijector takes any real
`(u, w, b)` and applies the invertibility constraint `û = u + (m(wᵀu) − wᵀu) w/‖w‖²`,
`m(x) = −1 + softplus(x)`, itself. A global step starts at `u, w ~ N(0, init_scale²)`, `b = 0`.

An amortized step starts at the identity (`identity_params`, the flow head's initial bias):
θ = 0 would not do, since there wᵀû = m(0) = −0.31 for every small w, i.e. the step is
`z ↦ (I + û wᵀ) z` near the origin, a contraction by 0.69 along w (and `h(wᵀz)` with a tiny
w is linear), so K such steps start as a scale of 0.69^K along their directions. With
`w = a e`, `u = a e`, `b = 0` for a unit vector e and a² = log(e − 1) (e = Euler's number),
wᵀu = log(e − 1), so m(wᵀu) = −1 + log(1 + e − 1) = 0 and û = a e − a² · a e / a² = 0:
exactly the identity, with ‖w‖ = a ≈ 0.74 far from the clamp of ‖w‖ near 0, and every
derivative of f in θ finite and non-zero in u (∂û/∂u ≠ 0), so training moves it. e is drawn
per step from the step's seed (±1 for D = 1). Consecutive planar steps of a flow run as one
`bijectors.PlanarStack`.

**Centering** (`Flow(center_planar=...)`, for a context). Without it a linear head cannot put
a step's hyperplane through the posterior's mass: w and μ(c) are both linear in the context, so
the offset that centers it, −wᵀμ, is quadratic in it. Trained uncentered on binarized MNIST
(latent 40, planar*10), the steps ended with |b| ≈ 9-19 against |wᵀz| ≈ 2: tanh saturated,
log-det ≈ 1e-5, each step a per-example shift, and the flow no better than the diagonal
Gaussian ("off", the earlier head).

"base_mean" takes the raw offset relative to the base mean, b = b̃ − wᵀμ(c), so the step is
`z + û h(wᵀ(z − μ) + b̃)`. That made planar*10/20/40 beat the diagonal Gaussian by 2.1-3.4
nats, but planar*80 trained unstably: the steps shift the samples, so after tens of steps they
are far from μ and the later hyperplanes, still placed relative to μ, are far from them
(|wᵀz + b| ≈ 20-60 in the middle of the flow after 10 epochs), and the ELBO oscillated.

"mean_path" (the default) centers each step on the point that the steps before it carry μ to:
b_k = b̃_k − w_kᵀ m_{k−1}, m_0 = μ(c), m_k = f_k(m_{k−1}). Since the pre-activation of step k
at m_{k−1} is then b̃_k, m_k = m_{k−1} + û_k tanh(b̃_k), a cumulative sum (`center_params`).
In the same planar*80 check its pre-activations stay at |wᵀz + b| ≈ 0.3-1.2, and in the full
Table 2 protocol it trains smoothly to test −ELBO / NLL 91.99 / 86.90 (centered on μ: 116.99 /
102.75, stopped early at epoch 44). Not every run is smooth: its planar*20 row went unstable
in epochs 2-30 and ended behind the diagonal Gaussian (96.50). Its gradient's global norm,
typically 70-300, spiked to 2e4-4e6; with `TrainConfig.gradient_clip_norm=500` the same run
trained smoothly to 92.88 / 87.40, between planar*10 and planar*40.

Each example's map is still a planar step (b is any real and depends on the context only, not
on z); at the identity start û = 0, so m_k = μ and every mode starts the same.
"""

import numpy as np
import tensorflow as tf

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

    def param_sizes(self):
        return (self.event_size, self.event_size, 1)

    def bijector_args(self, params):
        u, w, b = self.split_params(params)
        return u, w, b[..., 0]

    center_option = "center_planar"

    def center_params(self, params, loc, follow_path=True):
        """`[u_k, w_k, b̃_k] ↦ [u_k, w_k, b̃_k − w_kᵀ m_{k−1}]` along μ's path, and `m_n`.

        With m_0 = `loc` and each step centered on m_{k−1}, the pre-activation at m_{k−1} is
        b̃_k, so m_k = f_k(m_{k−1}) = m_{k−1} + û_k tanh(b̃_k): all n centers at once are
        `loc` plus an exclusive cumulative sum over the run (no sequential pass). With
        `follow_path=False` every center is `loc` ("base_mean") and `m_n` is None.
        """
        u, w, raw_offset = self.split_params(params)
        raw_offset = raw_offset[..., 0]
        centers, image = loc[..., tf.newaxis, :], None
        if follow_path:
            shifts = bijectors.planar_constrain(u, w) * tf.tanh(raw_offset)[..., tf.newaxis]
            centers = centers + tf.math.cumsum(shifts, axis=-2, exclusive=True)
            image = centers[..., -1, :] + shifts[..., -1, :]
        offset = raw_offset - tf.reduce_sum(w * centers, axis=-1)
        return tf.concat([u, w, offset[..., tf.newaxis]], axis=-1), image

    def identity_params(self):
        """`[u, w, b] = [a e, a e, 0]` with a² = log(e − 1): û = 0 (see the module docstring)."""
        direction = np.random.default_rng(self.seed).standard_normal(self.event_size)
        direction /= np.linalg.norm(direction)
        a = np.sqrt(np.log(np.expm1(1.0)))
        return np.concatenate([a * direction, a * direction, [0.0]])

    def global_init_stddev(self):
        return np.concatenate([np.full([2 * self.event_size], self.init_scale), [0.0]])
