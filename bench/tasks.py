"""`python -m bench.tasks [--out FILE.json] [--quick]`: every task trained on `shapes`, tested.

Each task is trained with the real command (`train.py`, a subprocess) and scored
with `kspec evaluate` on the test split. The bars (issue 5): classification
accuracy >= 0.95, localization mean IoU >= 0.7, detection mAP@0.5 >= 0.6,
segmentation mean IoU >= 0.75, autoencoder MSE <= 1/3 of predicting the mean image.
Detection by masks (the issue's optional second head) is held to the grid detector's bar.
Fine-tuning (`fine_tuning`): a model pretrained on one `shapes` variant, then trained on
a few dozen labelled images per class of another, against the same model trained from
scratch for the same steps, both scored on the same test split (no bar: a measurement).
XLA is off here: on this CPU it is slower (see docs/performance.md); quality is what
is measured.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

TASKS = {  # name: (spec, data, metric, bar, higher is better)
    "classification": ("specs/small_cnn.yaml", "shapes", "accuracy", 0.95, True),
    "localization": ("specs/localizer.yaml", "shapes", "iou", 0.7, True),
    "classification_localization": ("specs/classify_localize.yaml", "shapes", "iou", 0.7, True),
    "detection": ("specs/detector.yaml", "shapes/multi", "map50", 0.6, True),
    "mask_detection": ("specs/mask_detector.yaml", "shapes/multi", "map50", 0.6, True),
    "segmentation": ("specs/segnet_small.yaml", "shapes/multi", "mean_iou", 0.75, True),
    "autoencoder": ("specs/autoencoder.yaml", "shapes", "mse", None, False),
}


def _run(cmd):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stderr[-2000:]}")
    return res.stdout


def mean_image_mse(data: str) -> float:
    """Test MSE of always predicting the training set's mean image (the autoencoder's bar)."""
    import numpy as np
    from tasks.data import load_source
    source = load_source(data)
    total, count = None, 0
    for ex in source.splits["train"]:
        img = ex["image"].numpy().astype(np.float64) / 255.0
        total = img if total is None else total + img
        count += 1
    mean = total / count
    errs = [np.mean((ex["image"].numpy() / 255.0 - mean) ** 2) for ex in source.splits["test"]]
    return float(np.mean(errs))


# Pretraining: the main object's class on `shapes/multi` (one to four shapes per image).
# Fine-tuning: 24 labelled images per class of a different variant (other seed, more noise).
PRETRAIN = ("specs/small_cnn.yaml", "shapes/multi")
FEW = "shapes/single:train=96,validation=64,test=1000,seed=7,noise=30"
FEW_EPOCHS = 30  # 3 steps each (96 images, batch 32): 90 steps for both


def run_fine_tuning(folder: str, quick: bool) -> dict:
    spec, data = PRETRAIN
    pretrained = os.path.join(folder, "pretrained")
    start = time.time()
    _run([sys.executable, "train.py", spec, "--data", data, "--out", pretrained, "--no-xla",
          "--quiet", *(["--epochs", "1", "--steps-per-epoch", "20"] if quick else [])])
    epochs = ["--epochs", "2" if quick else str(FEW_EPOCHS)]
    row = {"pretrain_seconds": round(time.time() - start, 1), "spec": spec,
           "pretrain_data": data, "data": FEW, "steps": int(epochs[1]) * 3}
    for kind, init in (("fine_tuned", ["--init", pretrained]), ("scratch", [])):
        out = os.path.join(folder, kind)
        _run([sys.executable, "train.py", spec, "--data", FEW, "--out", out, "--no-xla",
              "--quiet", *epochs, *init])
        result = json.loads(_run(["kspec", "evaluate", out, "--json"]).strip())
        row[f"accuracy_{kind}"] = result["accuracy"]
    row["train_seconds"] = round(time.time() - start, 1)
    return row


def run_task(name: str, folder: str, quick: bool) -> dict:
    spec, data, metric, bar, higher = TASKS[name]
    out = os.path.join(folder, name)
    extra = ["--epochs", "1", "--steps-per-epoch", "20"] if quick else []
    start = time.time()
    _run([sys.executable, "train.py", spec, "--data", data, "--out", out, "--no-xla",
          "--quiet", *extra])
    result = json.loads(_run(["kspec", "evaluate", out, "--json"]).strip())
    row = {k: v for k, v in result.items() if isinstance(v, float)}
    row.update(train_seconds=round(time.time() - start, 1), spec=spec, data=data)
    if name == "autoencoder":
        bar = mean_image_mse(data) / 3
        row["mean_image_mse"] = bar * 3
    row["bar"] = bar
    row["passes"] = (row[metric] >= bar) if higher else (row[metric] <= bar)
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.tasks")
    p.add_argument("--out", help="write the run's header and {task: metrics} as JSON")
    p.add_argument("--quick", action="store_true", help="a few steps each (a smoke run)")
    p.add_argument("--only", nargs="+", choices=sorted(TASKS) + ["fine_tuning"],
                   default=list(TASKS) + ["fine_tuning"])
    args = p.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in args.only:
            if name == "fine_tuning":
                r = results[name] = run_fine_tuning(folder, args.quick)
                print(f"{name:30s} accuracy {r['accuracy_fine_tuned']:.4f} vs "
                      f"{r['accuracy_scratch']:.4f} from scratch, {r['steps']} steps "
                      f"({r['train_seconds']:.0f} s)", flush=True)
                continue
            results[name] = run_task(name, folder, args.quick)
            r = results[name]
            metric = TASKS[name][2]
            print(f"{name:30s} {metric} {r[metric]:.4f}  bar {r['bar']:.4f}  "
                  f"{'ok' if r['passes'] else 'BELOW BAR'}  ({r['train_seconds']:.0f} s)",
                  flush=True)
    if args.out:
        from .meta import run_info
        doc = {**run_info(["bench.tasks"] + (argv if argv is not None else sys.argv[1:])),
               "quick": args.quick, "tasks": results}
        with open(args.out, "w") as fh:
            json.dump(doc, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
