"""The figure of a conditional density run: p(y | x) for a few test inputs, in original units.

* 1-D y: the curves p(y | x) over a grid of y for `num` test rows (their observed y marked).
* 2-D y: contours of p(y | x) on a grid for `num` test rows (observed y marked).
* D > 2: the first two coordinates of 500 draws y ~ p(y | x) for `num` test rows.

Densities of standardized ỹ convert as p(y | x) = p̃(ỹ | x̃) / Π_j s_j (`Standardizer`).
"""

import numpy as np

__all__ = ["save_density_figure"]


def _test_rows(split, num):
    """`num` test rows spread over the range of the first target (its quantiles)."""
    order = np.argsort(split.y_test[:, 0], kind="stable")
    return order[np.linspace(0, len(order) - 1, num).round().astype(int)]


def save_density_figure(model, split, y_names, path, num=4, grid_points=300, seed=0):
    """Writes the PNG described in the module docstring; returns `path`."""
    import matplotlib  # pylint: disable=g-import-not-at-top
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top

    ys = split.y_standardizer
    rows = _test_rows(split, num)
    d = split.y_test.shape[-1]
    fig, axes = plt.subplots(1, num, figsize=(3.2 * num, 3.0), squeeze=False)
    lo = split.y_test.min(axis=0) - 1.0
    hi = split.y_test.max(axis=0) + 1.0
    for ax, row in zip(axes[0], rows):
        x = split.x_test[row:row + 1]
        observed = ys.invert(split.y_test[row:row + 1])[0]
        if d == 1:
            grid = np.linspace(lo[0], hi[0], grid_points, dtype=np.float32)[:, None]
            log_p = model.log_prob(np.repeat(x, grid_points, 0), grid).numpy() - ys.log_det
            ax.plot(ys.invert(grid)[:, 0], np.exp(log_p))
            ax.axvline(observed[0], color="k", ls="--", lw=1)
            ax.set_xlabel(y_names[0])
        elif d == 2:
            side = grid_points // 3
            g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], side), np.linspace(lo[1], hi[1], side))
            grid = np.stack([g0.ravel(), g1.ravel()], -1).astype(np.float32)
            log_p = model.log_prob(np.repeat(x, len(grid), 0), grid).numpy() - ys.log_det
            orig = ys.invert(grid)
            ax.contourf(orig[:, 0].reshape(side, side), orig[:, 1].reshape(side, side),
                        np.exp(log_p).reshape(side, side), levels=12, cmap="viridis")
            ax.plot(*observed, "r+", ms=10)
            ax.set_xlabel(y_names[0])
            ax.set_ylabel(y_names[1])
        else:
            draws = ys.invert(model.sample(x, 500, seed=[seed, int(row)]).numpy()[:, 0])
            ax.scatter(draws[:, 0], draws[:, 1], s=2, alpha=0.4)
            ax.plot(observed[0], observed[1], "r+", ms=10)
            ax.set_xlabel(y_names[0])
            ax.set_ylabel(y_names[1])
        ax.set_title(f"test row {int(split.test_rows[row])}", fontsize=9)
    fig.suptitle("p(y | x) for test inputs (observed y marked)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
