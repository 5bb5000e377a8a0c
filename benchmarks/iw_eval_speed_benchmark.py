r"""Speed of the importance-sampled evaluation log p(x) of `FlowVAE` (workload W4).

W4: the W1 model (encoder 784→512→256, latent 40, 16 amortized planar flows, decoder
40→256→512→784, Bernoulli likelihood), `FlowVAE.log_likelihood` of 100 digits with
S = 1000 importance samples each, drawn `chunk_size` at a time,

    log p(x) ≈ log (1/S) Σ_s p(x, z^s) / q(z^s | x),   z^s ~ q(z | x),

i.e. S·B = 100,000 decoder passes and flow evaluations, folded chunk by chunk into a running
log-mean-exp (one compiled `tf.while_loop` per call). For each configuration (XLA on/off ×
chunk size) the benchmark compiles with one call, then reports the median over `--repeats`
calls of digits per second, and the XLA-vs-not ratio per chunk size. Configurations are
interleaved repeat by repeat, so a ratio compares figures taken under the same load.

    python benchmarks/iw_eval_speed_benchmark.py --output=/tmp/iw_eval.json
    python benchmarks/iw_eval_speed_benchmark.py --chunk_sizes=50,100,250,500,1000

The weights are the untrained initial ones (the speed does not depend on their values); the
digits are random binary images. Absolute figures depend on machine load: compare rows of one
run.
"""

import json
import os
import resource
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# pylint: disable=g-import-not-at-top
from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from tfp_nfvi import models

FLAGS = flags.FLAGS
flags.DEFINE_string("flow", "planar*16", "Posterior flow spec.")
flags.DEFINE_integer("num_digits", 100, "Digits per log_likelihood call (B).")
flags.DEFINE_integer("num_samples", 1000, "Importance samples per digit (S).")
flags.DEFINE_list("chunk_sizes", ["100"], "Importance samples per compiled chunk.")
flags.DEFINE_list("jit_compile", ["true", "false"], "XLA settings to time.")
flags.DEFINE_integer("repeats", 5, "Timed calls per configuration (the median is reported).")
flags.DEFINE_string("output", "iw_eval_speed_benchmark.json", "Where to write the JSON results.")


def _peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _model(flow, jit):
    vae = models.FlowVAE(latent_dim=40, flow=flow, encoder_units=(512, 256),
                         decoder_units=(256, 512), seed=0)
    vae.build((None, 784))
    vae.compile(jit_compile=jit)
    return vae


def main(argv):
    del argv
    x = (np.random.default_rng(0).random((FLAGS.num_digits, 784)) < 0.3).astype(np.float32)
    x = tf.constant(x)
    seed = tf.constant([1, 2], tf.int32)
    configs = [(j.lower() in ("1", "true", "yes"), int(c))
               for j in FLAGS.jit_compile for c in FLAGS.chunk_sizes]
    vaes = {jit: _model(FLAGS.flow, jit) for jit in {jit for jit, _ in configs}}

    def call(jit, chunk):
        return vaes[jit].log_likelihood(x, num_samples=FLAGS.num_samples, seed=seed,
                                        chunk_size=chunk).numpy()

    compile_seconds, estimates = {}, {}
    for jit, chunk in configs:
        begin = time.perf_counter()
        estimates[(jit, chunk)] = call(jit, chunk)
        compile_seconds[(jit, chunk)] = time.perf_counter() - begin
    times = {config: [] for config in configs}
    for _ in range(FLAGS.repeats):  # Interleaved: every configuration once per repeat.
        for config in configs:
            begin = time.perf_counter()
            call(*config)
            times[config].append(time.perf_counter() - begin)
    rows = []
    for jit, chunk in configs:
        seconds = statistics.median(times[(jit, chunk)])
        rows.append(dict(
            jit_compile=jit, chunk_size=chunk, digits_per_second=FLAGS.num_digits / seconds,
            seconds_per_call=seconds, min_seconds=min(times[(jit, chunk)]),
            max_seconds=max(times[(jit, chunk)]), first_call_seconds=compile_seconds[(jit, chunk)],
            mean_log_likelihood=float(np.mean(estimates[(jit, chunk)]))))
    by_key = {(r["jit_compile"], r["chunk_size"]): r for r in rows}
    ratios = {f"xla_over_no_xla_chunk{c}": by_key[(True, c)]["digits_per_second"]
              / by_key[(False, c)]["digits_per_second"]
              for _, c in configs if (True, c) in by_key and (False, c) in by_key}
    result = dict(workload="W4", flow=FLAGS.flow, num_digits=FLAGS.num_digits,
                  num_samples=FLAGS.num_samples, repeats=FLAGS.repeats,
                  cpu_count=os.cpu_count(), load_average=os.getloadavg(), rows=rows,
                  ratios=ratios, peak_rss_mib=_peak_rss_mib())
    with open(FLAGS.output, "w") as f:
        json.dump(result, f, indent=2)
    print(f"\nW4 ({FLAGS.flow}): log p(x) of {FLAGS.num_digits} digits x {FLAGS.num_samples} "
          f"samples, median of {FLAGS.repeats}, load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    print(f"{'xla':>5} {'chunk':>6} {'digits/s':>9} {'s/call':>7} {'min-max s':>12} "
          f"{'first call s':>12} {'mean log p(x)':>14}")
    for r in rows:
        print(f"{str(r['jit_compile']):>5} {r['chunk_size']:>6} {r['digits_per_second']:>9.1f} "
              f"{r['seconds_per_call']:>7.2f} {r['min_seconds']:>5.2f}-{r['max_seconds']:<6.2f} "
              f"{r['first_call_seconds']:>12.1f} {r['mean_log_likelihood']:>14.3f}")
    for key, value in ratios.items():
        print(f"{key}: {value:.2f}")
    print(f"peak RSS {_peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    app.run(main)
