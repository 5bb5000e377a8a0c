"""Tests for tfp_nfvi.serving: SavedModels that load and run without tfp_nfvi, TFP or Keras.

Everything exported here is loaded in ONE subprocess in which `tfp_nfvi`,
`tensorflow_probability`, `keras` and `tf_keras` cannot be imported (`conftest.py`'s
`run_without_tfp_nfvi`); it answers a list of requests, valid and invalid ones interleaved,
and the test compares the answers with the in-process model at the same seeds.

Tolerances: the loaded graphs run the same float32 ops as the in-process model, but Grappler
may fuse or reorder them, so values agree to float32 round-off (rtol 1e-5); densities of
arbitrary points go through iterative inverses (root searches) and get atol 1e-4.
"""

import os
import shutil
import subprocess

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_nfvi import flows
from tfp_nfvi import models
from tfp_nfvi import serving

tfd = tfp.distributions
tfb = tfp.bijectors

SEED = 7
TFP_SEED = tf.constant([SEED, 0], tf.int32)  # What `seed=SEED` means to the model.
DATA, LATENT, BATCH = 12, 2, 5
NUM_SAMPLES, CHUNK = 30, 8  # log_likelihood: 3 full chunks and a remainder of 6.
EVENT, N_DRAWS = 3, 5  # The global surrogate.

def _vae():
    vae = models.FlowVAE(
        latent_dim=LATENT, flow="planar*2,iaf", event_size=DATA, encoder_units=(16,),
        decoder_units=(16,), seed=0, posterior_kwargs={"hidden_units": (8,)},
    )
    vae(np.zeros((1, DATA), np.float32))
    # Serving graphs run without XLA, and XLA's stateless samplers draw other numbers than
    # TF's kernels for the same seed (on CPU); compare with the model's non-XLA estimator.
    vae.compile(jit_compile=False)
    return vae


@pytest.fixture(scope="module")
def vae_export(tmp_path_factory):
    vae = _vae()
    x = (np.random.default_rng(1).random((BATCH, DATA)) < 0.4).astype(np.float32)
    z, log_q, base_loc, base_scale = (t.numpy() for t in vae.encode(x, seed=TFP_SEED))
    reference = {
        "x": x,
        "encode": {"z": z, "log_q": log_q, "base_loc": base_loc, "base_scale": base_scale},
        "decode": {"probs": vae.likelihood_distribution(z).mean().numpy(),
                   "logits": vae.decode_logits(z).numpy()},
        "elbo": {"elbo": vae.elbo(x, seed=TFP_SEED).numpy()},
        "log_likelihood": {"log_likelihood": vae.log_likelihood(
            x, num_samples=NUM_SAMPLES, seed=TFP_SEED, chunk_size=CHUNK).numpy()},
        "log_likelihood_7": {"log_likelihood": vae.log_likelihood(
            x, num_samples=7, seed=TFP_SEED, chunk_size=7).numpy()},
        "sample": {"probs": vae.sample(N_DRAWS, seed=TFP_SEED).numpy()},
    }
    # Exported after the model has been used (log_likelihood caches compiled functions), as
    # at the end of training.
    export_dir = str(tmp_path_factory.mktemp("vae") / "saved_model")
    serving.export_saved_model(vae, export_dir, num_samples=NUM_SAMPLES, chunk_size=CHUNK)
    return export_dir, reference


def _surrogate():
    """A global flow surrogate with elementwise steps and a Keras 3 MADE (IAF) inside."""
    return flows.build_flow_surrogate(EVENT, flow="planar*2,radial,iaf", seed=1,
                                      hidden_units=(8,))


@pytest.fixture(scope="module")
def surrogate_export(tmp_path_factory):
    surrogate = _surrogate()
    export_dir = str(tmp_path_factory.mktemp("surrogate") / "saved_model")
    serving.export_surrogate_saved_model(surrogate, export_dir)
    z, log_prob = surrogate.experimental_sample_and_log_prob(N_DRAWS, seed=TFP_SEED)
    points = np.random.default_rng(3).normal(size=(4, EVENT)).astype(np.float32)
    reference = {
        "sample": {"z": z.numpy(), "log_prob": log_prob.numpy()},
        "points": points,
        "log_prob": {"log_prob": surrogate.log_prob(points).numpy()},
    }
    return export_dir, reference


