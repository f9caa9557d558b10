"""Every spec in specs/ is checked, built and summarised; the golden numbers hold."""
import json
import subprocess
import sys


import numpy as np
import pytest

from builder import build_model, load_spec
from builder.summary import summary_dict
from tests.conftest import ROOT, SPECS

ZOO = sorted(p for p in SPECS.glob("*.yaml"))
PARAMS = {"lenet5": 61_706, "alexnet": 60_965_224, "vgg16": 138_357_544, "vgg19": 143_667_240,
          "resnet50": 25_636_712, "resnet101": 44_707_176, "resnet152": 60_419_944,
          "mobilenet_v2": 3_538_984, "densenet121": 8_062_504, "xception": 22_910_480,
          "squeezenet": 1_235_496}
PUBLISHED_MACS = {"vgg16": 15.5e9, "resnet50": 4.1e9, "googlenet": 1.5e9, "alexnet": 0.71e9,
                  "vgg19": 19.6e9, "resnet101": 7.8e9, "resnet152": 11.5e9}
SHORT = {"vgg16": 30, "resnet50": 50, "googlenet": 70}


# Zoo specs that leave `classes` to the dataset, built here with the paper's count.
CLASSES = {"lenet5": 10}


@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.stem)
def test_zoo_spec_builds_and_matches_its_summary(path):
    spec = load_spec(path, [f"head.classes={CLASSES[path.stem]}"] if path.stem in CLASSES else [])
    assert spec.paper, "every zoo spec cites its paper"
    summary = summary_dict(spec)
    if spec.name in PARAMS:
        assert summary["total_params"] == PARAMS[spec.name]
    if spec.name in PUBLISHED_MACS:
        assert abs(summary["macs"] / PUBLISHED_MACS[spec.name] - 1) <= 0.06
    if summary["total_params"] > 30e6:
        return  # big dense models: counted above; built in test_keras_weight_compatibility
    model = build_model(spec)
    assert model.count_params() == summary["total_params"]
    assert {lay.name for lay in model.layers[1:]} == {n.name for n in spec.graph.nodes}


@pytest.mark.parametrize("name", sorted(SHORT))
def test_zoo_specs_are_short(name):
    lines = [ln for ln in (SPECS / f"{name}.yaml").read_text().splitlines()
             if ln.strip() and not ln.lstrip().startswith("#")]
    assert len(lines) <= SHORT[name] * 1.1, f"{name}: {len(lines)} lines"


def test_lenet5_as_the_paper_draws_it_has_its_60000_parameters():
    """C1 to F6 of the paper's LeNet-5 (trainable subsampling, C3's Table I): 60,000."""
    layers = summary_dict(load_spec(SPECS / "lenet5_paper.yaml"))["layers"]
    body = [row["params"] for row in layers if row["name"] != "predictions"]
    c3 = [row["params"] for row in layers if row["name"].startswith("parallel3.")]
    assert sum(body) == 60_000 and sum(c3) == 1_516


def test_googlenet_and_alexnet_sizes():
    assert 6.6e6 <= summary_dict(load_spec(SPECS / "googlenet.yaml"))["total_params"] <= 7.0e6
    alex = summary_dict(load_spec(SPECS / "alexnet.yaml"))
    assert 235 <= alex["weight_mb"] <= 250  # "about 240 MB"
    assert summary_dict(load_spec(SPECS / "vgg19.yaml"))["weight_mb"] > 500


@pytest.mark.parametrize("name, app, size", [
    ("vgg16", "VGG16", 64), ("resnet50", "ResNet50", 64), ("vgg19", "VGG19", None),
    ("resnet101", "ResNet101", None), ("resnet152", "ResNet152", None),
    ("mobilenet_v2", "MobileNetV2", 96), ("densenet121", "DenseNet121", 64),
    ("xception", "Xception", 96)])
