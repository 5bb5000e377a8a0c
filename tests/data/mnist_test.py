"""Tests for load_binarized_mnist: splits, sources (embedded, keras cache, files), errors."""

import keras
import numpy as np
import pytest

from tfp_nfvi import data
from tfp_nfvi.data import mnist as mnist_module


@pytest.fixture
def mnist_arrays(shared_mnist_path):
    """Keras-layout arrays from the shared 5,000 digits: 4,000 "train", 1,000 "test"."""
    table = np.loadtxt(shared_mnist_path, delimiter=",", dtype=np.uint8)
    table = table[np.random.default_rng(0).permutation(len(table))]
    images, labels = table[:, :784].reshape(-1, 28, 28), table[:, 784]
    return dict(x_train=images[:4000], y_train=labels[:4000],
                x_test=images[4000:], y_test=labels[4000:])


@pytest.fixture
def keras_home(tmp_path, monkeypatch, mnist_arrays):
    """A KERAS_HOME whose cache holds mnist.npz, as keras.datasets.mnist would leave it."""
    (tmp_path / "datasets").mkdir()
    np.savez_compressed(tmp_path / "datasets" / "mnist.npz", **mnist_arrays)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    return tmp_path


def _rows(array):
    return {row.tobytes() for row in array}


def _assert_binary(splits, sizes):
    for split, size in zip((splits.train, splits.validation, splits.test), sizes):
        assert split.shape == (size, 784) and split.dtype == np.float32
        assert set(np.unique(split)) <= {0.0, 1.0}
    for labels, size in zip(
            (splits.train_labels, splits.validation_labels, splits.test_labels), sizes):
        assert labels.shape == (size,) and np.all((labels >= 0) & (labels <= 9))


def test_embedded_default_split_is_disjoint_balanced_and_deterministic():
    splits = data.load_binarized_mnist()
    _assert_binary(splits, (4000, 500, 500))
    assert splits.source == "embedded" and splits.train_intensities is None
    # The 5,000 embedded digits are distinct images, so disjoint splits share no row.
    train, validation, test = map(_rows, (splits.train, splits.validation, splits.test))
    assert not (train & validation or train & test or validation & test)
    assert len(train | validation | test) == 5000
    for labels, per_class in ((splits.train_labels, 400), (splits.validation_labels, 50),
                              (splits.test_labels, 50)):
        np.testing.assert_array_equal(np.bincount(labels, minlength=10), per_class)
    again = data.load_binarized_mnist("embedded", seed=123)  # The seed does not move the split.
    np.testing.assert_array_equal(again.test, splits.test)
    np.testing.assert_array_equal(again.train_labels, splits.train_labels)
    # The rows are the embedded digits, with their own labels.
    images, labels = data.load_embedded()
    index = {row.tobytes(): label for row, label in zip(images, labels)}
    assert [index[r.tobytes()] for r in splits.test] == list(splits.test_labels)


def test_embedded_custom_sizes():
    splits = data.load_binarized_mnist("embedded", validation_size=1000, test_size=0)
    _assert_binary(splits, (4000, 1000, 0))


def test_keras_cache_source_reads_local_file_standard_split(keras_home, mnist_arrays):
    del keras_home  # Used through $KERAS_HOME.
    splits = data.load_binarized_mnist("mnist")
    _assert_binary(splits, (3334, 666, 1000))  # validation = a sixth of x_train.
    x_train = mnist_arrays["x_train"].reshape(-1, 784)
    expected = (x_train / 255.0 > 0.5).astype(np.float32)
    np.testing.assert_array_equal(splits.train, expected[:3334])
    np.testing.assert_array_equal(splits.validation, expected[3334:])
    np.testing.assert_array_equal(splits.validation_labels, mnist_arrays["y_train"][3334:])
    np.testing.assert_array_equal(
        splits.test, (mnist_arrays["x_test"].reshape(-1, 784) > 127.5).astype(np.float32))
    np.testing.assert_array_equal(splits.test_labels, mnist_arrays["y_test"])


def test_npz_and_csv_paths(keras_home, shared_mnist_path):
    from_path = data.load_binarized_mnist(keras_home / "datasets" / "mnist.npz",
                                          validation_size=500)
    _assert_binary(from_path, (3500, 500, 1000))
    from_csv = data.load_binarized_mnist(shared_mnist_path)
    _assert_binary(from_csv, (4000, 500, 500))
    # The CSV is the source of the embedded set: the same split, the same images.
    embedded = data.load_binarized_mnist("embedded")
    np.testing.assert_array_equal(from_csv.train, embedded.train)
    np.testing.assert_array_equal(from_csv.test_labels, embedded.test_labels)


