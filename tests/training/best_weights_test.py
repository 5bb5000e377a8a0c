"""Tests for tfp_nfvi.training.best_weights: ModelCheckpoint of the best validation epoch."""

import keras
import numpy as np

from tfp_nfvi.training import best_weights


def test_keeps_the_best_epochs_weights_and_only_two_files(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    callback = best_weights.BestWeights(str(tmp_path), "val_elbo", initial_value_threshold=-3.0)
    callback.set_model(model)
    kernels = {}
    for epoch, value in enumerate([-4.0, -2.0, -2.5, -1.0, -0.5]):
        model.layers[0].kernel.assign(np.full((2, 1), float(epoch), np.float32))
        kernels[epoch] = model.get_weights()
        callback.on_epoch_end(epoch, {"val_elbo": value})
    # Epoch 0 (-4) is below the threshold; 1, 3, 4 improved; the two newest files are kept.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best-0004.weights.h5", "best-0005.weights.h5"]
    model.layers[0].kernel.assign(np.zeros((2, 1), np.float32))
    assert callback.restore(3)
    np.testing.assert_array_equal(model.get_weights()[0], kernels[3][0])
    assert not callback.restore(1) and not callback.restore(-1)  # Rotated away / none.
