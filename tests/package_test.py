"""`import tfp_nfvi` alone gives the subpackages as attributes and registers the Keras classes.

Checked in fresh interpreters (subprocesses), since in the test process other modules have
already imported everything: one reaches every subpackage after nothing but `import tfp_nfvi`;
another loads a `.keras` file written by tfp_nfvi v0.1 with `keras.saving.load_model` right after
`import tfp_nfvi` (no `custom_objects`) and reproduces that version's outputs.
"""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "testdata" / "v0_1"
SUBPACKAGES = ("bijectors", "data", "distribute", "flows", "models", "serving", "targets")


def _run(code):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_public_api_lists_the_subpackages():
    import tfp_nfvi  # pylint: disable=g-import-not-at-top

    assert set(tfp_nfvi.__all__) == {"__version__", *SUBPACKAGES}


def test_subpackages_are_attributes_after_import_tfp_nfvi():
    result = _run(f"""
        import json, types
        import tfp_nfvi
        names = {SUBPACKAGES!r}
        print(json.dumps({{n: isinstance(getattr(tfp_nfvi, n, None), types.ModuleType)
                          for n in names}}))
    """)
    assert result == {name: True for name in SUBPACKAGES}


def test_keras_load_model_works_right_after_import_tfp_nfvi():
    path = FIXTURES / "flow_vae_planar2_iaf1.keras"
    if not path.exists():
        pytest.skip(f"{path} not present")
    result = _run(f"""
        import json
        import tfp_nfvi
        import keras
        vae = keras.saving.load_model({str(path)!r})
        ref = json.load(open({str(FIXTURES / "flow_vae_planar2_iaf1_outputs.json")!r}))
        x = keras.ops.convert_to_tensor(ref["x"])
        out = {{
            "class": type(vae).__module__ + "." + type(vae).__name__,
            "elbo": keras.ops.convert_to_numpy(vae.elbo(x, seed=[3, 4])).tolist(),
            "log_likelihood": keras.ops.convert_to_numpy(
                vae.log_likelihood(x, num_samples=16, seed=[5, 6])).tolist(),
        }}
        print(json.dumps(out))
    """)
    reference = json.loads((FIXTURES / "flow_vae_planar2_iaf1_outputs.json").read_text())
    assert result["class"] == "tfp_nfvi.models.flow_vae.FlowVAE"
    # Same weights, same noise: equal up to float32 round-off (a few ulps of ~540 nats).
    assert result["elbo"] == pytest.approx(reference["elbo_seed_3_4"], rel=1e-5)
    assert result["log_likelihood"] == pytest.approx(
        reference["log_likelihood_S16_seed_5_6"], rel=1e-5)