def test_dynamic_binarization_of_full_mnist(keras_home, mnist_arrays):
    del keras_home
    a, b, c = (data.load_binarized_mnist("mnist", binarization="dynamic", seed=s)
               for s in (0, 0, 1))
    _assert_binary(a, (3334, 666, 1000))
    np.testing.assert_array_equal(a.train, b.train)
    np.testing.assert_array_equal(a.test, b.test)
    assert not np.array_equal(a.train, c.train) and not np.array_equal(a.test, c.test)
    np.testing.assert_array_equal(a.train_labels, c.train_labels)  # Same split.
    p = mnist_arrays["x_train"][:3334].reshape(-1, 784) / 255.0
    np.testing.assert_allclose(a.train_intensities, p, atol=1e-6)
    # Mean over all train pixels: 2.6M Bernoulli draws, sd < 3e-4; 0.002 is > 6 sd.
    assert abs(a.train.mean() - p.mean()) < 2e-3
    # Per digit, ink matches intensity: 784 draws per row, sd <= 0.018; tolerance 0.1.
    assert np.abs(a.train.mean(1) - p.mean(1)).max() < 0.1
    # Pixels with p = 0 are never on, p = 1 always on.
    assert a.train[p == 0].max() == 0 and a.train[p == 1].min() == 1
    dataset = a.train_dataset(1000, seed=0)
    epochs = [np.concatenate([x.numpy() for x in dataset]) for _ in range(2)]
    assert epochs[0].shape == (3334, 784) and not np.array_equal(epochs[0], epochs[1])


def test_static_train_dataset_yields_the_training_rows():
    splits = data.load_binarized_mnist("embedded")
    rows = np.concatenate([x.numpy() for x in splits.train_dataset(512, seed=0)])
    assert _rows(rows) == _rows(splits.train)
    ordered = np.concatenate([x.numpy() for x in splits.train_dataset(512, shuffle=False)])
    np.testing.assert_array_equal(ordered, splits.train)


def test_dynamic_embedded_is_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"binarization='dynamic'.*embedded.*stored already"):
        data.load_binarized_mnist("embedded", binarization="dynamic")


@pytest.mark.parametrize("kwargs, error, pattern", [
    (dict(source="fashion"), ValueError,
     r"`source` must be 'embedded', 'mnist', 'binarized_mnist', or a path to an existing "
     r"\.npz file.*; got 'fashion'"),
    (dict(source="/nonexistent/mnist.npz"), FileNotFoundError, r"/nonexistent/mnist\.npz.*does not exist"),
    (dict(source=3), TypeError, r"`source` must be .*; got int 3"),
    (dict(binarization="otsu"), ValueError, r"`binarization` must be one of \('static', 'dynamic'\); got 'otsu'"),
    (dict(validation_size=4500), ValueError, r"`validation_size` must be an int in \[0, 4499\].*got 4500"),
    (dict(test_size=-1), ValueError, r"`test_size` must be an int in \[0, 4999\].*got -1"),
    (dict(validation_size=0.1), ValueError, r"`validation_size` must be an int"),
], ids=["unknown", "missing_file", "not_a_path", "binarization", "too_big", "negative", "float"])
def test_argument_errors(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        data.load_binarized_mnist(**kwargs)


def test_test_size_refused_where_there_is_an_official_test_set(keras_home):
    del keras_home
    with pytest.raises(ValueError, match=r"`test_size` must be None for source='mnist'"):
        data.load_binarized_mnist("mnist", test_size=100)


def test_missing_cache_without_network_says_where_to_put_the_file(tmp_path, monkeypatch):
    missing = str(tmp_path / "datasets" / "mnist.npz")
    monkeypatch.setattr(mnist_module, "_keras_mnist_candidates", lambda: [missing])

    def _offline_load_data(*args, **kwargs):
        del args, kwargs
        raise Exception("URL fetch failure: [Errno -3] Temporary failure in name resolution")

    # Stands in for keras's download so that the test never touches the network.
    monkeypatch.setattr(keras.datasets.mnist, "load_data", _offline_load_data)
    with pytest.raises(FileNotFoundError, match=r"no cached file at .*mnist\.npz.*could not "
                       r"download it.*URL fetch failure.*source='embedded'"):
        data.load_binarized_mnist("mnist")


def test_malformed_cached_file_names_the_file(tmp_path, monkeypatch, mnist_arrays):
    (tmp_path / "datasets").mkdir()
    mnist_arrays["x_test"] = mnist_arrays["x_test"][:, :27]
    np.savez(tmp_path / "datasets" / "mnist.npz", **mnist_arrays)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(ValueError, match=r"mnist\.npz: x_test` must hold 28x28"):
        data.load_binarized_mnist("mnist")
