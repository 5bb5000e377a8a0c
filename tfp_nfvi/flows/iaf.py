"""The `iaf` flow step: an inverse autoregressive affine step (Kingma et al., 2016).

`tfb.Invert(tfb.MaskedAutoregressiveFlow(f))` with `f` a `MADE` network: sampling *and* its
log-det are one network pass (the direction a variational posterior needs), the inverse
(density at arbitrary points) `D` sequential passes.
"""

import tensorflow_probability as tfp

from tfp_nfvi.flows import maf

tfb = tfp.bijectors

__all__ = ["IAFStep"]


class IAFStep(maf.MAFStep):
    """One IAF step: the inverse of a MAF step; see `step.NetworkStep` for the arguments."""

    def bijector_from_fn(self, fn):
        return tfb.Invert(super().bijector_from_fn(fn))
