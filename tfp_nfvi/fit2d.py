r"""Fits a flow surrogate to one of the paper's 2D energies (Rezende & Mohamed 2015, Figure 3).

    python -m tfp_nfvi.fit2d --energy=U1 --flow=planar*32 --output_dir=DIR

minimizes the reverse KL, i.e. maximizes the ELBO (the paper's "variational bound")

    ELBO(q) = E_q[log p̃(z) − log q(z)] = log Z − KL(q ‖ p),

with `p̃ = tfp_nfvi.targets.target_log_prob_fn(energy)` and q the global flow surrogate
`tfp_nfvi.flows.build_flow_surrogate(2, flow)`. With the paper's annealing the loss at step t is

    L_t = E_q[log q(z) − β_t log p̃(z)],   β_t = min(1, 0.01 + t / anneal_steps),

estimated with `batch_size` reparameterized samples, and Adam (`keras.optimizers.Adam`, whose
state lives in variables) with a cosine-decayed learning rate. The whole loop of a chunk of
steps is one XLA program (`tf.function(jit_compile=True)` around a `tf.while_loop`, stateless
seeds); the Python loop over chunks only updates the progress bar.

It writes DIR/results.json:

  energy, flow, num_steps, batch_size, learning_rate, anneal_steps, seed;
  elbo, elbo_stderr: the ELBO from `elbo_samples` fresh samples and its standard error;
  log_z, log_z_error: log Z by quadrature on [−4, 4]² and its grid-refinement error;
  kl_gap, kl_gap_stderr: log Z − ELBO = KL(q ‖ p), exact up to the ELBO's Monte Carlo error
    (the window convention of `tfp_nfvi.targets.energies` makes all four targets normalizable;
    U1 is the paper's own);
  grid_kl, grid_total_variation, mass_outside_box: `tfp_nfvi.targets.grid_divergences` of q
    (its `log_prob` on the grid) from the normalized target;
  steps_per_second, compile_seconds, fit_seconds;

and DIR/density.png: the target density next to q's density on the same grid.
"""

import collections
import json
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# pylint: disable=g-import-not-at-top,g-bad-import-order
from absl import app
from absl import flags
import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_nfvi import targets

__all__ = [
    "FitResult",
    "annealing_beta",
    "estimate_elbo",
    "fit",
    "make_surrogate",
    "plot_densities",
    "run",
]

FitResult = collections.namedtuple(
    "FitResult", ["losses", "steps_per_second", "compile_seconds", "fit_seconds"]
)
FitResult.__doc__ = """What `fit` returns.

Fields:
  losses: NumPy array, the mean annealed loss L_t over each chunk of steps.
  steps_per_second: optimization steps per second, compilation excluded.
  compile_seconds: time to trace and XLA-compile the chunk program.
  fit_seconds: time spent running the steps.
"""


def annealing_beta(step, anneal_steps):
    """β_t = min(1, 0.01 + t / anneal_steps); β ≡ 1 when anneal_steps <= 0."""
    if isinstance(anneal_steps, (int, float)) and anneal_steps <= 0:
        return tf.ones_like(tf.cast(step, tf.float32))
    step = tf.cast(step, tf.float32)
    return tf.minimum(1.0, 0.01 + step / tf.cast(anneal_steps, tf.float32))


def _seed_tensor(seed):
    if isinstance(seed, int):
        return tf.constant([0, seed], dtype=tf.int32)
    return tf.cast(tf.convert_to_tensor(seed), tf.int32)


