"""Each task judges an exported artifact by its own yardstick, with the bar in every row."""
import numpy as np
import pytest

from builder import load_spec
from tasks import make_task
from tasks.agreement import Check, error_ratio, mean_box_iou, mean_class_iou, rel_diff, \
    top1_agreement
from tests.conftest import SPECS


def test_check_reports_its_bar_and_fails_on_nan():
    assert Check("x", 0.99, 0.98, True).passed and Check("x", 0.99, 0.98, True).bar_text == \
        ">= 0.98"
    assert not Check("x", float("nan"), 1.0, False).passed
    assert rel_diff([1.0, 2.0], [1.0, 2.0 + 2e-5], "none").bar_text == "<= 1e-05"


def test_measures_on_known_arrays():
    ref = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    got = np.array([[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.1, 0.9]])  # one of four flips
    assert top1_agreement(got, ref).value == 0.75
    ids_ref = np.array([[0, 0, 1, 1]])
    ids_got = np.array([[0, 1, 1, 1]])
    # class 0: 1 shared of 2 -> 0.5; class 1: 2 shared of 3 -> 2/3
    assert mean_class_iou(ids_got, ids_ref, 3).value == pytest.approx((0.5 + 2 / 3) / 2)
    box = np.array([[0.0, 0.0, 0.5, 0.5]])
    assert mean_box_iou(box, box).value == 1.0
    assert mean_box_iou(np.array([[0.0, 0.0, 0.5, 0.25]]), box).value == pytest.approx(0.5)
    target = np.zeros(4)
    assert error_ratio(np.full(4, 0.2), np.full(4, 0.1), target).value == pytest.approx(4.0)


def _segmentation_task():
    return make_task(load_spec(SPECS / "segnet_small.yaml"))


def test_segmentation_is_judged_by_its_pixels_not_by_raw_probabilities():
    """Quantization that moves probabilities a lot but keeps every pixel's class passes;
    float32 is still held to rounding."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 8, 8, 5)) * 4
    ref = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    shifted = ref ** 0.7  # a large change in value (rel. diff ~0.2), the same argmax
    got = shifted / shifted.sum(-1, keepdims=True)
    task = _segmentation_task()
    assert rel_diff(got, ref, "dynamic").value > 0.05
    checks = task.export_checks("dynamic", {"probabilities": got}, {"probabilities": ref}, None)
    assert [(c.measure, c.value, c.passed) for c in checks] == [
        ("pixel agreement", 1.0, True), ("mean IoU", 1.0, True)]
    (exact,) = task.export_checks("none", {"probabilities": got}, {"probabilities": ref}, None)
    assert exact.measure == "max rel. diff" and not exact.passed


def test_localization_is_judged_by_box_iou():
    task = make_task(load_spec(SPECS / "localizer.yaml"))
    ref = np.array([[0.5, 0.5, 0.4, 0.4]])
    (check,) = task.export_checks("int8", {"boxes": ref + 0.01}, {"boxes": ref}, None)
    assert check.measure == "mean box IoU" and check.passed and check.value > 0.9


def test_an_autoencoder_is_judged_by_how_well_the_input_comes_back():
    task = make_task(load_spec(SPECS / "autoencoder.yaml"))
    x = np.full((1, 4), 0.5)
    ref = x + 0.1
    (check,) = task.export_checks("int8", {"reconstruction": x + 0.3}, {"reconstruction": ref}, x)
    assert check.measure == "MSE ratio to Keras" and check.value == pytest.approx(9.0)
    assert not check.passed and check.bar_text == "<= 1.2"


def test_detection_quantized_boxes_scored_against_keras_boxes():
    task = make_task(load_spec(SPECS / "detector.yaml", ["head.classes=4"]))
    grid = np.full((1, 8, 8, 9), -8.0, np.float32)
    grid[0, 3, 4, 0] = 6.0  # one confident object in one cell
    grid[0, 3, 4, 5] = 5.0
    (same,) = task.export_checks("int8", {"grid": grid + 0.05}, {"grid": grid}, None)
    assert same.measure == "mAP@0.5 vs Keras" and same.value == 1.0
    lost = grid.copy()
    lost[0, 3, 4, 0] = -8.0  # the artifact misses it
    (missed,) = task.export_checks("int8", {"grid": lost}, {"grid": grid}, None)
    assert missed.value == 0.0 and not missed.passed
