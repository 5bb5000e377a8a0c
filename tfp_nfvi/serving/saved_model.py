"""SavedModel export with named signatures that load and run with plain TensorFlow.

A SavedModel written here is a set of traced TensorFlow graphs plus the variables they read:
the planar/radial/MAF/IAF/RealNVP bijectors and the TFP distributions around them become
ordinary TF ops at trace time. Nothing in the archive names a Python class of ours, of TFP or
of Keras (the object graph holds only variables and functions), so
`tf.saved_model.load(export_dir)` works where `tfp_nfvi`, `tensorflow_probability` and
`keras` cannot be imported, and `saved_model_cli` and TF Serving run the signatures.

The archive is built with Keras 3's `keras.export.ExportArchive`, which saves exactly the
variables the endpoints read and aliases the first endpoint as `serving_default`.

Seeds. Random signatures take an `int32` scalar input `seed` with a default of `-1` stored
in the SignatureDef (`PlaceholderWithDefault`), so a request may leave it out:

* `seed >= 0`: the stateless seed `[seed, 0]` drives every random op (TFP stateless
  samplers), so the same request gives the same answer, in any process;
* `seed < 0` (the default): a fresh stateless seed is drawn by a `RandomUniformInt` op with
  `seed = seed2 = 0`, i.e. seeded from the OS each run, so answers vary between requests.

In Python, the restored functions (`loaded.encode(x)`) honor the default; the signature
wrappers (`loaded.signatures["encode"](x=..., seed=...)`) want every input by keyword.
"""

import os

import keras
import tensorflow as tf

from tfp_nfvi.internal import seeds
from tfp_nfvi.internal import validation

__all__ = [
    "SEED_DEFAULT",
    "export_saved_model",
    "export_surrogate_saved_model",
    "stateless_seed",
]

SEED_DEFAULT = -1
_INT32_MAX = 2**31 - 1


def stateless_seed(seed):
    """Maps the `seed` input of a signature to a TFP stateless seed (`int32`, shape `[2]`).

    `seed >= 0` gives `[seed, 0]` (the package's int -> stateless-seed convention,
    `tfp_nfvi.internal.seeds`); `seed < 0` gives two integers drawn uniformly from
    `[0, 2³¹ − 1)` by an OS-seeded op, a fresh seed on every call.

    Args:
      seed: integer scalar (Python int or `Tensor`).

    Returns:
      An `int32` `Tensor` of shape `[2]`.
    """
    seed = tf.cast(seed, tf.int32)
    fresh = tf.raw_ops.RandomUniformInt(
        shape=tf.constant([2], tf.int32),
        minval=tf.constant(0, tf.int32),
        maxval=tf.constant(_INT32_MAX, tf.int32),
        seed=0,
        seed2=0,
    )
    return tf.where(seed >= 0, seeds.stateless_seed(seed), fresh)


def _default_seed():
    # A Tensor default (not a Python int) is what makes TF write a SignatureDef default.
    return tf.constant(SEED_DEFAULT, tf.int32)


def _spec(shape, dtype, name):
    return tf.TensorSpec(shape, dtype, name=name)


def _check_export_dir(export_dir, overwrite):
    export_dir = os.fspath(export_dir)
    if not overwrite and os.path.exists(os.path.join(export_dir, "saved_model.pb")):
        raise ValueError(
            f"`export_dir` {export_dir!r} already holds a SavedModel; choose a new directory "
            "or pass overwrite=True."
        )
    return export_dir


