"""Tests for tfp_nfvi.training.cde_protocol: seeded splits and training-split standardization."""

import numpy as np
import pytest

from tfp_nfvi.training import cde_protocol


def _table(n=100, p=3, d=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(5.0, 3.0, (n, p))
    y = np.column_stack([x[:, 0] * 2 + rng.normal(size=n), rng.normal(-4.0, 7.0, n)])[:, :d]
    return x, y


def test_split_sizes_are_disjoint_and_cover_the_rows():
    x, y = _table()
    split = cde_protocol.split_and_standardize(x, y, seed=0, repeat=0)
    assert (len(split.x_test), len(split.x_validation), len(split.x_train)) == (30, 14, 56)
    # Recover the original rows: every row appears exactly once across the three parts.
    parts = [split.x_standardizer.invert(a) for a in
             (split.x_train, split.x_validation, split.x_test)]
    rows = np.concatenate(parts)
    np.testing.assert_allclose(np.sort(rows[:, 0]), np.sort(x[:, 0]), rtol=1e-6)
    np.testing.assert_allclose(parts[2], x[split.test_rows], rtol=1e-6)


def test_statistics_are_the_training_splits():
    x, y = _table()
    split = cde_protocol.split_and_standardize(x, y, seed=3, repeat=1)
    train_y = np.concatenate([split.y_train, split.y_validation]).astype(np.float64)
    np.testing.assert_allclose(train_y.mean(0), 0.0, atol=1e-6)
    np.testing.assert_allclose(train_y.std(0), 1.0, atol=1e-6)
    assert abs(split.y_test.mean()) > 1e-3  # The test split is not used for the statistics.
    train_rows = np.setdiff1d(np.arange(100), split.test_rows)
    np.testing.assert_allclose(split.y_standardizer.scale, y[train_rows].std(0))
    assert split.y_standardizer.log_det == pytest.approx(np.log(y[train_rows].std(0)).sum())


def test_nll_converts_between_units_by_the_log_scale():
    # A Gaussian density of y and the density of the standardized ỹ differ by Σ log σ.
    from scipy import stats  # pylint: disable=g-import-not-at-top
    x, y = _table(d=1)
    split = cde_protocol.split_and_standardize(x, y, seed=0, repeat=0)
    s = split.y_standardizer
    y_orig = s.invert(split.y_test)[:, 0]
    nll_orig = -stats.norm(s.loc[0], s.scale[0]).logpdf(y_orig).mean()
    nll_std = -stats.norm(0, 1).logpdf(split.y_test[:, 0].astype(np.float64)).mean()
    assert nll_orig == pytest.approx(nll_std + s.log_det, abs=1e-5)


def test_splits_depend_on_seed_and_repeat_only():
    x, y = _table()
    a = cde_protocol.split_and_standardize(x, y, seed=0, repeat=2)
    b = cde_protocol.split_and_standardize(x, y, seed=0, repeat=2)
    c = cde_protocol.split_and_standardize(x, y, seed=0, repeat=3)
    np.testing.assert_array_equal(a.test_rows, b.test_rows)
    assert not np.array_equal(a.test_rows, c.test_rows)


def test_inputs_are_clipped_targets_are_not():
    x, y = _table()
    x[7, 0], y[7, 1] = 1e6, 1e6
    split = cde_protocol.split_and_standardize(x, y, seed=0, repeat=0, x_clip=4.0)
    parts = np.concatenate([split.x_train, split.x_validation, split.x_test])
    assert parts.max() == pytest.approx(4.0)
    assert np.concatenate([split.y_train, split.y_validation, split.y_test]).max() > 6.0  # One outlier among n rows: z ≈ sqrt(n).
    unclipped = cde_protocol.split_and_standardize(x, y, seed=0, repeat=0, x_clip=None)
    assert np.concatenate([unclipped.x_train, unclipped.x_validation, unclipped.x_test]).max() > 6.0


def test_constant_column_is_left_unscaled_and_bad_input_is_refused():
    x, y = _table()
    x[:, 1] = 7.0
    split = cde_protocol.split_and_standardize(x, y, seed=0, repeat=0)
    assert split.x_standardizer.scale[1] == 1.0 and np.all(split.x_train[:, 1] == 0)
    with pytest.raises(ValueError, match="`y` must have shape"):
        cde_protocol.split_and_standardize(x, y[:, 0], 0, 0)
    with pytest.raises(ValueError, match="same rows, got 100 and 99"):
        cde_protocol.split_and_standardize(x, y[:99], 0, 0)
    with pytest.raises(ValueError, match="too few"):
        cde_protocol.split_and_standardize(x[:2], y[:2], 0, 0)
