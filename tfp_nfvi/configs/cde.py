"""`CDEConfig`: every setting of a conditional density estimation run (`python -m tfp_nfvi.cde`).

One frozen dataclass is the single source of each default, help line and check: the command's
flags are generated from it, and `tfp_nfvi.training.run_cde(config)` runs it:

    from tfp_nfvi import configs, training
    results = training.run_cde(configs.CDEConfig(dataset="concrete", flow="radial*8",
                                                 data_dir="path/to/uci", repeats=2))
"""

import dataclasses
from typing import Optional

from tfp_nfvi.configs import fields

__all__ = ["CDEConfig", "DIRECTIONS", "UCI_DATASETS"]

# `tfp_nfvi.data.UCI_DATASETS` and `tfp_nfvi.models.conditional_flow.DIRECTIONS`, restated
# because this module imports no TensorFlow (tests check they agree).
UCI_DATASETS = ("fish", "concrete", "energy", "skillcraft")
DIRECTIONS = ("generative", "normalizing")


def check_units(value, name):
    """A comma-separated list of positive layer widths, e.g. "64,64" (returned unchanged)."""
    parts = value.split(",") if isinstance(value, str) else None
    if not parts or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise ValueError(
            f"`{name}` must be comma-separated positive integers such as '64,64', got "
            f"{value!r}.")
    return value


def parse_units(value):
    """`"64,64"` -> `(64, 64)`."""
    return tuple(int(p) for p in check_units(value, "units").split(","))


def check_noise_grid(value, name):
    """Comma-separated non-negative noise levels, e.g. "0.1,0.05,0.02" (returned unchanged)."""
    parts = value.split(",") if isinstance(value, str) else None
    try:
        levels = [float(p) for p in parts] if parts else None
    except ValueError:
        levels = None
    if not levels or not all(level >= 0 for level in levels) or len(set(levels)) < len(levels):
        raise ValueError(
            f"`{name}` must be distinct comma-separated non-negative numbers such as "
            f"'0.1,0.05,0.02', got {value!r}.")
    return value


def parse_noise_grid(value):
    """`"0.1,0.05"` -> `(0.1, 0.05)`."""
    return tuple(float(p) for p in check_noise_grid(value, "noise grid").split(","))


def _check_fraction(value, name):
    value = fields.check_positive_float(value, name)
    if not value < 1:
        raise ValueError(f"`{name}` must be in (0, 1), got {value!r}.")
    return value


@dataclasses.dataclass(frozen=True)
class CDEConfig:
    """Settings of repeated train/test runs of a `ConditionalFlow`; see `training.run_cde`."""

    dataset: str = fields.option(
        "concrete", "fish, concrete, energy, skillcraft, or the path of a CSV file with a "
        "header row (then --targets names the y columns).", fields.check_nonempty_str)
    targets: Optional[str] = fields.option(
        None, "For a CSV --dataset: comma-separated names of the target columns y.",
        fields.check_nonempty_str)
    data_dir: Optional[str] = fields.option(
        None, "Directory holding fish.csv, concrete.csv, energy.csv, skillcraft.csv (default: "
        "keras's cache, or a download where UCI publishes a text file).",
        fields.check_nonempty_str)
    flow: str = fields.option(
        "radial*8", "Flow spec over y, e.g. radial*8, planar*8, maf*4, nsf_coupling*4 (D >= 2), "
        "diag (the conditional Gaussian).", fields.check_nonempty_str)
    direction: str = fields.option(
        "generative", "generative: the steps map the base to y (log_prob runs their inverses); "
        "normalizing: they map y to the base (log_prob runs forward passes).",
        choices=DIRECTIONS)
    output_dir: Optional[str] = fields.option(
        None, "Where results.json, density.png, checkpoints/ and saved_model/ go (None: "
        "nowhere).", fields.check_nonempty_str)
    repeats: int = fields.option(
        5, "Random train/test splits (results are mean +- std over them).",
        fields.check_positive_int)
    epochs: int = fields.option(
        1000, "Maximum training epochs per split (early stopping usually ends sooner).",
        fields.check_positive_int)
    patience: int = fields.option(
        50, "Early stopping: epochs without a better validation NLL (0: never stop early).",
        fields.check_non_negative_int)
    batch_size: int = fields.option(64, "Training batch size.", fields.check_positive_int)
    learning_rate: float = fields.option(
        1e-3, "Adam learning rate.", fields.check_positive_float)
    test_fraction: float = fields.option(
        0.3, "Share of the rows held out for testing.", _check_fraction)
    validation_fraction: float = fields.option(
        0.2, "Share of the training split used for early stopping.", _check_fraction)
    x_clip: float = fields.option(
        10.0, "Standardized x is clipped to [-x_clip, x_clip] (guards against data errors "
        "such as SkillCraft's TotalHours = 1,000,000).", fields.check_positive_float)
    conditioner_units: str = fields.option(
        "64,64", "Widths of the conditioner MLP on x (its last width is the context size).",
        check_units)
    hidden_units: str = fields.option(
        "64,64", "Widths of the networks of maf/iaf/realnvp/nsf steps.", check_units)
    x_noise: float = fields.option(
        0.2, "Noise regularization: std of Gaussian noise added to standardized x in "
        "training (0: off).", fields.check_non_negative_float)
    y_noise: float = fields.option(
        0.1, "Noise regularization: std of Gaussian noise added to standardized y in "
        "training (0: off).", fields.check_non_negative_float)
    x_noise_grid: Optional[str] = fields.option(
        None, "Noise levels for x to choose from, e.g. 0.2,0.1: each split trains one model "
        "per (x_noise, y_noise) of the grids and keeps the one with the best validation NLL "
        "(overrides --x_noise; None: --x_noise only).", check_noise_grid)
    y_noise_grid: Optional[str] = fields.option(
        None, "Noise levels for y to choose from per split by validation NLL, e.g. "
        "0.1,0.05,0.02 (overrides --y_noise; None: --y_noise only).", check_noise_grid)
    seed: int = fields.option(
        0, "Seed of the splits (repeat r uses [seed, r]) and of the initializations.",
        fields.check_non_negative_int)
    jit_compile: bool = fields.option(
        True, "Compile training and evaluation with XLA.", fields.check_bool)
    export: bool = fields.option(
        True, "Write the first split's model as a SavedModel (with --output_dir).",
        fields.check_bool)
    verbose: int = fields.option(
        1, "0: quiet; 1: a progress bar over epochs per split.", choices=(0, 1))

    def __post_init__(self):
        fields.validate(self)

    @property
    def noise_candidates(self):
        """The (x_noise, y_noise) pairs a split chooses from: the grids' product, x-major."""
        xs = parse_noise_grid(self.x_noise_grid) if self.x_noise_grid else (self.x_noise,)
        ys = parse_noise_grid(self.y_noise_grid) if self.y_noise_grid else (self.y_noise,)
        return tuple((x, y) for x in xs for y in ys)
