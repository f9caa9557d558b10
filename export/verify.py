"""Runs an exported artifact in a fresh process (`export/child.py`) and returns its outputs.

How the outputs are judged is the task's business (`Task.export_checks`).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

CHILD = os.path.join(os.path.dirname(__file__), "child.py")


def run_child(kind: str, path: str, samples: np.ndarray) -> tuple[dict, float, list]:
    with tempfile.TemporaryDirectory() as tmp:
        x_path, out_path = os.path.join(tmp, "x.npy"), os.path.join(tmp, "out.npz")
        np.save(x_path, samples)
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        # The child runs elsewhere (so it cannot import kspec): it needs an absolute path.
        res = subprocess.run([sys.executable, CHILD, kind, os.path.abspath(path), x_path,
                              out_path],
                             capture_output=True, text=True, env=env, timeout=600,
                             cwd=tempfile.gettempdir())  # not the project: imports nothing of it
        if res.returncode != 0:
            raise RuntimeError(f"loading {path} in a fresh process failed:\n{res.stderr[-1500:]}")
        info = json.loads(res.stdout.strip().splitlines()[-1])
        with np.load(out_path) as data:
            outs = {k: data[k] for k in data.files}
    return outs, info["latency_s"], info["modules"]
