"""Data sources, the pipeline, augmentation and the checks before the first step."""
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from builder import load_spec, load_spec_text
from tasks import make_task
from tasks.data import DataError, load_source
from tasks.data.augment import augment, draws
from tasks.data.checks import check_data
from tasks.data.pipeline import Pipeline
from tasks.data.sources import from_builder
from tests.conftest import ROOT, SMALL_SHAPES, SPECS

MOCKED = {"mnist": (28, 28, 1), "cifar10": (32, 32, 3), "fashion_mnist": (28, 28, 1),
          "oxford_iiit_pet": None, "voc": None}


@pytest.mark.parametrize("name", sorted(MOCKED))
def test_catalogue_mapping_with_mock_data(name):
    with tfds.testing.mock_data(num_examples=3, policy=tfds.testing.MockPolicy.USE_CODE):
        source = from_builder(name, tfds.builder(name, data_dir="/nonexistent"))
        ex = next(iter(source.splits["train"]))
    assert ex["image"].dtype == tf.uint8 and ex["image"].shape.rank == 3
    assert source.image_shape == MOCKED[name]
    assert ex["label"].dtype == tf.int64
    if name == "oxford_iiit_pet":
        assert set(np.unique(ex["mask"].numpy())) <= {0, 1, 2}
    if name == "voc":
        assert ex["boxes"].shape[-1] == 4 and ex["boxes"].shape[0] == ex["box_labels"].shape[0]
        area = (ex["bbox"][2] - ex["bbox"][0]) * (ex["bbox"][3] - ex["bbox"][1])
        areas = (ex["boxes"][:, 2] - ex["boxes"][:, 0]) * (ex["boxes"][:, 3] - ex["boxes"][:, 1])
        assert float(area) == pytest.approx(float(tf.reduce_max(areas)))


def test_catalogue_dataset_feeds_classification_pipeline():
    spec = load_spec(SPECS / "lenet5.yaml", ["head.classes=10"])
    task = make_task(spec)
    with tfds.testing.mock_data(num_examples=8, policy=tfds.testing.MockPolicy.USE_CODE):
        source = from_builder("cifar10", tfds.builder("cifar10", data_dir="/nonexistent"))
        notes = check_data(source, spec, task)
        x, y = next(iter(Pipeline(source, task, spec, batch_size=4).train(0)))
    assert x.shape == (4, 32, 32, 1) and y.shape == (4,)
    assert "images converted from 3 to 1 channel(s)" in notes


def test_offline_catalogue_error_says_how_to_prepare(tmp_path):
    with pytest.raises(DataError) as info:
        load_source("cifar10", str(tmp_path))
    msg = str(info.value)
    assert "not prepared in" in msg and "tfds build cifar10 --data_dir DIR" in msg
    with pytest.raises(DataError, match="not a built-in dataset, a TFDS dataset or a folder"):
        load_source("no_such_dataset_xyz", str(tmp_path))


def test_shapes_is_a_real_tfds_dataset_and_generation_is_cached(data_dir):
    from tasks.data import shapes  # noqa: F401  registers the builder
    load_source(SMALL_SHAPES, data_dir)
    info = [os.path.join(r, f) for r, _, fs in os.walk(os.path.join(data_dir, "shapes"))
            for f in fs if f == "dataset_info.json"]
    before = {p: os.path.getmtime(p) for p in info}
    source = load_source(SMALL_SHAPES, data_dir)
    assert {p: os.path.getmtime(p) for p in info} == before  # reused, not regenerated
    assert source.sizes == {"train": 1600, "validation": 160, "test": 160}
    ex = next(iter(source.splits["test"]))
    assert set(ex) == {"image", "label", "bbox", "boxes", "box_labels", "mask"}


