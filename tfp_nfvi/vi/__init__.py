"""tfp_nfvi.vi: fitting a surrogate q to an unnormalized target (reverse KL / the ELBO).

    from tfp_nfvi import targets, vi

    target = targets.target_log_prob_fn("U1")
    q = vi.make_surrogate("planar*32")                    # build_flow_surrogate, broad base
    vi.fit(target, q, num_steps=10_000, anneal_steps=2_000)  # annealed ELBO, XLA chunks
    elbo, stderr = vi.estimate_elbo(target, q)

  fit, FitResult, estimate_elbo: any target and any surrogate with trainable variables
    (`reverse_kl`).
  make_surrogate, plot_densities, fit_energy(config): the paper's 2D energies (`energy_fit`),
    the library behind `python -m tfp_nfvi.fit2d`.
"""

from tfp_nfvi.vi.energy_fit import fit_energy
from tfp_nfvi.vi.energy_fit import make_surrogate
from tfp_nfvi.vi.energy_fit import plot_densities
from tfp_nfvi.vi.reverse_kl import FitResult
from tfp_nfvi.vi.reverse_kl import estimate_elbo
from tfp_nfvi.vi.reverse_kl import fit

__all__ = ["FitResult", "estimate_elbo", "fit", "fit_energy", "make_surrogate", "plot_densities"]
