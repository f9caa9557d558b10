"""`--xla auto` on a CPU: the step timed without and with XLA, the faster kept, and every
call a real training step (in-process, a small real model and optimizer)."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from builder import load_spec
from tasks import make_task
from tests.conftest import SPECS
from trainer import xla_auto
from trainer.optim import make_optimizer
from trainer.step import TrainStep


@pytest.fixture
def short_windows(monkeypatch):
    monkeypatch.setattr(xla_auto, "WINDOW_SECONDS", 0.0)
    monkeypatch.setattr(xla_auto, "WINDOW_STEPS", 3)


def _step(measure=True):
    from builder import build_model
    spec = load_spec(SPECS / "lenet5.yaml", ["head.classes=4", "train.batch_size=8"])
    keras.utils.set_random_seed(0)
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        model = build_model(spec)
        optimizer = make_optimizer(spec.train, 100, "float32")
        optimizer.build(model.trainable_variables)
    step = TrainStep(model, make_task(spec), optimizer, strategy, 8, None, False, measure)
    x = tf.random.uniform([8, 32, 32, 1])
    y = tf.constant([0, 1, 2, 3, 0, 1, 2, 3], tf.int64)
    return step, optimizer, x, y


def test_both_settings_are_timed_and_the_faster_is_kept(short_windows):
    step, optimizer, x, y = _step()
    step.measurement.steps_left = 10 ** 6  # a long run
    decided_at = []
    for i in range(12):
        loss = step(x, y)
        assert np.isfinite(float(loss))
        if step.decision_made():
            decided_at.append(i + 1)
    m = step.measurement
    # 1 traced + 3 timed without XLA, 1 compiled + 3 timed with it: decided at call 8.
    assert decided_at == [8] and m.phase == "done"
    assert set(m.rate) == {"on", "off"}
    assert step.xla == (m.rate["on"] > m.rate["off"])
    assert m.verdict == (f"auto: CPU, measured {m.rate['on']:.1f} steps/s with XLA and "
                         f"{m.rate['off']:.1f} without: {'on' if step.xla else 'off'}")
    assert int(optimizer.iterations) == 12  # every call trained, none was thrown away


def test_a_short_run_does_not_try_xla(short_windows):
    step, optimizer, x, y = _step()
    step.measurement.steps_left = 20  # well under a minute at any CPU's speed
    for _ in range(6):
        step(x, y)
    assert step.measurement.phase == "done" and step.xla is False
    assert step.measurement.rate == {}  # XLA was never compiled
    assert "too little for an XLA compile to pay" in step.measurement.verdict
    assert step.decision_made() and not step.decision_made()
    assert int(optimizer.iterations) == 6


def test_a_phase_change_while_timing_restarts_the_window(short_windows):
    step, optimizer, x, y = _step()
    step.measurement.steps_left = 10 ** 6
    for _ in range(6):  # the window without XLA closed; XLA compiled and timed once
        step(x, y)
    assert step.xla and step.measurement.phase == "on"
    step.reset()  # fine-tuning's next phase: traced again, timing starts over
    for _ in range(4):
        step(x, y)
    assert step.measurement.phase == "done" and step.decision_made()
    step(x, y)  # runs with whatever was kept (rebuilt without XLA if dropped)
    assert int(optimizer.iterations) == 11


def test_choices_that_must_not_depend_on_timing():
    assert xla_auto.choose_xla("on") == (True, "--xla on", False)
    assert xla_auto.choose_xla("off") == (False, "--xla off", False)
    assert xla_auto.choose_xla("auto") == (False, "auto: CPU, timing the step with and "
                                           "without XLA", True)
    xla, why, measure = xla_auto.choose_xla("auto", deterministic=True)
    assert (xla, measure) == (False, False) and "--deterministic" in why
    xla, why, measure = xla_auto.choose_xla("auto", one_worker=False)
    assert (xla, measure) == (False, False) and "several workers" in why
