"""Models saved by tfp_nfvi 0.1 still load and compute what they computed then.

The fixtures in tests/testdata/v0_1 were written by v0.1 (commit dab749d) with
`tests/testdata/v0_1/make_fixtures.py`: a `planar*2,iaf*1` FlowVAE trained one epoch on 8
digits, saved as `.keras` and exported as a SavedModel, with reference outputs for fixed
seeds. Tolerances: float32 round-off (1e-5 relative) between library versions.
"""

import json
import os
import pathlib

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

import tfp_nfvi  # pylint: disable=g-import-not-at-top,unused-import
from tfp_nfvi import models  # pylint: disable=g-import-not-at-top

_DIR = pathlib.Path(__file__).resolve().parents[1] / "testdata" / "v0_1"
_REF = json.loads((_DIR / "flow_vae_planar2_iaf1_outputs.json").read_text())


def test_v0_1_keras_file_loads_in_safe_mode_and_reproduces_outputs():
    vae = keras.saving.load_model(_DIR / "flow_vae_planar2_iaf1.keras", safe_mode=True)
    assert isinstance(vae, models.FlowVAE)
    x = tf.constant(_REF["x"], tf.float32)
    z, log_q = vae.encode(x, seed=_REF["encode_seed"])[:2]
    np.testing.assert_allclose(z, _REF["z"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(log_q, _REF["log_q"], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(vae.elbo(x, seed=[3, 4]), _REF["elbo_seed_3_4"], rtol=1e-5)
    np.testing.assert_allclose(
        vae.log_likelihood(x, num_samples=16, seed=[5, 6]), _REF["log_likelihood_S16_seed_5_6"],
        rtol=1e-5)
    np.testing.assert_allclose(
        vae.likelihood_distribution(z).mean(), _REF["decode_probs_of_z"], rtol=1e-5, atol=1e-6)
    # The optimizer state came back too (the Adam step count of one epoch of 2 batches).
    assert int(vae.optimizer.iterations) == 2


def test_v0_1_saved_model_serves_with_plain_tensorflow():
    loaded = tf.saved_model.load(str(_DIR / "flow_vae_planar2_iaf1_savedmodel"))
    x = tf.constant(_REF["x"], tf.float32)
    out = loaded.signatures["encode"](x=x, seed=tf.constant(_REF["serving_encode_seed"]))
    np.testing.assert_allclose(out["z"], _REF["serving_z"], rtol=1e-5, atol=1e-6)
    out = loaded.signatures["log_likelihood"](x=x, seed=tf.constant(9), num_samples=tf.constant(16))
    np.testing.assert_allclose(
        out["log_likelihood"], _REF["serving_log_likelihood_seed_9"], rtol=1e-5)
