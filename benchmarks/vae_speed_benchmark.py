r"""Training speed of `FlowVAE` on workload W1, with and without XLA, through `model.fit`.

W1: encoder 784→512→256 (ReLU), latent 40, 16 amortized planar flows (parameters from linear
heads on the 256-unit layer), decoder 40→256→512→784 (ReLU), Bernoulli likelihood, batch 128,
Adam 1e-3, one posterior sample. About 1.1 GFLOP per step, almost all of it matrix products.

For each configuration (XLA on/off × steps_per_execution) the benchmark builds the model,
runs `fit` once to compile, then times `--epochs` further epochs of `--steps` steps on an
in-memory dataset (random binary images; speed does not depend on the values) and reports:

* steps/s (wall clock) through `model.fit`, compilation excluded;
* steps per CPU-second (process CPU time): less sensitive to other jobs sharing the cores;
* the compiled train function called directly in a Python loop (no `fit`, no data pipeline),
  which separates the model's cost from `fit`'s overhead;
* compile time, and counts of TensorFlow ops in the traced step and (with XLA) of the fused
  kernels XLA emits, the per-flow-step figure that dominates the cost of deep flows;
* peak resident memory of the process (`resource.getrusage`, monotone over the run).

    python benchmarks/vae_speed_benchmark.py --output=/tmp/vae_speed.json
    python benchmarks/vae_speed_benchmark.py --flow=diag --steps=50     # the flow's share

Each configuration is timed for `--flow` and then for `--deep_flow` (default planar*80, the
deepest flow of Rezende & Mohamed, 2015), and the table ends with the deep flow's steps/s as a
fraction of the shallow one's (the cost of depth). `--deep_flow=` skips it.

The figures depend on the machine and on other jobs running on it; compare rows of one run.
"""

import json
import os
import resource
import time

from absl import app
from absl import flags

import tfp_nfvi  # pylint: disable=unused-import
import keras  # pylint: disable=g-bad-import-order
import numpy as np
import tensorflow as tf

from tfp_nfvi import models

FLAGS = flags.FLAGS
flags.DEFINE_string("flow", "planar*16", "Posterior flow spec.")
flags.DEFINE_string("deep_flow", "planar*80", "A deeper flow timed after --flow ('': none).")
flags.DEFINE_integer("batch_size", 128, "Batch size.")
flags.DEFINE_integer("steps", 200, "Steps per timed epoch.")
flags.DEFINE_integer("epochs", 2, "Timed epochs (the best is reported).")
flags.DEFINE_list("steps_per_execution", ["1", "16"], "Values of steps_per_execution to time.")
flags.DEFINE_list("jit_compile", ["true", "false"], "XLA settings to time.")
flags.DEFINE_integer("threads", 0, "If > 0, intra- and inter-op thread pool sizes.")
flags.DEFINE_string("output", "vae_speed_benchmark.json", "Where to write the JSON results.")


def _peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _w1_model(flow, jit, steps_per_execution):
    vae = models.FlowVAE(latent_dim=40, flow=flow, encoder_units=(512, 256),
                         decoder_units=(256, 512), warmup_steps=10000, seed=0)
    vae.build((None, 784))
    vae.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit,
                steps_per_execution=steps_per_execution)
    vae.optimizer.build(vae.trainable_variables)
    return vae


def _count_xla_kernels(fn, x):
    """Number of fused kernels (and dots) in the optimized HLO of `fn(x)`, or None."""
    try:
        hlo = fn.experimental_get_compiler_ir(x)(stage="optimized_hlo")
    except Exception:  # pylint: disable=broad-except
        return None
    entry = hlo[hlo.index("\nENTRY"):]
    entry = entry[:entry.index("\n}")]
    return sum(1 for line in entry.splitlines() if " fusion(" in line or " dot(" in line)


