"""Shared test setup: quiet TensorFlow logs, paths to the zoo."""
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"

import subprocess  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# The fuzz suites draw new inputs on every local run (that is how they find things); CI
# (CI=true) draws the same ones each time, so a landing is never decided by chance.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# A small `shapes` variant: generated in about a second, big enough to learn from.
SMALL_SHAPES = "shapes/single:train=1600,validation=160,test=160"


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """One TFDS data directory for the whole session (the generated sets are reused)."""
    return str(tmp_path_factory.mktemp("tfds"))


def train_cmd(spec, out, data_dir, *extra, data=SMALL_SHAPES):
    return [sys.executable, str(ROOT / "train.py"), str(spec), "--data", data, "--data-dir",
            data_dir, "--out", str(out), "--quiet", *extra]


def run(cmd, timeout=600, cwd=ROOT, env=None, **kw):
    env = {**(env or os.environ), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env, **kw)


def final_weights(run_dir):
    """The weights in RUN_DIR/model.keras, as a list of arrays."""
    import zipfile

    import h5py
    import numpy as np
    with zipfile.ZipFile(os.path.join(run_dir, "model.keras")) as zf:
        with zf.open("model.weights.h5") as fh, h5py.File(fh, "r") as h5:
            arrays = []
            h5.visititems(lambda name, obj: arrays.append((name, np.asarray(obj)))
                          if isinstance(obj, h5py.Dataset) else None)
    return [a for _, a in sorted(arrays, key=lambda t: t[0])]
