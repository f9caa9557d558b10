"""Writes docs/performance.md from the JSON the benchmarks wrote (every number from a run).

    python -m bench --out docs/bench-cpu.json
    python -m bench.tasks --out docs/bench-tasks-cpu.json
    python -m bench.report
"""
from __future__ import annotations

import json
import os
import time

CPU, TASKS, OUT = "docs/bench-cpu.json", "docs/bench-tasks-cpu.json", "docs/performance.md"
GPU = "docs/bench-gpu.json"  # from bench.gpu --out; absent until a GPU run
METRIC = {"classification": "accuracy", "localization": "iou",
          "classification_localization": "iou", "detection": "map50", "mask_detection": "map50",
          "segmentation": "mean_iou", "autoencoder": "mse"}


def _row(rows, start: str) -> dict:
    return next(r for r in rows if r["what"].startswith(start))


def _cpu_table(rows) -> str:
    lines = ["| what | unit | ours | reference | ratio | bar | rounds |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        bar = r.get("bar", "")
        if bar:
            bar += " met" if r.get("met") else " **missed**"
        if r.get("verified") is False:
            bar = (bar + ", " if bar else "") + "**failed verification**"
        lines.append(f"| {r['what']} | {r['unit']} | {_num(r['ours'])} | {_num(r['reference'])} | "
                     f"{r['ratio']:.3f} | {bar} | {r.get('rounds', '')} |")
    return "\n".join(lines)


def _num(value: float) -> str:
    """4 significant digits; whole numbers with thousands separators from 1,000 on."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _xla_sentence(row: dict, model: str) -> str:
    ratio = row["ratio"]
    return (f"XLA is {'faster' if ratio > 1 else 'slower'} for {model} "
            f"({_num(row['ours'])} against {_num(row['reference'])} img/s, {ratio:.2f}x)")


def _ratios(rows) -> str:
    """Each row's ratio, with the model it is for."""
    return ", ".join(f"{x['ratio']:.2f} ({x['what'].rsplit(', ', 1)[-1]})" for x in rows)


def _timing_cost(row: dict) -> str:
    return (f"{row['ours']:.1f} s where the same steps at the faster setting take "
            f"{row['reference']:.1f} s")


def _header(cpu: dict) -> str:
    m, v = cpu["machine"], cpu["versions"]
    mem = f", {m['memory_gib']:g} GiB" if m.get("memory_gib") else ""
    onednn = "on, its default" if m.get("onednn", True) else "off"
    libs = ", ".join(f"{k} {v[k]}" for k in ("tensorflow", "keras", "ai_edge_litert",
                                             "onnxruntime") if k in v)
    return (f"Measured {cpu['measured_at']} on {m['cpu']} ({m['cpus']} CPUs{mem}, "
            f"{m['system']}), Python {v['python']}, {libs}, oneDNN {onednn}, kspec "
            f"{v.get('kspec_commit', '(commit unknown)')}. Command: `{cpu['command']}`.")


def _fine_tuning(r) -> str:
    if not r:
        return ""
    return f"""
**Fine-tuning** (`init:`), in the same run: `{r['spec']}` pretrained
on `{r['pretrain_data']}` (the main object's class; {r['pretrain_seconds']:.0f} s), then
trained for {r['steps']} steps on the small labelled training split of another variant
(`{r['data']}`). Test accuracy {r['accuracy_fine_tuned']:.4f} from the pretrained
weights, {r['accuracy_scratch']:.4f} from scratch: same steps, same test split. Both
variants have the same four classes, so the gap is what pretraining brings (no bar: a
measurement).
"""


def _coco_maps(tasks) -> str:
    return ", ".join(f"{tasks[name]['map']:.4f} ({name})" for name in
                     ("detection", "mask_detection") if "map" in tasks.get(name, {}))


def _task_table(tasks) -> str:
    lines = ["| task | spec | data | test metric | value | bar | train time |",
             "|---|---|---|---|---|---|---|"]
    for name, r in tasks.items():
        if name not in METRIC:
            continue  # not a task row (fine-tuning has a section of its own)
        m = METRIC[name]
        bar = (f"<= {r['bar']:.4f} (mean image {r['mean_image_mse']:.4f} / 3)"
               if name == "autoencoder" else f">= {r['bar']}")
        lines.append(f"| {name} | `{r['spec']}` | `{r['data']}` | {m} | {r[m]:.4f} | {bar} | "
                     f"{r['train_seconds']:.0f} s |")
    return "\n".join(lines)


_GPU_HOW = """\
It trains ResNet-50 from `specs/resnet50.yaml` against `keras.applications.ResNet50`
(`--image 224 --batch 256`, bf16 mixed precision, synthetic data made on the GPU, one
jitted step each, alternated in one process); the bar is a ratio of `>= 0.98`. The two
are weight-for-weight the same network (tested), so the ratio measures only how they are
built.

The GPU machine has JAX and CUDA but no TensorFlow; `builder/` imports none, so only
Keras travels, as wheels (the machine already has numpy, ml-dtypes, h5py, rich, absl-py,
packaging and PyYAML):

```bash
# here: fetch Keras and the two packages of its own that the GPU machine lacks
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \\
    --implementation cp --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \\
    -d .whl keras==3.15.1 namex optree
# there, in a copy of this repository with .whl beside it
python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
PYTHONPATH=/tmp/site KERAS_BACKEND=jax python3 -m bench.gpu --out docs/bench-gpu.json
python -m bench.report   # back here: this page, with the GPU table
```

Published references for the same training (images/second on one GPU) are kept with
their sources in `docs/gpu-references.json`, to compare a measured row with."""


def _gpu_section(gpu, written: str) -> str:
    """The measured GPU rows, or what is missing and the command that fills it."""
    if gpu:
        measured = ("Command: `KERAS_BACKEND=jax python3 -m bench.gpu --out "
                    f"docs/bench-gpu.json` (run {written}).\n\n{_cpu_table(gpu)}")
    else:
        measured = ("**Not measured yet.** It needs a GPU machine, and none has been lent to "
                    "the sessions that\nwrote this page. The benchmark is written and runs "
                    "(tested on the CPU with Keras on\nJAX, where it imports no TensorFlow).")
    return f"## GPU\n\n{measured}\n\n{_GPU_HOW}"


def measured_on(path: str) -> str:
    """The day a benchmark's JSON was written: the file's own time while it is new or
    changed (just measured), else the day of the commit that last changed it (a checkout
    gives every file the checkout's time)."""
    import subprocess
    changed = subprocess.run(["git", "status", "--porcelain", "--", path],
                             capture_output=True, text=True).stdout.strip()
    day = "" if changed else subprocess.run(
        ["git", "log", "-1", "--format=%cs", "--", path], capture_output=True,
        text=True).stdout.strip()
    return day or time.strftime("%Y-%m-%d", time.localtime(os.path.getmtime(path)))


def render(cpu, tasks_doc, gpu=None, gpu_written: str = "") -> str:
    rows = cpu["rows"]
    tasks = tasks_doc.get("tasks", tasks_doc)
    r = lambda start: _row(rows, start)  # noqa: E731
    pipe = [x for x in rows if x["what"].startswith("input pipeline")]
    first = [x for x in rows if x["what"].startswith("first epoch")]
    missed = [x["what"] for x in rows if x.get("met") is False]
    verified = all(x.get("verified", True) for x in rows)
    tfl, tfl_r = r("TFLite float32 latency vs tf.function, LeNet"), \
        r("TFLite float32 latency vs tf.function, ResNet")
    int8 = [x["ratio"] for x in rows if x["what"].startswith("export size tflite-int8")]
    onnx = [x for x in rows if x["what"].startswith("ONNX Runtime")]
    return f"""# Performance

Every figure on this page is read from the JSON a benchmark run wrote; nothing is typed
in. Each row measures ours and its reference in the same run, alternately for as many
rounds as its `rounds` column says, and reports the best round of each, since noise on a
shared machine only slows things down (a latency row times the artifact once, in the
fresh process that verifies it, against the reference's best round). Ratios
are ours / reference (for times and sizes, lower is better); a row's bar is the ratio it
must meet, and `python -m bench` exits non-zero when a row misses it. Generated by
`python -m bench.report` from `{CPU}` and `{TASKS}`.

## CPU

{_header(cpu)}

{_cpu_table(rows)}

{"Bars missed in this run: " + "; ".join(missed) + "." if missed else "Every bar was met."}
{"Every artifact behind a row passed its verification in a fresh process." if verified else
 "Rows marked **failed verification** are from artifacts that did not pass."}

What the rows say:

- **Build time**: ResNet-152 from its spec against `keras.applications`: ratio
  {r('build')['ratio']:.2f}. `kspec check` (validation and the shape pass, pure Python,
  no TensorFlow) takes {r('kspec check')['ours']:.3f} s of the
  {r('kspec check')['reference']:.2f} s that building the Keras model takes.
- **Trainer vs Keras `fit`** (same model, data and XLA setting; each timed round makes
  its own iterator, as `fit` does): {r('train LeNet-5: trainer')['ratio']:.2f} for LeNet-5,
  {r('train ResNet-18 64x64: trainer')['ratio']:.2f} for ResNet-18.
- **XLA on vs off** on this CPU: {_xla_sentence(r('train LeNet-5: XLA'), 'LeNet-5')};
  {_xla_sentence(r('train ResNet-18 64x64: XLA'), 'ResNet-18')}. On CPUs which is faster
  depends on the model and the machine, so `--xla auto`, the default, turns XLA on with
  a GPU or TPU and, on CPUs, times the first steps of a run both ways and keeps the
  faster; a run with less than a minute of training left stays without XLA, and so do
  `--deterministic` runs and clusters, where the choice must not depend on timing. The
  default trainer runs at {r('train LeNet-5: default')['ratio']:.2f} of the faster
  setting for LeNet-5 ({r('train LeNet-5: default')['note']}) and at
  {r('train ResNet-18 64x64: default')['ratio']:.2f} for ResNet-18
  ({r('train ResNet-18 64x64: default')['note']}). Timing both ways costs a run once:
  {_timing_cost(r('train LeNet-5: --xla auto'))} (LeNet-5),
  {_timing_cost(r('train ResNet-18 64x64: --xla auto'))} (ResNet-18), both compiles
  included. `run.json` records the choice and why. Under `--deterministic` XLA has no
  deterministic max-pool gradient: with `--xla on` the trainer says so and goes on
  without XLA.
- **Input pipeline vs the same batches in memory**, after the first epoch:
  {_ratios(pipe)}.
  The split is decoded once, into memory; each epoch gathers and
  augments it (vectorised, several batches per call) on one thread, which shares the
  CPU's cores with the training step. tf.data's default graph rewrites are off for the
  epoch: they serialized its graph, the whole prepared split with it, at every new
  iterator. The first epoch also reads and decodes the split:
  {_ratios(first)}.
- **Input work per worker**: with two workers each gathers, augments and makes targets
  for its own slices of every global batch only: {r('input work')['ratio']:.2f} of the
  work one worker does alone (CPU time of the pipeline over one epoch). Each epoch also
  has a set-up that every worker does whatever their number (its permutation, random
  draws and graph): {r('epoch set-up')['ours']:.3f} s with two workers and
  {r('epoch set-up')['reference']:.3f} s with one, while one worker's work over the epoch
  is {r('input work')['reference']:.3f} s on this small split; the set-up does not grow
  with the split. Evaluation is shared the same way: each worker evaluates its share of
  the split and the sums (or, for detection's mAP, the detections) are combined, so
  every worker reports the whole split's figures.
- **TFLite vs the same model compiled by TensorFlow** (`tf.function`, one image,
  warmed up): {tfl['ours']:.3f} ms against {tfl['reference']:.3f} ms for LeNet-5
  (ratio {tfl['ratio']:.2f}), {tfl_r['ours']:.2f} ms against {tfl_r['reference']:.2f} ms
  for ResNet-18 (ratio {tfl_r['ratio']:.2f}); the interpreter runs one thread.
  {"ONNX Runtime: " + "; ".join(f"{x['what']}: ratio {x['ratio']:.2f}" for x in onnx) + "."
   if onnx else "ONNX Runtime is not installed on this machine (the `onnx` extra): no row."}
- **Sizes**: int8 TFLite is {min(int8):.2f}x to {max(int8):.2f}x of float32.

## Task quality on `shapes` (CPU)

{_header(tasks_doc) if "machine" in tasks_doc else "Measured on a day not recorded."}
Each task is trained with `train.py --no-xla` and scored with `kspec evaluate` on the
test split.

{_task_table(tasks)}

Detection by masks (`mask_detection`) has no bar of its own; it is held to the grid
detector's. COCO's mAP (averaged over IoU thresholds) in the same run: {_coco_maps(tasks)}.
{_fine_tuning(tasks.get("fine_tuning"))}
{_gpu_section(gpu, gpu_written)}
"""


def page() -> str:
    """The page as the JSON files in docs/ make it now."""
    with open(CPU) as fh:
        cpu = json.load(fh)
    with open(TASKS) as fh:
        tasks = json.load(fh)
    gpu, written = None, ""
    if os.path.exists(GPU):
        with open(GPU) as fh:
            gpu = json.load(fh)
        written = measured_on(GPU)
    return render(cpu, tasks, gpu, written)


def main() -> int:
    text = page()
    with open(OUT, "w") as fh:
        fh.write(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