def time_config(flow, jit, steps_per_execution, batch_size, steps, epochs):
    """Times one configuration; returns a dict of figures."""
    x = (np.random.default_rng(0).random((batch_size * steps, 784)) < 0.3).astype(np.float32)
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(batch_size, drop_remainder=True)
    dataset = dataset.cache().repeat().prefetch(tf.data.AUTOTUNE)
    vae = _w1_model(flow, jit, steps_per_execution)
    start = time.perf_counter()
    vae.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)  # Compiles.
    first_epoch = time.perf_counter() - start
    wall, cpu = [], []
    for _ in range(epochs):
        w0, c0 = time.perf_counter(), time.process_time()
        vae.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    fit_rate = steps / min(wall)
    fit_cpu_rate = steps / min(cpu)

    # The compiled step alone: one batch, a Python loop, no fit machinery or input pipeline.
    step = tf.function(vae.train_step, jit_compile=jit)
    batch = tf.constant(x[:batch_size])
    c0 = time.perf_counter()
    trace = step.get_concrete_function(batch)
    step(batch)["loss"].numpy()
    compile_seconds = time.perf_counter() - c0
    best = 0.0
    for _ in range(epochs):
        w0 = time.perf_counter()
        for _ in range(steps):
            out = step(batch)
        out["loss"].numpy()
        best = max(best, steps / (time.perf_counter() - w0))
    return dict(
        flow=flow, jit_compile=jit, steps_per_execution=steps_per_execution,
        fit_steps_per_second=fit_rate, fit_steps_per_cpu_second=fit_cpu_rate,
        direct_steps_per_second=best, first_epoch_seconds=first_epoch,
        step_compile_seconds=compile_seconds,
        tf_ops_per_step=len(trace.graph.get_operations()),
        xla_kernels_per_step=_count_xla_kernels(step, batch) if jit else None,
        peak_rss_mib=_peak_rss_mib(),
    )


def main(argv):
    del argv
    if FLAGS.threads > 0:
        tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
        tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
    rows = []
    flow_specs = [FLAGS.flow] + ([FLAGS.deep_flow] if FLAGS.deep_flow else [])
    for jit in [j.lower() in ("1", "true", "yes") for j in FLAGS.jit_compile]:
        for spe in [int(s) for s in FLAGS.steps_per_execution]:
            for flow in flow_specs:
                rows.append(time_config(flow, jit, spe, FLAGS.batch_size, FLAGS.steps,
                                        FLAGS.epochs))
                print(json.dumps(rows[-1]), flush=True)
    by_key = {(r["flow"], r["jit_compile"], r["steps_per_execution"]): r for r in rows}
    ratios = {}
    for spe in sorted({r["steps_per_execution"] for r in rows}):
        for flow in flow_specs:
            if (flow, True, spe) in by_key and (flow, False, spe) in by_key:
                ratios[f"{flow}: xla_over_no_xla_fit_spe{spe}"] = (
                    by_key[(flow, True, spe)]["fit_steps_per_second"]
                    / by_key[(flow, False, spe)]["fit_steps_per_second"])
        for jit in (True, False):
            if FLAGS.deep_flow and (FLAGS.deep_flow, jit, spe) in by_key:
                ratios[f"{FLAGS.deep_flow}_over_{FLAGS.flow}_fit_xla{jit}_spe{spe}"] = (
                    by_key[(FLAGS.deep_flow, jit, spe)]["fit_steps_per_second"]
                    / by_key[(FLAGS.flow, jit, spe)]["fit_steps_per_second"])
    result = dict(workload="W1", flow=FLAGS.flow, deep_flow=FLAGS.deep_flow,
                  batch_size=FLAGS.batch_size,
                  cpu_count=os.cpu_count(), load_average=os.getloadavg(), rows=rows,
                  ratios=ratios, peak_rss_mib=_peak_rss_mib())
    with open(FLAGS.output, "w") as f:
        json.dump(result, f, indent=2)
    header = (f"{'flow':>10} {'xla':>5} {'spe':>4} {'fit st/s':>9} {'fit st/cpu-s':>12} "
              f"{'direct st/s':>11} "
              f"{'compile s':>9} {'tf ops':>7} {'xla kernels':>11} {'peak MiB':>9}")
    print(f"\nW1 (batch {FLAGS.batch_size}), load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(header)
    for r in rows:
        print(f"{r['flow']:>10} {str(r['jit_compile']):>5} {r['steps_per_execution']:>4} "
              f"{r['fit_steps_per_second']:>9.1f} {r['fit_steps_per_cpu_second']:>12.1f} "
              f"{r['direct_steps_per_second']:>11.1f} {r['step_compile_seconds']:>9.1f} "
              f"{r['tf_ops_per_step']:>7} {str(r['xla_kernels_per_step']):>11} "
              f"{r['peak_rss_mib']:>9.0f}")
    for key, value in ratios.items():
        print(f"{key}: {value:.2f}")


if __name__ == "__main__":
    app.run(main)
