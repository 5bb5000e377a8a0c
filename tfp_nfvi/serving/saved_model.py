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

import keras
import tensorflow as tf

from tfp_nfvi.internal import validation
from tfp_nfvi.serving import requests
from tfp_nfvi.serving.requests import SEED_DEFAULT  # Public here since v0.1.
from tfp_nfvi.serving.requests import stateless_seed  # Public here since v0.1.

__all__ = [
    "SEED_DEFAULT",
    "export_saved_model",
    "export_surrogate_saved_model",
    "stateless_seed",
]

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
    [1, `requests.MAX_IMPORTANCE_SAMPLES`] or `n` outside [0, `requests.MAX_DRAWS`] (`tfp_nfvi.serving.requests`).

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
    export_dir = requests.check_export_dir(export_dir, overwrite)
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

    def encode(x, seed=requests.default_seed()):
        z, log_q, base_loc, base_scale = model.encode(
            requests.checked_shape(x, "x", data_shape), seed=requests.stateless_seed(seed)
        )
        return {"z": z, "log_q": log_q, "base_loc": base_loc, "base_scale": base_scale}

    def decode(z):
        z = requests.checked_shape(z, "z", latent_shape)
        return {"probs": model.likelihood_distribution(z).mean(), "logits": model.decode_logits(z)}

    def elbo(x, seed=requests.default_seed()):
        return {"elbo": model.elbo(requests.checked_shape(x, "x", data_shape), seed=requests.stateless_seed(seed))}

    def log_likelihood(
        x, num_samples=tf.constant(num_samples, tf.int32), seed=requests.default_seed()
    ):
        # The model's own estimator with a run-time S (see `FlowVAE.importance_log_likelihood`).
        estimate = model.importance_log_likelihood(
            requests.checked_shape(x, "x", data_shape),
            requests.checked_count(num_samples, "num_samples", 1, requests.MAX_IMPORTANCE_SAMPLES),
            requests.stateless_seed(seed),
            chunk_size,
        )
        return {"log_likelihood": estimate}

    def sample(n, seed=requests.default_seed()):
        seed = requests.stateless_seed(seed)
        z = model.sample_latents(requests.checked_count(n, "n", 0, requests.MAX_DRAWS), seed=seed)
        likelihood = model.likelihood_distribution(z)
        x = likelihood.sample(seed=tf.random.experimental.stateless_fold_in(seed, 1))
        return {"x": x, "probs": likelihood.mean(), "z": z}

    x_spec = requests.spec(data_shape, dtype, "x")
    seed_spec = requests.spec([], tf.int32, "seed")
    archive = keras.export.ExportArchive()
    # No `archive.track(model)`: the archive saves the variables the endpoints read, and
    # tracking would walk the model's attributes (e.g. its dict of compiled functions, which
    # SavedModel cannot serialize). The first endpoint is also written as `serving_default`.
    archive.add_endpoint("encode", encode, [x_spec, seed_spec])
    archive.add_endpoint("decode", decode, [requests.spec(latent_shape, dtype, "z")])
    archive.add_endpoint("elbo", elbo, [x_spec, seed_spec])
    archive.add_endpoint(
        "log_likelihood", log_likelihood, [x_spec, requests.spec([], tf.int32, "num_samples"), seed_spec]
    )
    archive.add_endpoint("sample", sample, [requests.spec([], tf.int32, "n"), seed_spec])
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
    export_dir = requests.check_export_dir(export_dir, overwrite)
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

    def sample(n, seed=requests.default_seed()):
        n = requests.checked_count(n, "n", 0, requests.MAX_DRAWS)
        z, log_prob = surrogate.experimental_sample_and_log_prob(n, seed=requests.stateless_seed(seed))
        return {"z": z, "log_prob": log_prob}

    def log_prob(z):
        return {"log_prob": surrogate.log_prob(requests.checked_shape(z, "z", [None, event_size]))}

    archive = keras.export.ExportArchive()  # Saves the variables the endpoints read.
    archive.add_endpoint(
        "sample", sample, [requests.spec([], tf.int32, "n"), requests.spec([], tf.int32, "seed")]
    )
    archive.add_endpoint("log_prob", log_prob, [requests.spec([None, event_size], dtype, "z")])
    archive.write_out(export_dir, verbose=False)
    return export_dir
