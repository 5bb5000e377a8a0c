"""Fixtures for the data tests: the shared data files, skipping tests where they are absent."""

import pathlib

import pytest

SHARED_DATA = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _shared(relative):
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"{path} not present (the shared test data lives in ../shared/data "
                    f"beside the repository)")
    return path


@pytest.fixture(scope="module")
def binarized_mnist_npz():
    """The shared packed binarized MNIST (train / valid / test, uint8 [N, 98])."""
    return _shared("binarized_mnist.npz")


@pytest.fixture(scope="module")
def uci_dir():
    """The shared directory of the four UCI CSV files."""
    return _shared("uci")
