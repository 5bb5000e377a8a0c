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
    python benchmarks/iw_eval_speed_benchmark.py --precisions=float32,mixed_bfloat16 --profile

`--precisions` adds `log_likelihood(..., precision=...)` rows (bfloat16 decoder products)
with the estimate's mean and largest difference from float32's. `--profile` also times the
pieces of one chunk in isolation, each compiled alone (XLA and not): the posterior's noise,
the flow, the decoder's matrix products, the Bernoulli log-likelihood (TFP's
`Bernoulli.log_prob` and the closed form the estimator uses), the prior and log-sum-exp.
Every figure comes with process CPU seconds beside wall seconds (the machine may be shared).

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
from tfp_nfvi.internal import estimators
from tfp_nfvi.models import likelihoods
from tfp_nfvi.models import stateless

FLAGS = flags.FLAGS
flags.DEFINE_string("flow", "planar*16", "Posterior flow spec.")
flags.DEFINE_integer("num_digits", 100, "Digits per log_likelihood call (B).")
flags.DEFINE_integer("num_samples", 1000, "Importance samples per digit (S).")
flags.DEFINE_list("chunk_sizes", ["100"], "Importance samples per compiled chunk.")
flags.DEFINE_list("jit_compile", ["true", "false"], "XLA settings to time.")
flags.DEFINE_list("precisions", ["float32"], "`precision` of log_likelihood to time.")
flags.DEFINE_bool("profile", False, "Also time one chunk's pieces in isolation.")
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


def _timed(fn):
    """(wall seconds, process CPU seconds) of one call of `fn`, its outputs fetched."""
    begin, cpu = time.perf_counter(), time.process_time()
    tf.nest.map_structure(lambda t: t.numpy(), fn())
    return time.perf_counter() - begin, time.process_time() - cpu


def _profile(vae, x, seed, chunk, jit):
    """Milliseconds (wall, CPU) per chunk of each piece of the estimator, compiled alone."""
    batch, dim = x.shape[0], vae.latent_dim
    compile_fn = lambda fn: tf.function(fn, jit_compile=jit)  # pylint: disable=unnecessary-lambda-assignment
    q = lambda x: vae.posterior_distribution(x)  # pylint: disable=unnecessary-lambda-assignment
    weights = vae.decoder.weights
    eps = stateless.stateless_normal([chunk, batch, dim], seed)
    z, log_q = vae.sample_posterior(q(x), [chunk], seed)
    logits = vae.decode_logits(z)
    hidden = tf.nn.relu(tf.reshape(z, [-1, dim]) @ weights[0] + weights[1])
    hidden = tf.nn.relu(hidden @ weights[2] + weights[3])
    log_px = likelihoods.likelihood_log_prob("bernoulli", logits, x)

    def flow(eps):
        base = q(x).distribution
        z0 = base.loc + base.stddev() * eps
        return (q(x).bijector.forward(z0),
                q(x).bijector.forward_log_det_jacobian(z0, event_ndims=1))

    def prior_logsumexp(z, log_q, log_px):
        log_w = log_px + vae.prior_distribution().log_prob(z) - log_q
        return estimators.log_mean_exp_accumulate(
            estimators.log_mean_exp_init([batch], tf.float32), log_w)

    pieces = {
        "encoder + posterior heads": (lambda x: q(x).distribution.loc, x),
        "noise (stateless_normal)": (lambda s: stateless.stateless_normal(
            [chunk, batch, dim], s), seed),
        "flow (16 planar, fwd + log-det)": (flow, eps),
        "decoder, all 3 products": (vae.decode_logits, z),
        "decoder, 512x784 product": (lambda h: h @ weights[4] + weights[5], hidden),
        "Bernoulli, tfd.Bernoulli.log_prob": (
            lambda l: likelihoods.make_likelihood("bernoulli", l).log_prob(x), logits),
        "Bernoulli, x*l - softplus(l)": (
            lambda l: likelihoods.likelihood_log_prob("bernoulli", l, x), logits),
        "prior + log-sum-exp": (lambda *a: prior_logsumexp(*a), (z, log_q, log_px)),
    }
    fns = {}
    for name, (fn, args) in pieces.items():
        args = args if isinstance(args, tuple) else (args,)
        fns[name] = (compile_fn(fn), args)
        fns[name][0](*args)  # Compiles.
    times = {name: [] for name in fns}
    for _ in range(FLAGS.repeats):
        for name, (fn, args) in fns.items():
            times[name].append(_timed(lambda fn=fn, args=args: fn(*args)))
    return {name: dict(wall_ms=1e3 * statistics.median(t[0] for t in ts),
                       cpu_ms=1e3 * statistics.median(t[1] for t in ts))
            for name, ts in times.items()}


