"""Tests for the standard binarized MNIST: the official splits, .amat parsing, cache, download.

The official data comes from ../shared/data/binarized_mnist.npz only; its README gives the
split sizes, pixel means and sha256 prefixes checked here. The download path never touches
the network: `keras.utils.get_file` is pointed at `file://` copies of the .amat files that
the test writes from the shared arrays.
"""

import hashlib
import os

import numpy as np
import pytest

from tfp_nfvi import data
from tfp_nfvi.data import binarized_mnist

# ../shared/data/README.md: split, N, mean pixel, first 16 hex of the unpacked array's sha256.
_README = {
    "train": (50_000, 0.1306, "43490d4d6ac90027"),
    "valid": (10_000, 0.1311, "069b4f0beb389b77"),
    "test": (10_000, 0.1325, "ca0294c3b8d984c7"),
}


def _write_amat(array, path):
    """The public text layout: 784 values 0/1 joined by single spaces, one digit a line."""
    text = np.full((len(array), 2 * 784), ord(" "), np.uint8)
    text[:, 0::2] = np.asarray(array, np.uint8) + ord("0")
    text[:, -1] = ord("\n")
    path.write_bytes(text.tobytes())
    return path


@pytest.fixture(scope="module")
def official(binarized_mnist_npz):
    """The shared file's splits, unpacked with NumPy alone (independent of the loader)."""
    with np.load(binarized_mnist_npz) as f:
        return {k: np.unpackbits(f[k], axis=1)[:, :784] for k in ("train", "valid", "test")}


@pytest.fixture(scope="module")
def amat_dir(official, tmp_path_factory):
    """The three .amat files rebuilt from the shared arrays."""
    directory = tmp_path_factory.mktemp("amat")
    for split, array in official.items():
        _write_amat(array, directory / f"binarized_mnist_{split}.amat")
    return directory


def _assert_official(splits, official):
    assert splits.train_labels is None and splits.test_labels is None  # The set has no labels.
    for array, split in zip((splits.train, splits.validation, splits.test), _README):
        size, mean, sha = _README[split]
        assert array.shape == (size, 784) and array.dtype == np.float32
        assert round(float(array.mean()), 4) == mean
        assert hashlib.sha256(array.astype(np.uint8)).hexdigest()[:16] == sha
        np.testing.assert_array_equal(array, official[split])


def test_packed_npz_gives_the_official_splits_unchanged(binarized_mnist_npz, official):
    splits = data.load_binarized_mnist("binarized_mnist", path=binarized_mnist_npz)
    _assert_official(splits, official)
    assert splits.binarization == "static"
    # The same file as a plain `source` path (what `--dataset=PATH` passes): told by content.
    _assert_official(data.load_binarized_mnist(str(binarized_mnist_npz)), official)


def test_rebuilt_amat_files_are_the_public_files(amat_dir):
    # Byte-identical to the public files (their published sha256), so the text layout the
    # reader and the tests assume is the real one, and the hashes given to get_file are right.
    for split, name in binarized_mnist.AMAT_FILES.items():
        digest = hashlib.sha256((amat_dir / name).read_bytes()).hexdigest()
        assert digest == binarized_mnist.AMAT_SHA256[split], split


def test_amat_directory_as_path_and_as_source(amat_dir, official):
    _assert_official(data.load_binarized_mnist("binarized_mnist", path=amat_dir), official)
    _assert_official(data.load_binarized_mnist(amat_dir), official)


