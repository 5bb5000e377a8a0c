"""tfp_nfvi.models: `FlowVAE` (a VAE with a flow posterior) and `ConditionalFlow` (p(y | x)).

* `FlowVAE(latent_dim=40, flow="planar*16")`: encoder → `AmortizedFlowPosterior` → z →
  decoder → Bernoulli likelihood; trains on the (warmed-up) negative ELBO, estimates
  log p(x) by importance sampling (`log_likelihood`), samples, reconstructs.
* `ConditionalFlow(input_size, event_size, flow="radial*8")`: conditioner x → c → flow(c),
  a conditional density p(y | x) trained by maximum likelihood in the generative or the
  normalizing direction; `log_prob`, `sample`, `mean`.
* `mlp_encoder`, `mlp_decoder`: the default networks (784→512→256, D→256→512→784, ReLU).
* `LIKELIHOODS`, `make_likelihood`: the observation models by name ("bernoulli").
* `stateless_normal(shape, seed)`: normal draws identical with and without XLA.
"""

from tfp_nfvi.models.conditional_flow import ConditionalFlow
from tfp_nfvi.models.flow_vae import FlowVAE
from tfp_nfvi.models.likelihoods import LIKELIHOODS
from tfp_nfvi.models.likelihoods import make_likelihood
from tfp_nfvi.models.networks import mlp_decoder
from tfp_nfvi.models.networks import mlp_encoder
from tfp_nfvi.models.stateless import stateless_normal

__all__ = [
    "ConditionalFlow",
    "FlowVAE",
    "LIKELIHOODS",
    "make_likelihood",
    "mlp_decoder",
    "mlp_encoder",
    "stateless_normal",
]
