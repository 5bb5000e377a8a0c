r"""Fits a surrogate q to an unnormalized target by maximizing the (annealed) ELBO.

Reverse KL, i.e. the ELBO (the "variational bound" of Rezende & Mohamed 2015):

    ELBO(q) = E_q[log p̃(z) − log q(z)] = log Z − KL(q ‖ p).

With the paper's annealing the loss at step t is

    L_t = E_q[log q(z) − β_t log p̃(z)],   β_t = min(1, 0.01 + t / anneal_steps),

estimated with `batch_size` reparameterized samples, and Adam (`keras.optimizers.Adam`, whose
state lives in variables) with a cosine-decayed learning rate. The whole loop of a chunk of
steps is one XLA program (`tf.function(jit_compile=True)` around a `tf.while_loop`, stateless
seeds); the Python loop over chunks only updates the progress bar.
"""

import collections
import time

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_nfvi.internal import schedules
from tfp_nfvi.internal import seeds
from tfp_nfvi.internal import validation

__all__ = ["FitResult", "estimate_elbo", "fit"]

_BETA_0 = 0.01  # β at step 0 (Rezende & Mohamed 2015).

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
      seed: int or a stateless seed of shape [2] (`tfp_nfvi.internal.seeds` convention).
      cosine_decay: decay the learning rate to 0 over `num_steps` with a cosine.
      progress: show a `keras.utils.Progbar`.
      jit_compile: compile each chunk with XLA (False: a plain `tf.function`).

    Returns:
      A `FitResult`.
    """
    num_steps = validation.check_positive_int(num_steps, "num_steps")
    batch_size = validation.check_positive_int(batch_size, "batch_size")
    chunk_size = validation.check_positive_int(chunk_size, "chunk_size")
    anneal_steps = validation.check_positive_int(anneal_steps, "anneal_steps", allow_zero=True)
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
            beta = schedules.linear_warmup(start + i, anneal_steps, _BETA_0)
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

    seed = seeds.stateless_seed(seed)
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
            beta = schedules.linear_warmup(start + count, anneal_steps, _BETA_0)
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
    num_samples = validation.check_positive_int(num_samples, "num_samples")
    batch_size = validation.check_positive_int(batch_size, "batch_size")

    @tf.function(jit_compile=True, autograph=False)
    def log_weights(count_seed):
        z, log_q = surrogate.experimental_sample_and_log_prob(batch_size, seed=count_seed)
        return tf.cast(target_log_prob_fn(z), tf.float64) - tf.cast(log_q, tf.float64)

    batch_seeds = tfp.random.split_seed(
        seeds.stateless_seed(seed), n=-(-num_samples // batch_size))
    values = np.concatenate(
        [log_weights(s).numpy() for s in tf.unstack(batch_seeds)])[:num_samples]
    return float(np.mean(values)), float(np.std(values) / np.sqrt(num_samples))
