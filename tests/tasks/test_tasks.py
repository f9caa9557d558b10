"""Every task: a few training steps on `shapes` lower its loss; decoding gives its outputs."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from builder import SpecErrors, build_model, load_spec, load_spec_text
from tasks import make_task
from tasks.boxes import average_precision
from tasks.data import load_source
from tasks.data.pipeline import Pipeline
from tests.conftest import SPECS
from trainer.optim import make_optimizer
from trainer.step import make_train_step

MULTI = "shapes/multi:train=320,validation=32,test=32"
SINGLE = "shapes/single:train=320,validation=32,test=32"
CASES = {
    "small_cnn": SINGLE, "localizer": SINGLE, "classify_localize": SINGLE,
    "detector": MULTI, "segnet_small": MULTI, "autoencoder": SINGLE, "mask_detector": MULTI,
    "lenet5_paper": SINGLE,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_few_steps_lower_the_loss(name, data_dir):
    spec = load_spec(SPECS / f"{name}.yaml")
    task = make_task(spec)
    source = load_source(CASES[name], data_dir)
    pipe = Pipeline(source, task, spec, batch_size=16, seed=0)
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = build_model(spec)
        opt = make_optimizer(spec.train, 20, "float32")
        opt.build(model.trainable_variables)
    step = make_train_step(model, task, opt, strategy, 16, None, False)
    batches = list(pipe.train(0).take(4))
    losses = [float(step(x, y)) for _ in range(6) for x, y in batches]
    assert np.mean(losses[-4:]) < np.mean(losses[:4]), losses
    x, _ = batches[0]
    decoded = task.decode(model(x, training=False), source.class_names)
    assert len(decoded) == 16
    metrics = task.evaluate(lambda v: model(v, training=False), pipe, "validation")
    assert np.isfinite(metrics["loss"])


def test_detection_targets_and_decoding_round_trip(data_dir):
    """Encoding true boxes into the grid and decoding them back gives mAP 1."""
    spec = load_spec(SPECS / "detector.yaml")
    task = make_task(spec)
    source = load_source(MULTI, data_dir)
    batch = next(iter(Pipeline(source, task, spec, batch_size=8).prepared_batches("validation")))
    grid = task.targets(batch)
    # turn targets into confident logits: objectness and class one-hot -> large logits
    logit = lambda p: tf.math.log(tf.clip_by_value(p, 1e-6, 1 - 1e-6) / (1 - tf.clip_by_value(p, 1e-6, 1 - 1e-6)))  # noqa: E731
    fake = tf.concat([grid[..., :1] * 20 - 10, logit(grid[..., 1:5]), grid[..., 5:] * 20], -1)
    truths = [(b[lab >= 0], lab[lab >= 0]) for b, lab in zip(batch["boxes"].numpy(),
                                                              batch["box_labels"].numpy())]
    assert average_precision(_detections(task.decode(fake)), truths, 4) > 0.95


def _detections(decoded):
    return [(np.array([o["box"] for o in d["objects"]]).reshape(-1, 4),
             np.array([o["score"] for o in d["objects"]]),
             np.array([o["class"] for o in d["objects"]])) for d in decoded]


@pytest.mark.parametrize("shrink, least", [(1.0, 0.6), (0.7, 0.99)])
def test_mask_targets_decode_back_to_the_boxes(shrink, least, data_dir):
    """True boxes -> masks -> regions -> boxes. Whole-object masks merge touching shapes
    of one class (the paper's limit); masks of the boxes' central 70% keep them apart."""
    spec = load_spec(SPECS / "mask_detector.yaml", [f"head.shrink={shrink}"])
    task = make_task(spec)
    source = load_source(MULTI, data_dir)
    batch = next(iter(Pipeline(source, task, spec, batch_size=32).prepared_batches("validation")))
    masks = task.targets(batch)
    assert masks.shape == (32, 32, 32, 4)
    truths = [(b[lab >= 0], lab[lab >= 0]) for b, lab in zip(batch["boxes"].numpy(),
                                                              batch["box_labels"].numpy())]
    logits = masks * 20 - 10  # confident where the targets are on
    assert average_precision(_detections(task.decode(logits)), truths, 4) >= least


def test_connected_regions_are_four_connected():
    from tasks.mask_detection import connected_regions
    on = np.array([[1, 1, 0, 0],
                   [0, 1, 0, 1],
                   [0, 0, 1, 1],
                   [1, 0, 0, 0]], bool)
    regions = sorted((sorted(zip(r.tolist(), c.tolist())) for r, c in connected_regions(on)))
    assert regions == [[(0, 0), (0, 1), (1, 1)], [(1, 3), (2, 2), (2, 3)], [(3, 0)]]


def test_average_precision_known_values():
    truth = [(np.array([[0, 0, .5, .5]]), np.array([0]))]
    perfect = [(np.array([[0, 0, .5, .5]]), np.array([.9]), np.array([0]))]
    miss = [(np.array([[.5, .5, 1, 1]]), np.array([.9]), np.array([0]))]
    assert average_precision(perfect, truth, 1) == pytest.approx(1.0)
    assert average_precision(miss, truth, 1) == pytest.approx(0.0)


@pytest.mark.parametrize("head, words", [
    ("{task: classification, classes: 1}", "softmax over one unit always outputs 1"),
    ("{task: classification, classes: 3, loss: binary_cross_entropy}",
     "binary_cross_entropy needs independent outputs"),
    ("{task: classification, classes: 3, activation: sigmoid}",
     "sigmoid outputs are trained with binary_cross_entropy"),
    ("{task: segmentation, classes: 3, loss: mse}", "expected one of cross_entropy, dice"),
])
def test_incompatible_head_loss_and_activation_are_spec_errors(head, words):
    text = f"name: t\ninput: {{shape: [8, 8, 3]}}\nlayers: [conv: {{filters: 3, padding: same}}, flatten]\nhead: {head}\n"
    if "segmentation" in head:
        text = text.replace(", flatten", "")
    with pytest.raises(SpecErrors) as info:
        load_spec_text(text, "t.yaml")
    (err,) = info.value.errors
    assert err.where.file == "t.yaml" and err.where.line == 4 and words in err.message


def test_segmentation_on_a_classification_dataset_is_a_data_error(data_dir):
    from tasks.data import DataError
    from tasks.data.checks import check_data
    spec = load_spec(SPECS / "segnet_small.yaml")
    with tfds_mock():
        import tensorflow_datasets as tfds

        from tasks.data.sources import from_builder
        source = from_builder("cifar10", tfds.builder("cifar10", data_dir="/nonexistent"))
    with pytest.raises(DataError, match="segmentation task needs the field 'mask'"):
        check_data(source, spec, make_task(spec))


def tfds_mock():
    import tensorflow_datasets as tfds
    return tfds.testing.mock_data(num_examples=4, policy=tfds.testing.MockPolicy.USE_CODE)
