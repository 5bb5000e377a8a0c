"""Cost of one amortized flow posterior step: sample-and-log-prob plus its gradient.

For each flow kind, `AmortizedFlowPosterior(latent, flow="<kind>*K")` maps a context
`h: [batch, context]` to q(z|x); one call draws `z, log q(z|x)` with
`experimental_sample_and_log_prob`, forms a loss `mean(log q - log N(z; 0, I))` and takes its
gradient with respect to every weight of the layer — the posterior's share of a VAE training
step. Timed with and without `jit_compile` (XLA), median over repeats.

    python benchmarks/posteriors_benchmark.py --output /tmp/posteriors.json

Defaults: batch 128, latent 40, context 256; K = 16 steps for the kinds whose parameters come
from a dense head on the context (planar, radial, sylvester_o/h/t with their default M and
reflection counts, householder) and K = 4 for the kinds with a network per step (MAF, IAF,
RealNVP, nsf_coupling, nsf_iaf). Besides ms per call, each row gives the flow's own cost per
step, `(ms - diag's ms) / K`: the posterior's cost beyond the diagonal Gaussian, per step.
Absolute figures depend on machine load; compare ratios within one run.
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # pylint: disable=g-import-not-at-top

from tfp_nfvi import flows  # pylint: disable=g-import-not-at-top

KINDS = ("diag", "planar", "radial", "maf", "iaf", "realnvp", "sylvester_o", "sylvester_h",
         "sylvester_t", "householder", "nsf_coupling", "nsf_iaf")
# Kinds with a network per step (timed with --network_steps); the others with --elementwise_steps.
NETWORK_KINDS = ("maf", "iaf", "realnvp", "nsf_coupling", "nsf_iaf")


def _parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--latent", type=int, default=40)
    parser.add_argument("--context", type=int, default=256)
    parser.add_argument("--elementwise_steps", type=int, default=16, help="K for head-parameterized kinds")
    parser.add_argument("--network_steps", type=int, default=4, help="K for NETWORK_KINDS")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated flow kinds")
    parser.add_argument("--iters", type=int, default=20, help="calls per timed repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", default="posteriors_benchmark.json", help="JSON path")
    return parser.parse_args(argv)


def _step_fn(layer, jit_compile):
    def step(h, seed):
        with tf.GradientTape() as tape:
            z, log_q = layer(h).experimental_sample_and_log_prob(seed=seed)
            loss = tf.reduce_mean(log_q + 0.5 * tf.reduce_sum(z**2, axis=-1))
        grads = tape.gradient(loss, layer.trainable_variables)
        return loss, grads

    return tf.function(step, jit_compile=jit_compile)


def _time_ms(fn, args, iters, repeats):
    """Median milliseconds per call after one warm-up (compile) call."""
    t0 = time.perf_counter()
    tf.nest.map_structure(lambda t: t.numpy(), fn(*args))
    compile_s = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iters):
            out = fn(*args)
        tf.nest.map_structure(lambda t: t.numpy(), out)
        times.append((time.perf_counter() - t0) / iters * 1e3)
    return statistics.median(times), compile_s


def run(args):
    h = tf.random.stateless_normal([args.batch, args.context], seed=[0, 1])
    seed = tf.constant([1, 2], tf.int32)
    rows = []
    for kind in args.kinds.split(","):
        steps = args.network_steps if kind in NETWORK_KINDS else args.elementwise_steps
        steps = 0 if kind == "diag" else steps
        flow = "diag" if kind == "diag" else f"{kind}*{steps}"
        layer = flows.AmortizedFlowPosterior(args.latent, flow=flow)
        layer.build(h.shape)
        row = {"flow": flow, "num_steps": steps, "num_weights": int(sum(w.numpy().size for w in layer.weights))}
        for jit in (False, True):
            ms, compile_s = _time_ms(_step_fn(layer, jit), (h, seed), args.iters, args.repeats)
            row["xla_ms" if jit else "graph_ms"] = ms
            row["xla_compile_s" if jit else "graph_trace_s"] = compile_s
        row["speedup"] = row["graph_ms"] / row["xla_ms"]
        rows.append(row)
        print(f"done {flow}", file=sys.stderr, flush=True)
    diag = next((r for r in rows if r["flow"] == "diag"), None)
    for r in rows:
        if diag is not None and r["num_steps"]:
            for key in ("graph_ms", "xla_ms"):
                r[key + "_per_step"] = (r[key] - diag[key]) / r["num_steps"]
    return rows


def main(argv=None):
    args = _parse_args(argv)
    rows = run(args)
    with open(args.output, "w") as f:
        json.dump({"config": vars(args), "cpu_count": os.cpu_count(),
                   "load_average": os.getloadavg(), "rows": rows}, f, indent=2)
    print(
        f"\nAmortized posterior sample_and_log_prob + grad: batch {args.batch}, latent "
        f"{args.latent}, context {args.context} (ms per call, median of {args.repeats}), load "
        f"average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"{'flow':<18}{'weights':>10}{'tf.function':>13}{'XLA':>10}{'XLA speedup':>13}"
          f"{'XLA compile s':>15}{'tf.fn ms/step':>15}{'XLA ms/step':>13}")
    for r in rows:
        print(f"{r['flow']:<18}{r['num_weights']:>10}{r['graph_ms']:>13.2f}{r['xla_ms']:>10.2f}"
              f"{r['speedup']:>13.2f}{r['xla_compile_s']:>15.1f}"
              f"{r.get('graph_ms_per_step', float('nan')):>15.3f}"
              f"{r.get('xla_ms_per_step', float('nan')):>13.3f}")


if __name__ == "__main__":
    main()
