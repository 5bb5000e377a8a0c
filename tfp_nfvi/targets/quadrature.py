"""Quadrature on a 2D box: log Z of an unnormalized density, and divergences to a fitted q.

The box B = [lo, hi]² is cut into n × n square cells of side h = (hi − lo) / n, and integrals
use the midpoint rule at the cell centres zᵢ:

    ∫_B f(z) dz ≈ h² Σᵢ f(zᵢ).

For densities that are smooth and negligible at the box's edges the midpoint rule converges
faster than any power of h (it is the trapezoidal rule of a function that is periodic to within
its edge values), so refining the grid is a sharp error estimate:

    log Z ≈ log Z_{2n},   discretization error ≈ |log Z_{2n} − log Z_n|.

Everything is computed as log-sum-exps in float64, so no cell underflows. (For even n no cell
centre is z = 0.) With the window convention of `tfp_nfvi.targets.energies` all four targets
hold all but ~6e-5 of their mass inside `BOX`, so the box integral is their log Z over R².
"""

import collections
import math

import numpy as np
import tensorflow as tf

from tfp_nfvi.targets import energies

__all__ = [
    "GridDivergences",
    "LogNormalizer",
    "box_grid",
    "grid_divergences",
    "grid_log_density",
    "log_normalizer",
]

LogNormalizer = collections.namedtuple(
    "LogNormalizer", ["log_z", "discretization_error", "num_points"]
)
LogNormalizer.__doc__ = """log Z on the finer grid, |log Z_2n − log Z_n|, and 2n (per axis)."""

GridDivergences = collections.namedtuple(
    "GridDivergences", ["kl", "total_variation", "mass_outside_box", "log_z"]
)
GridDivergences.__doc__ = """Divergences between the normalized target p and q on the box B.

Fields:
  kl: KL(p ‖ q) = ∫_B p (log p − log q) dz, the forward (mass-covering) KL on the grid. It is
    ≥ 0 even though q may put mass outside B, and it is large when q misses a mode of p.
  total_variation: ½ ∫_B |p − q| dz + ½ q(outside B), in [0, 1].
  mass_outside_box: 1 − ∫_B q dz, the probability q puts outside the box.
  log_z: the target's log Z on the same grid.
"""

_CHUNK = 1 << 16


def _check_box_and_points(box, num_points):
    lo, hi = (float(b) for b in box)
    if not hi > lo:
        raise ValueError(f"box must be (low, high) with low < high, got {box!r}.")
    if int(num_points) != num_points or num_points < 2:
        raise ValueError(f"num_points must be an integer >= 2, got {num_points!r}.")
    return lo, hi, int(num_points)


def box_grid(num_points, box=energies.BOX):
    """Cell centres of an n × n grid on [lo, hi]², as NumPy float64.

    Args:
      num_points: n, the number of cells per axis.
      box: (lo, hi), the same for both coordinates.

    Returns:
      (points, cell_area, coords): points of shape [n, n, 2] with points[i, j] = (coords[j],
      coords[i]) (z1 varies along columns, as `matplotlib.pyplot.imshow` expects), the cell area
      h², and the 1-D cell centres coords of shape [n].
    """
    lo, hi, n = _check_box_and_points(box, num_points)
    h = (hi - lo) / n
    coords = lo + h * (np.arange(n) + 0.5)
    z1, z2 = np.meshgrid(coords, coords, indexing="xy")
    return np.stack([z1, z2], axis=-1), h * h, coords


def grid_log_density(log_prob_fn, num_points, box=energies.BOX, dtype=tf.float64):
    """`log_prob_fn` at the cell centres of `box_grid(num_points, box)`, float64 `[n, n]`.

    The n² points are passed to `log_prob_fn` as `dtype` tensors of shape `[m, 2]`, at most
    65,536 at a time (so memory stays bounded for fine grids); entry `[i, j]` is the value at
    `points[i, j]` (the `imshow` layout of `box_grid`).
    """
    points, _, _ = box_grid(num_points, box)
    flat = points.reshape(-1, 2)
    values = [
        tf.cast(log_prob_fn(tf.constant(flat[i : i + _CHUNK], dtype=dtype)), tf.float64).numpy()
        for i in range(0, flat.shape[0], _CHUNK)
    ]
    return np.concatenate(values).reshape(points.shape[:-1])


def _log_integral(log_values, cell_area):
    """log(h² Σᵢ exp(log_values[i])), the midpoint rule in log space (−inf if all are −inf)."""
    return float(tf.reduce_logsumexp(tf.constant(log_values, tf.float64))) + math.log(cell_area)


def _log_z_on_grid(log_prob_fn, num_points, box):
    _, cell_area, _ = box_grid(num_points, box)
    return _log_integral(grid_log_density(log_prob_fn, num_points, box), cell_area)


def log_normalizer(log_prob_fn, box=energies.BOX, num_points=512):
    """log Z = log ∫_B exp(log_prob_fn(z)) dz by the midpoint rule, with its error estimate.

    Args:
      log_prob_fn: maps float64 z of shape [m, 2] to an unnormalized log-density of shape [m].
      box: (lo, hi): the box [lo, hi]².
      num_points: n; the rule runs on n × n and on 2n × 2n cells.

    Returns:
      `LogNormalizer(log_z, discretization_error, num_points)`: log Z on the 2n grid and
      |log Z_2n − log Z_n|.
    """
    coarse = _log_z_on_grid(log_prob_fn, num_points, box)
    fine = _log_z_on_grid(log_prob_fn, 2 * int(num_points), box)
    return LogNormalizer(float(fine), float(abs(fine - coarse)), 2 * int(num_points))


def grid_divergences(
    target_log_prob_fn, surrogate_log_prob_fn, box=energies.BOX, num_points=256,
    surrogate_dtype=tf.float32,
):
    """Divergences between the normalized target and a fitted q, on the n × n grid of `box`.

    The target is normalized on the same grid (log Z by the midpoint rule), and q's density is
    `surrogate_log_prob_fn` (e.g. `q.log_prob`, which for a flow runs the bijectors' inverses).

    Args:
      target_log_prob_fn: unnormalized target log-density, evaluated in float64.
      surrogate_log_prob_fn: log q(z), evaluated in `surrogate_dtype`.
      box: (lo, hi): the box [lo, hi]².
      num_points: n, cells per axis.
      surrogate_dtype: the dtype q takes its points in.

    Returns:
      `GridDivergences` (see its docstring) of Python floats.
    """
    _, cell_area, _ = box_grid(num_points, box)
    log_p = grid_log_density(target_log_prob_fn, num_points, box)
    log_z = _log_integral(log_p, cell_area)
    log_p = log_p - log_z
    log_q = grid_log_density(surrogate_log_prob_fn, num_points, box, surrogate_dtype)
    p, q = np.exp(log_p), np.exp(log_q)
    # Cells where p underflows to 0 contribute 0 · (…) = 0 to KL(p ‖ q).
    terms = np.where(p > 0.0, p * (log_p - log_q), 0.0)
    kl = float(np.sum(terms) * cell_area)
    mass_inside = float(np.sum(q) * cell_area)
    mass_outside = max(0.0, 1.0 - mass_inside)
    total_variation = 0.5 * float(np.sum(np.abs(p - q)) * cell_area) + 0.5 * mass_outside
    return GridDivergences(kl, total_variation, mass_outside, float(log_z))