def export_saved_model(model, export_dir, num_samples=1000, chunk_size=None, overwrite=False):
    """Writes a `FlowVAE` as a SavedModel whose signatures run without tfp_nfvi.

    Signatures (`B` batch, `P` = `model.event_size` data dimensions, `D` =
    `model.latent_dim`; inputs are named, `seed` and `num_samples` have defaults):

    | signature | inputs | outputs |
    |---|---|---|
    | `encode` (also `serving_default`) | `x` f32 `[B, P]`, `seed` i32 `[]` = -1 | `z` f32 `[B, D]`, `log_q` f32 `[B]`, `base_loc` f32 `[B, D]`, `base_scale` f32 `[B, D]` |
    | `decode` | `z` f32 `[B, D]` | `probs` f32 `[B, P]`, `logits` f32 `[B, P]` |
    | `elbo` | `x`, `seed` | `elbo` f32 `[B]` |
    | `log_likelihood` | `x`, `num_samples` i32 `[]` = `num_samples`, `seed` | `log_likelihood` f32 `[B]` |
    | `sample` | `n` i32 `[]`, `seed` | `x` f32 `[n, P]`, `probs` f32 `[n, P]`, `z` f32 `[n, D]` |

    * `encode`: `z ~ q(z|x)` (the flow's output `z_K`), `log q(z|x)`, and the mean and
      standard deviation of the flow's Gaussian base `q_0(z_0|x)` (`FlowVAE.encode`).
    * `decode`: the Bernoulli parameters of `p(x|z)`: `probs = σ(logits) = E[x|z]`.
    * `elbo`: `log p(x|z) + log p(z) − log q(z|x)` at one `z ~ q(z|x)` (`FlowVAE.elbo`).
    * `log_likelihood`: `log (1/S) Σ_s p(x, z_s)/q(z_s|x)`, `z_s ~ q(z|x)`, `S` =
      `num_samples` (the export-time default unless the request gives one); equal to
      `FlowVAE.log_likelihood(x, S, seed=[seed, 0], chunk_size=chunk_size)` up to float
      round-off (the model's noise generator draws the same numbers with and without XLA;
      the serving graphs use no XLA, which keeps them portable and lets `S` be a run-time
      input).
    * `sample`: `z ~ N(0, I)`, `probs = E[x|z]` (`FlowVAE.sample`), `x ~ p(x|z)` (0/1).

    Every random signature with `seed = s >= 0` equals the model's method called with the
    stateless seed `[s, 0]` (see `stateless_seed`).

    Malformed requests get an InvalidArgument error naming the input and leave the loaded
    model serving: a wrong shape or dtype, a NaN or infinite `x`/`z`, `num_samples` outside
    [1, `MAX_IMPORTANCE_SAMPLES`] or `n` outside [0, `MAX_DRAWS`].

    `serving_default` is `encode`: a served VAE is most often asked for its representation;
    `encode` is the cheapest signature (one encoder pass, no decoder) and its `base_loc` and
    `base_scale` do not depend on the seed, so a request of just `x` is meaningful.

    Args:
      model: a built `tfp_nfvi.models.FlowVAE`.
      export_dir: a new directory.
      num_samples: the default `S` of the `log_likelihood` signature (1000, as in
        `FlowVAE.log_likelihood`).
      chunk_size: importance samples drawn at a time by `log_likelihood` (memory grows
        with `chunk_size · B`); default 100, which is `FlowVAE.log_likelihood`'s default
        for `S >= 100`.
      overwrite: replace a SavedModel already in `export_dir` (default: refuse).

    Returns:
      `export_dir`.

    Raises:
      ValueError: the model is not built or not Bernoulli, `num_samples` or `chunk_size` is
        not a positive integer, or `export_dir` already holds a SavedModel and `overwrite` is
        False.
    """
    export_dir = _check_export_dir(export_dir, overwrite)
    if not model.built:
        raise ValueError(
            f"`model` {model.name!r} is not built; train it or call it on a batch of shape "
            f"[B, {model.event_size}] before exporting."
        )
    if model.likelihood_name != "bernoulli":
        raise ValueError(
            f"export_saved_model supports the 'bernoulli' likelihood, `model` uses "
            f"{model.likelihood_name!r}."
        )
    validation.check_positive_int(num_samples, "num_samples")
    chunk_size = validation.check_positive_int(
        100 if chunk_size is None else chunk_size, "chunk_size")
    data_shape = [None, model.event_size]
    latent_shape = [None, model.latent_dim]
    dtype = tf.as_dtype(model.compute_dtype)

    def encode(x, seed=_default_seed()):
        z, log_q, base_loc, base_scale = model.encode(
            _checked_shape(x, "x", data_shape), seed=stateless_seed(seed)
        )
        return {"z": z, "log_q": log_q, "base_loc": base_loc, "base_scale": base_scale}

    def decode(z):
        z = _checked_shape(z, "z", latent_shape)
        return {"probs": model.likelihood_distribution(z).mean(), "logits": model.decode_logits(z)}

    def elbo(x, seed=_default_seed()):
        return {"elbo": model.elbo(_checked_shape(x, "x", data_shape), seed=stateless_seed(seed))}

    def log_likelihood(
        x, num_samples=tf.constant(num_samples, tf.int32), seed=_default_seed()
    ):
        # The model's own estimator with a run-time S (see `FlowVAE.importance_log_likelihood`).
        estimate = model.importance_log_likelihood(
            _checked_shape(x, "x", data_shape),
            _checked_count(num_samples, "num_samples", 1, MAX_IMPORTANCE_SAMPLES),
            stateless_seed(seed),
            chunk_size,
        )
        return {"log_likelihood": estimate}

    def sample(n, seed=_default_seed()):
        seed = stateless_seed(seed)
        z = model.sample_latents(_checked_count(n, "n", 0, MAX_DRAWS), seed=seed)
        likelihood = model.likelihood_distribution(z)
        x = likelihood.sample(seed=tf.random.experimental.stateless_fold_in(seed, 1))
        return {"x": x, "probs": likelihood.mean(), "z": z}

    x_spec = _spec(data_shape, dtype, "x")
    seed_spec = _spec([], tf.int32, "seed")
    archive = keras.export.ExportArchive()
    # No `archive.track(model)`: the archive saves the variables the endpoints read, and
    # tracking would walk the model's attributes (e.g. its dict of compiled functions, which
    # SavedModel cannot serialize). The first endpoint is also written as `serving_default`.
    archive.add_endpoint("encode", encode, [x_spec, seed_spec])
    archive.add_endpoint("decode", decode, [_spec(latent_shape, dtype, "z")])
    archive.add_endpoint("elbo", elbo, [x_spec, seed_spec])
    archive.add_endpoint(
        "log_likelihood", log_likelihood, [x_spec, _spec([], tf.int32, "num_samples"), seed_spec]
    )
    archive.add_endpoint("sample", sample, [_spec([], tf.int32, "n"), seed_spec])
    archive.write_out(export_dir, verbose=False)
    return export_dir


