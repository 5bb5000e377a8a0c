"""SavedModel export of a `ConditionalFlow` p(y | x), runnable with plain TensorFlow.

The signatures are traced graphs over the model's variables (see `saved_model`): no class of
tfp_nfvi, TFP or Keras is needed to load and run them. Optionally the export takes x and y in
original units and standardizes them inside the graph, x̃ = (x − m_x)/s_x, ỹ = (y − m_y)/s_y,
for a model trained on standardized data (as `python -m tfp_nfvi.cde` does; optionally x̃ is
clipped to [−c, c] as there):

    log p(y | x) = log p̃(ỹ | x̃) − Σ_j log s_{y,j},      y = m_y + s_y ỹ,  ỹ ~ p̃(· | x̃).
"""

import keras
import numpy as np
import tensorflow as tf

from tfp_nfvi.serving import requests

__all__ = ["export_conditional_saved_model"]


def _affine(loc, scale, size, name, dtype):
    """float constants `(m, s)` of shape `[size]` (0 and 1 when not given)."""
    loc = np.zeros([size]) if loc is None else np.asarray(loc, np.float64).reshape(-1)
    scale = np.ones([size]) if scale is None else np.asarray(scale, np.float64).reshape(-1)
    if loc.shape != (size,) or scale.shape != (size,) or not np.all(scale > 0):
        raise ValueError(
            f"`{name}_loc` and `{name}_scale` must have shape [{size}] with a positive scale, "
            f"got shapes {loc.shape} and {scale.shape}.")
    return tf.constant(loc, dtype), tf.constant(scale, dtype)


def export_conditional_saved_model(model, export_dir, x_loc=None, x_scale=None, y_loc=None,
                                   y_scale=None, x_clip=None, overwrite=False):
    """Writes a `ConditionalFlow` as a SavedModel with `sample` and `log_prob` signatures.

    | signature | inputs | outputs |
    |---|---|---|
    | `sample` (= `serving_default`) | `x` f32 `[B, P]`, `n` i32 `[]`, `seed` i32 `[]` = -1 | `y` f32 `[n, B, D]` |
    | `log_prob` | `x` f32 `[B, P]`, `y` f32 `[B, D]` | `log_prob` f32 `[B]` (nats) |

    `sample` with `seed = s >= 0` equals `model.sample_from(x̃, n, [s, 0])` mapped back to
    original units; `seed < 0` draws fresh noise (see `requests.stateless_seed`). Wrong
    shapes or `n < 0` are rejected with `InvalidArgument`. `serving_default` is `sample`:
    predictive draws are what a served conditional model is most often asked for.

    Args:
      model: a built `tfp_nfvi.models.ConditionalFlow`.
      export_dir: a new directory.
      x_loc, x_scale: per-column mean and standard deviation of x that the model was trained
        to see standardized (None: x is used as given).
      y_loc, y_scale: the same for y.
      x_clip: clip the standardized x to [−x_clip, x_clip], as in training (None: no).
      overwrite: replace a SavedModel already in `export_dir` (default: refuse).

    Returns:
      `export_dir`.
    """
    export_dir = requests.check_export_dir(export_dir, overwrite)
    if not model.built:
        raise ValueError(
            f"`model` {model.name!r} is not built; train it or call it on a batch of shape "
            f"[B, {model.input_size}] before exporting.")
    dtype = tf.as_dtype(model.compute_dtype)
    p, d = model.input_size, model.event_size
    x_m, x_s = _affine(x_loc, x_scale, p, "x", dtype)
    y_m, y_s = _affine(y_loc, y_scale, d, "y", dtype)
    log_det = tf.reduce_sum(tf.math.log(y_s))

    def standardize_x(x):
        x = (requests.checked_shape(x, "x", [None, p]) - x_m) / x_s
        return x if x_clip is None else tf.clip_by_value(x, -x_clip, x_clip)

    def sample(x, n, seed=requests.default_seed()):
        x = standardize_x(x)
        n = requests.checked_count(n, "n", 0, requests.MAX_DRAWS)
        y = model.sample_from(x, n, requests.stateless_seed(seed))
        return {"y": y * y_s + y_m}

    def log_prob(x, y):
        x = standardize_x(x)
        y = (requests.checked_shape(y, "y", [None, d]) - y_m) / y_s
        return {"log_prob": model.conditional_distribution(x).log_prob(y) - log_det}

    archive = keras.export.ExportArchive()  # Saves the variables the endpoints read.
    archive.add_endpoint("sample", sample, [
        tf.TensorSpec([None, p], dtype, name="x"), tf.TensorSpec([], tf.int32, name="n"),
        tf.TensorSpec([], tf.int32, name="seed")])
    archive.add_endpoint("log_prob", log_prob, [
        tf.TensorSpec([None, p], dtype, name="x"), tf.TensorSpec([None, d], dtype, name="y")])
    archive.write_out(export_dir, verbose=False)
    return export_dir