def test_two_loads_with_one_seed_are_identical_and_seeds_differ(data_dir):
    spec = load_spec(SPECS / "lenet5.yaml", ["head.classes=4"])
    task = make_task(spec)
    aug = {"hflip": True, "crop": 0.15, "brightness": 0.1}

    def first_batch(seed):
        source = load_source(SMALL_SHAPES, data_dir)
        x, y = next(iter(Pipeline(source, task, spec, batch_size=16, seed=seed,
                                  augment_settings=aug).train(epoch=1)))
        return x.numpy(), y.numpy()

    a, b, c = first_batch(3), first_batch(3), first_batch(4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_resume_position_skips_exactly(data_dir):
    """A resumed epoch's batches, augmentation included, are the original's from that
    batch on, wherever the skip falls among the pipeline's calls."""
    spec = load_spec(SPECS / "lenet5.yaml", ["head.classes=4"])
    source = load_source(SMALL_SHAPES, data_dir)
    p = Pipeline(source, make_task(spec), spec, batch_size=16, seed=1,
                 augment_settings={"hflip": True, "crop": 0.15, "brightness": 0.1})
    full = [(x.numpy(), y.numpy()) for x, y in p.train(2)]
    resumed = [(x.numpy(), y.numpy()) for x, y in p.train(2, skip_batches=5)]
    assert len(resumed) == len(full) - 5
    for (xa, ya), (xb, yb) in zip(full[5:], resumed):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_batches_do_not_depend_on_how_many_examples_a_call_prepares(data_dir, monkeypatch):
    from tasks.data import pipeline
    spec = load_spec(SPECS / "lenet5.yaml", ["head.classes=4"])
    source = load_source(SMALL_SHAPES, data_dir)
    aug = {"hflip": True, "vflip": True, "crop": 0.15, "brightness": 0.1}
    batches = {}
    for per_call in (16, 48, 1000):  # examples of 32x32x1
        monkeypatch.setattr(pipeline, "CALL_BYTES", per_call * 32 * 32)
        p = Pipeline(source, make_task(spec), spec, batch_size=16, seed=1, augment_settings=aug)
        batches[per_call] = [x.numpy() for x, _ in p.train(3)]
    assert len(batches[16]) == source.sizes["train"] // 16 > 3
    for per_call in (48, 1000):
        for a, b in zip(batches[16], batches[per_call]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shares_cores", [True, False])
def test_an_epoch_does_not_copy_the_table_into_a_rewritten_graph(data_dir, shares_cores):
    """tf.data's default rewrites would serialize the epoch's graph, the captured table
    with it, at every iterator; they stay off, also after the trainer's own options."""
    spec = load_spec(SPECS / "lenet5.yaml", ["head.classes=4"])
    p = Pipeline(load_source(SMALL_SHAPES, data_dir), make_task(spec), spec, batch_size=16,
                 shares_cores=shares_cores)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    ds = p.train(0).with_options(options)  # as trainer.loop._distributed adds
    assert ds.options().experimental_optimization.apply_default_optimizations is False
    assert ds.options().autotune.enabled is (False if shares_cores else None)  # None: on
    assert len(list(ds)) == p.steps_per_epoch()


@pytest.mark.parametrize("workers, replicas", [(2, 1), (1, 2), (2, 2)])
def test_each_worker_does_its_share_and_together_they_make_the_global_batch(
        data_dir, workers, replicas):
    """Slices of every global batch, augmented as in the whole batch: the same examples,
    pixels and targets whatever the number of workers and replicas."""
    spec = load_spec(SPECS / "detector.yaml")
    source = load_source("shapes/multi:train=96,validation=8,test=8", data_dir)
    aug = {"hflip": True, "vflip": True, "crop": 0.2, "brightness": 0.1}
    p = Pipeline(source, make_task(spec), spec, batch_size=16, seed=2, augment_settings=aug)
    whole = list(p.train(1, skip_batches=1))
    shares = [list(p.train(1, 1, worker=w, workers=workers, replicas=replicas))
              for w in range(workers)]
    parts = workers * replicas
    assert all(len(s) == len(whole) * replicas for s in shares)
    for step, (x, y) in enumerate(whole):
        pieces = [shares[w][step * replicas + r] for w in range(workers) for r in range(replicas)]
        assert all(px.shape[0] == 16 // parts for px, _ in pieces)
        np.testing.assert_allclose(np.concatenate([px for px, _ in pieces]), x, atol=1e-5)
        np.testing.assert_allclose(np.concatenate([py for _, py in pieces]), y, atol=1e-6)


def _mask_box(mask):
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    return ys.min() / h, xs.min() / w, (ys.max() + 1) / h, (xs.max() + 1) / w


def test_flips_folded_into_the_crop_equal_flipping_then_cropping(data_dir):
    from tasks.data import augment as aug
    source = load_source("shapes/multi:train=40,validation=8,test=8", data_dir)
    ex = next(iter(source.splits["train"].map(
        lambda e: {"image": e["image"], "mask": e["mask"]}).batch(8)))
    random = aug.draws(8, tf.constant([3, 5], tf.int64))
    got = augment(ex, random, {"hflip": True, "vflip": True, "crop": 0.2})
    ref = dict(ex)
    for axis, column in ((1, aug.HFLIP), (0, aug.VFLIP)):
        ref = aug._flip(ref, random[:, column] < 0.5, axis)
    ref["image"] = tf.cast(ref["image"], tf.float32)
    ref = aug._crop(ref, random[:, aug.CROP], 0.2, {})
    np.testing.assert_allclose(got["image"].numpy(), ref["image"].numpy(), atol=0.01)
    np.testing.assert_array_equal(got["mask"].numpy(), ref["mask"].numpy())


@pytest.mark.parametrize("seed", range(6))
def test_augmented_boxes_still_enclose_their_masks(seed, data_dir):
    from tasks.data.pipeline import _pad_boxes
    source = load_source("shapes/multi:train=40,validation=8,test=8", data_dir)
    settings = {"hflip": True, "vflip": True, "crop": 0.2}
    padded = source.splits["train"].map(
        lambda ex: {"image": ex["image"], "mask": ex["mask"],
                    **_pad_boxes(ex["boxes"], ex["box_labels"])})
    batch = augment(next(iter(padded.batch(6))), draws(6, tf.constant([seed, 11], tf.int64)),
                    settings)
    for i in range(6):
        out = {k: v[i] for k, v in batch.items()}
        mask = out["mask"].numpy()[..., 0]
        one_pixel = 1.0 / mask.shape[0]
        for box, label in zip(out["boxes"].numpy(), out["box_labels"].numpy()):
            if label < 0:
                assert (box == -1).all()  # padding stays padding
                continue
            pixels = mask == label + 1
            if not pixels.any():
                continue
            # a shape's pixels of its class lie inside the union of that class's boxes;
            # with one object of the class it is its own box
            same = out["boxes"].numpy()[out["box_labels"].numpy() == label]
            if len(same) > 1:
                continue
            ymin, xmin, ymax, xmax = _mask_box(pixels)
            assert box[0] <= ymin + one_pixel and box[1] <= xmin + one_pixel
            assert box[2] >= ymax - one_pixel and box[3] >= xmax - one_pixel


def test_checks_name_dataset_split_and_field(data_dir):
    source = load_source(SMALL_SHAPES, data_dir)
    spec = load_spec_text("name: t\ninput: {shape: [16, 16, 4]}\nlayers: [flatten]\n"
                          "head: {task: classification, classes: 4}\n")
    with pytest.raises(DataError, match=r"dataset shapes/single:.*split train, field image: 3 "
                                        r"channels cannot feed the spec's 4"):
        check_data(source, spec, make_task(spec))
    spec = load_spec(SPECS / "lenet5.yaml", ["head.classes=3"])
    with pytest.raises(DataError, match="has 4 classes but the spec's head.classes is 3"):
        check_data(source, spec, make_task(spec))
    spec = load_spec(SPECS / "lenet5.yaml", ["head.classes=10"])
    assert check_data(source, spec, make_task(spec))[-1] == (
        f"head.classes is 10 but dataset {SMALL_SHAPES} has 4 classes: 6 outputs never see a "
        "label (leave head.classes out to use the data's)")


def test_classes_left_out_come_from_the_dataset(data_dir):
    """The run's resolved spec records the count, so evaluate and export build the same."""
    import argparse

    from trainer.data_setup import complete_spec
    source = load_source(SMALL_SHAPES, data_dir)
    args = argparse.Namespace(spec=str(SPECS / "lenet5.yaml"), set=[], plugin=[], epochs=None,
                              batch_size=None, steps_per_epoch=None)
    spec = complete_spec(load_spec(args.spec), source, args)
    assert spec.head["classes"] == 4 and spec.resolved["head"]["classes"] == 4
    assert spec.shapes["predictions"].shape == (4,)


def test_folder_of_class_subfolders(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for i in range(30):
            Image.fromarray(rng.integers(0, 255, (12, 10, 3), dtype=np.uint8)).save(
                tmp_path / cls / f"{i}.png")
    source = load_source(str(tmp_path))
    assert source.class_names == ("cat", "dog")
    assert sum(source.sizes.values()) == 60 and source.sizes["train"] > 40
    ex = next(iter(source.splits["train"]))
    assert ex["image"].shape == (12, 10, 3) and ex["label"].dtype == tf.int64


def test_folder_with_masks_and_boxes(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    rows = []
    for i in range(20):
        img = np.zeros((8, 8, 3), np.uint8)
        mask = np.zeros((8, 8), np.uint8)
        mask[2:5, 3:7] = 1
        Image.fromarray(img).save(tmp_path / "images" / f"{i}.png")
        Image.fromarray(mask).save(tmp_path / "masks" / f"{i}.png")
        rows.append(f"{i}.png,0,0.25,0.375,0.625,0.875")
    (tmp_path / "boxes.csv").write_text("file,class,ymin,xmin,ymax,xmax\n" + "\n".join(rows))
    source = load_source(str(tmp_path))
    ex = next(iter(source.splits["train"]))
    assert ex["mask"].shape == (8, 8, 1) and int(tf.reduce_sum(tf.cast(ex["mask"], tf.int32))) == 12
    np.testing.assert_allclose(ex["bbox"].numpy(), [0.25, 0.375, 0.625, 0.875])
    (tmp_path / "masks" / "3.png").unlink()
    with pytest.raises(DataError, match="field mask: no mask for"):
        load_source(str(tmp_path))


def test_workers_drawing_shapes_into_one_fresh_dir_wait_for_each_other(tmp_path):
    # Real processes started together: without the lock both would draw the set and the
    # later one would fail renaming its temporary folder onto the first one's.
    import subprocess
    import sys
    code = ("import sys; from tasks.data import load_source; "
            "print(load_source('shapes/single:train=2000,validation=40,test=40', "
            "sys.argv[1]).sizes['train'])")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err[-2000:]
        assert out.split()[-1] == "2000"


def test_a_box_cropped_out_of_view_is_removed_not_kept_with_zero_area():
    import tensorflow as tf

    # Thin boxes along each edge: a crop of up to 30% per side cuts many out of view.
    edge = [[0.0, 0.0, 0.05, 1.0], [0.95, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.05],
            [0.0, 0.95, 1.0, 1.0], [0.4, 0.4, 0.6, 0.6], [-1, -1, -1, -1]]
    batch = {"image": tf.zeros([64, 16, 16, 3], tf.uint8),
             "boxes": tf.constant([edge] * 64, tf.float32),
             "box_labels": tf.constant([[0, 1, 2, 3, 0, -1]] * 64, tf.int64)}
    out = augment(batch, draws(64, tf.constant([7, 1], tf.int64)), {"crop": 0.3})
    boxes, labels = out["boxes"].numpy(), out["box_labels"].numpy()
    labelled = labels >= 0
    area = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
    assert (area[labelled] > 0).all()  # no labelled box of zero area
    assert (boxes[~labelled] == -1).all()  # removed boxes are padding
    removed = (~labelled[:, :5]).sum()
    assert 0 < removed < 4 * 64 and labelled[:, 4].all()  # the centre box always stays


def test_workers_evaluate_disjoint_shares_that_make_the_whole_split(data_dir):
    spec = load_spec(SPECS / "lenet5.yaml", ["head.classes=4"])
    source = load_source("shapes/single:train=40,validation=25,test=8", data_dir)
    p = Pipeline(source, make_task(spec), spec, batch_size=8)

    def images(*shard):
        return [x for x, _ in p.eval("validation", *shard)]
    whole = np.concatenate(images())
    shares = [np.concatenate(images(w, 2)) for w in range(2)]
    assert [len(s) for s in shares] == [13, 12]
    key = lambda a: [img.tobytes() for img in a]  # noqa: E731
    assert sorted(key(shares[0]) + key(shares[1])) == sorted(key(whole))
