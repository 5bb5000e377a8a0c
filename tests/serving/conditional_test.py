"""Tests for tfp_nfvi.serving.conditional: a ConditionalFlow as a SavedModel without tfp_nfvi.

The export is loaded in a subprocess in which tfp_nfvi, TFP and Keras cannot be imported
(`conftest.py`'s `run_without_tfp_nfvi`), and its answers are compared with the in-process model:
float32 round-off for sampling (rtol 1e-5); log-densities at arbitrary points run iterative
inverses (planar's root search) in the generative direction, so atol 1e-4.
"""

import numpy as np
import pytest
import tensorflow as tf

from tfp_nfvi import models
from tfp_nfvi import serving


X_LOC, X_SCALE = np.array([1.0, -2.0, 0.5]), np.array([2.0, 0.5, 3.0])
Y_LOC, Y_SCALE = np.array([10.0, -1.0]), np.array([4.0, 0.25])


def _model(direction):
    model = models.ConditionalFlow(3, 2, flow="planar*2,maf", direction=direction,
                                   conditioner_units=(8,), flow_kwargs={"hidden_units": (8,)},
                                   seed=0)
    model.build((None, 3))
    model.compile(jit_compile=False)  # Serving graphs run without XLA.
    rng = np.random.default_rng(0)
    model.set_weights([w + 0.2 * rng.standard_normal(w.shape).astype(w.dtype)
                       for w in model.get_weights()])
    return model


def test_export_answers_without_tfp_nfvi(tmp_path, run_without_tfp_nfvi):
    rng = np.random.default_rng(1)
    x = (X_LOC + X_SCALE * rng.standard_normal((4, 3))).astype(np.float32)
    y = (Y_LOC + Y_SCALE * rng.standard_normal((4, 2))).astype(np.float32)
    requests, expected = [], []
    for direction in ("generative", "normalizing"):
        model = _model(direction)
        export_dir = str(tmp_path / direction)
        serving.export_conditional_saved_model(model, export_dir, X_LOC, X_SCALE, Y_LOC, Y_SCALE)
        x_std = ((x - X_LOC) / X_SCALE).astype(np.float32)
        y_std = ((y - Y_LOC) / Y_SCALE).astype(np.float32)
        log_prob = model.log_prob(x_std, y_std).numpy() - np.log(Y_SCALE).sum()
        draws = model.sample_from(x_std, 3, tf.constant([5, 0], tf.int32)).numpy()
        requests += [(export_dir, "log_prob", {"x": x, "y": y}),
                     (export_dir, "sample", {"x": x, "n": np.int32(3), "seed": np.int32(5)}),
                     (export_dir, "serving_default", {"x": x, "n": np.int32(2),
                                                      "seed": np.int32(-1)}),
                     (export_dir, "log_prob", {"x": x[:, :2], "y": y})]
        expected.append((log_prob, draws * Y_SCALE + Y_LOC))
    answer = run_without_tfp_nfvi(tmp_path, requests)
    assert answer["importable"] == [] and answer["leaked"] == []
    answers = answer["answers"]
    for i, (log_prob, draws) in enumerate(expected):
        got_log_prob, got_sample, fresh, bad = answers[4 * i: 4 * i + 4]
        np.testing.assert_allclose(got_log_prob["log_prob"], log_prob, atol=1e-4)
        np.testing.assert_allclose(got_sample["y"], draws, rtol=1e-5, atol=1e-5)
        assert fresh["y"].shape == (2, 4, 2) and np.all(np.isfinite(fresh["y"]))
        assert "InvalidArgument" in bad["error"]
    assert set(answer["signatures"][str(tmp_path / "generative")]) == {
        "log_prob", "sample", "serving_default"}


def test_export_refuses_bad_standardization(tmp_path):
    model = _model("generative")
    with pytest.raises(ValueError, match=r"`y_loc` and `y_scale` must have shape \[2\]"):
        serving.export_conditional_saved_model(model, str(tmp_path / "a"), y_scale=[1.0, 0.0])