def _requests(vae_dir, vae_ref, surrogate_dir, surrogate_ref):
    """(label, export_dir, signature, inputs) for the loader, valid and invalid interleaved."""
    x, seed, i32 = vae_ref["x"], np.int32(SEED), np.int32
    z = vae_ref["encode"]["z"]
    return [
        ("encode", vae_dir, "encode", {"x": x, "seed": seed}),
        ("serving_default", vae_dir, "serving_default", {"x": x, "seed": seed}),
        ("decode", vae_dir, "decode", {"z": z}),
        ("elbo", vae_dir, "elbo", {"x": x, "seed": seed}),
        ("log_likelihood", vae_dir, "log_likelihood",
         {"x": x, "num_samples": i32(NUM_SAMPLES), "seed": seed}),
        ("log_likelihood_default_s", vae_dir, "function:log_likelihood", {"x": x, "seed": seed}),
        ("sample", vae_dir, "sample", {"n": i32(N_DRAWS), "seed": seed}),
        ("encode_unseeded_1", vae_dir, "function:encode", {"x": x}),
        ("encode_unseeded_2", vae_dir, "function:encode", {"x": x}),
        ("vae_bad_width", vae_dir, "encode", {"x": np.zeros((2, DATA + 1), np.float32),
                                              "seed": seed}),
        ("vae_bad_rank", vae_dir, "elbo", {"x": np.zeros((DATA,), np.float32), "seed": seed}),
        ("vae_bad_dtype", vae_dir, "encode", {"x": x.astype(np.int32), "seed": seed}),
        ("vae_bad_latent", vae_dir, "decode", {"z": np.zeros((2, LATENT + 1), np.float32)}),
        ("vae_bad_samples", vae_dir, "log_likelihood",
         {"x": x, "num_samples": i32(0), "seed": seed}),
        ("vae_bad_n", vae_dir, "sample", {"n": i32(-1), "seed": seed}),
        ("vae_nan_x", vae_dir, "encode", {"x": np.full_like(x, np.nan), "seed": seed}),
        ("vae_inf_z", vae_dir, "decode", {"z": np.full_like(z, np.inf)}),
        ("vae_huge_n", vae_dir, "sample", {"n": i32(2**31 - 1), "seed": seed}),
        ("vae_huge_samples", vae_dir, "log_likelihood",
         {"x": x, "num_samples": i32(2**31 - 1), "seed": seed}),
        ("encode_again", vae_dir, "encode", {"x": x, "seed": seed}),
        ("log_likelihood_7", vae_dir, "log_likelihood",
         {"x": x, "num_samples": i32(7), "seed": seed}),
        ("sample_again", vae_dir, "sample", {"n": i32(N_DRAWS), "seed": seed}),
        ("sample_other_seed", vae_dir, "sample", {"n": i32(N_DRAWS), "seed": i32(SEED + 1)}),
        ("surrogate_sample", surrogate_dir, "sample", {"n": i32(N_DRAWS), "seed": seed}),
        ("surrogate_default", surrogate_dir, "serving_default",
         {"n": i32(N_DRAWS), "seed": seed}),
        ("surrogate_log_prob", surrogate_dir, "log_prob", {"z": surrogate_ref["points"]}),
        ("surrogate_unseeded_1", surrogate_dir, "sample", {"n": i32(3), "seed": i32(-1)}),
        ("surrogate_unseeded_2", surrogate_dir, "sample", {"n": i32(3), "seed": i32(-5)}),
        ("surrogate_bad_width", surrogate_dir, "log_prob",
         {"z": np.zeros((3, EVENT + 1), np.float32)}),
        ("surrogate_bad_rank", surrogate_dir, "log_prob", {"z": np.zeros((EVENT,), np.float32)}),
        ("surrogate_bad_dtype", surrogate_dir, "log_prob", {"z": np.zeros((3, EVENT), np.int32)}),
        ("surrogate_bad_n", surrogate_dir, "sample", {"n": i32(-2), "seed": seed}),
        ("surrogate_bad_seed_dtype", surrogate_dir, "sample",
         {"n": i32(2), "seed": np.float32(1.5)}),
        ("surrogate_sample_again", surrogate_dir, "sample", {"n": i32(N_DRAWS), "seed": seed}),
        ("surrogate_log_prob_again", surrogate_dir, "log_prob", {"z": surrogate_ref["points"]}),
    ]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, vae_export, surrogate_export, run_without_tfp_nfvi):
    """One subprocess answers every request; returns ({label: answer}, metadata)."""
    labeled = _requests(*vae_export, *surrogate_export)
    result = run_without_tfp_nfvi(
        tmp_path_factory.mktemp("loader"), [item[1:] for item in labeled]
    )
    return dict(zip((item[0] for item in labeled), result["answers"])), result


def _assert_answer(answer, expected, **tolerance):
    assert "error" not in answer, answer["error"]
    assert set(expected) <= set(answer)
    for key, value in expected.items():
        np.testing.assert_allclose(answer[key], value, err_msg=key, **tolerance)


