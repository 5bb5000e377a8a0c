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

**Centering** (`Flow(center_planar=True)`, the default for a context): the head's raw offset
b̃ is taken relative to the base mean μ(c), b = b̃ − wᵀμ(c), so the step is
`z + û h(wᵀ(z − μ) + b̃)` and its hyperplane passes near the posterior's mass whatever μ is.
Without it a linear head cannot follow: w and μ are both linear in the context, so the b
that centers the hyperplane, −wᵀμ, is quadratic in it. Trained uncentered on binarized MNIST
(latent 40, planar*10), the steps ended with |b| ≈ 9-19 against |wᵀz| ≈ 2: tanh saturated,
log-det ≈ 1e-5, each step a per-example shift, and the flow no better than the diagonal
Gaussian; centered, planar*10/20/40 beat it by 2.1-3.4 nats. Caution: a centered planar*80
posterior trained unstably there (the ELBO oscillated and early stopping ended it at epoch
44); `center_planar=False` is the earlier head. The map of each example is still a planar step
(b is any real); at the identity start û = 0, so centering changes nothing there.
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

    def bijector_args(self, params):
        d = self.event_size
        return params[..., :d], params[..., d : 2 * d], params[..., 2 * d]

    def center_params(self, params, loc):
        """`[u, w, b̃] ↦ [u, w, b̃ − wᵀμ]` (see the module docstring)."""
        d = self.event_size
        w = params[..., d : 2 * d]
        b = params[..., 2 * d :] - tf.reduce_sum(w * loc, axis=-1, keepdims=True)
        return tf.concat([params[..., : 2 * d], b], axis=-1)

    def identity_params(self):
        """`[u, w, b] = [a e, a e, 0]` with a² = log(e − 1): û = 0 (see the module docstring)."""
        direction = np.random.default_rng(self.seed).standard_normal(self.event_size)
        direction /= np.linalg.norm(direction)
        a = np.sqrt(np.log(np.expm1(1.0)))
        return np.concatenate([a * direction, a * direction, [0.0]])

    def global_init_stddev(self):
        return np.concatenate([np.full([2 * self.event_size], self.init_scale), [0.0]])