def export_surrogate_saved_model(surrogate, export_dir, overwrite=False):
    """Writes a global flow surrogate (`build_flow_surrogate`) as a plain-TF SavedModel.

    Signatures (`D` = event size):

    | signature | inputs | outputs |
    |---|---|---|
    | `sample` (= `serving_default`) | `n` i32 `[]`, `seed` i32 `[]` = -1 | `z` f32 `[n, D]`, `log_prob` f32 `[n]` |
    | `log_prob` | `z` f32 `[B, D]` | `log_prob` f32 `[B]` |

    `sample` returns `log q(z)` of its own draws along the forward pass (no inverse), so
    it is cheap for every flow; `log_prob` of arbitrary points runs the inverses.
    `serving_default` is `sample`: drawing from the fitted posterior is what a surrogate
    is for.

    Args:
      surrogate: a distribution with `event_shape` `[D]`, scalar `batch_shape`, and
        `experimental_sample_and_log_prob(n, seed=...)`/`log_prob`, whose variables are
        reachable as `surrogate.trainable_variables` (a `tf.Module`, e.g. a
        `tfd.TransformedDistribution` over `tf.Variable`-parameterized bijectors).
      export_dir: a new directory.
      overwrite: replace a SavedModel already in `export_dir` (default: refuse).

    Returns:
      `export_dir`.

    Raises:
      ValueError: the event shape is not `[D]` with a known `D` (structured events are not
        supported), the batch shape is not scalar, or `export_dir` already holds a SavedModel
        and `overwrite` is False.
    """
    export_dir = _check_export_dir(export_dir, overwrite)
    event_shape = surrogate.event_shape
    if not isinstance(event_shape, tf.TensorShape) or (
        event_shape.rank != 1 or event_shape[0] is None
    ):
        raise ValueError(
            f"`surrogate` must have an event shape [D] with a known D, got {event_shape}."
        )
    batch_shape = tf.TensorShape(surrogate.batch_shape)
    if batch_shape.rank != 0:
        raise ValueError(f"`surrogate` must have a scalar batch shape, got {batch_shape}.")
    event_size = int(event_shape[0])
    dtype = tf.as_dtype(surrogate.dtype)

    def sample(n, seed=_default_seed()):
        n = _checked_count(n, "n", 0, MAX_DRAWS)
        z, log_prob = surrogate.experimental_sample_and_log_prob(n, seed=stateless_seed(seed))
        return {"z": z, "log_prob": log_prob}

    def log_prob(z):
        return {"log_prob": surrogate.log_prob(_checked_shape(z, "z", [None, event_size]))}

    archive = keras.export.ExportArchive()  # Saves the variables the endpoints read.
    archive.add_endpoint(
        "sample", sample, [_spec([], tf.int32, "n"), _spec([], tf.int32, "seed")]
    )
    archive.add_endpoint("log_prob", log_prob, [_spec([None, event_size], dtype, "z")])
    archive.write_out(export_dir, verbose=False)
    return export_dir


# Largest `n` of a `sample` request and `num_samples` of a `log_likelihood` request: a request
# beyond them is refused (InvalidArgument) instead of exhausting the server's memory or time.
MAX_DRAWS = 2**16
MAX_IMPORTANCE_SAMPLES = 2**20


def _checked_shape(value, name, shape):
    """`value` with run-time checks of its shape and finiteness (InvalidArgument naming `name`).

    Signature inputs carry a static shape, but TF Serving and session feeds do not enforce
    it; without this a batch of the wrong rank would fail deep inside a flow, or broadcast,
    and a NaN or infinite input would come back as a silent NaN answer.
    """
    value = tf.ensure_shape(value, shape, name=f"check_{name}_shape")
    return tf.debugging.assert_all_finite(value, f"`{name}` must be finite (no NaN or inf)")


def _checked_count(value, name, minimum, maximum):
    """An `int32` scalar with graph assertions `minimum <= value <= maximum` (InvalidArgument)."""
    value = tf.convert_to_tensor(value, tf.int32)
    checks = [
        tf.debugging.assert_greater_equal(
            value, tf.constant(minimum, tf.int32), message=f"`{name}` must be >= {minimum}"),
        tf.debugging.assert_less_equal(
            value, tf.constant(maximum, tf.int32), message=f"`{name}` must be <= {maximum}"),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(value)
