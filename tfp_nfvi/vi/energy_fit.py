"""Fits a flow to one of the paper's 2D energies and measures it (Rezende & Mohamed 2015, Fig. 3).

`fit_energy(config)` is the library behind `python -m tfp_nfvi.fit2d`: it fits the global flow
surrogate `make_surrogate(flow)` to p̃ = `tfp_nfvi.targets.target_log_prob_fn(energy)` with
`tfp_nfvi.vi.fit` and returns (and with `output_dir` writes to results.json):

  energy, flow, num_steps, batch_size, learning_rate, anneal_steps, seed;
  elbo, elbo_stderr: the ELBO from `elbo_samples` fresh samples and its standard error;
  log_z, log_z_error: log Z by quadrature on [−4, 4]² and its grid-refinement error;
  kl_gap, kl_gap_stderr: log Z − ELBO = KL(q ‖ p), exact up to the ELBO's Monte Carlo error
    (the window convention of `tfp_nfvi.targets.energies` makes all four targets normalizable;
    U1 is the paper's own);
  grid_kl, grid_total_variation, mass_outside_box: `tfp_nfvi.targets.grid_divergences` of q
    (its `log_prob` on the grid) from the normalized target;
  steps_per_second, compile_seconds, fit_seconds, final_loss;

and density.png: the target density next to q's density on the same grid.
"""

import json
import os

import numpy as np
import tensorflow as tf

from tfp_nfvi import targets
from tfp_nfvi.targets import quadrature
from tfp_nfvi.vi import reverse_kl

__all__ = ["fit_energy", "make_surrogate", "plot_densities"]


def make_surrogate(flow, seed=0, base_scale=2.0, dtype=tf.float32):
    """The global flow surrogate q for the 2D energies: `build_flow_surrogate(2, flow)`.

    The base N(μ, diag σ²) starts broad, σ = `base_scale` (the energies' modes lie ~2 from the
    origin; a base that covers them, with annealing, keeps reverse KL from settling on one).

    Args:
      flow: a flow spec, e.g. "planar*32".
      seed: int seed of the initialization.
      base_scale: the base's initial standard deviation.
      dtype: float dtype.

    Returns:
      The surrogate, a `tfd.TransformedDistribution`.
    """
    from tfp_nfvi import flows  # pylint: disable=g-import-not-at-top

    return flows.build_flow_surrogate(
        2, flow=flow, dtype=dtype, seed=seed, name="q", base_scale=base_scale)


def plot_densities(panels, path=None, num_points=200, title=None):
    """Plots densities on `targets.BOX` with `imshow`, one row per entry of `panels`.

    Args:
      panels: list of rows, each a list of (label, log_prob_fn, dtype) with log_prob_fn a
        (possibly unnormalized) log-density evaluated on the grid; None leaves a cell empty.
      path: where to save the PNG (None: don't save).
      num_points: grid points per axis.
      title: optional figure title.

    Returns:
      The matplotlib `Figure`.
    """
    import matplotlib  # pylint: disable=g-import-not-at-top

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

    rows, cols = len(panels), max(len(r) for r in panels)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.2 * rows), squeeze=False)
    lo, hi = targets.BOX
    for r, row in enumerate(panels):
        for c in range(cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(row) or row[c] is None:
                ax.axis("off")
                continue
            label, log_prob_fn, dtype = row[c]
            log_density = quadrature.grid_log_density(log_prob_fn, num_points, dtype=dtype)
            density = np.exp(log_density - np.max(log_density))
            ax.imshow(density, origin="lower", extent=(lo, hi, lo, hi), cmap="viridis")
            ax.set_title(label, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return fig


def fit_energy(config, surrogate=None):
    """Fits `config.flow` to `config.energy`, measures it, and writes results.json and density.png.

    Args:
      config: a `tfp_nfvi.configs.Fit2DConfig` (`output_dir=None` writes nothing).
      surrogate: a ready surrogate to fit instead of building one from `config.flow`.

    Returns:
      (results dict, fitted surrogate).
    """
    target = targets.target_log_prob_fn(config.energy)
    if surrogate is None:
        surrogate = make_surrogate(config.flow, seed=config.seed)
    result = reverse_kl.fit(
        target, surrogate, config.num_steps, batch_size=config.batch_size,
        learning_rate=config.learning_rate, anneal_steps=config.anneal_steps,
        chunk_size=config.chunk_size, seed=config.seed, progress=config.progress,
    )
    elbo, elbo_stderr = reverse_kl.estimate_elbo(
        target, surrogate, num_samples=config.elbo_samples, seed=config.seed + 1)
    log_z = targets.log_normalizer(target)
    grid = targets.grid_divergences(
        target, surrogate.log_prob, num_points=config.grid_points,
        surrogate_dtype=surrogate.dtype)
    results = {
        "energy": config.energy,
        "flow": config.flow,
        "num_steps": config.num_steps,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "anneal_steps": config.anneal_steps,
        "seed": config.seed,
        "elbo": elbo,
        "elbo_stderr": elbo_stderr,
        "log_z": log_z.log_z,
        "log_z_error": log_z.discretization_error,
        "kl_gap": log_z.log_z - elbo,
        "kl_gap_stderr": elbo_stderr,
        "grid_kl": grid.kl,
        "grid_total_variation": grid.total_variation,
        "mass_outside_box": grid.mass_outside_box,
        "steps_per_second": result.steps_per_second,
        "compile_seconds": result.compile_seconds,
        "fit_seconds": result.fit_seconds,
        "final_loss": float(result.losses[-1]),
    }
    if config.output_dir is not None:
        os.makedirs(config.output_dir, exist_ok=True)
        with open(os.path.join(config.output_dir, "results.json"), "w") as f:
            json.dump(results, f, indent=2)
        plot_densities(
            [[(f"{config.energy} target", target, tf.float64),
              (f"q: {config.flow}", surrogate.log_prob, surrogate.dtype)]],
            path=os.path.join(config.output_dir, "density.png"),
            title=f"KL(q‖p) = {results['kl_gap']:.3f} nats, grid KL(p‖q) = {grid.kl:.3f}",
        )
    return results, surrogate
