r"""Deep planar flows: a chain of K `Planar`s against one `PlanarStack`, unrolled or scanned.

The timed step is W1's flow part alone: a dense head maps features h [B, 256] to the raw
parameters of K amortized planar steps (D = 40), z_0 ~ N(0, I) [B, D] goes through the flow,
and the step computes loss = mean(½‖z_K‖² − log|det ∂z_K/∂z_0|) and its gradient with respect
to the head (kernel, bias) and h. Three ways to build the same flow:

* `chain`: `tfb.Chain` of K `bijectors.Planar` (what `Flow` built before `PlanarStack`);
* `stack`: `bijectors.PlanarStack` (parameter-only work over the K axis at once; the
  pre-activation recurrence a `tf.while_loop` with an implicit-function custom gradient);
* `unrolled`: the stack's parameter-only work at once, but the z-dependent loop unrolled in
  Python and differentiated by autodiff (a subclass defined here: a measured alternative);
* `scan`: the same with the loop a `tf.scan` over K (XLA compiles one body, forward and
  backward; autodiff keeps every iteration's state), another measured alternative.

For each (variant, K, XLA) it reports steps/s and steps per CPU-second (interleaved: the
variants run in turn, repeat after repeat, and ratios are medians of per-repeat ratios),
compile seconds, TF ops in the traced step and XLA kernels (fusions and dots of the optimized
HLO), and the loss (all variants must agree to float tolerance).

    python benchmarks/planar_stack_benchmark.py --output=/tmp/planar_stack.json
"""

import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# pylint: disable=g-import-not-at-top
from absl import app
from absl import flags
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_nfvi import bijectors
# Its kernel count, and its flags --jit_compile, --batch_size, --steps and --output.
from vae_speed_benchmark import _count_xla_kernels  # pylint: disable=g-bad-import-order

tfb = tfp.bijectors

FLAGS = flags.FLAGS
flags.DEFINE_list("variants", ["chain", "stack", "unrolled", "scan"], "Variants; the first is the baseline.")
flags.DEFINE_list("depths", ["16", "80"], "Numbers of planar steps K.")
flags.DEFINE_integer("latent_dim", 40, "D.")
flags.DEFINE_integer("repeats", 3, "Interleaved repeats.")
FLAGS.set_default("batch_size", 100)
FLAGS.set_default("output", "planar_stack_benchmark.json")


class _UnrolledPlanarStack(bijectors.PlanarStack):
    """`PlanarStack` whose forward loop is unrolled in Python, differentiated by autodiff."""

    def _forward_terms(self, x):
        def compute():
            u_hat, w, b, fold_terms = self._params()
            z, preactivations = x, []
            for u_k, w_k, b_k in zip(*(tf.unstack(t, axis=-2) for t in (u_hat, w)),
                                     tf.unstack(b, axis=-1)):
                a = tf.reduce_sum(w_k * z, axis=-1) + b_k
                z = z + u_k * tf.tanh(a)[..., tf.newaxis]
                preactivations.append(a)
            return z, tf.stack(preactivations, axis=-1), fold_terms

        return self._cache.forward_attributes(x).setdefault("unrolled", compute())


class _ScannedPlanarStack(bijectors.PlanarStack):
    """`PlanarStack` whose forward loop is a `tf.scan` over the K steps."""

    def _forward_terms(self, x):
        def compute():
            u_hat, w, b, fold_terms = self._params()
            ndims = u_hat.shape.rank
            perm = [ndims - 2] + list(range(ndims - 2)) + [ndims - 1]
            elems = (tf.transpose(u_hat, perm), tf.transpose(w, perm),
                     tf.transpose(b, [ndims - 2] + list(range(ndims - 2))))
            batch = tf.broadcast_static_shape(x.shape[:-1], u_hat.shape[:-2])
            z0 = tf.broadcast_to(x, batch.concatenate(x.shape[-1:]))

            def step(carry, params):
                z, _ = carry
                u_k, w_k, b_k = params
                a = tf.reduce_sum(w_k * z, axis=-1) + b_k
                return z + u_k * tf.tanh(a)[..., tf.newaxis], a

            zs, preactivations = tf.scan(step, elems, (z0, tf.zeros(batch, x.dtype)))
            ndims_a = preactivations.shape.rank
            return (zs[-1], tf.transpose(preactivations, list(range(1, ndims_a)) + [0]),
                    fold_terms)

        return self._cache.forward_attributes(x).setdefault("scan", compute())


def _bijector(variant, raw, d):
    k = raw.shape[-1] // (2 * d + 1)
    params = tf.reshape(raw, [-1, k, 2 * d + 1])
    u, w, b = params[..., :d], params[..., d:2 * d], params[..., 2 * d]
    if variant == "chain":
        return tfb.Chain([bijectors.Planar(u[:, i], w[:, i], b[:, i]) for i in range(k)][::-1])
    cls = dict(stack=bijectors.PlanarStack, unrolled=_UnrolledPlanarStack,
               scan=_ScannedPlanarStack)[variant]
    return cls(u, w, b)


