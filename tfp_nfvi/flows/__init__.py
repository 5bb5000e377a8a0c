"""tfp_nfvi.flows: flow specs, flow steps, and flows as amortized, global or conditional.

* `parse_flow_spec("planar*4,iaf*2")` -> `[("planar", 4), ("iaf", 2)]`.
* `STEPS`: the registry of step kinds (`PlanarStep`, `RadialStep`, `MAFStep`, `IAFStep`,
  `RealNVPStep`); a step maps a context (or `None`) to a `tfb.Bijector`.
* `Flow(event_size, flow)`: steps plus a Gaussian base, a Keras 3 layer; `flow(c)` is the
  `TransformedDistribution` q(z | c), `flow(None)` a global one.
* `AmortizedFlowPosterior(latent_dim, flow)`: the `Flow` of a VAE, `h -> q(z | x)`.
* `build_flow_surrogate(event_size, flow)`: a trainable surrogate for `tfp.vi`.
* `MADE`, `CouplingNetwork`: Keras 3 `shift_and_log_scale_fn`s for `tfb.MaskedAutoregressiveFlow`
  and `tfb.RealNVP`, with an optional context.
"""

from tfp_nfvi.flows.amortized import AmortizedFlowPosterior
from tfp_nfvi.flows.amortized import to_tfp_seed
from tfp_nfvi.flows.flow import Flow
from tfp_nfvi.flows.networks import CouplingNetwork
from tfp_nfvi.flows.networks import MADE
from tfp_nfvi.flows.networks import made_masks
from tfp_nfvi.flows.registry import STEPS
from tfp_nfvi.flows.spec import FLOW_NAMES
from tfp_nfvi.flows.spec import parse_flow_spec
from tfp_nfvi.flows.step import FlowStep
from tfp_nfvi.flows.step import NetworkStep
from tfp_nfvi.flows.step import ParameterizedStep
from tfp_nfvi.flows.surrogate import build_flow_surrogate

__all__ = [
    "AmortizedFlowPosterior",
    "CouplingNetwork",
    "FLOW_NAMES",
    "Flow",
    "FlowStep",
    "MADE",
    "NetworkStep",
    "ParameterizedStep",
    "STEPS",
    "build_flow_surrogate",
    "made_masks",
    "parse_flow_spec",
    "to_tfp_seed",
]