def _check_positive(value, name):
    if int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def fit(
    target_log_prob_fn,
    surrogate,
    num_steps,
    batch_size=512,
    learning_rate=1e-2,
    anneal_steps=0,
    chunk_size=500,
    seed=0,
    cosine_decay=True,
    progress=True,
    jit_compile=True,
):
    """Maximizes the (annealed) ELBO of `surrogate` for `target_log_prob_fn` in place.

    Args:
      target_log_prob_fn: log p̃(z) for z of shape [batch_size, event_size].
      surrogate: a `tfd.Distribution` with `trainable_variables` and
        `experimental_sample_and_log_prob` (e.g. `tfp_nfvi.flows.build_flow_surrogate`).
      num_steps: the number of Adam steps.
      batch_size: Monte Carlo samples per step.
      learning_rate: Adam's (initial) learning rate.
      anneal_steps: T in β_t = min(1, 0.01 + t / T); 0 turns annealing off.
      chunk_size: steps per XLA call (the progress bar updates between calls).
      seed: int or a stateless seed of shape [2].
      cosine_decay: decay the learning rate to 0 over `num_steps` with a cosine.
      progress: show a `keras.utils.Progbar`.
      jit_compile: compile each chunk with XLA (False: a plain `tf.function`).

    Returns:
      A `FitResult`.
    """
    num_steps = _check_positive(num_steps, "num_steps")
    batch_size = _check_positive(batch_size, "batch_size")
    chunk_size = _check_positive(chunk_size, "chunk_size")
    variables = list(surrogate.trainable_variables)
    if not variables:
        raise ValueError(f"surrogate {surrogate.name!r} has no trainable variables.")
    if cosine_decay:
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, num_steps)
    else:
        schedule = learning_rate
    optimizer = keras.optimizers.Adam(schedule)
    optimizer.build(variables)

    @tf.function(jit_compile=jit_compile, autograph=False)
    def run_chunk(start, count, seed):
        def body(i, seed, loss_sum):
            step_seed, seed = tfp.random.split_seed(seed)
            beta = annealing_beta(start + i, anneal_steps)
            with tf.GradientTape() as tape:
                z, log_q = surrogate.experimental_sample_and_log_prob(batch_size, seed=step_seed)
                log_p = tf.cast(target_log_prob_fn(z), log_q.dtype)
                loss = tf.reduce_mean(log_q - tf.cast(beta, log_q.dtype) * log_p)
            grads = tape.gradient(loss, variables)
            optimizer.apply_gradients(zip(grads, variables))
            return i + 1, seed, loss_sum + tf.cast(loss, tf.float32)

        _, seed, loss_sum = tf.while_loop(
            lambda i, *_: i < count, body, (tf.constant(0), seed, tf.constant(0.0))
        )
        return seed, loss_sum / tf.maximum(tf.cast(count, tf.float32), 1.0)

    seed = _seed_tensor(seed)
    begin = time.perf_counter()
    run_chunk(tf.constant(0), tf.constant(0), seed)  # Traces and compiles; runs no step.
    compile_seconds = time.perf_counter() - begin

    bar = keras.utils.Progbar(num_steps, stateful_metrics=["loss", "beta"]) if progress else None
    losses = []
    begin = time.perf_counter()
    for start in range(0, num_steps, chunk_size):
        count = min(chunk_size, num_steps - start)
        seed, loss = run_chunk(tf.constant(start), tf.constant(count), seed)
        losses.append(float(loss))
        if bar is not None:
            beta = float(annealing_beta(start + count, anneal_steps))
            bar.update(start + count, values=[("loss", losses[-1]), ("beta", beta)])
    fit_seconds = time.perf_counter() - begin
    return FitResult(np.array(losses), num_steps / fit_seconds, compile_seconds, fit_seconds)


