"""Tests for tfp_nfvi.training.early_stopping: Keras's EarlyStopping with checkpointed state."""

import math

from tfp_nfvi.training import early_stopping


def _feed(callback, values, first_epoch=0):
    class _Model:
        stop_training = False

    callback.set_model(_Model())
    callback.on_train_begin()
    for epoch, value in enumerate(values, first_epoch):
        callback.on_epoch_end(epoch, {"val_elbo": value})
        if callback.model.stop_training:
            return epoch
    return None


def test_stops_after_patience_epochs_without_improvement_and_records_the_best():
    callback = early_stopping.ResumableEarlyStopping("val_elbo", patience=2)
    assert _feed(callback, [-5.0, -4.0, -4.5, -4.2, -1.0]) == 3
    assert (callback.saved_best, callback.saved_best_epoch) == (-4.0, 1)
    assert callback.exhausted


def test_restored_state_continues_like_an_uninterrupted_run():
    values = [-5.0, -4.0, -4.5, -4.2, -4.1]
    whole = early_stopping.ResumableEarlyStopping("val_elbo", patience=3)
    stopped_at = _feed(whole, values)
    first = early_stopping.ResumableEarlyStopping("val_elbo", patience=3)
    _feed(first, values[:3])
    second = early_stopping.ResumableEarlyStopping("val_elbo", patience=3)
    for name in ("wait", "best", "best_epoch"):  # What a checkpoint restore does.
        getattr(second.state, name).assign(getattr(first.state, name))
    assert _feed(second, values[3:], first_epoch=3) == stopped_at == 4


def test_patience_zero_never_stops_but_tracks_the_best():
    callback = early_stopping.ResumableEarlyStopping("val_elbo", patience=0)
    assert _feed(callback, [-3.0] + [-4.0] * 20) is None
    assert callback.saved_best_epoch == 0 and not callback.exhausted
    assert math.isinf(early_stopping.ResumableEarlyStopping("val_elbo", 0).saved_best)
