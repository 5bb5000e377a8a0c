r"""Which settings speed up the W1 training step: XLA, bfloat16, oneDNN and XLA CPU flags.

Each variant is a set of environment variables (read by TensorFlow at start-up, so every
variant runs in its own process) plus `jit_compile` and `FlowVAE(precision=...)`. A child
process builds the W1 model (`vae_speed_benchmark`'s: encoder 784→512→256, latent 40, the
`--flow` posterior, decoder 40→256→512→784, batch 128), compiles its training step once and
times `--steps` calls of it in a Python loop (no `fit`, no input pipeline), with the loss after
them. The variants run in turn, repeat after repeat (A B C … A B C …), and the table gives
each variant's median steps/s and its ratio to the first variant (the median of the
per-repeat ratios, so a ratio compares runs taken minutes apart, not hours).

    python benchmarks/vae_step_levers_benchmark.py --output=/tmp/levers.json
    python benchmarks/vae_step_levers_benchmark.py --variants=xla,xla_onednn --repeats=5

`--variants` picks from `VARIANTS` below. Variants that change the arithmetic (bfloat16,
fast math) say so in the table through their final loss; the others must agree with the
baseline to float tolerance. Absolute figures depend on machine load: compare ratios.
"""

import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# pylint: disable=g-import-not-at-top
from absl import app
from absl import flags

# name: (environment variables, jit_compile (or "split", below), precision).
VARIANTS = {
    "xla": ({}, True, "float32"),
    "no_xla": ({}, False, "float32"),
    "no_xla_bf16": ({}, False, "mixed_bfloat16"),
    "xla_bf16": ({}, True, "mixed_bfloat16"),
    "no_xla_no_onednn": ({"TF_ENABLE_ONEDNN_OPTS": "0"}, False, "float32"),
    "xla_onednn": ({"XLA_FLAGS": "--xla_cpu_use_onednn=true"}, True, "float32"),
    # XLA's experimental oneDNN path for dot products (the flag above alone does nothing). In
    # TensorFlow 2.21 on an AMD EPYC (Zen 4) the W1 step crashed compiling under it
    # (benchmarks/results/speed_levers.md); kept to recheck on later releases.
    "xla_onednn_dot": ({"XLA_FLAGS": "--xla_cpu_use_onednn=true "
                                     "--xla_cpu_experimental_onednn_fusion_type=dot"},
                       True, "float32"),
    # XLA's XNNPACK and YNNPACK libraries for dot products (and XNNPACK for element-wise
    # fusions), and 512-bit vectors in XLA's own loops (its default prefers 256 bits).
    "xla_xnn_dot": ({"XLA_FLAGS": "--xla_cpu_experimental_xnn_fusion_type=dot"}, True,
                    "float32"),
    "xla_xnn_dot_eltwise": ({"XLA_FLAGS": "--xla_cpu_experimental_xnn_fusion_type=dot,eltwise"},
                            True, "float32"),
    "xla_ynn_dot": ({"XLA_FLAGS": "--xla_cpu_experimental_ynn_fusion_type=dot"}, True,
                    "float32"),
    "xla_vector_512": ({"XLA_FLAGS": "--xla_cpu_prefer_vector_width=512"}, True, "float32"),
    "xla_single_thread_eigen": ({"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false"}, True,
                                "float32"),
    "xla_fast_math": ({"XLA_FLAGS": "--xla_cpu_enable_fast_math=true"}, True, "float32"),
    # The step on TensorFlow's kernels (the encoder's and decoder's matrix products through
    # oneDNN) with the posterior draw (heads, noise, flow, log q − log p), the likelihood and
    # the optimizer update as XLA functions: the split the importance-sampled estimator uses.
    "split": ({}, "split", "float32"),
}

FLAGS = flags.FLAGS
flags.DEFINE_list("variants", list(VARIANTS), "Variants to time; the first is the baseline.")
flags.DEFINE_string("flow", "planar*16", "Posterior flow spec.")
flags.DEFINE_integer("steps", 100, "Timed training steps per run.")
flags.DEFINE_integer("repeats", 3, "Runs of each variant (interleaved).")
flags.DEFINE_string("output", "vae_step_levers_benchmark.json", "Where to write the JSON.")
flags.DEFINE_string("child", None, "Internal: time this variant in this process.")


def _child(name):
    """Times one variant in this process; prints one JSON line."""
    import keras
    import numpy as np
    import tensorflow as tf
    from tfp_nfvi import models

    _, jit, precision = VARIANTS[name]
    vae = models.FlowVAE(latent_dim=40, flow=FLAGS.flow, encoder_units=(512, 256),
                         decoder_units=(256, 512), warmup_steps=10000, seed=0,
                         precision=precision)
    vae.build((None, 784))
    vae.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit is True)
    vae.optimizer.build(vae.trainable_variables)
    x = (np.random.default_rng(0).random((128, 784)) < 0.3).astype(np.float32)
    batch = tf.constant(x)
    step = _split_train_step(vae) if jit == "split" else tf.function(vae.train_step,
                                                                      jit_compile=jit)
    begin = time.perf_counter()
    step(batch)["loss"].numpy()
    compile_seconds = time.perf_counter() - begin
    begin, cpu = time.perf_counter(), time.process_time()
    for _ in range(FLAGS.steps):
        out = step(batch)
    loss = float(out["loss"].numpy())
    wall, cpu = time.perf_counter() - begin, time.process_time() - cpu
    print(json.dumps(dict(variant=name, steps_per_second=FLAGS.steps / wall,
                          steps_per_cpu_second=FLAGS.steps / cpu,
                          compile_seconds=compile_seconds, final_loss=loss)))


