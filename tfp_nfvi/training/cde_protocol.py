"""The evaluation protocol of conditional density estimation on tabular data.

For repeat r of a run seeded `seed`, the rows are permuted by
`numpy.random.default_rng([seed, r])`; the first `round(test_fraction · N)` rows are the test
split, the rest the training split, whose last `round(validation_fraction · N_train)` rows are
held out for early stopping. x and y are standardized with the training split's statistics
(mean and standard deviation, ddof = 0, over the training rows *including* the validation
part), so x̃ = (x − m_x)/s_x and ỹ = (y − m_y)/s_y. A density of ỹ converts to one of y by the
Jacobian of the standardization:

    −log p(y | x) = −log p̃(ỹ | x̃) + Σ_j log s_{y,j},

i.e. NLL_orig = NLL_std + Σ_j log σ_j, per data point (`Standardizer.log_det`). A constant
column (s = 0) is left unscaled (s := 1). Standardized inputs are clipped to [−c, c]
(`x_clip`, default 10): a data error such as SkillCraft's `TotalHours` = 1,000,000 (58
standard deviations out) would otherwise send the conditioner far outside anything it was
trained on, and one such test row can dominate a mean test NLL by orders of magnitude. At
c = 10 no input of Fish, Concrete or Energy is touched; targets are never clipped.

Model choices are made on the validation part only: early stopping (the epoch with the best
validation NLL), and, where `run_cde` is given noise grids, the noise-regularization levels
(per split, the (x_noise, y_noise) candidate whose model has the best validation NLL). The
test split is evaluated once, on the model so chosen.
"""

import dataclasses
from typing import Optional

import numpy as np

from tfp_nfvi.internal import validation

__all__ = ["CDESplit", "Standardizer", "split_and_standardize"]


@dataclasses.dataclass(frozen=True, eq=False)  # Arrays have no single truth value.
class Standardizer:
    """`v ↦ (v − loc) / scale` per column; float64 `[D]` statistics."""

    loc: np.ndarray
    scale: np.ndarray
    clip: Optional[float] = None

    @classmethod
    def fit(cls, values, clip=None):
        values = np.asarray(values, np.float64)
        scale = values.std(axis=0)
        return cls(values.mean(axis=0), np.where(scale > 0, scale, 1.0), clip)

    def apply(self, values):
        """Standardized float32 values (clipped to [−clip, clip] if `clip` is set)."""
        standardized = (np.asarray(values, np.float64) - self.loc) / self.scale
        if self.clip is not None:
            standardized = np.clip(standardized, -self.clip, self.clip)
        return standardized.astype(np.float32)

    def invert(self, values):
        """Original-unit float64 values of standardized ones."""
        return np.asarray(values, np.float64) * self.scale + self.loc

    @property
    def log_det(self):
        """Σ_j log scale_j: add it to a standardized NLL to get the original-unit NLL."""
        return float(np.sum(np.log(self.scale)))


@dataclasses.dataclass(frozen=True, eq=False)
class CDESplit:
    """One repeat's standardized float32 splits, the standardizers and the test rows' indices."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_validation: np.ndarray
    y_validation: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_standardizer: Standardizer
    y_standardizer: Standardizer
    test_rows: np.ndarray


def split_and_standardize(x, y, seed, repeat, test_fraction=0.3, validation_fraction=0.2,
                          x_clip=10.0):
    """The train/validation/test split of `repeat` (see the module docstring).

    Args:
      x: float `[N, P]` inputs; y: float `[N, D]` targets.
      seed, repeat: non-negative ints; the permutation is `default_rng([seed, repeat])`'s.
      test_fraction, validation_fraction: shares in (0, 1).
      x_clip: bound on the standardized inputs' magnitude (None: no clipping).

    Raises:
      ValueError: mismatched or non-2-D arrays, or a split left with no rows.
    """
    x, y = np.asarray(x), np.asarray(y)
    for name, value in (("x", x), ("y", y)):
        if value.ndim != 2:
            raise ValueError(f"`{name}` must have shape [N, columns], got {value.shape}.")
    if len(x) != len(y):
        raise ValueError(f"`x` and `y` must have the same rows, got {len(x)} and {len(y)}.")
    seed = validation.check_positive_int(seed, "seed", allow_zero=True)
    repeat = validation.check_positive_int(repeat, "repeat", allow_zero=True)
    n = len(x)
    num_test = int(round(test_fraction * n))
    num_validation = int(round(validation_fraction * (n - num_test)))
    if min(num_test, num_validation, n - num_test - num_validation) < 1:
        raise ValueError(
            f"{n} rows are too few for a test share of {test_fraction} and a validation share "
            f"of {validation_fraction}: a split would be empty.")
    order = np.random.default_rng([seed, repeat]).permutation(n)
    test, train = order[:num_test], order[num_test:]
    fit, held_out = train[:-num_validation], train[-num_validation:]
    xs, ys = Standardizer.fit(x[train], clip=x_clip), Standardizer.fit(y[train])
    return CDESplit(
        x_train=xs.apply(x[fit]), y_train=ys.apply(y[fit]),
        x_validation=xs.apply(x[held_out]), y_validation=ys.apply(y[held_out]),
        x_test=xs.apply(x[test]), y_test=ys.apply(y[test]),
        x_standardizer=xs, y_standardizer=ys, test_rows=test)
