"""`kspec export RUN_DIR --format savedmodel|tflite|keras|onnx [--quantize ...] [--out PATH]`.

Writes each artifact under a temporary name and renames it into place, verifies it
in a fresh process against the Keras model on real samples, prints a table
(format, size, difference or agreement, latency per image), writes the manifest
last, and exits 1 if any check fails.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time

EXIT_BAD_INPUT, EXIT_FAILED = 2, 1
SAMPLES = 64


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    if os.path.isdir(path):
        for root, _, files in sorted(os.walk(path)):
            for f in sorted(files):
                with open(os.path.join(root, f), "rb") as fh:
                    h.update(os.path.relpath(os.path.join(root, f), path).encode())
                    h.update(fh.read())
    else:
        with open(path, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()


def _size(path: str) -> int:
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)
    return os.path.getsize(path)


def keras_latency(model, x) -> float:
    import numpy as np
    one = x[:1]
    model(one, training=False)
    times = []
    for _ in range(20):
        start = time.perf_counter()
        model(one, training=False)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


class _Context:
    """What every format's export and check needs: the run, its task, samples, outputs."""

    def __init__(self, run_dir: str, out: str | None):
        import numpy as np

        from tasks import make_task
        from tasks.data import load_source
        from tasks.data.pipeline import Pipeline, normalize
        from trainer.run_loader import load_run
        self.run = load_run(run_dir)
        self.task = make_task(self.run.spec)
        self.out = out or os.path.join(run_dir, "exports")
        os.makedirs(self.out, exist_ok=True)
        info = self.run.info
        source = load_source(info.get("dataset", "shapes"), info.get("data_dir"))
        self.pipe = Pipeline(source, self.task, self.run.spec, batch_size=SAMPLES, cache=False)
        split = "test" if "test" in source.splits else "validation"
        self.raw = np.asarray(self.pipe.sample_images(split, SAMPLES))  # real samples
        self.names = tuple(info.get("class_names", ()))
        self.x = normalize(self.raw, self.run.spec.input).numpy()
        self.y = self.run.model(self.x, training=False)

    def reference(self, fixed_size: bool) -> dict:
        import numpy as np

        from .serving import outputs_for
        return {k: np.asarray(v) for k, v in outputs_for(self.task, self.y, fixed_size).items()}


def _write_and_run(fmt: str, q: str, c: _Context):
    """Writes one artifact and runs it in a fresh process: (path, got, reference, latency,
    modules the fresh process imported)."""
    import numpy as np

    from .formats import write_keras, write_onnx
    from .savedmodel import write_savedmodel
    from .tflite import name_outputs, write_tflite
    spec, model = c.run.spec, c.run.model
    if fmt == "savedmodel":
        path = write_savedmodel(model, spec, c.task, c.names, os.path.join(c.out, "savedmodel"))
        return _with_child("savedmodel", path, c.raw, c.reference(False))
    if fmt == "tflite":
        path = os.path.join(c.out, f"model_{'float32' if q == 'none' else q}.tflite")
        rep = np.asarray(c.pipe.sample_images("train", 100)) if q == "int8" else None
        names = write_tflite(model, spec, c.task, q, path, rep)
        path, got, ref, latency, modules = _with_child("tflite", path, c.raw, c.reference(True))
        return path, name_outputs(got, names), ref, latency, modules
    if fmt == "onnx":
        path = write_onnx(model, spec, c.task, os.path.join(c.out, "model.onnx"))
        return _with_child("onnx", path, c.raw, c.reference(True))
    import keras
    path = write_keras(model, os.path.join(c.out, "model.keras"))
    loaded = keras.saving.load_model(path, safe_mode=True)
    got = {"out": np.asarray(_first(loaded(c.x, training=False)))}
    return path, got, {"out": np.asarray(_first(c.y))}, keras_latency(loaded, c.x), []


def _with_child(kind: str, path: str, raw, reference: dict):
    from .verify import run_child
    got, latency, modules = run_child(kind, path, raw)
    return path, got, reference, latency, modules


