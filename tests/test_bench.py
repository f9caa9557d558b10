"""A smoke run of `python -m bench --quick`: every row is produced (no timing asserted)."""
import json
import sys

import pytest

from tests.conftest import ROOT, run

pytestmark = pytest.mark.slow


def test_bench_quick_produces_every_row(tmp_path):
    out = tmp_path / "bench.json"
    res = run([sys.executable, "-m", "bench", "--quick", "--out", str(out)], timeout=900)
    doc = json.loads(out.read_text())
    rows = doc["rows"]
    # Exit 1 exactly when a row misses its bar (a quick run's few steps may), and says which.
    missed = [r["what"] for r in rows if r.get("met") is False]
    assert res.returncode == (1 if missed else 0), res.stderr[-3000:]
    assert all(w in res.stderr for w in missed)
    assert {"measured_at", "command", "machine", "versions", "quick"} <= set(doc)
    assert doc["machine"]["cpus"] >= 1 and doc["versions"]["tensorflow"]
    whats = [r["what"] for r in rows]
    for expected in ("build ResNet-152", "kspec check ResNet-152", "trainer vs Keras fit",
                     "XLA on vs off", "default trainer", "input pipeline", "input work per worker",
                     "TFLite float32 latency vs tf.function", "TFLite int8 latency",
                     "export size"):
        assert any(w.startswith(expected) or expected in w for w in whats), expected
    for r in rows:
        assert {"what", "unit", "ours", "reference", "ratio"} <= set(r)
        assert r["ours"] > 0 and r["reference"] > 0
        # Every row compared round by round says how many rounds (one, in a quick run);
        # sizes and the verifier's single latency measurement are not alternated.
        alternated = not r["what"].startswith(("export size", "TFLite", "ONNX"))
        assert r.get("rounds") == (1 if alternated else None), r
        if "bar" in r:
            assert r["met"] in (True, False)
    assert all(r["verified"] for r in rows if r["what"].startswith("export size"))


def _code_free(text: str) -> str:
    """The page without fenced code blocks and `code spans` (commands, not figures)."""
    import re
    return re.sub(r"`[^`]*`", " ", re.sub(r"```.*?```", " ", text, flags=re.S))


def _allowed_numbers(value, out: set) -> set:
    """Every way the report may write a number the JSON holds, and the digits inside its
    strings (model names such as ResNet-18, dates)."""
    import re
    if isinstance(value, dict):
        for v in value.values():
            _allowed_numbers(v, out)
    elif isinstance(value, list):
        for v in value:
            _allowed_numbers(v, out)
    elif isinstance(value, bool):
        pass
    elif isinstance(value, (int, float)):
        out |= {str(value), f"{value:,.4g}", f"{value:.4g}"}
        out |= {f"{value:.{d}f}" for d in range(5)} | {f"{value:,.{d}f}" for d in range(5)}
    elif isinstance(value, str):
        out |= set(re.findall(r"\d[\d,]*(?:\.\d+)?", value))
    return out


def test_every_number_on_the_performance_page_is_in_a_benchmark_json():
    import re
    docs = ROOT / "docs"
    allowed = set()
    for name in ("bench-cpu.json", "bench-tasks-cpu.json",
                 "gpu-references.json", "bench-gpu.json"):
        if (docs / name).exists():
            _allowed_numbers(json.loads((docs / name).read_text()), allowed)
    page = _code_free((docs / "performance.md").read_text())
    numbers = re.findall(r"\d[\d,]*(?:\.\d+)?", page)
    assert numbers
    stray = sorted({n.rstrip(",") for n in numbers} - allowed)
    assert not stray, f"numbers on the page that no JSON holds: {stray}"


def test_the_performance_page_is_what_the_report_writes():
    import os
    from bench import report
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        assert (ROOT / report.OUT).read_text() == report.page(), "run: python -m bench.report"
    finally:
        os.chdir(here)


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