def test_loads_without_tfp_nfvi_tfp_or_keras(loaded, vae_export, surrogate_export):
    _, meta = loaded
    assert meta["importable"] == [], "the import blocker let something through"
    assert meta["leaked"] == []
    assert meta["signatures"][vae_export[0]] == [
        "decode", "elbo", "encode", "log_likelihood", "sample", "serving_default"]
    assert meta["signatures"][surrogate_export[0]] == ["log_prob", "sample", "serving_default"]


@pytest.mark.parametrize(
    "label, reference",
    [
        ("encode", "encode"),
        ("serving_default", "encode"),
        ("encode_again", "encode"),
        ("decode", "decode"),
        ("elbo", "elbo"),
        ("log_likelihood", "log_likelihood"),
        ("log_likelihood_7", "log_likelihood_7"),
        ("log_likelihood_default_s", "log_likelihood"),
        ("sample", "sample"),
    ],
)
def test_vae_signatures_match_in_process_model(loaded, vae_export, label, reference):
    _assert_answer(loaded[0][label], vae_export[1][reference], rtol=1e-5, atol=1e-5)


def test_vae_sample_draws_binary_data_reproducibly(loaded):
    answers, _ = loaded
    x = answers["sample"]["x"]
    assert x.shape == (N_DRAWS, DATA) and set(np.unique(x)) <= {0.0, 1.0}
    np.testing.assert_array_equal(answers["sample_again"]["x"], x)
    np.testing.assert_array_equal(answers["sample_again"]["z"], answers["sample"]["z"])
    assert not np.allclose(answers["sample_other_seed"]["z"], answers["sample"]["z"])


def test_negative_or_missing_seed_draws_fresh_samples(loaded, vae_export):
    answers, _ = loaded
    first, second = answers["encode_unseeded_1"], answers["encode_unseeded_2"]
    assert not np.allclose(first["z"], second["z"])
    # The base's mean and scale do not depend on the seed.
    for answer in (first, second):
        for key in ("base_loc", "base_scale"):
            np.testing.assert_allclose(answer[key], vae_export[1]["encode"][key], rtol=1e-5)
    z1, z2 = answers["surrogate_unseeded_1"]["z"], answers["surrogate_unseeded_2"]["z"]
    assert z1.shape == z2.shape == (3, EVENT) and not np.allclose(z1, z2)


def test_surrogate_signatures_match_in_process(loaded, surrogate_export):
    answers, _ = loaded
    _, ref = surrogate_export
    for label in ("surrogate_sample", "surrogate_default", "surrogate_sample_again"):
        _assert_answer(answers[label], ref["sample"], rtol=1e-5, atol=1e-5)
    # Densities of arbitrary points go through the inverses (root searches, MADE passes).
    for label in ("surrogate_log_prob", "surrogate_log_prob_again"):
        _assert_answer(answers[label], ref["log_prob"], atol=1e-4)


@pytest.mark.parametrize(
    "label, message",
    [
        ("vae_bad_width", "shape"),
        ("vae_bad_rank", "shape"),
        ("vae_bad_dtype", "int32"),
        ("vae_bad_latent", "shape"),
        ("vae_bad_samples", "`num_samples` must be >= 1"),
        ("vae_bad_n", "`n` must be >= 0"),
        ("vae_nan_x", "`x` must be finite"),
        ("vae_inf_z", "`z` must be finite"),
        ("vae_huge_n", f"`n` must be <= {serving.requests.MAX_DRAWS}"),
        ("vae_huge_samples",
         f"`num_samples` must be <= {serving.requests.MAX_IMPORTANCE_SAMPLES}"),
        ("surrogate_bad_width", "shape"),
        ("surrogate_bad_rank", "shape"),
        ("surrogate_bad_dtype", "int32"),
        ("surrogate_bad_n", "`n` must be >= 0"),
        ("surrogate_bad_seed_dtype", "float"),
    ],
)
def test_invalid_requests_raise_and_model_keeps_serving(loaded, label, message):
    """Each invalid request errors; the valid requests after it are answered correctly.

    (`encode_again`, `sample_again`, `log_likelihood_7`, `surrogate_*_again` come after the
    invalid ones in the same process and are compared with the in-process model above.)
    """
    answers, _ = loaded
    assert "error" in answers[label], f"{label} was accepted: {answers[label]}"
    assert message in answers[label]["error"]


def test_seed_and_num_samples_defaults_are_in_the_signature_defs(vae_export, surrogate_export):
    """TF Serving fills a left-out input from the SignatureDef's `defaults`."""
    from tensorflow.python.saved_model import loader_impl  # pylint: disable=g-import-not-at-top

    def defaults(export_dir):
        signature_defs = loader_impl.parse_saved_model(export_dir).meta_graphs[0].signature_def
        return {key: {name: tf.make_ndarray(value) for name, value in sig.defaults.items()}
                for key, sig in signature_defs.items() if not key.startswith("__")}

    seed = {"seed": serving.SEED_DEFAULT}
    assert defaults(vae_export[0]) == {
        "encode": seed, "serving_default": seed, "decode": {}, "elbo": seed,
        "log_likelihood": {"seed": -1, "num_samples": NUM_SAMPLES}, "sample": seed,
    }
    assert defaults(surrogate_export[0]) == {
        "sample": seed, "serving_default": seed, "log_prob": {}}


