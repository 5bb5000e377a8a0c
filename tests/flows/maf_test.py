"""Tests for tfp_nfvi.flows.maf: the masked autoregressive step."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # pylint: disable=g-import-not-at-top
import pytest  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from tfp_nfvi import flows  # pylint: disable=g-import-not-at-top

from tfp_nfvi.flows import maf  # pylint: disable=g-import-not-at-top


def _far(layer):
    rng = np.random.default_rng(0)
    for w in layer.weights:
        w.assign(rng.standard_normal(w.shape).astype(np.float32) * 0.5)


def test_inverse_jacobian_is_triangular():
    layer = maf.MAFStep(4, hidden_units=(8,), seed=0)
    layer.build(None)
    _far(layer)
    y = tf.random.stateless_normal([1, 4], seed=[2, 3])
    with tf.GradientTape() as tape:
        tape.watch(y)
        x = layer(None).inverse(y)
    jac = tape.batch_jacobian(x, y)[0].numpy()
    np.testing.assert_array_equal(np.triu(jac, 1), 0.0)  # x_i depends on y_{<=i} only
    assert np.any(np.abs(np.tril(jac, -1)) > 1e-4)


@pytest.mark.parametrize("kind", ["maf", "iaf", "nsf_iaf"])
def test_one_dimensional_step_depends_on_the_context(kind):
    # For D = 1 a MADE has only the first coordinate's outputs, which no hidden unit reaches:
    # the context gets there by the direct context-to-output path alone.
    z = tf.constant([[0.3], [0.3]])
    context = tf.constant([[0.0, 0.0, 0.0], [1.0, -1.0, 2.0]])
    flow = flows.Flow(1, kind, hidden_units=(8,), trainable_base=False, seed=0)
    flow.build((None, 3))
    _far(flow)
    y = flow(context).bijector.forward(z).numpy()
    assert abs(y[0, 0] - y[1, 0]) > 1e-3
    # A config saved before the option (v0.1) means the old network: the step ignores c.
    config = flow.get_config()
    del config["context_to_output"]
    legacy = flows.Flow.from_config(config)
    legacy.build((None, 3))
    assert len(legacy.weights) == len(flow.weights) - 1
    _far(legacy)
    y = legacy(context).bijector.forward(z).numpy()
    assert y[0, 0] == y[1, 0] and y[0, 0] != 0.3
