"""Keras-native saving: `model.save("x.keras")` and `load_model(..., safe_mode=True)`.

A `FlowVAE` with any flow spec must round-trip through the `.keras` format with safe mode on
(which refuses to deserialize lambdas), so every layer in it is a registered serializable
rebuilt from its config. Restored weights must equal the saved ones and the restored model
must give the same numbers at the same seeds. Sizes are tiny (P = 10, D = 3, odd so RealNVP
splits unevenly); the comparison is exact up to float32 round-off (atol 1e-6).
"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_nfvi import models

DATA, LATENT = 10, 3
SEED = tf.constant([3, 0], tf.int32)

SPECS = [
    "diag",
    "planar*2",
    "radial*2",
    "iaf*2",
    "maf*2",
    "realnvp*2",
    "planar,radial,maf,realnvp,iaf",
    [("planar", 1), ("iaf", 1)],
    "sylvester_o(m=2)*2,sylvester_h(k=2),sylvester_t*2",
    "householder*2,nsf_coupling(bins=4),nsf_iaf(bins=4)",
]


def _data(n=8):
    return (np.random.default_rng(1).random((n, DATA)) < 0.4).astype(np.float32)


def _vae(flow, **kwargs):
    vae = models.FlowVAE(
        latent_dim=LATENT, flow=flow, event_size=DATA, encoder_units=(8,), decoder_units=(8,),
        seed=0, posterior_kwargs={"hidden_units": (8,)}, **kwargs,
    )
    vae(_data(1))
    return vae


def _round_trip(model, tmp_path):
    path = str(tmp_path / "model.keras")
    model.save(path)
    return keras.saving.load_model(path, safe_mode=True)


def _assert_same_weights(a, b):
    # Paths agree up to the scope of custom networks, which are deserialized (hence built)
    # outside the model's scope: "flow_vae/my_encoder/dense/kernel" vs "dense/kernel".
    assert [w.path.split("/")[-2:] for w in a.weights] == [
        w.path.split("/")[-2:] for w in b.weights]
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(wa),
                                      keras.ops.convert_to_numpy(wb), err_msg=wa.path)


def _assert_same_outputs(a, b, x):
    for ta, tb in zip(a.encode(x, seed=SEED), b.encode(x, seed=SEED)):
        np.testing.assert_allclose(ta, tb, atol=1e-6)
    np.testing.assert_allclose(a.elbo(x, seed=SEED), b.elbo(x, seed=SEED), atol=1e-6)
    z = a.encode(x, seed=SEED)[0]
    np.testing.assert_allclose(a.decode_logits(z), b.decode_logits(z), atol=1e-6)
    # q(z|x) at arbitrary points runs every flow's inverse.
    np.testing.assert_allclose(a.posterior_distribution(x).log_prob(z),
                               b.posterior_distribution(x).log_prob(z), atol=1e-5)


@pytest.mark.parametrize("flow", SPECS, ids=str)
def test_round_trip_with_safe_mode(flow, tmp_path):
    vae = _vae(flow)
    restored = _round_trip(vae, tmp_path)
    assert isinstance(restored, models.FlowVAE)
    # Equal as JSON (the file stores tuples as lists).
    assert json.dumps(restored.get_config()) == json.dumps(vae.get_config(), default=list)
    _assert_same_weights(vae, restored)
    _assert_same_outputs(vae, restored, _data())


def test_round_trip_with_custom_networks(tmp_path):
    encoder = keras.Sequential([keras.layers.Dense(6, activation="tanh")], name="my_encoder")
    decoder = keras.Sequential([keras.layers.Dense(5, activation="elu"),
                                keras.layers.Dense(DATA)], name="my_decoder")
    vae = _vae("planar,iaf", encoder=encoder, decoder=decoder)
    restored = _round_trip(vae, tmp_path)
    assert restored.encoder.name == "my_encoder" and restored.decoder.name == "my_decoder"
    _assert_same_weights(vae, restored)
    _assert_same_outputs(vae, restored, _data())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model after two optimizer steps, and its round trip (the last test trains both)."""
    vae = _vae("planar,iaf", warmup_steps=10)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    vae.fit(_data(), batch_size=4, epochs=1, verbose=0, shuffle=False)
    return vae, _round_trip(vae, tmp_path_factory.mktemp("trained"))


def test_trained_model_round_trips_its_optimizer(trained):
    vae, restored = trained
    _assert_same_weights(vae, restored)
    assert restored.optimizer.iterations.numpy() == vae.optimizer.iterations.numpy() == 2
    for va, vb in zip(vae.optimizer.variables, restored.optimizer.variables):
        np.testing.assert_array_equal(va.numpy(), vb.numpy(), err_msg=va.path)
    np.testing.assert_allclose(restored.kl_weight(), vae.kl_weight())
    _assert_same_outputs(vae, restored, _data())


def test_training_resumes_identically_after_a_round_trip(trained):
    vae, restored = trained
    for name in ("seed_generator", "eval_seed_generator"):
        np.testing.assert_array_equal(getattr(restored, name).state.numpy(),
                                      getattr(vae, name).state.numpy(), err_msg=name)
    for model in (vae, restored):
        model.fit(_data(), batch_size=8, epochs=1, verbose=0, shuffle=False)
    for wa, wb in zip(vae.weights, restored.weights):
        np.testing.assert_allclose(wa.numpy(), wb.numpy(), atol=1e-6, err_msg=wa.path)
