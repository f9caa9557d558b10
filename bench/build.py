"""Build time: ResNet-152 from its spec against keras.applications.ResNet152."""
from __future__ import annotations

import time

from .common import ROUNDS, Row


def _timed(fn) -> float:
    import keras
    keras.backend.clear_session()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def build_rows(quick: bool) -> list:
    import keras

    from builder import build_model, load_spec
    spec = load_spec("specs/resnet152.yaml")
    ours, ref = [], []
    rounds = 1 if quick else ROUNDS
    for _ in range(rounds):  # alternated, best of each
        ours.append(_timed(lambda: build_model(spec)))
        ref.append(_timed(lambda: keras.applications.ResNet152(weights=None)))
    rows = [Row("build ResNet-152 (spec vs keras.applications)", "s/build", min(ours),
                min(ref), "ratio = ours / reference; lower time is better", bar="<= 1.25",
                rounds=rounds)]
    # `kspec check`: validation and the shape pass, pure Python, against the build above.
    checks = []
    for _ in range(rounds):
        start = time.perf_counter()
        load_spec("specs/resnet152.yaml")
        checks.append(time.perf_counter() - start)
    rows.append(Row("kspec check ResNet-152 (no TensorFlow) vs building keras.applications",
                    "s", min(checks), min(ref), "a measurement: no bar", rounds=rounds))
    return rows