def _split_train_step(vae):
    """`vae.train_step` with XLA around the element-wise parts only (the "split" variant)."""
    import tensorflow as tf
    from tfp_nfvi.models import likelihoods

    # pylint: disable=protected-access
    # The model's own draw: z ~ q(z | x) and log q − log p(z), one sample per example.
    draw = tf.function(lambda h, seed: vae._posterior_draws(h, 1, seed), jit_compile=True)

    @tf.function(jit_compile=True)
    def log_likelihood(logits, x):
        return likelihoods.likelihood_log_prob(vae.likelihood_name, logits, x)

    @tf.function(jit_compile=True)
    def apply(grads):
        vae.optimizer.apply(grads, vae.trainable_variables)

    @tf.function
    def train_step(x):
        seed = vae._seed(None, vae.seed_generator)
        with tf.GradientTape() as tape:
            z, log_ratio = draw(vae._features(x, training=True), seed)
            reconstruction = tf.reduce_mean(
                log_likelihood(vae.decode_logits(z, training=True), x))
            kl = tf.reduce_mean(log_ratio)
            loss = vae.kl_weight() * kl - reconstruction
        apply(tape.gradient(loss, vae.trainable_variables))
        return vae._update_metrics(loss, reconstruction, kl)

    return train_step


def _run(name):
    env = dict(os.environ, **VARIANTS[name][0])
    proc = subprocess.run(
        [sys.executable, __file__, f"--child={name}", f"--flow={FLAGS.flow}",
         f"--steps={FLAGS.steps}"], env=env, capture_output=True, text=True, check=False)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if proc.returncode or not lines:
        return dict(variant=name, error=proc.stderr.strip().splitlines()[-3:])
    return json.loads(lines[-1])


def main(argv):
    del argv
    if FLAGS.child:
        _child(FLAGS.child)
        return
    unknown = [v for v in FLAGS.variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"Unknown --variants {unknown}; expected names from {list(VARIANTS)}.")
    runs = {name: [] for name in FLAGS.variants}
    for repeat in range(FLAGS.repeats):
        for name in FLAGS.variants:
            runs[name].append(_run(name))
            print(f"repeat {repeat}: {json.dumps(runs[name][-1])}", flush=True)
    base = FLAGS.variants[0]
    rows = []
    for name in FLAGS.variants:
        ok = [r for r in runs[name] if "error" not in r]
        row = dict(variant=name, env=VARIANTS[name][0], jit_compile=VARIANTS[name][1],
                   precision=VARIANTS[name][2], runs=runs[name])
        if ok:
            rates = [r["steps_per_second"] for r in ok]
            pairs = [r["steps_per_second"] / b["steps_per_second"]
                     for r, b in zip(runs[name], runs[base])
                     if "steps_per_second" in b and "steps_per_second" in r]
            row.update(
                steps_per_second=statistics.median(rates),
                steps_per_cpu_second=statistics.median(r["steps_per_cpu_second"] for r in ok),
                compile_seconds=statistics.median(r["compile_seconds"] for r in ok),
                final_loss=ok[0]["final_loss"],
                ratio_to_baseline=statistics.median(pairs) if pairs else None,
                ratio_range=[min(pairs), max(pairs)] if pairs else None)
        rows.append(row)
    with open(FLAGS.output, "w") as f:
        json.dump(dict(workload="W1 train step", flow=FLAGS.flow, steps=FLAGS.steps,
                       repeats=FLAGS.repeats, baseline=base, cpu_count=os.cpu_count(),
                       load_average=os.getloadavg(), rows=rows), f, indent=2)
    print(f"\nW1 training step ({FLAGS.flow}, batch 128), median of {FLAGS.repeats} interleaved "
          f"runs, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'variant':>24} {'steps/s':>8} {'st/cpu-s':>9} {'vs ' + base:>12} {'range':>11} "
          f"{'compile s':>9} {'loss after':>11}")
    for r in rows:
        if "steps_per_second" not in r or not r["ratio_range"]:
            print(f"{r['variant']:>24} failed: {r['runs'][0].get('error')}")
            continue
        low, high = r["ratio_range"]
        print(f"{r['variant']:>24} {r['steps_per_second']:>8.1f} "
              f"{r['steps_per_cpu_second']:>9.1f} {r['ratio_to_baseline']:>12.2f} {low:>5.2f}-{high:<5.2f} "
              f"{r['compile_seconds']:>9.1f} {r['final_loss']:>11.4f}")


if __name__ == "__main__":
    app.run(main)
