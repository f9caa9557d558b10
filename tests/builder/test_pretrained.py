"""`init:`, `input.preprocess` and `train.freeze` as data: validated before TensorFlow runs."""
import inspect

import numpy as np
import pytest

from builder import SpecErrors, load_spec
from builder.pretrained import APPLICATIONS, PREPROCESS
from builder.summary import summary_dict
from tests.conftest import SPECS

BASE = f"kspec: 1\nextends: {SPECS / 'lenet5.yaml'}\nhead: {{task: classification, classes: 6}}\n"


@pytest.fixture
def spec(tmp_path):
    def load(text: str):
        (tmp_path / "t.yaml").write_text(BASE + text)
        return load_spec(str(tmp_path / "t.yaml"))
    return load


@pytest.fixture
def errors(spec, tmp_path):
    def messages(text: str) -> list[str]:
        with pytest.raises(SpecErrors) as caught:
            spec(text)
        return [str(e).replace(str(tmp_path / "t.yaml"), "t.yaml") for e in caught.value.errors]
    return messages


def test_the_preprocessing_table_is_keras_own():
    """Every keras.applications model is in the table, and its preset normalises a pixel
    exactly as that model's module's `preprocess_input` does."""
    import keras

    from tasks.data.pipeline import normalize
    names = {n for n in dir(keras.applications) if n[0].isupper()}
    assert names == set(APPLICATIONS)
    pixels = np.array([[[[0.0, 128.0, 255.0], [17.0, 3.0, 250.0]]]], np.float32)
    for name, mode in APPLICATIONS.items():
        module = inspect.getmodule(getattr(keras.applications, name))
        want = module.preprocess_input(pixels.copy())
        got = np.asarray(normalize(pixels, {"shape": [1, 2, 3], **PREPROCESS[mode]}))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4, err_msg=name)


def test_preprocess_sets_the_input_normalisation(spec):
    s = spec("input: {shape: [32, 32, 1], preprocess: keras.applications.ResNet50}\n")
    assert s.input["bgr"] is True and s.input["rescale"] == 1.0
    assert s.input["mean"] == (103.939, 116.779, 123.68) and s.input["std"] is None


def test_freeze_names_layers_by_body_id_and_glob(spec):
    assert spec("train: {freeze: [body]}\n").train["freeze"] == (
        "conv0", "maxpool1", "conv2", "maxpool3", "flatten4", "dense5", "dense6")
    assert spec("train: {freeze: ['conv*', dense6]}\n").train["freeze"] == (
        "conv0", "conv2", "dense6")


def test_summary_marks_frozen_layers_and_counts_what_trains(spec):
    d = summary_dict(spec("train: {freeze: [body]}\n"))
    assert d["trainable_params"] == 84 * 6 + 6  # the new head alone
    assert d["trainable_unfrozen"] == d["total_params"] == 61_706 - 850 + 510
    assert [r["name"] for r in d["layers"] if not r["frozen"]] == ["predictions"]


def test_misuse_is_reported_with_its_place_and_a_hint(errors, spec):
    got = errors("input: {shape: [32, 32, 1], preprocess: keras.applications.ResNet5, mean: 3}\n"
                 "init: {from: keras.applications.Resnet50, skip: [nosuch*]}\n"
                 "train: {freeze: [bodi]}\n")
    assert got == [
        "t.yaml:4:41: input.preprocess: expected keras.applications.NAME, received str "
        "'keras.applications.ResNet5'; did you mean 'keras.applications.ResNet50'?",
        "t.yaml:5:7: init.from: unknown model 'keras.applications.Resnet50' (did you mean "
        "'keras.applications.ResNet50'?)",
        "t.yaml:6:17: train.freeze: 'bodi' names no layer (expected `body`, a layer id or a "
        "glob over layer names) (did you mean 'body'?)"]
    assert errors("input: {shape: [32, 32, 1], preprocess: keras.applications.VGG16, "
                  "rescale: 1}\n") == [
        "t.yaml:4:8: input.preprocess: preprocess sets rescale itself (leave rescale out, or "
        "leave preprocess out)"]
    assert errors("init: weights.npz\n") == [
        "t.yaml:4:7: init.from: cannot read weights from 'weights.npz' (name a run directory, "
        "a .keras or .weights.h5 file, or keras.applications.NAME)"]
    assert errors("init: {from: a.keras, skip: [zzz*]}\n")[0].endswith(
        "init.skip: 'zzz*' names no layer (expected `body`, a layer id or a glob over layer "
        "names) (`kspec summary SPEC` lists the layer names)")
    assert errors("train: {freeze: ['*']}\n") == [
        "t.yaml:4:17: train.freeze: this freezes every layer with trainable weights: nothing "
        "would train (freeze fewer layers, or set train.unfreeze_at to train them after some "
        "epochs)"]
    assert spec("train: {freeze: ['*'], unfreeze_at: 1}\n").train["freeze"][-1] == "predictions"
    assert errors("init: 5\n") == [
        "t.yaml:4:7: init: init must be a source or a mapping, received int 5 (for example: "
        "init: keras.applications.ResNet50)"]


def test_the_fine_tuning_spec_replaces_its_base_optimizer_and_freezes_the_body():
    """`extends` merges mappings, but a one-key mapping with another key is another
    choice: resnet50.yaml's `{sgd: ...}` is replaced by `{adam: ...}`, not joined to it."""
    s = load_spec(str(SPECS / "resnet50_finetune.yaml"), ["head.classes=3"])
    assert s.train["optimizer"] == {"name": "adam", "learning_rate": 0.001, "beta_1": 0.9,
                                    "beta_2": 0.999, "epsilon": 1e-7}
    assert s.init == {"from": "keras.applications.ResNet50", "partial": False, "skip": None}
    assert s.input["bgr"] is True and s.train["unfreeze_at"] == 5
    assert summary_dict(s)["trainable_params"] == 2048 * 3 + 3
