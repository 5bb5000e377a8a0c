"""Tests for keras's data set cache helpers: lookup order and downloading (file:// only)."""

import hashlib

import pytest

from tfp_nfvi.data import cache


def test_keras_home_from_environment_first(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert cache.keras_homes()[0] == str(tmp_path)
    assert cache.cached_paths("a", "b.npz")[0] == str(tmp_path / "datasets" / "a" / "b.npz")
    assert cache.find_cached("a", "b.npz") is None or not cache.find_cached(
        "a", "b.npz").startswith(str(tmp_path))
    (tmp_path / "datasets" / "a").mkdir(parents=True)
    (tmp_path / "datasets" / "a" / "b.npz").write_bytes(b"x")
    assert cache.find_cached("a", "b.npz") == str(tmp_path / "datasets" / "a" / "b.npz")


def test_download_checks_the_hash_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    source = tmp_path / "file.txt"
    source.write_bytes(b"some data\n")
    digest = hashlib.sha256(b"some data\n").hexdigest()
    path = cache.download("f.txt", f"file://{source}", digest, subdir="sets")
    assert path == str(tmp_path / "home" / "datasets" / "sets" / "f.txt")
    source.unlink()  # Cached now: a second call does not need the origin.
    assert cache.download("f.txt", f"file://{source}", digest, subdir="sets") == path
    with pytest.raises(FileNotFoundError, match=r"Could not download the set from file://.*"
                       r"Place a copy at .*home/datasets/g\.txt"):
        cache.download("g.txt", f"file://{source}", digest, what="the set")