def export_run(run_dir: str, formats, quantize: str, out: str | None) -> tuple[list, bool]:
    """Exports and verifies each format; returns (table rows, all passed)."""
    from .formats import MissingExtra
    from .verify import compare
    c = _Context(run_dir, out)
    rows, ok = [], True
    for fmt in formats:
        levels = ["none"]
        if fmt == "tflite":
            levels = ["none", "float16", "dynamic", "int8"] if quantize == "all" else [quantize]
        for q in levels:
            row = {"format": fmt if q == "none" else f"{fmt}-{q}"}
            try:
                path, got, ref, latency, modules = _write_and_run(fmt, q, c)
                passed, measure, value = (_exact(got["out"], ref["out"]) if fmt == "keras"
                                          else compare(c.task, q, got, ref))
                leaked = sorted({"builder", "tasks", "export", "trainer"} & set(modules))
                if leaked:
                    passed, measure = False, f"child imported {leaked}"
                row.update(path=path, bytes=_size(path), sha256=_sha256(path), measure=measure,
                           value=value, passed=passed, latency_ms=latency * 1000)
            except MissingExtra:
                raise
            except Exception as exc:  # a failed export is a failed row, reported, never hidden
                text = str(exc).strip()
                row.update(passed=False, measure="error", value=float("nan"),
                           error=text.splitlines()[-1][:300] if text else type(exc).__name__)
            ok &= row["passed"]
            rows.append(row)
    rows.append({"format": "keras model(x)", "latency_ms": keras_latency(c.run.model, c.x) * 1000,
                 "passed": True})
    write_manifest(c.out, c.run, rows)
    return rows, ok


def _first(y):
    return next(iter(y.values())) if isinstance(y, dict) else y


def _exact(a, b):
    import numpy as np
    diff = float(np.max(np.abs(a - b)))
    return diff <= 1e-6, "max abs. diff", diff


def write_manifest(out: str, run, rows) -> None:
    import keras
    import tensorflow as tf

    from trainer.atomic import write_text
    manifest = {"run": os.path.abspath(run.path), "weights": run.weights,
                "spec_sha256": run.info.get("spec_sha256"),
                "versions": {"python": platform.python_version(), "tensorflow": tf.__version__,
                             "keras": keras.__version__},
                "written": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "artifacts": [{k: v for k, v in r.items()} for r in rows if "path" in r]}
    existing = os.path.join(out, "manifest.json")
    if os.path.exists(existing):  # keep entries of formats not exported this time
        with open(existing) as fh:
            old = json.load(fh).get("artifacts", [])
        now = {a["path"] for a in manifest["artifacts"]}
        manifest["artifacts"] = [a for a in old if a["path"] not in now
                                 and os.path.exists(a["path"])] + manifest["artifacts"]
    write_text(existing, json.dumps(manifest, indent=1, default=str) + "\n")


def check_manifest(folder: str) -> list[str]:
    """Problems with the artifacts a manifest lists: missing, resized or changed files."""
    with open(os.path.join(folder, "manifest.json")) as fh:
        artifacts = json.load(fh)["artifacts"]
    problems = []
    for a in artifacts:
        if not os.path.exists(a["path"]):
            problems.append(f"{a['path']}: missing")
        elif _size(a["path"]) != a["bytes"] or _sha256(a["path"]) != a["sha256"]:
            problems.append(f"{a['path']}: differs from the manifest (size or sha256)")
    return problems


def print_table(rows) -> None:
    print(f"{'format':18s} {'size':>10s}  {'check':24s} {'value':>10s}  {'ms/image':>9s}  result")
    for r in rows:
        size = f"{r['bytes'] / 1e6:.2f} MB" if "bytes" in r else ""
        value = f"{r['value']:.3g}" if isinstance(r.get("value"), float) else ""
        result = "ok" if r["passed"] else f"FAILED {r.get('error', '')}"
        print(f"{r['format']:18s} {size:>10s}  {r.get('measure', ''):24s} {value:>10s}  "
              f"{r.get('latency_ms', float('nan')):9.3f}  {result}")


def cmd_export(args) -> int:
    from tasks.data import DataError
    from trainer.run_loader import RunError
    formats = ["savedmodel", "tflite", "keras"] if args.format == "all" else [args.format]
    if args.quantize != "none" and formats != ["tflite"] and args.format != "all":
        print("kspec export: --quantize applies to --format tflite", file=sys.stderr)
        return EXIT_BAD_INPUT
    from .formats import MissingExtra
    try:
        rows, ok = export_run(args.run_dir, formats, args.quantize, args.out)
    except (RunError, DataError, MissingExtra) as exc:
        print(f"kspec export: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print_table(rows)
    return 0 if ok else EXIT_FAILED


def add_commands(sub, common) -> None:
    p = sub.add_parser("export", help="write and verify deployment artifacts")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--format", required=True,
                   choices=["savedmodel", "tflite", "keras", "onnx", "all"])
    p.add_argument("--quantize", default="none",
                   choices=["none", "float16", "dynamic", "int8", "all"])
    p.add_argument("--out", default=None, help="default: RUN_DIR/exports/")
    p.set_defaults(func=cmd_export)
