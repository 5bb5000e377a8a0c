"""Fixtures shared by the serving tests: a loader that runs SavedModels without our code.

`run_without_tfp_nfvi(tmp_path, requests)` answers a list of requests in ONE subprocess (a
TensorFlow import costs seconds) in which `tfp_nfvi`, `tensorflow_probability`, `keras` and
`tf_keras` cannot be imported: a `sys.meta_path` finder makes importing them raise ImportError,
and the subprocess runs from an empty directory without PYTHONPATH. It answers each request with
`tf.saved_model.load(...).signatures[name](**inputs)` (valid and invalid ones interleaved) and
reports which blocked packages were importable or leaked into `sys.modules`.
"""

import os
import pickle
import subprocess
import sys
import textwrap

import pytest

_LOADER = textwrap.dedent(
    """
    import importlib.abc, importlib.machinery, pickle, sys

    BLOCKED = ("tfp_nfvi", "tensorflow_probability", "keras", "tf_keras")

    class _Refuse(importlib.abc.Loader):
        def create_module(self, spec):
            raise ImportError(f"{spec.name} is blocked in this serving test")
        def exec_module(self, module):
            raise ImportError("blocked")

    class _Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in BLOCKED:
                return importlib.machinery.ModuleSpec(name, _Refuse())
            return None

    sys.meta_path.insert(0, _Block())
    import numpy as np
    import tensorflow as tf

    with open(sys.argv[1], "rb") as f:
        requests = pickle.load(f)
    loaded, answers = {}, []
    for export_dir, name, inputs in requests:
        if export_dir not in loaded:
            loaded[export_dir] = tf.saved_model.load(export_dir)
        if name.startswith("function:"):  # The restored tf.function, defaults honored.
            fn = getattr(loaded[export_dir], name.split(":")[1])
        else:
            fn = loaded[export_dir].signatures[name]
        try:
            outputs = fn(**{k: tf.constant(v) for k, v in inputs.items()})
            answers.append({k: v.numpy() for k, v in outputs.items()})
        except Exception as e:  # pylint: disable=broad-except
            answers.append({"error": f"{type(e).__name__}: {e}"[:500]})
    importable = []
    for name in BLOCKED:
        try:
            __import__(name)
            importable.append(name)
        except ImportError:
            pass
    leaked = sorted({m.split(".")[0] for m in sys.modules} & set(BLOCKED))
    with open(sys.argv[2], "wb") as f:
        pickle.dump({"answers": answers, "importable": importable, "leaked": leaked,
                     "signatures": {d: sorted(m.signatures) for d, m in loaded.items()}}, f)
    """
)


def _run_without_tfp_nfvi(tmp_path, requests):
    """Answers `requests` [(export_dir, signature, inputs)] in a subprocess without our code.

    A signature name `"function:NAME"` calls the restored `tf.function` `loaded.NAME` instead
    of `loaded.signatures[NAME]`.
    """
    work = tmp_path / "clean"
    work.mkdir()
    (work / "loader.py").write_text(_LOADER)
    with open(work / "requests.pkl", "wb") as f:
        pickle.dump(requests, f)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KERAS_BACKEND")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    proc = subprocess.run(
        [sys.executable, "loader.py", "requests.pkl", "answers.pkl"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(work / "answers.pkl", "rb") as f:
        return pickle.load(f)


@pytest.fixture(scope="session")
def run_without_tfp_nfvi():
    """`fn(tmp_path, requests) -> {"answers", "importable", "leaked", "signatures"}`."""
    return _run_without_tfp_nfvi
