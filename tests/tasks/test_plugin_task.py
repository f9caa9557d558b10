"""A task is one module: a task brought by a plugin trains, evaluates, exports and draws
without any code outside `tasks/` knowing its name."""
import json
import os
import re
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, run, train_cmd

MULTI = "shapes/multi:train=320,validation=32,test=32"
SPEC = """kspec: 1
name: counter
input: {shape: [64, 64, 3]}
defaults:
  conv: {kernel: 3, padding: same, activation: relu}
layers: [conv: 8, maxpool: 2, conv: 16]
head: {task: count}
train: {epochs: 1, batch_size: 32}
"""


def test_no_task_names_are_compared_outside_tasks():
    """Outside `tasks/` a task's name is only looked up in a registry, never compared
    (`task.name` is not read at all: `name = task.name; if name == ...` is a switch too)."""
    pattern = re.compile(r"task\.name\b|\.task\s*(==|!=|\bin\b)|==\s*\S*\.task\b")
    homes = [ROOT / "train.py", ROOT / "kspec_cli.py"] + [
        p for home in ("export", "trainer", "rundir", "builder", "bench")
        for p in sorted((ROOT / home).rglob("*.py"))]
    found = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}" for p in homes
             for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert found == []


@pytest.mark.slow
def test_a_plugin_task_trains_evaluates_exports_and_draws(tmp_path, data_dir):
    spec = tmp_path / "counter.yaml"
    spec.write_text(SPEC)
    out = tmp_path / "run"
    trained = run(train_cmd(spec, out, data_dir, "--plugin", "tests.plugins.count_task",
                            "--steps-per-epoch", "6", "--no-xla", data=MULTI))
    assert trained.returncode == 0, trained.stderr
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1] and np.isfinite(rows[0]["val_count_mae"])

    # From another folder: the user names the plugin again (a run's record is never
    # imported on its own word), found through PYTHONPATH.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    plugin, env = ["--plugin", "tests.plugins.count_task"], {**os.environ, "PYTHONPATH": str(ROOT)}
    ev = run(["kspec", "evaluate", str(out), "--json", "--data-dir", data_dir, *plugin],
             cwd=elsewhere, env=env)
    assert ev.returncode == 0, ev.stderr
    assert set(json.loads(ev.stdout)) >= {"loss", "count_mae"}

    exported = run(["kspec", "export", str(out), "--format", "tflite", "--quantize", "dynamic",
                    "--data-dir", data_dir, *plugin], cwd=elsewhere, env=env)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    row = next(line for line in exported.stdout.splitlines() if line.startswith("tflite"))
    assert "rounded count agreement" in row and row.rstrip().endswith("ok")  # the task's check

    batch = np.random.RandomState(0).rand(2, 64, 64, 3).astype(np.float32) * 255
    np.save(elsewhere / "two.npy", batch)
    predicted = run(["kspec", "predict", str(out), "two.npy", "--draw", "pics", *plugin],
                    cwd=elsewhere, env=env)
    assert predicted.returncode == 0, predicted.stderr
    items = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert [sorted(i) for i in items] == [["count", "input", "rounded"]] * 2
    assert all(i["rounded"] == max(round(i["count"]), 0) for i in items)
    from PIL import Image
    pic = np.asarray(Image.open(elsewhere / "pics" / "000_two.png"))
    plain = np.repeat(np.repeat(batch[0].astype(np.uint8), 4, 0), 4, 1)
    assert pic.shape == plain.shape
    assert (pic != plain).any(axis=-1).sum() > 20  # the task's caption is drawn on it


def test_a_task_registered_twice_is_refused():
    code = ("import tests.plugins.count_task as m; from tasks import register_task\n"
            "try:\n    register_task(m.Counting)\nexcept ValueError as e:\n    print(e)")
    res = run([sys.executable, "-c", code])
    assert res.returncode == 0 and "registered twice" in res.stdout, res.stderr