def test_download_converts_once_to_a_compact_cache(amat_dir, official, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(binarized_mnist, "AMAT_URL",
                        f"file://{amat_dir}/binarized_mnist_{{split}}.amat")
    _assert_official(data.load_binarized_mnist("binarized_mnist"), official)
    folder = tmp_path / "datasets" / "binarized_mnist"
    assert sorted(os.listdir(folder)) == ["binarized_mnist.npz"]  # The text files are gone.
    with np.load(folder / "binarized_mnist.npz") as f:
        assert {k: f[k].shape for k in f.files} == {
            "train": (50_000, 98), "valid": (10_000, 98), "test": (10_000, 98)}
    # Later loads read the cache: with the origin gone, nothing is downloaded.
    monkeypatch.setattr(binarized_mnist, "AMAT_URL", f"file://{tmp_path}/gone/{{split}}.amat")
    _assert_official(data.load_binarized_mnist("binarized_mnist"), official)


def test_amat_files_already_in_the_keras_cache_are_used(amat_dir, official, tmp_path,
                                                         monkeypatch):
    folder = tmp_path / "datasets" / "binarized_mnist"
    folder.mkdir(parents=True)
    for name in binarized_mnist.AMAT_FILES.values():
        os.symlink(amat_dir / name, folder / name)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(binarized_mnist, "AMAT_URL", f"file://{tmp_path}/gone/{{split}}.amat")
    _assert_official(data.load_binarized_mnist("binarized_mnist"), official)
    assert (folder / "binarized_mnist.npz").exists()


def test_failed_download_says_where_to_put_the_files(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(binarized_mnist, "AMAT_URL", f"file://{tmp_path}/gone/{{split}}.amat")
    with pytest.raises(FileNotFoundError, match=r"Could not download binarized MNIST \(train\) "
                       r"from file://.*Place a copy at .*binarized_mnist_train\.amat"):
        data.load_binarized_mnist("binarized_mnist")


def test_download_with_a_wrong_hash_is_refused(tmp_path, monkeypatch):
    source = tmp_path / "src"
    source.mkdir()
    for split in binarized_mnist.SPLITS:
        _write_amat(np.zeros((3, 784), np.uint8), source / f"binarized_mnist_{split}.amat")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(binarized_mnist, "AMAT_URL",
                        f"file://{source}/binarized_mnist_{{split}}.amat")
    with pytest.raises(FileNotFoundError, match=r"Could not download.*(hash|corrupt)"):
        data.load_binarized_mnist("binarized_mnist")


def test_stale_or_corrupt_cache_is_reported(tmp_path, monkeypatch, official):
    folder = tmp_path / "datasets" / "binarized_mnist"
    folder.mkdir(parents=True)
    cached = folder / "binarized_mnist.npz"
    short = dict(official, test=official["test"][:-1])
    binarized_mnist.write_packed_npz(short, cached)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(ValueError, match=r"binarized_mnist\.npz \(delete it.*\): split `test` "
                       r"has 9,999 digits; .* has 10,000"):
        data.load_binarized_mnist("binarized_mnist")
    flipped = dict(official, valid=1 - official["valid"])
    binarized_mnist.write_packed_npz(flipped, cached)
    with pytest.raises(ValueError, match=r"split `valid` differs from the standard"):
        data.load_binarized_mnist("binarized_mnist")


def test_amat_parsing(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, size=(5, 784), dtype=np.uint8)
    lines = [" ".join(map(str, row)) for row in x]
    # Windows line ends, tabs, a blank line and no final newline are all fine.
    text = lines[0] + "\r\n" + "\t".join(lines[1].split()) + "\n\n" + "\n".join(lines[2:])
    (tmp_path / "a.amat").write_text(text)
    parsed = binarized_mnist.read_amat(tmp_path / "a.amat")
    assert parsed.dtype == np.uint8
    np.testing.assert_array_equal(parsed, x)


@pytest.mark.parametrize("text, pattern", [
    ("0 " * 784 + "\n" + "1 " * 500, r"line 2: expected 784 values 0 or 1.*got 500 values.*"
                                      r"corrupt or truncated"),
    ("0 " * 783 + "2\n", r"line 1: .*got 784 values, including \[b'2'\]"),
    ("0.0 " * 784 + "\n", r"line 1: .*including \[b'0\.0'"),
    ("\n\n", r"holds no digits"),
], ids=["truncated", "not_binary", "floats", "empty"])
def test_malformed_amat_names_file_and_line(tmp_path, text, pattern):
    (tmp_path / "bad.amat").write_text(text)
    with pytest.raises(ValueError, match=r"bad\.amat.*" + pattern):
        binarized_mnist.read_amat(tmp_path / "bad.amat")


def test_unpacked_npz_and_small_sets_read_as_they_are(tmp_path):
    x = np.random.default_rng(1).integers(0, 2, size=(7, 784)).astype(np.float32)
    np.savez(tmp_path / "u.npz", train=x, valid=x[:3], test=x[:2])
    splits = data.load_binarized_mnist(tmp_path / "u.npz")  # A user's own binarized set.
    np.testing.assert_array_equal(splits.train, x)
    assert splits.validation.shape == (3, 784) and splits.test.shape == (2, 784)
    # ... but it is not the official set.
    with pytest.raises(ValueError, match=r"u\.npz: split `train` has 7 digits"):
        data.load_binarized_mnist("binarized_mnist", path=tmp_path / "u.npz")


@pytest.mark.parametrize("make, pattern", [
    (lambda p: p.write_bytes(b"\x00\x07garbage" * 50),
     r"x\.npz is not a data file.*its name says \.npz, but it is not a zip archive.*corrupt "
     r"or truncated"),
    (lambda p: (np.savez(p, train=np.zeros((900, 98), np.uint8)),
                p.write_bytes(p.read_bytes()[:5000])),
     r"x\.npz is a corrupt or truncated \.npz file"),
    (lambda p: np.savez(p, train=np.full((2, 98), 3.0), valid=np.zeros((1, 98)),
                        test=np.zeros((1, 98))),
     r"x\.npz: array `train` must be uint8 \[N, 98\].*got dtype float64 and shape \(2, 98\)"),
], ids=["garbage", "truncated", "bad_array"])
def test_corrupt_files_are_named(tmp_path, make, pattern):
    path = tmp_path / "x.npz"
    make(path)
    with pytest.raises(ValueError, match=pattern):
        data.load_binarized_mnist(path)
    with pytest.raises(ValueError, match=pattern):
        data.load_binarized_mnist("binarized_mnist", path=path)


def test_directory_without_the_amat_files(tmp_path):
    (tmp_path / "binarized_mnist_train.amat").write_text("0 " * 784)
    with pytest.raises(FileNotFoundError, match=r"must hold the binarized MNIST files.*missing "
                       r"\['binarized_mnist_valid\.amat', 'binarized_mnist_test\.amat'\]"):
        data.load_binarized_mnist(tmp_path)


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(validation_size=100), r"`validation_size` must be None for source='binarized_mnist'"),
    (dict(test_size=100), r"`test_size` must be None for source='binarized_mnist'"),
    (dict(binarization="dynamic"), r"`binarization` must be 'static' for source="),
], ids=["validation_size", "test_size", "dynamic"])
def test_official_splits_cannot_be_resized_or_redrawn(binarized_mnist_npz, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        data.load_binarized_mnist("binarized_mnist", path=binarized_mnist_npz, **kwargs)


def test_path_only_with_binarized_mnist(binarized_mnist_npz):
    with pytest.raises(ValueError, match=r"`path` is only for source='binarized_mnist'; got "
                       r"source='embedded'"):
        data.load_binarized_mnist("embedded", path=binarized_mnist_npz)
