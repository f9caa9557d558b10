"""Runs an exported artifact in a fresh process (`export/child.py`) and returns its outputs.

How the outputs are judged is the task's business (`Task.export_checks`).
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

CHILD = os.path.join(os.path.dirname(__file__), "child.py")


def run_child(kind: str, path: str, samples: np.ndarray,
              scratch: str | None = None) -> tuple[dict, float, list]:
    """The artifact's outputs for `samples`, its latency and the modules its runner
    imported. The samples and outputs pass through files in `scratch` (the export's own
    staging folder; default: the temporary folder)."""
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        x_path, out_path = os.path.join(tmp, "x.npy"), os.path.join(tmp, "out.npz")
        buffer = io.BytesIO()
        np.save(buffer, samples)
        with open(x_path, "wb") as fh:  # a plain write: a full disk is an OSError with errno
            fh.write(buffer.getvalue())  # (np.save to a file says "N requested and M written")
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
