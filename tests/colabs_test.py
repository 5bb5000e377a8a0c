"""Executes the notebooks in colabs/, shortened, so they cannot rot.

A notebook is shortened in one of two ways: `energies_2d` reads TFP_NFVI_COLAB_SMOKE=1 itself;
`flow_vae_mnist` has a cell tagged `parameters` (papermill's convention), and the test inserts
a cell of overrides right after it.
"""

import os
import pathlib
import subprocess
import sys

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
BINARIZED_MNIST = REPO_ROOT.parent / "shared" / "data" / "binarized_mnist.npz"

# name -> (parameter overrides, a data file it needs or None, text its outputs must contain,
#          number of figures it draws).
NOTEBOOKS = {
    "energies_2d.ipynb": ({}, None, ["KL(q || p) = log Z - ELBO"], 1),
    # About 1 epoch of 10 steps: compiling dominates. The numbers of such a run mean nothing.
    "flow_vae_mnist.ipynb": (
        dict(DATA_PATH=str(BINARIZED_MNIST), EPOCHS=1, TRAIN_DIGITS=1_000, EVAL_DIGITS=200,
             NLL_DIGITS=100, IW_SAMPLES=20),
        BINARIZED_MNIST,
        ["train: (50000, 784)", "test -ELBO = ", "importance-sampled NLL = ", "S = 20"], 2),
    # A few epochs of the toy model and of one Concrete split (TFP_NFVI_COLAB_SMOKE=1).
    "conditional_density.ipynb": ({}, None, ["test NLL"], 1),
}


def _ensure_python3_kernel():
    """Installs ipykernel's `python3` spec for this user if Jupyter cannot find one (offline)."""
    from jupyter_client import kernelspec  # pylint: disable=g-import-not-at-top

    if "python3" not in kernelspec.find_kernel_specs():
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--user"], check=True,
                       capture_output=True)


def _override_parameters(notebook, overrides):
    """Inserts `NAME = value` lines after the cell tagged `parameters`."""
    if not overrides:
        return
    tagged = [i for i, cell in enumerate(notebook.cells)
              if "parameters" in cell.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"expected one cell tagged 'parameters', found {len(tagged)}"
    source = "\n".join(f"{name} = {value!r}" for name, value in overrides.items())
    notebook.cells.insert(tagged[0] + 1, nbformat.v4.new_code_cell(source))


def test_every_notebook_is_tested():
    assert sorted(p.name for p in (REPO_ROOT / "colabs").glob("*.ipynb")) == sorted(NOTEBOOKS)


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_runs(name, monkeypatch):
    overrides, needs, expected, num_figures = NOTEBOOKS[name]
    if needs is not None and not needs.exists():
        pytest.skip(f"{name} needs {needs} (the shared test data), which is absent")
    _ensure_python3_kernel()
    monkeypatch.setenv("TFP_NFVI_COLAB_SMOKE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(REPO_ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    notebook = nbformat.read(REPO_ROOT / "colabs" / name, as_version=4)
    _override_parameters(notebook, overrides)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3",
        resources={"metadata": {"path": str(REPO_ROOT)}},
    )
    client.execute()  # Raises CellExecutionError, with the cell and traceback, on failure.
    outputs = "".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )
    for text in expected:
        assert text in outputs
    images = [o for c in notebook.cells for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert len(images) == num_figures, f"{name} drew {len(images)} figures, not {num_figures}"
