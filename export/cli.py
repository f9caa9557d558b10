"""`kspec export RUN_DIR --format savedmodel|tflite|keras|onnx|all [--quantize ...] [--out PATH]`.

Each artifact is written in a staging folder of the export's own beside its destination
(`export.staging`), loaded in a fresh process and judged against the Keras model on real
samples by the task's own measures; only then is it renamed into place. A table shows
format, size, measure, value, bar and latency; the manifest is written last; the command
exits 1 if any check fails (a failed artifact is not left in place) or the disk is full.
Destinations are judged before anything is written (`export.targets`), and one export of
a run runs at a time (RUN_DIR/.export.lock).
"""
from __future__ import annotations

import contextlib
import os
import sys
import time

from builder import EXIT_BAD_INPUT
from rundir.atomic import DISK_FULL_WORDS, is_disk_full

from . import manifest
from .staging import Staging, clean_stopped
from .targets import LEVELS, UsageError, plan

EXIT_FAILED = 1  # an artifact failed its check against the Keras model (or the disk is full)
SAMPLES = 256  # a 98% agreement bar needs more than a few dozen samples to resolve
FORMATS = ("savedmodel", "tflite", "keras", "onnx")
ONNX_INSTALL = 'pip install -e ".[onnx]"'


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

    def __init__(self, run_dir: str, plugins=(), data: str | None = None,
                 data_dir: str | None = None):
        import numpy as np

        from tasks import make_task
        from tasks.data import load_source
        from tasks.data.pipeline import Pipeline, normalize
        from rundir.loader import load_run
        self.run = load_run(run_dir, plugins=plugins)
        self.task = make_task(self.run.spec)
        info = self.run.info
        source = load_source(data or info.get("dataset", "shapes"),
                             data_dir or info.get("data_dir"))
        self.pipe = Pipeline(source, self.task, self.run.spec, batch_size=SAMPLES, cache=False)
        split = "test" if "test" in source.splits else "validation"
        self.raw = np.asarray(self.pipe.sample_images(split, SAMPLES))  # real samples
        self.names = tuple(info.get("class_names", ()))
        self.x = normalize(self.raw, self.run.spec.input).numpy()
        self.y = self.run.model(self.x, training=False)

    def reference(self, fixed_size: bool) -> dict:
        import numpy as np

        outputs = self.task.serving_outputs(self.y, fixed_size)
        return {k: np.asarray(v) for k, v in outputs.items()}


