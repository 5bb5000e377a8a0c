"""Tests for the raw MNIST file readers: round trips and an error for every malformed file."""

import gzip

import numpy as np
import pytest

from tfp_nfvi.data import readers

_RNG = np.random.default_rng(0)
_X = _RNG.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
_Y = np.arange(6) % 10


def _write_npz(path, **overrides):
    arrays = dict(x_train=_X, y_train=_Y, x_test=_X[:2], y_test=_Y[:2])
    arrays.update(overrides)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def test_npz_round_trip_flattens_images(tmp_path):
    (x_train, y_train), (x_test, y_test) = readers.read_mnist_npz(_write_npz(tmp_path / "m.npz"))
    np.testing.assert_array_equal(x_train, _X.reshape(6, 784))
    np.testing.assert_array_equal(x_test, _X[:2].reshape(2, 784))
    np.testing.assert_array_equal(y_train, _Y)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int32 and y_test.shape == (2,)


def test_csv_round_trip_plain_and_gzipped(tmp_path):
    table = np.concatenate([_X.reshape(6, 784), _Y[:, None]], axis=1)
    text = "\n".join(",".join(map(str, row)) for row in table) + "\n"
    (tmp_path / "d.csv").write_text(text)
    with gzip.open(tmp_path / "d.csv.gz", "wt") as f:
        f.write(text)
    for name in ("d.csv", "d.csv.gz"):
        pixels, labels = readers.read_mnist_csv(tmp_path / name)
        np.testing.assert_array_equal(pixels, _X.reshape(6, 784))
        np.testing.assert_array_equal(labels, _Y)


@pytest.mark.parametrize("overrides, pattern", [
    (dict(y_test=None), r"lacks arrays \['y_test'\]"),
    (dict(x_train=_X[:, :, :27]), r"x_train` must hold 28x28 = 784-pixel images.*\(6, 28, 27\)"),
    (dict(x_train=_X.astype(np.float32) * 2), r"x_train` must be integer grey levels in 0\.\.255.*510"),
    (dict(x_test=np.full((2, 784), np.nan)), r"x_test` must be finite grey levels"),
    (dict(y_train=_Y + 5), r"y_train` must be digits 0\.\.9; got values in \[5, 10\]"),
    (dict(y_train=_Y[:5]), r"y_train` must have shape \(6,\), one label per image; got shape \(5,\)"),
], ids=["missing_key", "pixel_count", "above_255", "nan", "label_range", "label_count"])
def test_malformed_npz(tmp_path, overrides, pattern):
    with pytest.raises(ValueError, match=pattern):
        readers.read_mnist_npz(_write_npz(tmp_path / "m.npz", **overrides))


def test_malformed_csv(tmp_path):
    (tmp_path / "short.csv").write_text(",".join(["0"] * 100) + "\n")
    with pytest.raises(ValueError, match=r"must have 785 columns.*got 100 columns"):
        readers.read_mnist_csv(tmp_path / "short.csv")
    (tmp_path / "header.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"is not a CSV of MNIST digits"):
        readers.read_mnist_csv(tmp_path / "header.csv")


def test_file_format_is_told_by_content(tmp_path):
    np.savez(tmp_path / "named.csv", a=np.zeros(2))  # np.savez appends .npz.
    (tmp_path / "plain.npz").write_text("1,2\n3,4\n")
    with gzip.open(tmp_path / "data.bin", "wt") as f:
        f.write("1,2\n")
    assert readers.file_format(tmp_path / "named.csv.npz") == "zip"
    assert readers.file_format(tmp_path / "plain.npz") == "text"
    assert readers.file_format(tmp_path / "data.bin") == "gzip"
    assert readers.file_format(tmp_path) == "directory"
    (tmp_path / "junk").write_bytes(bytes(range(256)))
    with pytest.raises(ValueError, match=r"junk is not a data file.*corrupt or truncated"):
        readers.file_format(tmp_path / "junk")


def test_corrupt_npz_is_named(tmp_path):
    # NumPy alone reads a non-zip file as a pickle and says "pickled (object) data".
    (tmp_path / "garbage.npz").write_bytes(b"\x80\x04garbage" * 10)
    with pytest.raises(ValueError, match=r"garbage\.npz is not a data file.*not a zip archive"):
        readers.read_mnist_npz(tmp_path / "garbage.npz")
    _write_npz(tmp_path / "m.npz")
    (tmp_path / "cut.npz").write_bytes((tmp_path / "m.npz").read_bytes()[:3000])
    with pytest.raises(ValueError, match=r"cut\.npz is a corrupt or truncated \.npz file"):
        readers.read_mnist_npz(tmp_path / "cut.npz")
    with gzip.open(tmp_path / "d.csv.gz", "wt") as f:
        f.write(",".join(["0"] * 785) + "\n")
    (tmp_path / "cut.csv.gz").write_bytes((tmp_path / "d.csv.gz").read_bytes()[:20])
    with pytest.raises(ValueError, match=r"cut\.csv\.gz is a corrupt or truncated file"):
        readers.read_mnist_csv(tmp_path / "cut.csv.gz")