def estimate_elbo(target_log_prob_fn, surrogate, num_samples=100_000, seed=1, batch_size=10_000):
    """ELBO = E_q[log p̃(z) − log q(z)] from `num_samples` draws, with its standard error.

    Args:
      target_log_prob_fn: log p̃(z).
      surrogate: the fitted q.
      num_samples: total number of samples (drawn in batches of `batch_size`).
      seed: int or stateless seed.
      batch_size: samples per XLA call.

    Returns:
      (elbo, stderr) as Python floats; stderr = std(log p̃ − log q) / sqrt(num_samples).
    """
    num_samples = _check_positive(num_samples, "num_samples")

    @tf.function(jit_compile=True, autograph=False)
    def log_weights(count_seed):
        z, log_q = surrogate.experimental_sample_and_log_prob(batch_size, seed=count_seed)
        return tf.cast(target_log_prob_fn(z), tf.float64) - tf.cast(log_q, tf.float64)

    seeds = tfp.random.split_seed(_seed_tensor(seed), n=-(-num_samples // batch_size))
    values = np.concatenate([log_weights(s).numpy() for s in tf.unstack(seeds)])[:num_samples]
    return float(np.mean(values)), float(np.std(values) / np.sqrt(num_samples))


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

    surrogate = flows.build_flow_surrogate(
        2, flow=flow, dtype=dtype, seed=seed, name="q", base_scale=base_scale)
    return surrogate


def _log_density_image(log_prob_fn, num_points, dtype):
    points, _, _ = targets.box_grid(num_points)
    flat = tf.constant(points.reshape(-1, 2), dtype=dtype)
    return tf.cast(log_prob_fn(flat), tf.float64).numpy().reshape(points.shape[:2])


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
            log_density = _log_density_image(log_prob_fn, num_points, dtype)
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


def run(
    energy,
    flow,
    output_dir=None,
    num_steps=10_000,
    batch_size=512,
    learning_rate=1e-2,
    anneal_steps=2_000,
    chunk_size=500,
    seed=0,
    elbo_samples=100_000,
    grid_points=256,
    progress=True,
    surrogate=None,
):
    """Fits `flow` to `energy`, measures it, and writes results.json and density.png.

    Args:
      energy: "U1" … "U4".
      flow: a flow spec for `tfp_nfvi.flows.build_flow_surrogate` (ignored if `surrogate`).
      output_dir: where to write; None writes nothing.
      num_steps, batch_size, learning_rate, anneal_steps, chunk_size, seed: see `fit`.
      elbo_samples: samples for the final ELBO estimate.
      grid_points: cells per axis for the grid divergences and the figure.
      progress: show a progress bar.
      surrogate: a ready surrogate to fit instead of building one from `flow`.

    Returns:
      (results dict, fitted surrogate).
    """
    target = targets.target_log_prob_fn(energy)
    if surrogate is None:
        surrogate = make_surrogate(flow, seed=seed)
    result = fit(
        target, surrogate, num_steps, batch_size=batch_size, learning_rate=learning_rate,
        anneal_steps=anneal_steps, chunk_size=chunk_size, seed=seed, progress=progress,
    )
    elbo, elbo_stderr = estimate_elbo(target, surrogate, num_samples=elbo_samples, seed=seed + 1)
    log_z = targets.log_normalizer(target)
    grid = targets.grid_divergences(
        target, surrogate.log_prob, num_points=grid_points, surrogate_dtype=surrogate.dtype
    )
    results = {
        "energy": energy,
        "flow": flow,
        "num_steps": num_steps,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "anneal_steps": anneal_steps,
        "seed": seed,
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
    if output_dir is not None:
        os.makedirs(output_dir, exist_ok=True)
        with open(os.path.join(output_dir, "results.json"), "w") as f:
            json.dump(results, f, indent=2)
        plot_densities(
            [[(f"{energy} target", target, tf.float64), (f"q: {flow}", surrogate.log_prob,
                                                          surrogate.dtype)]],
            path=os.path.join(output_dir, "density.png"),
            title=f"KL(q‖p) = {results['kl_gap']:.3f} nats, grid KL(p‖q) = {grid.kl:.3f}",
        )
    return results, surrogate


FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """Defines this command's absl flags in `flag_values` (idempotent).

    They are defined when the command runs, not on import, so that importing this module
    next to another command (e.g. `tfp_nfvi.train`, which also has `--flow`) cannot clash.
    """
    if "energy" in flag_values:
        return
    fv = {"flag_values": flag_values}
    flags.DEFINE_enum("energy", "U1", list(targets.ENERGY_NAMES), "Target energy.", **fv)
    flags.DEFINE_string("flow", "planar*32", "Flow spec for build_flow_surrogate.", **fv)
    flags.DEFINE_string("output_dir", None, "Where to write results.json and density.png.", **fv)
    flags.DEFINE_integer("num_steps", 10_000, "Optimization steps.", **fv)
    flags.DEFINE_integer("batch_size", 512, "Monte Carlo samples per step.", **fv)
    flags.DEFINE_float("learning_rate", 1e-2, "Adam's initial learning rate (cosine decay).", **fv)
    flags.DEFINE_integer("anneal_steps", 2_000, "β goes from 0.01 to 1 over these steps (0: off).",
                         **fv)
    flags.DEFINE_integer("chunk_size", 500, "Steps per XLA call.", **fv)
    flags.DEFINE_integer("seed", 0, "Random seed.", **fv)
    flags.DEFINE_integer("elbo_samples", 100_000, "Samples for the final ELBO estimate.", **fv)
    flags.DEFINE_integer("grid_points", 256, "Grid cells per axis for divergences and figure.", **fv)


def main(argv):
    del argv
    results, _ = run(
        FLAGS.energy, FLAGS.flow, FLAGS.output_dir, num_steps=FLAGS.num_steps,
        batch_size=FLAGS.batch_size, learning_rate=FLAGS.learning_rate,
        anneal_steps=FLAGS.anneal_steps, chunk_size=FLAGS.chunk_size, seed=FLAGS.seed,
        elbo_samples=FLAGS.elbo_samples, grid_points=FLAGS.grid_points,
    )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    define_flags()
    flags.mark_flag_as_required("output_dir")
    app.run(main)
