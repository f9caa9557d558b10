"""Shared test setup: quiet TensorFlow logs, paths to the zoo."""
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
