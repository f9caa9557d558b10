"""Custom layers only through an explicitly named plugin; models are pure Keras 3."""
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, run

SPEC = "name: p\ninput: {shape: [4]}\nlayers: [scale: 2.0, dense: 3]\n"


def test_custom_layer_needs_the_plugin_named_on_the_command_line(tmp_path):
    spec = tmp_path / "p.yaml"
    spec.write_text(SPEC)
    without = run(["kspec", "check", str(spec)])
    assert without.returncode == 2 and "unknown layer type 'scale'" in without.stderr
    with_plugin = run(["kspec", "check", "--plugin", "tests.plugins.scale_layer", str(spec)])
    assert with_plugin.returncode == 0, with_plugin.stderr
    missing = run(["kspec", "check", "--plugin", "no.such.module", str(spec)])
    assert missing.returncode == 2 and "cannot import plugin module 'no.such.module'" in \
        missing.stderr


def _other_backend():
    import importlib.util
    for name in ("jax", "torch"):
        if importlib.util.find_spec(name):
            return name
    return None


@pytest.mark.skipif(_other_backend() is None,
                    reason="needs JAX or PyTorch installed for a Keras backend without "
                           "TensorFlow (Keras's NumPy backend itself imports JAX)")
def test_models_run_on_a_backend_without_tensorflow():
    """Same spec, same builder, Keras on JAX (or PyTorch): no TensorFlow imported."""
    code = (
        "import sys, numpy as np\n"
        "from builder import build_model\n"
        "for name in ('lenet5', 'googlenet', 'resnet18'):\n"
        "    m = build_model(f'specs/{name}.yaml', overrides=['input.shape=[64, 64, 3]']\n"
        "                    if name != 'lenet5' else [])\n"
        "    y = m.predict(np.random.rand(2, *m.input.shape[1:]).astype('float32'), verbose=0)\n"
        "    assert y.shape[0] == 2 and np.isfinite(y).all()\n"
        "print('tensorflow' in sys.modules)\n")
    env = {**os.environ, "KERAS_BACKEND": _other_backend()}
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().splitlines()[-1] == "False"


def test_a_stray_module_in_the_working_directory_is_never_imported(tmp_path):
    """Only the named plugin comes from the working directory: its own `import keras`
    finds the installed Keras, not a `keras.py` lying beside it."""
    (tmp_path / "keras.py").write_text("raise SystemExit('the stray keras.py was imported')\n")
    (tmp_path / "myplug.py").write_text(
        "import keras\nassert keras.__file__.endswith('__init__.py'), keras.__file__\n"
        + (ROOT / "tests" / "plugins" / "scale_layer.py").read_text())
    (tmp_path / "p.yaml").write_text(SPEC)
    res = run([sys.executable, str(ROOT / "kspec_cli.py"), "check", "--plugin", "myplug",
               "p.yaml"], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stderr
    assert res.stdout == "p.yaml: ok (p, 2 layers)\n"


def test_a_run_trained_with_a_plugin_evaluates_from_anywhere_once_named(tmp_path, data_dir):
    """The run records its plugin, but only the user's --plugin imports it: without it,
    exit 2 naming the module and where it came from; with it, from any folder."""
    spec = tmp_path / "p.yaml"
    spec.write_text("name: p\ninput: {shape: [2]}\nlayers: [scale: 2.0, dense: {units: 4, "
                    "activation: tanh}]\nhead: {task: classification, classes: 1, activation: "
                    "sigmoid, loss: binary_cross_entropy}\ntrain: {epochs: 1, batch_size: 4}\n")
    trained = run([sys.executable, str(ROOT / "train.py"), str(spec), "--data", "xor", "--out",
                   str(tmp_path / "run"), "--plugin", "tests.plugins.scale_layer", "--quiet",
                   "--no-xla"])
    assert trained.returncode == 0, trained.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    refused = run(["kspec", "evaluate", str(tmp_path / "run"), "--json"], cwd=elsewhere)
    assert refused.returncode == 2, refused.stderr
    assert (f"was trained with plugin code that kspec does not import on a run directory's "
            f"word: if you trust it, pass --plugin tests.plugins.scale_layer (it was imported "
            f"from {ROOT})") in refused.stderr
    by_file = run(["kspec", "evaluate", str(tmp_path / "run"), "--json", "--plugin",
                   str(ROOT / "tests" / "plugins" / "scale_layer.py")], cwd=elsewhere)
    assert by_file.returncode == 2  # another module name than the run recorded
    ev = run(["kspec", "evaluate", str(tmp_path / "run"), "--json", "--plugin",
              "tests.plugins.scale_layer"], cwd=elsewhere,
             env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert ev.returncode == 0, ev.stderr
    assert set(json.loads(ev.stdout)) >= {"loss", "accuracy"}


def test_a_plugin_can_be_named_by_its_file(tmp_path):
    (tmp_path / "p.yaml").write_text(SPEC)
    plugin = ROOT / "tests" / "plugins" / "scale_layer.py"
    res = run([sys.executable, str(ROOT / "kspec_cli.py"), "check", "--plugin", str(plugin),
               "p.yaml"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    for bad, said in (("", "argument --plugin: needs a module name (my_layers) or a Python "
                           "file (path/to/my_layers.py)"),
                      ("nothere.py", "plugin file 'nothere.py' does not exist"),
                      (str(tmp_path / "p.yaml"), "is not a Python file with a module name")):
        res = run([sys.executable, str(ROOT / "kspec_cli.py"), "check", "--plugin", bad,
                   "p.yaml"], cwd=tmp_path)
        assert res.returncode == 2 and said in res.stderr, (bad, res.stderr)
        assert "Traceback" not in res.stderr
