"""Tests for tfp_nfvi.training.report: the test ELBO and NLL of a run, and its figure."""

import numpy as np

from tfp_nfvi import models
from tfp_nfvi.training import pipeline
from tfp_nfvi.training import report


def _small_vae():
    vae = models.FlowVAE(latent_dim=2, flow="planar*2", event_size=16, encoder_units=(8,),
                         decoder_units=(8,), seed=0)
    vae.build((None, 16))
    return vae


def test_evaluate_test_takes_uint8_digits_and_bounds_the_nll_by_the_negative_elbo():
    x = (np.random.default_rng(0).random((150, 16)) < 0.3).astype(np.float32)
    vae = _small_vae()
    elbo, nll = report.evaluate_test(vae, x, iw_samples=200, chunk_size=50, seed=3)
    # The same digits held as uint8 (as `train` holds them) give the same figures.
    assert (elbo, nll) == report.evaluate_test(vae, pipeline.compact_binary(x), 200, 50, 3)
    # log p(x) >= E[ELBO], and 200 importance samples tighten the bound: NLL <= -ELBO.
    assert 0.0 < nll < -elbo


def test_save_figure_writes_a_png(tmp_path):
    x = pipeline.compact_binary((np.random.default_rng(1).random((5, 16)) < 0.3))
    path = tmp_path / "samples.png"
    report.save_figure(_small_vae(), x, str(path), seed=0)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
