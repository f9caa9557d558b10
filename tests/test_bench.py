"""A smoke run of `python -m bench --quick`: every row is produced (no timing asserted)."""
import json
import sys

import pytest

from tests.conftest import ROOT, run

pytestmark = pytest.mark.slow


def test_bench_quick_produces_every_row(tmp_path):
    out = tmp_path / "bench.json"
    res = run([sys.executable, "-m", "bench", "--quick", "--out", str(out)], timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = json.loads(out.read_text())
    whats = [r["what"] for r in rows]
    for expected in ("build ResNet-152", "trainer vs Keras fit", "XLA on vs off",
                     "input pipeline", "TFLite float32 latency", "TFLite int8 latency",
                     "export size"):
        assert any(w.startswith(expected) or expected in w for w in whats), expected
    for r in rows:
        assert set(r) == {"what", "unit", "ours", "reference", "ratio"}
        assert r["ours"] > 0 and r["reference"] > 0


@pytest.mark.skipif(__import__("importlib.util").util.find_spec("jax") is None,
                    reason="the GPU benchmark runs Keras on JAX; JAX is not installed")
def test_gpu_benchmark_runs_on_jax_without_tensorflow(tmp_path):
    """The GPU figure's code path, tiny, on whatever device JAX has (the CPU here), and
    its rows in the report."""
    import os
    out = tmp_path / "gpu.json"
    code = ("import sys, runpy\n"
            "sys.argv = ['bench.gpu', '--batch', '2', '--image', '32', '--steps', '1', "
            f"'--rounds', '1', '--out', {str(out)!r}]\n"
            "runpy.run_module('bench.gpu', run_name='__main__')\n")
    code = code.replace("runpy.run_module('bench.gpu', run_name='__main__')\n",
                        "try:\n    runpy.run_module('bench.gpu', run_name='__main__')\n"
                        "except SystemExit:\n    pass\n"
                        "print('tensorflow' in sys.modules)\n")
    env_backup = os.environ.get("KERAS_BACKEND")
    os.environ["KERAS_BACKEND"] = "jax"
    try:
        res = run([sys.executable, "-c", code], timeout=600)
    finally:
        if env_backup is None:
            os.environ.pop("KERAS_BACKEND")
        else:
            os.environ["KERAS_BACKEND"] = env_backup
    assert res.returncode == 0, res.stderr[-2000:]
    lines = res.stdout.strip().splitlines()
    row = json.loads(lines[-2])
    assert row["unit"] == "img/s" and row["ours"] > 0 and row["reference"] > 0
    assert lines[-1] == "False"

    from bench import report
    cpu = json.loads((ROOT / report.CPU).read_text())
    tasks = json.loads((ROOT / report.TASKS).read_text())
    gpu_rows = json.loads(out.read_text())
    assert gpu_rows == [row]
    page = report.render(cpu, tasks, gpu_rows)
    gpu_part = page[page.index("## GPU"):]
    assert row["what"] in gpu_part and "Not measured" not in gpu_part
    assert "Not measured" in report.render(cpu, tasks, None)
