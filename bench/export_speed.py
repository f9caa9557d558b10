"""Export: TFLite float32 / int8 single-image latency against Keras `model(x)`, and sizes.

A model is trained briefly on `shapes` (LeNet-5, and ResNet-18 at 64x64 unless
quick), exported in every format, verified, and measured.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from .common import Row

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


def export_rows(quick: bool) -> list:
    from export.cli import export_run
    rows = []
    models = {"LeNet-5": MODELS["LeNet-5"]} if quick else MODELS
    with tempfile.TemporaryDirectory() as tmp:
        for name, (spec, extra) in models.items():
            out = os.path.join(tmp, name.split()[0])
            steps = (60 if quick else 300) if name == "LeNet-5" else 60
            _train(spec, extra, out, steps)
            results, ok = export_run(out, ["savedmodel", "tflite", "keras"], "all", None)
            by = {r["format"]: r for r in results}
            keras_ms = by["keras model(x)"]["latency_ms"]
            for fmt, label in (("tflite", "float32"), ("tflite-int8", "int8")):
                rows.append(Row(f"TFLite {label} latency vs Keras model(x), {name}", "ms/image",
                                by[fmt].get("latency_ms", float("nan")), keras_ms,
                                "lower is better"))
            base = by["tflite"].get("bytes", float("nan"))
            for fmt in ("savedmodel", "keras", "tflite-float16", "tflite-dynamic", "tflite-int8"):
                rows.append(Row(f"export size {fmt} vs TFLite float32, {name}", "MB",
                                by[fmt].get("bytes", float("nan")) / 1e6, base / 1e6,
                                "verified" if by[fmt]["passed"] else "FAILED verification"))
            if not ok:  # reported, not hidden; a barely trained model has near-tied classes
                failed = [r["format"] for r in results if not r["passed"]]
                print(f"[bench] {name}: verification failed for {failed}", file=sys.stderr)
    return rows
