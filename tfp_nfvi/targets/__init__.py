"""tfp_nfvi.targets: the 2D energies of Rezende & Mohamed (2015) and quadrature for log Z.

`target_log_prob_fn("U1")` … `("U4")` are the targets log p̃(z) = −U(z) (U2–U4 times a smooth
box window so that they are normalizable; see `energies`), and `log_normalizer` /
`grid_divergences` integrate them on the box `BOX` = [−4, 4]².
"""

from tfp_nfvi.targets.energies import BOX
from tfp_nfvi.targets.energies import ENERGY_NAMES
from tfp_nfvi.targets.energies import energy
from tfp_nfvi.targets.energies import log_window
from tfp_nfvi.targets.energies import target_log_prob_fn
from tfp_nfvi.targets.quadrature import GridDivergences
from tfp_nfvi.targets.quadrature import LogNormalizer
from tfp_nfvi.targets.quadrature import box_grid
from tfp_nfvi.targets.quadrature import grid_divergences
from tfp_nfvi.targets.quadrature import grid_log_density
from tfp_nfvi.targets.quadrature import log_normalizer

__all__ = [
    "BOX",
    "ENERGY_NAMES",
    "GridDivergences",
    "LogNormalizer",
    "box_grid",
    "energy",
    "grid_divergences",
    "grid_log_density",
    "log_normalizer",
    "log_window",
    "target_log_prob_fn",
]