def _write_and_run(fmt: str, q: str, c: _Context, path: str, scratch: str):
    """Writes one artifact at `path` and runs it the way a deployment would:
    (outputs, Keras' reference outputs, latency, modules the runner imported). The
    samples for the fresh process go to `scratch`."""
    import numpy as np

    from .formats import write_keras, write_onnx
    from .savedmodel import write_savedmodel
    from .tflite import name_outputs, write_tflite
    from .verify import run_child
    spec, model = c.run.spec, c.run.model
    if fmt == "savedmodel":
        write_savedmodel(model, spec, c.task, c.names, path)
        got, latency, modules = run_child("savedmodel", path, c.raw, scratch)
        return got, c.reference(False), latency, modules
    if fmt == "tflite":
        rep = np.asarray(c.pipe.sample_images("train", 100)) if q == "int8" else None
        names = write_tflite(model, spec, c.task, q, path, rep)
        got, latency, modules = run_child("tflite", path, c.raw, scratch)
        return name_outputs(got, names), c.reference(True), latency, modules
    if fmt == "onnx":
        write_onnx(model, spec, c.task, path)
        got, latency, modules = run_child("onnx", path, c.raw, scratch)
        return got, c.reference(True), latency, modules
    import keras
    write_keras(model, path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    got = {"out": np.asarray(_first(loaded(c.x, training=False)))}
    return got, {"out": np.asarray(_first(c.y))}, keras_latency(loaded, c.x), []


class _Rejected(Exception):
    """The artifact failed its checks: it is not renamed into place."""


class DiskFull(Exception):
    """A write ran out of space (exit 1, as in training); the message names the file."""


def disk_full(path: str, exc: BaseException, kept: str | None = None) -> DiskFull:
    """The message for a write that ran out of space: the file, the system's words (a
    library's own text can be a page of graph-node names) and what is left in place."""
    text = str(exc).lower()
    why = (exc.strerror if isinstance(exc, OSError) and exc.strerror
           else next((w for w in DISK_FULL_WORDS if w in text), type(exc).__name__))
    kept = kept or (f"the previous {os.path.basename(path)} there is intact"
                    if os.path.lexists(path) else "nothing was placed there")
    return DiskFull(f"disk full writing {path} ({why}): {kept}. Free some space in "
                    f"{os.path.dirname(path)} and run the same command again.")


def export_one(fmt: str, q: str, dest: str, c: _Context, staging: Staging | None = None) -> dict:
    """Writes, verifies and places one artifact (written in `staging`, by default a
    staging folder of its own beside `dest`); returns its table row."""
    if staging is None:
        with Staging(os.path.dirname(dest)) as own:
            return export_one(fmt, q, dest, c, own)
    row = {"format": fmt if q == "none" else f"{fmt}-{q}"}
    tmp = staging.temp(dest)
    try:
        _verify(fmt, q, c, tmp, staging, row)
        row["path"] = dest
        staging.place(tmp, dest)
    except _Rejected:
        pass
    except Exception as exc:  # a failed export is a failed row, reported, never hidden
        from .formats import MissingExtra
        if isinstance(exc, MissingExtra):
            raise
        if is_disk_full(exc):
            raise disk_full(dest, exc) from None
        text = str(exc).strip()
        row.update(passed=False, measure="error", value=float("nan"),
                   error=text.splitlines()[-1][:300] if text else type(exc).__name__)
        row.pop("path", None)
    finally:
        staging.discard(tmp)
    return row


def _verify(fmt: str, q: str, c: _Context, tmp: str, staging: Staging, row: dict) -> None:
    """Writes the artifact at `tmp` and fills `row` with its checks; _Rejected if one
    fails."""
    from tasks.agreement import Check
    got, ref, latency, modules = _write_and_run(fmt, q, c, tmp, staging.path)
    if fmt == "keras":
        import numpy as np
        checks = [Check("max abs. diff", float(np.max(np.abs(got["out"] - ref["out"]))),
                        1e-6, False)]
    else:
        checks = c.task.export_checks(q, got, ref, c.x)
    row.update(bytes=manifest.size(tmp), sha256=manifest.sha256(tmp),
               checks=[{"measure": k.measure, "value": k.value, "bar": k.bar_text,
                        "passed": k.passed} for k in checks],
               measure=checks[0].measure, value=checks[0].value,
               passed=all(k.passed for k in checks), latency_ms=latency * 1000)
    leaked = sorted({"builder", "tasks", "export", "trainer"} & set(modules))
    if leaked:
        row.update(passed=False, error=f"the runner imported kspec's {leaked}")
    if not row["passed"]:
        raise _Rejected()


def export_run(run_dir: str, formats, quantize: str, out: str | None, plugins=(),
               skip_missing_extra: bool = False, data: str | None = None,
               data_dir: str | None = None) -> tuple[list, bool]:
    """Exports and verifies each format; returns (table rows, all passed).

    Nothing is written before the destinations are judged safe (`targets.plan`) and
    `run_dir` is shown to be a kspec run; one export of a run at a time (its lock)."""
    from rundir.loader import RunError
    from rundir.lock import RunLock
    from rundir.ownership import is_run_dir
    targets, folder = plan(run_dir, formats, quantize, out)
    if not is_run_dir(run_dir):
        raise RunError(f"{run_dir} is not a run directory (no .kspec-run or run.json of a "
                       f"kspec run); train first: kspec train SPEC --out {run_dir}")
    lock = RunLock(run_dir, ".export.lock").acquire()
    try:
        c = _Context(run_dir, plugins, data, data_dir)
        return _export_all(c, targets, folder, skip_missing_extra)
    finally:
        lock.release()


def _export_all(c: _Context, targets, folder: str, skip_missing_extra: bool):
    """Cleans up after stopped exports, then writes each artifact and the manifest through
    a staging folder in each destination folder; a full disk stops it (DiskFull)."""
    from .formats import MissingExtra
    notes, rows, full = [], [], None
    with contextlib.ExitStack() as stack:
        places = {}
        for place in sorted({os.path.dirname(dest) for _, _, dest in targets} | {folder}):
            notes += [f"removed {os.path.join(place, name)}, left by an export that was "
                      "stopped" for name in clean_stopped(place)]
            places[place] = stack.enter_context(_staging_in(place, c.run.path))
        for fmt, q, dest in targets:
            try:
                rows.append(export_one(fmt, q, dest, c, places[os.path.dirname(dest)]))
            except MissingExtra:
                if not skip_missing_extra:
                    raise
                rows.append({"format": fmt, "passed": True, "skipped": f"needs {ONNX_INSTALL}"})
            except DiskFull as exc:
                full = exc  # what was placed so far still goes into the manifest
                break
        rows.append({"format": "keras model(x)",
                     "latency_ms": keras_latency(c.run.model, c.x) * 1000, "passed": True})
        try:
            notes += manifest.write_manifest(folder, c.run, rows, places[folder])
        except OSError as exc:
            if full is None and not is_disk_full(exc):
                raise
            full = full or disk_full(os.path.join(folder, manifest.MANIFEST), exc)
    for text in notes:
        print(f"note: {text}", file=sys.stderr)
    if full is not None:
        raise full
    return rows, all(r["passed"] for r in rows)


@contextlib.contextmanager
def _staging_in(place: str, run_path: str):
    """A staging folder in `place` (created when missing; its parent exists, see `plan`);
    a read-only or full place is an error that says so."""
    from rundir.ownership import READ_ONLY, not_writable
    try:
        os.makedirs(place, exist_ok=True)
        staging = Staging(place)
    except OSError as exc:
        if exc.errno in READ_ONLY:
            inside = os.path.abspath(place).startswith(os.path.abspath(run_path) + os.sep)
            raise not_writable(place, exc, "kspec export writes its artifacts there",
                               "Make it writable, or " + ("copy the run directory and export "
                                                          "the copy" if inside else
                                                          "name another --out")) from None
        if is_disk_full(exc):
            raise disk_full(place, exc, "nothing was written") from None
        raise
    with staging:
        yield staging


def _first(y):
    return next(iter(y.values())) if isinstance(y, dict) else y


def print_table(rows) -> None:
    print(f"{'format':16s} {'size':>9s}  {'check':20s} {'value':>9s}  {'bar':>9s}  "
          f"{'ms/image':>8s}  result")
    for r in rows:
        size = f"{r['bytes'] / 1e6:.2f} MB" if "bytes" in r else ""
        checks = r.get("checks") or [{"measure": r.get("measure", ""), "value": r.get("value"),
                                      "bar": ""}]
        if r.get("skipped"):
            result = f"skipped: {r['skipped']}"
        else:
            result = "ok" if r["passed"] else f"FAILED {r.get('error', '')}".rstrip()
            result += "" if r["passed"] or "path" in r or "error" in r else " (not written)"
        latency = f"{r['latency_ms']:8.3f}" if "latency_ms" in r else ""
        for i, k in enumerate(checks):  # one line per measure; the artifact's on the first
            value = f"{k['value']:.3g}" if isinstance(k.get("value"), float) else ""
            first = i == 0
            print(f"{r['format'] if first else '':16s} {size if first else '':>9s}  "
                  f"{k['measure']:20s} {value:>9s}  {k['bar']:>9s}  "
                  f"{latency if first else '':>8s}  {result if first else ''}".rstrip())
    written = sorted({os.path.dirname(r["path"]) for r in rows if r.get("path")})
    if written:
        print(f"written to {', '.join(written)}")


def cmd_export(args) -> int:
    import signal

    from tasks.data import DataError
    from rundir.loader import RunError
    from rundir.lock import Busy
    from rundir.ownership import RunDirRefused

    from .formats import MissingExtra
    # A file-size limit must give an error to report (as in training), not kill the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    formats = list(FORMATS) if args.format == "all" else [args.format]
    if args.quantize != "none" and args.format not in ("tflite", "all"):
        print("kspec export: --quantize applies to --format tflite (or all)", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        rows, ok = export_run(args.run_dir, formats, args.quantize, args.out, args.plugin,
                              skip_missing_extra=args.format == "all", data=args.data,
                              data_dir=args.data_dir)
    except (RunError, DataError, MissingExtra, UsageError, Busy, RunDirRefused) as exc:
        print(f"kspec export: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except DiskFull as exc:
        print(f"kspec export: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print_table(rows)
    return 0 if ok else EXIT_FAILED


def add_commands(sub, common) -> None:
    from builder.untrusted import data_dir_option
    p = sub.add_parser(
        "export", parents=[common], help="write and verify deployment artifacts",
        description="Writes deployment artifacts of a trained run and verifies each one "
        "in a fresh process against the Keras model on real samples of the run's data.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory that `kspec train` wrote")
    p.add_argument("--format", required=True, choices=["savedmodel", "tflite", "keras", "onnx",
                                                       "all"],
                   help="savedmodel: a folder with serving_default (uint8 images of any size); "
                   "tflite: LiteRT, builtin ops only; keras: a .keras file; onnx: needs "
                   f"{ONNX_INSTALL}; all: each of them (ONNX skipped when not installed)")
    p.add_argument("--quantize", default="none", choices=["none", *LEVELS[1:], "all"],
                   help="TFLite only: float16, dynamic range, or int8 (calibrated on the run's "
                   "training images, uint8 input); all: every level (default: none, float32)")
    p.add_argument("--out", default=None, metavar="PATH",
                   help="one artifact: PATH is the artifact itself (model.tflite, the SavedModel "
                   "folder); several: PATH is a folder (default: RUN_DIR/exports/)")
    p.add_argument("--data", default=None, help="where the samples for the checks and int8 "
                   "calibration come from (default: the run's dataset)")
    p.add_argument("--data-dir", default=None, type=data_dir_option,
                   help="TFDS data directory (default: the run's)")
    p.set_defaults(func=cmd_export)