def _run(variant, k, jit):
    b, d = FLAGS.batch_size, FLAGS.latent_dim
    rng = np.random.default_rng(0)
    kernel = tf.Variable(rng.normal(0, 0.05, (256, k * (2 * d + 1))).astype(np.float32))
    bias = tf.Variable(np.zeros(k * (2 * d + 1), np.float32))
    h = tf.Variable(rng.normal(size=(b, 256)).astype(np.float32))
    z0 = tf.constant(rng.normal(size=(b, d)).astype(np.float32))

    @tf.function(jit_compile=jit)
    def step(z0):
        with tf.GradientTape() as tape:
            flow = _bijector(variant, tf.matmul(h, kernel) + bias, d)
            z = flow.forward(z0)
            ldj = flow.forward_log_det_jacobian(z0, event_ndims=1)
            loss = tf.reduce_mean(0.5 * tf.reduce_sum(z**2, -1) - ldj)
        grads = tape.gradient(loss, [kernel, bias, h])
        for v, g in zip([kernel, bias, h], grads):
            v.assign_sub(1e-6 * g)
        return loss

    begin = time.perf_counter()
    trace = step.get_concrete_function(z0)
    first_loss = float(step(z0))
    compile_seconds = time.perf_counter() - begin
    begin, cpu = time.perf_counter(), time.process_time()
    for _ in range(FLAGS.steps):
        loss = step(z0)
    float(loss)
    wall, cpu = time.perf_counter() - begin, time.process_time() - cpu
    return dict(
        variant=variant, depth=k, jit_compile=jit, steps_per_second=FLAGS.steps / wall,
        steps_per_cpu_second=FLAGS.steps / cpu, compile_seconds=compile_seconds,
        tf_ops_per_step=len(trace.graph.get_operations()),
        xla_kernels_per_step=_count_xla_kernels(step, z0) if jit else None,
        first_loss=first_loss)


def main(argv):
    del argv
    configs = [(v, int(k), j.lower() in ("1", "true", "yes"))
               for j in FLAGS.jit_compile for k in FLAGS.depths for v in FLAGS.variants]
    runs = {c: [] for c in configs}
    for repeat in range(FLAGS.repeats):
        for c in configs:
            runs[c].append(_run(*c))
            print(f"repeat {repeat}: {json.dumps(runs[c][-1])}", flush=True)
    rows = []
    base = FLAGS.variants[0]
    for (variant, k, jit), rs in runs.items():
        baseline = runs[(base, k, jit)]
        shallow = runs.get((variant, int(FLAGS.depths[0]), jit))
        rows.append(dict(
            variant=variant, depth=k, jit_compile=jit,
            steps_per_second=statistics.median(r["steps_per_second"] for r in rs),
            steps_per_cpu_second=statistics.median(r["steps_per_cpu_second"] for r in rs),
            compile_seconds=statistics.median(r["compile_seconds"] for r in rs),
            tf_ops_per_step=rs[0]["tf_ops_per_step"],
            xla_kernels_per_step=rs[0]["xla_kernels_per_step"], first_loss=rs[0]["first_loss"],
            over_baseline=statistics.median(
                r["steps_per_second"] / q["steps_per_second"] for r, q in zip(rs, baseline)),
            over_shallowest=statistics.median(
                r["steps_per_second"] / q["steps_per_second"] for r, q in zip(rs, shallow)),
            runs=rs))
    with open(FLAGS.output, "w") as f:
        json.dump(dict(workload="planar flow step (W1's flow part)", batch_size=FLAGS.batch_size,
                       latent_dim=FLAGS.latent_dim, steps=FLAGS.steps, repeats=FLAGS.repeats,
                       cpu_count=os.cpu_count(), load_average=os.getloadavg(), rows=rows),
                  f, indent=2)
    print(f"\nFlow step, B={FLAGS.batch_size}, D={FLAGS.latent_dim}, median of {FLAGS.repeats} "
          f"interleaved runs, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'variant':>8} {'K':>3} {'xla':>5} {'steps/s':>8} {'st/cpu-s':>9} {'vs ' + base:>9} "
          f"{'vs K=' + FLAGS.depths[0]:>7} {'compile s':>9} {'tf ops':>7} {'kernels':>8} "
          f"{'loss':>12}")
    for r in rows:
        print(f"{r['variant']:>8} {r['depth']:>3} {str(r['jit_compile']):>5} "
              f"{r['steps_per_second']:>8.1f} {r['steps_per_cpu_second']:>9.1f} "
              f"{r['over_baseline']:>9.2f} {r['over_shallowest']:>7.2f} "
              f"{r['compile_seconds']:>9.1f} {r['tf_ops_per_step']:>7} "
              f"{str(r['xla_kernels_per_step']):>8} {r['first_loss']:>12.6f}")


if __name__ == "__main__":
    app.run(main)
