"""The `maf` flow step: a masked autoregressive affine step (Papamakarios et al., 2017).

`y_i = x_i exp(s_i(x_{<i}, c)) + t_i(x_{<i}, c)` with `(t, s)` from a `MADE` network, as
`tfb.MaskedAutoregressiveFlow`: the inverse (density) is one network pass, the forward
(sampling) `D` sequential passes.
"""

import tensorflow_probability as tfp

from tfp_nfvi.flows import networks
from tfp_nfvi.flows import step

tfb = tfp.bijectors

__all__ = ["MAFStep"]


class MAFStep(step.NetworkStep):
    """One MAF step; see `step.NetworkStep` for the arguments."""

    def make_network(self, **network_kwargs):
        return networks.MADE(self.event_size, context_to_output=self.context_to_output,
                             **network_kwargs)

    def bijector_from_fn(self, fn):
        return tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=fn)
