"""Custom layers only through an explicitly named plugin; models are pure Keras 3."""
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
