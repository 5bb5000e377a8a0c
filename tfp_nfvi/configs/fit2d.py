"""`Fit2DConfig`: every setting of the 2D-energy fit (`python -m tfp_nfvi.fit2d`).

One frozen dataclass is the single source of each default, help line and check: the command's
flags are generated from it, and `tfp_nfvi.vi.fit_energy(config)` runs it:

    from tfp_nfvi import configs, vi
    results, q = vi.fit_energy(configs.Fit2DConfig(energy="U2", flow="radial*8", num_steps=500))
"""

import dataclasses
from typing import Optional

from tfp_nfvi.configs import fields

__all__ = ["ENERGY_NAMES", "Fit2DConfig"]

# `tfp_nfvi.targets.ENERGY_NAMES`, restated because this module imports no TensorFlow (tests
# check the two agree).
ENERGY_NAMES = ("U1", "U2", "U3", "U4")


def _check_grid_points(value, name):
    value = fields.check_positive_int(value, name)
    if value < 2:
        raise ValueError(f"`{name}` must be an integer >= 2, got {value!r}.")
    return value


@dataclasses.dataclass(frozen=True)
class Fit2DConfig:
    """Settings of one annealed reverse-KL fit of a flow to a 2D energy; see `vi.fit_energy`."""

    energy: str = fields.option("U1", "Target energy.", choices=ENERGY_NAMES)
    flow: str = fields.option(
        "planar*32", "Flow spec for build_flow_surrogate.", fields.check_nonempty_str)
    output_dir: Optional[str] = fields.option(
        None, "Where to write results.json and density.png (None: nowhere).",
        fields.check_nonempty_str)
    num_steps: int = fields.option(10_000, "Optimization steps.", fields.check_positive_int)
    batch_size: int = fields.option(512, "Monte Carlo samples per step.", fields.check_positive_int)
    learning_rate: float = fields.option(
        1e-2, "Adam's initial learning rate (cosine decay).", fields.check_positive_float)
    anneal_steps: int = fields.option(
        2_000, "beta goes from 0.01 to 1 over these steps (0: off).",
        fields.check_non_negative_int)
    chunk_size: int = fields.option(500, "Steps per XLA call.", fields.check_positive_int)
    seed: int = fields.option(0, "Random seed.", fields.check_non_negative_int)
    elbo_samples: int = fields.option(
        100_000, "Samples for the final ELBO estimate.", fields.check_positive_int)
    grid_points: int = fields.option(
        256, "Grid cells per axis for divergences and figure.", _check_grid_points)
    progress: bool = fields.option(True, "Show a progress bar.", fields.check_bool)

    def __post_init__(self):
        fields.validate(self)