def test_export_checks_its_arguments(vae_export, tmp_path):
    with pytest.raises(ValueError, match="already holds a SavedModel"):
        serving.export_saved_model(_vae(), vae_export[0])
    unbuilt = models.FlowVAE(latent_dim=LATENT, flow="diag", event_size=DATA)
    with pytest.raises(ValueError, match="not built"):
        serving.export_saved_model(unbuilt, str(tmp_path / "a"))
    with pytest.raises(ValueError, match="num_samples"):
        serving.export_saved_model(_vae(), str(tmp_path / "b"), num_samples=0)


def test_surrogate_export_checks_its_argument(tmp_path):
    batch = tfd.MultivariateNormalDiag(tf.zeros([3, EVENT]), tf.ones([3, EVENT]))
    with pytest.raises(ValueError, match="scalar batch shape"):
        serving.export_surrogate_saved_model(batch, str(tmp_path / "x"))
    structured = flows.build_flow_surrogate([1, 2], flow="planar", seed=0)
    with pytest.raises(ValueError, match="event shape"):
        serving.export_surrogate_saved_model(structured, str(tmp_path / "y"))


def _saved_model_cli(*args):
    cli = shutil.which("saved_model_cli")
    if cli is None:
        pytest.skip("saved_model_cli is not on PATH")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([cli, *args], capture_output=True, text=True, env=env, timeout=300,
                          check=False)


def test_saved_model_cli_show_lists_signatures(vae_export):
    proc = _saved_model_cli("show", "--dir", vae_export[0], "--all")
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in ("encode", "decode", "elbo", "log_likelihood", "sample", "serving_default"):
        assert f"signature_def['{name}']" in proc.stdout
    for name in ("inputs['x']", "inputs['seed']", "inputs['num_samples']", "outputs['z']",
                 "outputs['log_likelihood']"):
        assert name in proc.stdout


def test_saved_model_cli_run_with_the_seed_left_out(vae_export, tmp_path):
    export_dir, ref = vae_export
    np.save(tmp_path / "x.npy", ref["x"])
    proc = _saved_model_cli(
        "run", "--dir", export_dir, "--tag_set", "serve", "--signature_def", "serving_default",
        "--inputs", f"x={tmp_path / 'x.npy'}", "--outdir", str(tmp_path), "--overwrite",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    for key in ("base_loc", "base_scale"):  # Seed-free outputs.
        np.testing.assert_allclose(np.load(tmp_path / f"{key}.npy"), ref["encode"][key],
                                   rtol=1e-5)
    assert np.load(tmp_path / "z.npy").shape == (BATCH, LATENT)


def test_every_flow_kind_serves_without_tfp_nfvi(tmp_path, run_without_tfp_nfvi):
    """The newer step kinds (Björck loops, Householder products, splines) export too."""
    vae = models.FlowVAE(
        latent_dim=3, flow="sylvester_o(m=2),sylvester_h(k=2),sylvester_t,householder,"
        "nsf_coupling(bins=4),nsf_iaf(bins=4)", event_size=DATA, encoder_units=(16,),
        decoder_units=(16,), seed=0, posterior_kwargs={"hidden_units": (8,)})
    vae(np.zeros((1, DATA), np.float32))
    vae.compile(jit_compile=False)
    x = (np.random.default_rng(1).random((BATCH, DATA)) < 0.4).astype(np.float32)
    z, log_q = (t.numpy() for t in vae.encode(x, seed=TFP_SEED)[:2])
    ll = vae.log_likelihood(x, num_samples=8, seed=TFP_SEED, chunk_size=4).numpy()
    export_dir = str(tmp_path / "saved_model")
    serving.export_saved_model(vae, export_dir, num_samples=8, chunk_size=4)
    result = run_without_tfp_nfvi(tmp_path, [
        (export_dir, "encode", {"x": x, "seed": np.int32(SEED)}),
        (export_dir, "log_likelihood", {"x": x, "num_samples": np.int32(8),
                                        "seed": np.int32(SEED)}),
    ])
    assert result["leaked"] == []
    _assert_answer(result["answers"][0], {"z": z, "log_q": log_q}, rtol=1e-4, atol=1e-4)
    _assert_answer(result["answers"][1], {"log_likelihood": ll}, rtol=1e-4, atol=1e-3)