def main(argv):
    del argv
    x = (np.random.default_rng(0).random((FLAGS.num_digits, 784)) < 0.3).astype(np.float32)
    x = tf.constant(x)
    seed = tf.constant([1, 2], tf.int32)
    configs = [(j.lower() in ("1", "true", "yes"), int(c), p)
               for j in FLAGS.jit_compile for c in FLAGS.chunk_sizes for p in FLAGS.precisions]
    vaes = {jit: _model(FLAGS.flow, jit) for jit in {config[0] for config in configs}}

    def call(jit, chunk, precision):
        return vaes[jit].log_likelihood(x, num_samples=FLAGS.num_samples, seed=seed,
                                        chunk_size=chunk, precision=precision).numpy()

    compile_seconds, estimates = {}, {}
    for config in configs:
        begin = time.perf_counter()
        estimates[config] = call(*config)
        compile_seconds[config] = time.perf_counter() - begin
    times = {config: [] for config in configs}
    for _ in range(FLAGS.repeats):  # Interleaved: every configuration once per repeat.
        for config in configs:
            times[config].append(_timed(lambda config=config: tf.constant(call(*config))))
    rows = []
    for config in configs:
        jit, chunk, precision = config
        seconds = statistics.median(t[0] for t in times[config])
        cpu_seconds = statistics.median(t[1] for t in times[config])
        reference = estimates[(jit, chunk, "float32")] if (
            jit, chunk, "float32") in estimates else estimates[config]
        rows.append(dict(
            jit_compile=jit, chunk_size=chunk, precision=precision,
            digits_per_second=FLAGS.num_digits / seconds,
            digits_per_cpu_second=FLAGS.num_digits / cpu_seconds,
            seconds_per_call=seconds, min_seconds=min(t[0] for t in times[config]),
            max_seconds=max(t[0] for t in times[config]),
            first_call_seconds=compile_seconds[config],
            mean_log_likelihood=float(np.mean(estimates[config])),
            max_abs_difference_from_float32=float(np.max(np.abs(estimates[config] - reference))),
            mean_difference_from_float32=float(np.mean(estimates[config] - reference))))
    by_key = {(r["jit_compile"], r["chunk_size"], r["precision"]): r for r in rows}
    ratios = {}
    for jit, chunk, precision in configs:
        if jit and (False, chunk, precision) in by_key:
            ratios[f"xla_over_no_xla_chunk{chunk}_{precision}"] = (
                by_key[(True, chunk, precision)]["digits_per_second"]
                / by_key[(False, chunk, precision)]["digits_per_second"])
        if precision != "float32" and (jit, chunk, "float32") in by_key:
            ratios[f"{precision}_over_float32_xla{jit}_chunk{chunk}"] = (
                by_key[(jit, chunk, precision)]["digits_per_second"]
                / by_key[(jit, chunk, "float32")]["digits_per_second"])
    profile = {}
    if FLAGS.profile:
        chunk = int(FLAGS.chunk_sizes[0])
        for jit in vaes:
            profile[f"xla={jit}"] = _profile(vaes[jit], x, seed, chunk, jit)
    result = dict(workload="W4", flow=FLAGS.flow, num_digits=FLAGS.num_digits,
                  num_samples=FLAGS.num_samples, repeats=FLAGS.repeats,
                  cpu_count=os.cpu_count(), load_average=os.getloadavg(), rows=rows,
                  ratios=ratios, profile_ms_per_chunk=profile, peak_rss_mib=_peak_rss_mib())
    with open(FLAGS.output, "w") as f:
        json.dump(result, f, indent=2)
    for key, pieces in profile.items():
        print(f"\nOne chunk of {FLAGS.chunk_sizes[0]} x {FLAGS.num_digits} draws, each piece "
              f"compiled alone ({key}), median ms:")
        for name, t in pieces.items():
            print(f"  {name:<36} wall {t['wall_ms']:8.1f}  cpu {t['cpu_ms']:8.1f}")
    print(f"\nW4 ({FLAGS.flow}): log p(x) of {FLAGS.num_digits} digits x {FLAGS.num_samples} "
          f"samples, median of {FLAGS.repeats}, load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    print(f"{'xla':>5} {'chunk':>6} {'precision':>15} {'digits/s':>9} {'per cpu-s':>9} "
          f"{'s/call':>7} {'first call s':>12} {'mean log p(x)':>14} {'max |diff|':>10}")
    for r in rows:
        print(f"{str(r['jit_compile']):>5} {r['chunk_size']:>6} {r['precision']:>15} "
              f"{r['digits_per_second']:>9.1f} {r['digits_per_cpu_second']:>9.1f} "
              f"{r['seconds_per_call']:>7.2f} {r['first_call_seconds']:>12.1f} "
              f"{r['mean_log_likelihood']:>14.3f} {r['max_abs_difference_from_float32']:>10.4f}")
    for key, value in ratios.items():
        print(f"{key}: {value:.2f}")
    print(f"peak RSS {_peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    app.run(main)
