"""Export: TFLite float32 / int8 single-image latency against the same model compiled by
TensorFlow (`tf.function`, same batch of one, warmed up), ONNX Runtime where it is
installed, and sizes.

A model is trained briefly on `shapes` (LeNet-5, and ResNet-18 at 64x64 unless
quick), exported in every format, verified, and measured.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from .common import ROUNDS, Row

MODELS = {"LeNet-5": ("specs/lenet5.yaml", []),
          "ResNet-18 64x64": ("specs/resnet18.yaml", ["--set", "input.shape=[64, 64, 3]",
                                                      "--set", "head.classes=4"])}


def _train(spec, extra, out, steps):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    cmd = [sys.executable, "train.py", spec, "--out", out, "--epochs", "1", "--steps-per-epoch",
           str(steps), "--no-xla", "--quiet", *extra]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-2000:])


def compiled_latency_ms(run_dir: str, rounds: int) -> float:
    """One image through the model as a compiled TensorFlow function (graph, no Python
    per layer), warmed up: the fair reference for an interpreter's latency."""
    import time

    import keras
    import numpy as np
    import tensorflow as tf
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    x = tf.constant(np.random.default_rng(0).uniform(
        0, 1, (1,) + tuple(model.input.shape[1:])).astype("float32"))
    call = tf.function(lambda t: model(t, training=False))
    for _ in range(10):
        call(x)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(50):
            tf.nest.map_structure(lambda t: t.numpy(), call(x))
        best = min(best, (time.perf_counter() - start) / 50)
    return best * 1000


def export_rows(quick: bool) -> list:
    from export.cli import export_run
    rows = []
    models = {"LeNet-5": MODELS["LeNet-5"]} if quick else MODELS
    try:
        import onnxruntime  # noqa: F401  (the `onnx` extra: compared where installed)
        formats = ["savedmodel", "tflite", "keras", "onnx"]
    except ImportError:
        formats = ["savedmodel", "tflite", "keras"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, (spec, extra) in models.items():
            out = os.path.join(tmp, name.split()[0])
            steps = (60 if quick else 300) if name == "LeNet-5" else 60
            _train(spec, extra, out, steps)
            results, ok = export_run(out, formats, "all", None)
            by = {r["format"]: r for r in results}
            compiled = compiled_latency_ms(out, 1 if quick else ROUNDS)
            for fmt, label in (("tflite", "TFLite float32"), ("tflite-int8", "TFLite int8"),
                               ("onnx", "ONNX Runtime")):
                if fmt not in by or "latency_ms" not in by[fmt]:
                    continue
                rows.append(Row(f"{label} latency vs tf.function, {name}", "ms/image",
                                by[fmt]["latency_ms"], compiled, "lower is better",
                                verified=bool(by[fmt]["passed"])))
            base = by["tflite"].get("bytes", float("nan"))
            for fmt in ("savedmodel", "keras", "tflite-float16", "tflite-dynamic", "tflite-int8"):
                rows.append(Row(f"export size {fmt} vs TFLite float32, {name}", "MB",
                                by[fmt].get("bytes", float("nan")) / 1e6, base / 1e6,
                                verified=bool(by[fmt]["passed"]),
                                bar="<= 0.3" if fmt == "tflite-int8" else ""))
            if not ok:  # reported, not hidden; a barely trained model has near-tied classes
                failed = [r["format"] for r in results if not r["passed"]]
                print(f"[bench] {name}: verification failed for {failed}", file=sys.stderr)
    return rows
