r"""Speed of chains of planar and radial flows, with and without XLA, and the planar inverse.

One training step = forward through a chain of `--num_flows` flows with global parameters
(`tf.Variable`s), the summed log-det-Jacobian, and the gradient of
loss = mean(½‖z_K‖² − Σ log|det J|) with respect to every parameter. Each configuration runs
as a `tf.function` without XLA and with `jit_compile=True` in the same process, so the
XLA/graph ratio is measured under the same load. Two ways to run the chain are timed:

  chain: `tfb.Chain(flows)` with `forward` and `forward_log_det_jacobian` called separately
         (what `tfd.TransformedDistribution` does); the bijectors share wᵀz + b (radial:
         ‖z − z₀‖) between the two calls through TFP's per-input cache, so each flow's
         intermediate is computed once, as in
  fused: one Python loop that calls `forward` and `forward_log_det_jacobian` of each flow on
         the same input. The two rows should agree; a gap means the sharing broke.

The planar inverse is timed on the same chain (`inverse` + `inverse_log_det_jacobian`, as in
`log_prob`), and the safeguarded-Newton iterations it needs for float32 and float64 accuracy
are measured over random and near-singular parameters.

  python benchmarks/bijectors_benchmark.py --output=/tmp/bijectors_benchmark.json
  python benchmarks/bijectors_benchmark.py --dims=2 --batch=256 --num_flows=2 --min_seconds=0.1
"""

import argparse
import json
import os
import pathlib
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top
import tensorflow_probability as tfp  # pylint: disable=g-import-not-at-top

from tfp_nfvi.bijectors import Planar, Radial  # pylint: disable=g-import-not-at-top
from tfp_nfvi.bijectors import planar as planar_lib  # pylint: disable=g-import-not-at-top

tfb = tfp.bijectors

# PyTorch figures for the same step on this machine (see the task notes), compiled variant.
TORCH_COMPILED_STEPS_PER_S = {2: 135.0, 40: 26.0}


def _make_flows(kind, num_flows, dim, seed=0):
    rng = np.random.default_rng(seed)
    flows = []
    for k in range(num_flows):
        if kind == "planar":
            u, w = rng.normal(size=dim) * 0.5, rng.normal(size=dim) * 0.5
            params = (u, w, rng.normal() * 0.1)
            flows.append(Planar(*[tf.Variable(np.float32(p), name=f"p{k}") for p in params]))
        else:
            center, alpha, beta = rng.normal(size=dim), 1.0 + rng.random(), rng.normal() * 0.5
            params = (center, alpha, beta)
            flows.append(Radial(*[tf.Variable(np.float32(p), name=f"r{k}") for p in params]))
    return flows


def _variables(flows):
    return [v for f in flows for v in f.trainable_variables]


def _step_fn(flows, mode):
    variables = _variables(flows)
    chain = tfb.Chain(list(reversed(flows)))  # Chain applies its last bijector first.

    def loss(z):
        if mode == "chain":
            y, ldj = chain.forward(z), chain.forward_log_det_jacobian(z, event_ndims=1)
        else:
            y, ldj = z, 0.0
            for flow in flows:
                ldj += flow.forward_log_det_jacobian(y, event_ndims=1)
                y = flow.forward(y)
        return tf.reduce_mean(0.5 * tf.reduce_sum(tf.square(y), -1) - ldj)

    def step(z):
        with tf.GradientTape() as tape:
            value = loss(z)
        return value, tape.gradient(value, variables)

    return step


def _inverse_fn(flows):
    chain = tfb.Chain(list(reversed(flows)))

    def inverse(y):
        return chain.inverse(y), chain.inverse_log_det_jacobian(y, event_ndims=1)

    return inverse


def _time(fn, z, min_seconds):
    """Steps per second of `fn(z)`, after a warm-up call that traces and compiles."""
    start = time.perf_counter()
    tf.nest.map_structure(lambda t: t.numpy(), fn(z))
    compile_s = time.perf_counter() - start
    steps, start = 0, time.perf_counter()
    while True:
        out = fn(z)
        steps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and steps >= 3:
            break
    tf.nest.map_structure(lambda t: t.numpy(), out)
    elapsed = time.perf_counter() - start
    return steps / elapsed, compile_s