def test_keras_weight_compatibility(name, app, size):
    """Same weight arrays in the same order; copying Keras's weights in gives its outputs."""
    import keras

    overrides = [f"input.shape=[{size}, {size}, 3]"] if size else []
    if name == "vgg16" and size:
        overrides = []  # VGG's flatten fixes the input size: compare at 224
    ours = build_model(SPECS / f"{name}.yaml", overrides=overrides)
    ref = getattr(keras.applications, app)(weights=None, input_shape=tuple(ours.input.shape[1:]))
    assert [w.shape for w in ours.weights] == [w.shape for w in ref.weights]
    if size is None:
        return
    # Random arrays everywhere (batchnorm statistics too), so that a swapped pair of
    # same-shaped arrays would change the outputs.
    rng = np.random.default_rng(0)
    weights = [np.abs(rng.normal(1, 0.1, w.shape)) if "variance" in w.path
               else rng.normal(0, 0.05, w.shape) for w in ref.weights]
    ref.set_weights(weights)
    ours.set_weights(weights)
    x = rng.uniform(0, 255, size=(2,) + tuple(ours.input.shape[1:]))
    want = ref.predict(x, verbose=0)
    assert want.std() > 1e-5, "outputs that do not vary would hide a wrong order"
    np.testing.assert_allclose(ours.predict(x, verbose=0), want, rtol=1e-4, atol=1e-6)


def test_seed_arithmetic():
    """The seed says 251x251x48; a valid 5x5 conv over 256 gives 256 - 5 + 1 = 252 (Keras agrees)."""
    from builder import load_spec_text
    text = ("name: seed\ninput: {shape: [256, 256, 3]}\nlayers:\n  - conv: {filters: 48, kernel: 5}\n")
    spec = load_spec_text(text)
    (conv,) = summary_dict(spec)["layers"]
    assert conv["output_shape"] == [252, 252, 48] and conv["params"] == 5 * 5 * 3 * 48 + 48 == 3648
    assert tuple(build_model(spec).output.shape) == (None, 252, 252, 48)
    s = summary_dict(load_spec_text("name: t\ninput: {shape: [256, 256, 48]}\nlayers: [maxpool]\n"))
    assert s["layers"][0]["output_shape"] == [128, 128, 48]
    s = summary_dict(load_spec_text("name: t\ninput: {shape: [9, 9, 1]}\nlayers:\n"
                                    "  - conv: {filters: 256, kernel: 3, use_bias: false}\n"))
    assert s["total_params"] == 2304


def test_validating_the_zoo_imports_neither_tensorflow_nor_keras():
    code = ("import sys, time, glob; t = time.time(); from builder import load_spec\n"
            "[load_spec(p) for p in glob.glob('specs/*.yaml')]\n"
            "print(time.time() - t, 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    assert float(out[0]) < 2.0 and out[1:] == ["False", "False"]


def test_summary_json_cli():
    out = subprocess.run(["kspec", "summary", "specs/resnet50.yaml", "--json"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    d = json.loads(out)
    assert {"name", "total_params", "trainable_params", "macs", "layers"} <= set(d)
    assert d["total_params"] == PARAMS["resnet50"] and len(d["layers"]) == 176


def test_schema_lists_every_layer():
    from builder.registry import all_layers
    from builder.schema import json_schema
    props = json_schema()["$defs"]["layer"]["anyOf"][1]["properties"]
    assert set(all_layers()) <= set(props)




def test_generated_docs_are_current():
    """docs/reference.md and docs/kspec.schema.json are generated from the registries."""
    from builder.reference import reference_markdown
    from builder.schema import json_schema
    assert (ROOT / "docs" / "reference.md").read_text() == reference_markdown() + "\n", \
        "run: python -m builder.reference > docs/reference.md"
    assert json.loads((ROOT / "docs" / "kspec.schema.json").read_text()) == json_schema(), \
        "run: kspec schema > docs/kspec.schema.json"
