"""Executes the notebooks in colabs/ (shortened by TFP_NFVI_COLAB_SMOKE=1) so they cannot rot."""

import os
import pathlib
import subprocess
import sys

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


def _ensure_python3_kernel():
    """Installs ipykernel's `python3` spec for this user if Jupyter cannot find one (offline)."""
    from jupyter_client import kernelspec  # pylint: disable=g-import-not-at-top

    if "python3" not in kernelspec.find_kernel_specs():
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--user"], check=True,
                       capture_output=True)


# What each notebook must print (its shortened run's key result).
EXPECTED = {"energies_2d.ipynb": "KL(q || p) = log Z - ELBO",
            "conditional_density.ipynb": "test NLL"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs(name, monkeypatch):
    _ensure_python3_kernel()
    monkeypatch.setenv("TFP_NFVI_COLAB_SMOKE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(REPO_ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    notebook = nbformat.read(REPO_ROOT / "colabs" / name, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3",
        resources={"metadata": {"path": str(REPO_ROOT)}},
    )
    client.execute()  # Raises CellExecutionError, with the cell and traceback, on failure.
    outputs = "".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )
    assert EXPECTED[name] in outputs
    images = [o for c in notebook.cells for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert images, "the notebook drew no figure"