def _iterations_needed(dtype, num=20000, seed=0):
    """Worst-case and mean safeguarded-Newton iterations to reach the converged root.

    Parameters: c = wᵀû from m(wᵀu) with wᵀu ~ N(0, 4²) (so 1 + c = softplus(wᵀu) reaches 1e-7,
    a nearly folded map), q ~ N(0, 3²). An element "needs" k iterations when the first k steps
    leave it within 8 ulps·(1 + |x|) of the converged root (before the final Newton polish).
    """
    rng = np.random.default_rng(seed)
    wu = rng.normal(size=num) * 4
    q = rng.normal(size=num) * 3
    one_plus_c = np.logaddexp(0.0, wu)
    eps = np.finfo(dtype).eps
    args = [tf.constant(v.astype(dtype)) for v in (q, one_plus_c - 1, one_plus_c)]
    own, steps = planar_lib._find_root(*args)  # pylint: disable=protected-access
    own = own.numpy()
    needed = np.full(num, -1)
    for k in range(1, int(steps) + 1):
        x_k, _ = planar_lib._find_root(*args, max_iterations=k)  # pylint: disable=protected-access
        x_k = x_k.numpy()
        ok = np.abs(x_k - own) <= 8 * eps * (1 + np.abs(own))
        needed[(needed < 0) & ok] = k
    # Backward error of the float-`dtype` root, in float64: |g(x)| relative to the terms' size.
    q64, c64 = [a.numpy().astype(np.float64) for a in args[:2]]
    x64 = own.astype(np.float64)
    residual = np.abs(x64 + c64 * np.tanh(x64) - q64) / (1 + np.abs(q64) + np.abs(c64))
    return {
        "dtype": np.dtype(dtype).name,
        "max_iterations": int(needed.max()),
        "mean_iterations": float(needed.mean()),
        "p99_iterations": float(np.percentile(needed, 99)),
        "loop_steps": int(steps),
        "max_relative_residual": float(residual.max()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 40])
    parser.add_argument("--batch", type=int, default=8192)
    parser.add_argument("--num_flows", type=int, default=32)
    parser.add_argument("--kinds", nargs="+", default=["planar", "radial"])
    parser.add_argument("--modes", nargs="+", default=["chain", "fused"])
    parser.add_argument("--min_seconds", type=float, default=3.0)
    parser.add_argument("--output", default="bijectors_benchmark.json")
    args = parser.parse_args()

    rows = []
    for kind in args.kinds:
        for dim in args.dims:
            flows = _make_flows(kind, args.num_flows, dim)
            z = tf.random.stateless_normal([args.batch, dim], seed=(1, 2))
            for mode in args.modes:
                step = _step_fn(flows, mode)
                graph, graph_compile = _time(tf.function(step), z, args.min_seconds)
                xla, xla_compile = _time(
                    tf.function(step, jit_compile=True), z, args.min_seconds)
                rows.append(dict(
                    what=f"{kind} train step ({mode})", dim=dim, graph_steps_per_s=graph,
                    xla_steps_per_s=xla, xla_over_graph=xla / graph,
                    compile_s=graph_compile + xla_compile,
                    xla_over_torch_compiled=xla / TORCH_COMPILED_STEPS_PER_S.get(dim, np.nan)))
            if kind == "planar":
                inverse = _inverse_fn(flows)
                y = tf.random.stateless_normal([args.batch, dim], seed=(3, 4)) * 2
                graph, graph_compile = _time(tf.function(inverse), y, args.min_seconds)
                xla, xla_compile = _time(
                    tf.function(inverse, jit_compile=True), y, args.min_seconds)
                rows.append(dict(
                    what="planar inverse+ildj", dim=dim, graph_steps_per_s=graph,
                    xla_steps_per_s=xla, xla_over_graph=xla / graph,
                    compile_s=graph_compile + xla_compile, xla_over_torch_compiled=np.nan))

    iterations = [_iterations_needed(np.float32), _iterations_needed(np.float64)]
    result = dict(
        batch=args.batch, num_flows=args.num_flows, rows=rows, inverse_iterations=iterations,
        device=tf.config.list_physical_devices()[-1].device_type,
        note="CPU figures were taken on a shared, loaded 2-core machine; compare ratios.")
    pathlib.Path(args.output).write_text(json.dumps(result, indent=2))

    print("\nInverse root search (safeguarded Newton), iterations to converge:")
    for it in iterations:
        print(f"  {it['dtype']}: max {it['max_iterations']}, p99 {it['p99_iterations']:.0f}, "
              f"mean {it['mean_iterations']:.2f}; loop ran {it['loop_steps']} steps; "
              f"max |g(x)|/(1+|q|+|c|) = {it['max_relative_residual']:.1e}")
    print(f"\nbatch {args.batch}, {args.num_flows} flows; steps/s (JSON: {args.output})")
    header = f"{'what':<28}{'D':>4}{'graph':>10}{'XLA':>10}{'XLA/graph':>11}{'XLA/torch':>11}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['what']:<28}{r['dim']:>4}{r['graph_steps_per_s']:>10.1f}"
              f"{r['xla_steps_per_s']:>10.1f}{r['xla_over_graph']:>11.2f}"
              f"{r['xla_over_torch_compiled']:>11.2f}")


if __name__ == "__main__":
    main()
