"""What a training run reports on held-out digits: test ELBO and NLL, and a figure."""

import math

import numpy as np

__all__ = ["evaluate_test", "save_figure"]

_EVAL_BATCH = 100


def evaluate_test(vae, x, iw_samples, chunk_size, seed):
    """Mean test ELBO and importance-sampled NLL, in nats, batch by batch with fixed seeds.

    `x` may be float or uint8 (`pipeline.compact_binary`): each batch is cast to float32.
    Batch i of 100 digits uses the stateless seeds [seed, 2i] (ELBO) and [seed, 2i + 1]
    (`vae.log_likelihood` with `iw_samples` draws in chunks of `chunk_size`).

    Returns:
      (test_elbo, test_nll): the mean ELBO (negative) and the mean −log p̂(x) (positive).
    """
    elbos, lls = [], []
    for i, start in enumerate(range(0, len(x), _EVAL_BATCH)):
        batch = np.asarray(x[start:start + _EVAL_BATCH], np.float32)
        elbos.append(vae.elbo(batch, seed=[seed, 2 * i]).numpy())
        lls.append(vae.log_likelihood(batch, num_samples=iw_samples, seed=[seed, 2 * i + 1],
                                      chunk_size=chunk_size).numpy())
    return float(np.mean(np.concatenate(elbos))), -float(np.mean(np.concatenate(lls)))


def save_figure(vae, x, path, seed, num=10):
    """A PNG: `num` test digits, their reconstructions, and 2 rows of model samples."""
    import matplotlib  # pylint: disable=g-import-not-at-top
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top

    x = np.asarray(x[:num], np.float32)
    num = len(x)
    rows = [("test digits", x), ("reconstructions", vae.reconstruct(x, seed=[seed, 1]).numpy())]
    samples = vae.sample(2 * num, seed=[seed, 2]).numpy()
    rows += [("samples", samples[:num]), ("", samples[num:])]
    side = int(round(math.sqrt(x.shape[-1])))
    fig, axes = plt.subplots(len(rows), num, figsize=(num, len(rows) + 0.5), squeeze=False)
    for r, (title, images) in enumerate(rows):
        for c in range(num):
            ax = axes[r][c]
            ax.imshow(images[c].reshape(side, side), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r][0].set_ylabel(title, fontsize=8)
    fig.suptitle("FlowVAE: test digits, reconstructions, samples", fontsize=10)
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)
