"""Tests for tfp_nfvi.flows.networks: MADE's autoregressive property, the coupling network."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top
import pytest  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top
import tensorflow_probability as tfp  # pylint: disable=g-import-not-at-top

from tfp_nfvi import flows  # pylint: disable=g-import-not-at-top

tfb = tfp.bijectors
D = 5


def _jacobians(made, x, context=None):
    """d shift / dx and d log_scale / dx for a single x of shape [D]: two [D, D] matrices."""
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        shift, log_scale = made(x[tf.newaxis], context=context)
        outputs = (shift[0], log_scale[0])
    return [tape.jacobian(out, x).numpy() for out in outputs]


@pytest.mark.parametrize("context_size", [None, 3])
def test_made_is_autoregressive(context_size):
    # Large output init so that every allowed connection carries a visible gradient.
    made = flows.MADE(D, hidden_units=(16, 16), context_size=context_size, output_init_scale=1.0,
                      seed=1)
    context = None if context_size is None else tf.random.stateless_normal([1, 3], seed=[2, 3])
    x = tf.random.stateless_normal([D], seed=[0, 1])
    for jac in _jacobians(made, x, context):
        # Output i must not depend on inputs >= i: the upper triangle (with diagonal) is zero.
        assert np.all(jac[np.triu_indices(D)] == 0.0)
        # ... and it does depend on earlier inputs (the masks are not all zero).
        assert np.all(np.abs(jac[np.tril_indices(D, -1)]) > 0)


def test_made_masks_degrees():
    masks = flows.made_masks(4, (6,), num_outputs_per_input=2)
    assert [m.shape for m in masks] == [(4, 6), (6, 8)]
    # The product of masks is the input->output connectivity: strictly lower triangular.
    connectivity = (masks[0] @ masks[1]) > 0
    for block in (connectivity[:, :4], connectivity[:, 4:]):
        np.testing.assert_array_equal(block.T, np.tril(np.ones((4, 4)), -1) > 0)


def test_context_changes_output_and_broadcasts_over_sample_dims():
    made = flows.MADE(D, hidden_units=(8,), context_size=3, output_init_scale=1.0, seed=0)
    context = tf.random.stateless_normal([4, 3], seed=[0, 1])  # [B, C]
    x = tf.random.stateless_normal([2, 4, D], seed=[1, 1])      # [S, B, D]
    shift, log_scale = made(x, context=context)
    assert shift.shape == log_scale.shape == (2, 4, D)
    shift2, _ = made(x, context=context + 1.0)
    assert np.max(np.abs(shift2[..., 1:] - shift[..., 1:])) > 1e-3


def test_log_scale_is_bounded():
    net = flows.CouplingNetwork(2, 3, hidden_units=(8,), log_scale_clip=2.0,
                                output_init_scale=100.0, seed=0)
    _, log_scale = net(100.0 * tf.random.stateless_normal([64, 2], seed=[0, 2]))
    assert log_scale.shape == (64, 3)
    assert np.all(np.abs(log_scale) <= 2.0) and np.max(np.abs(log_scale)) > 1.0


def test_made_drives_tfp_maf_round_trip():
    made = flows.MADE(D, hidden_units=(16,), output_init_scale=1.0, seed=3)
    maf = tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=made)
    x = tf.random.stateless_normal([7, D], seed=[4, 4])
    y = maf.forward(x)
    np.testing.assert_allclose(maf.inverse(tf.identity(y)), x, atol=1e-4)
    # Triangular Jacobian: log|det| is the sum of log-scales at the inverse.
    assert y.shape == x.shape
    x = tf.identity(x)  # a new tensor: TFP's bijector cache must not answer for it
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = maf.forward(x)
    jac = tape.batch_jacobian(y, x)
    np.testing.assert_allclose(
        maf.forward_log_det_jacobian(x, event_ndims=1),
        np.linalg.slogdet(jac.numpy())[1], rtol=1e-4, atol=1e-4)


def test_wrong_shapes_and_missing_context_raise():
    made = flows.MADE(D, context_size=3)
    with pytest.raises(ValueError, match="context"):
        made(tf.zeros([2, D]))
    with pytest.raises(ValueError, match=r"last dimension 5"):
        made(tf.zeros([2, D + 1]), context=tf.zeros([2, 3]))
    with pytest.raises(ValueError, match=r"`context` must have last dimension 3"):
        made(tf.zeros([2, D]), context=tf.zeros([2, 4]))
    with pytest.raises(ValueError, match="event_size"):
        flows.MADE(0)
    with pytest.raises(ValueError, match="hidden_units"):
        flows.MADE(D, hidden_units=())


@pytest.mark.parametrize("cls, args", [(flows.MADE, (D,)), (flows.CouplingNetwork, (2, 3))])
def test_config_round_trip(cls, args):
    net = cls(*args, hidden_units=(8, 4), context_size=2, activation="tanh", log_scale_clip=1.5,
              seed=7)
    clone = cls.from_config(net.get_config())
    assert clone.get_config() == net.get_config()
    x = tf.ones([3, args[0]])
    context = tf.ones([3, 2])
    for a, b in zip(net(x, context=context), clone(x, context=context)):
        np.testing.assert_allclose(a, b)  # same seed, same weights
    # Two hidden (kernel, bias) pairs, the context kernel, the output kernel and bias (and
    # MADE's context-to-output kernel).
    assert len(net.trainable_weights) == 2 * 2 + 1 + 2 + (cls is flows.MADE)
    assert all(isinstance(w, keras.Variable) for w in net.trainable_weights)


@pytest.mark.parametrize("params_per_output", [None, 4])
def test_every_made_output_depends_on_the_context(params_per_output):
    # The first coordinate's outputs see no hidden unit; the context reaches them only by the
    # direct path. D = 1 is the extreme case: without it the network ignores the context.
    for d in (1, D):
        made = flows.MADE(d, hidden_units=(8,), context_size=3, output_init_scale=1.0,
                          params_per_output=params_per_output, seed=0)
        x = tf.random.stateless_normal([4, d], seed=[1, 2])
        context = tf.random.stateless_normal([4, 3], seed=[2, 2])
        a = tf.concat(tf.nest.flatten(made(x, context=context)), -1)
        b = tf.concat(tf.nest.flatten(made(x, context=context + 1.0)), -1)
        assert np.min(np.max(np.abs(a - b), axis=0)) > 1e-3  # every output column moved
        old = flows.MADE(d, hidden_units=(8,), context_size=3, output_init_scale=1.0,
                         params_per_output=params_per_output, context_to_output=False, seed=0)
        a = tf.concat(tf.nest.flatten(old(x, context=context)), -1).numpy()
        b = tf.concat(tf.nest.flatten(old(x, context=context + 1.0)), -1).numpy()
        # Coordinate 0's outputs: its P parameters, or (shift_0, log_scale_0).
        a, b = (v[:, 0, :] if params_per_output else v[:, [0, d]] for v in (a, b))
        np.testing.assert_array_equal(a, b)  # v0.1's network: the first output is blind to c


def test_made_config_without_context_to_output_is_v0_1s_network():
    made = flows.MADE(D, hidden_units=(8,), context_size=3, seed=0)
    config = made.get_config()
    assert config["context_to_output"] is True
    del config["context_to_output"]  # as saved by v0.1
    old = flows.MADE.from_config(config)
    old.build(None)
    assert old.context_to_output is False and old.context_output_kernel is None
    assert [w.name for w in old.weights] == [
        "kernel_0", "bias_0", "context_kernel", "output_kernel", "output_bias"]
