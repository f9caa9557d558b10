"""A smoke run of `python -m bench --quick`: every row is produced (no timing asserted)."""
import json
import sys

import pytest

from tests.conftest import run

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
