"""The layers of EfficientNet, MobileNetV3 and ConvNeXt, each against its Keras counterpart.

Each kspec layer must hold the same arrays as the Keras layer keras.applications uses
(same shapes, same order, so weights load by position) and compute the same output
from the same input and weights.
"""
import numpy as np
import pytest

from builder import SpecErrors, build_model, load_spec_text

RNG = np.random.default_rng(0)


def spec_of(layers: str, shape="[6, 6, 3]", extra=""):
    return load_spec_text(f"name: t\ninput: {{shape: {shape}}}\n{extra}layers:\n{layers}",
                          "t.yaml")


def model_of(line: str, shape="[6, 6, 3]"):
    spec = spec_of(f"  - {line}\n", shape)
    model = build_model(spec)
    return spec, model, model.get_layer(spec.graph.nodes[0].name)


def shapes_of(layer):
    return [tuple(w.shape) for w in layer.weights]


def same_as_keras(ours, theirs, x, training=False):
    """Same array shapes in the same order; with our arrays copied over, the same output."""
    import keras
    theirs.build(x.shape)
    assert shapes_of(ours) == shapes_of(theirs)
    weights = [RNG.normal(size=w.shape).astype("float32") for w in ours.weights]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    a = keras.ops.convert_to_numpy(ours(x, training=training))
    b = keras.ops.convert_to_numpy(theirs(x, training=training))
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    return a


def image(*shape):
    return RNG.normal(size=shape).astype("float32")


def test_layernorm_is_keras_layer_normalization():
    import keras
    spec, _, ours = model_of("layernorm: {epsilon: 1.0e-6}")
    assert spec.shapes[ours.name].params == 6
    assert [w.name for w in ours.weights] == ["gamma", "beta"]
    same_as_keras(ours, keras.layers.LayerNormalization(epsilon=1e-6), image(2, 6, 6, 3))


def test_layer_scale_is_convnexts_layer_scale():
    from keras.src.applications.convnext import LayerScale
    spec, _, ours = model_of("layer_scale: 1.0e-6")
    assert spec.shapes[ours.name].params == 3
    np.testing.assert_array_equal(ours.get_weights()[0], np.full(3, 1e-6, "float32"))
    same_as_keras(ours, LayerScale(1e-6, 3), image(2, 6, 6, 3))


def test_drop_path_drops_whole_samples_like_convnexts_stochastic_depth():
    import keras
    from keras.src.applications.convnext import StochasticDepth
    _, _, ours = model_of("drop_path: 0.5")
    x = np.ones((64, 6, 6, 3), "float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ours(x, training=False)), x)
    for layer in (ours, StochasticDepth(0.5)):
        y = keras.ops.convert_to_numpy(layer(x, training=True))
        per_sample = y.reshape(64, -1)
        # every sample is all zero or all x / (1 - rate): its whole branch is dropped or kept
        assert set(np.unique(per_sample)) <= {0.0, 2.0}
        assert all(len(set(row)) == 1 for row in per_sample)
        assert 8 < int((per_sample[:, 0] == 0).sum()) < 56


def test_rescaling_is_keras_rescaling_with_per_channel_lists():
    import keras
    spec, _, ours = model_of("rescaling: {scale: [0.5, 2, 1], offset: -1}")
    assert spec.shapes[ours.name].params == 0
    x = image(2, 6, 6, 3)
    out = same_as_keras(ours, keras.layers.Rescaling([0.5, 2.0, 1.0], -1.0), x)
    np.testing.assert_allclose(out, x * np.array([0.5, 2, 1], "float32") - 1, rtol=1e-6)


def test_normalization_holds_efficientnets_mean_variance_count_and_starts_at_the_values():
    import keras
    spec, _, ours = model_of("normalization: {mean: [0.485, 0.456, 0.406], "
                             "variance: [0.052, 0.05, 0.051]}")
    inferred = spec.shapes[ours.name]
    assert (inferred.params, inferred.trainable) == (7, 0)
    # what keras.applications EfficientNet builds: Normalization(axis=-1), no values
    theirs = keras.layers.Normalization(axis=-1)
    theirs.build((None, 6, 6, 3))
    assert [(w.name, tuple(w.shape)) for w in ours.weights] == \
        [(w.name, tuple(w.shape)) for w in theirs.weights] == \
        [("mean", (3,)), ("variance", (3,)), ("count", ())]
    x = image(2, 6, 6, 3)
    fixed = keras.layers.Normalization(mean=[0.485, 0.456, 0.406], variance=[0.052, 0.05, 0.051])
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(fixed(x)), rtol=1e-5)
    # new arrays by position; Keras's layer reads them after finalize_state (as a load does)
    arrays = [np.array([1, 2, 3], "float32"), np.array([4, 9, 16], "float32"), np.int64(7)]
    ours.set_weights(arrays)
    theirs.set_weights(arrays)
    theirs.finalize_state()
    expected = (x - np.array([1, 2, 3])) / np.array([2, 3, 4])
    np.testing.assert_allclose(np.asarray(ours(x)), expected, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(theirs(x)), expected, rtol=1e-5)


def test_multiply_stretches_a_dimension_of_1_as_keras_multiply_does():
    import keras
    spec = spec_of("  - globalavgpool: {keepdims: true, id: squeezed}\n"
                   "  - multiply: {from: [input, squeezed]}\n")
    assert spec.shapes["squeezed"].shape == (1, 1, 3)
    assert spec.shapes[spec.graph.nodes[-1].name].shape == (6, 6, 3)
    model = build_model(spec)
    x = image(2, 6, 6, 3)
    expected = x * x.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-5, atol=1e-6)
    assert isinstance(model.layers[-1], keras.layers.Multiply)


def test_hard_sigmoid_and_hard_swish_are_mobilenet_v3s():
    import keras
    x = np.linspace(-5, 5, 201, dtype="float32").reshape(1, 201)
    # keras.applications.mobilenet_v3: hard_sigmoid(x) = ReLU(6)(x + 3) / 6, hard_swish = x * it
    mobilenet_sigmoid = keras.ops.convert_to_numpy(keras.layers.ReLU(6.0)(x + 3.0)) / 6.0
    for name, expected in (("hard_sigmoid", mobilenet_sigmoid),
                           ("hard_swish", x * mobilenet_sigmoid)):
        _, model, _ = model_of(name, shape="[201]")
        np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-6, atol=1e-7)
        _, model, _ = model_of(f"dense: {{units: 4, activation: {name}}}", shape="[201]")
        assert model.layers[-1].activation.__name__ == ("hard_silu" if name == "hard_swish"
                                                        else name)


SE_AND_MBCONV = """\
blocks:
  se:
    args: {name: str, ratio: 4}
    layers:
      - identity: {id: $name + "_x"}
      - globalavgpool: {keepdims: true}
      - conv: {filters: $in.channels // $ratio, kernel: 1, activation: relu}
      - conv: {filters: $in.channels, kernel: 1, activation: hard_sigmoid, id: $name + "_gate"}
      - multiply: {from: [$name + "_x", $name + "_gate"]}
  mbconv:
    args: {filters: int, name: str, expand: 4}
    layers:
      - residual:
          body:
            - conv: {filters: $in.channels * $expand, kernel: 1, use_bias: false}
            - batchnorm
            - hard_swish
            - depthwise_conv: {kernel: 3, padding: same, use_bias: false}
            - batchnorm
            - hard_swish
            - se: $name
            - conv: {filters: $filters, kernel: 1, use_bias: false}
            - batchnorm
            - drop_path: 0.2
"""


def test_a_squeeze_and_excitation_mbconv_network_builds_counts_and_trains():
    import keras
    spec = spec_of("  - conv: {filters: 8, padding: same, activation: hard_swish}\n"
                   "  - mbconv: {filters: 8, name: b1}\n  - mbconv: {filters: 8, name: b2}\n"
                   "  - globalavgpool\nhead: {task: classification, classes: 5}\n",
                   shape="[16, 16, 3]", extra=SE_AND_MBCONV)
    model = build_model(spec)
    assert model.count_params() == sum(v.params for v in spec.shapes.values()) == 3549
    gate = model.get_layer("b1_gate")
    assert tuple(gate.output.shape) == (None, 1, 1, 32)
    x = image(4, 16, 16, 3)
    y = np.asarray(model(x))
    assert y.shape == (4, 5) and np.allclose(y.sum(axis=1), 1, atol=1e-5)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="categorical_crossentropy")
    assert np.isfinite(model.train_on_batch(x, np.eye(5, dtype="float32")[[0, 1, 2, 3]]))


CONVNEXT = """\
blocks:
  convnext:
    args: {drop: 0.1}
    layers:
      - residual:
          body:
            - depthwise_conv: {kernel: 7, padding: same}
            - layernorm: {epsilon: 1.0e-6}
            - dense: {units: 4 * $in.channels, activation: gelu}
            - dense: $in.channels
            - layer_scale: 1.0e-6
            - drop_path: $drop
"""


def _convnext_by_hand(channels: int):
    """The same block with Keras layers, as keras.applications.convnext writes it."""
    import keras
    from keras.src.applications.convnext import LayerScale, StochasticDepth
    inputs = keras.Input((8, 8, channels))
    x = keras.layers.DepthwiseConv2D(7, padding="same")(inputs)
    x = keras.layers.LayerNormalization(epsilon=1e-6)(x)
    x = keras.layers.Dense(4 * channels, activation="gelu")(x)
    x = keras.layers.Dense(channels)(x)
    x = LayerScale(1e-6, channels)(x)
    x = StochasticDepth(0.1)(x)
    return keras.Model(inputs, keras.layers.Add()([inputs, x]))


def test_a_convnext_block_matches_keras_and_saves_with_safe_mode(tmp_path):
    import keras
    spec = spec_of("  - convnext\n", shape="[8, 8, 16]", extra=CONVNEXT)
    ours = build_model(spec)
    theirs = _convnext_by_hand(16)
    assert ours.count_params() == theirs.count_params() == \
        sum(v.params for v in spec.shapes.values()) == 7 * 7 * 16 + 16 + 32 + 16 * 64 + 64 \
        + 64 * 16 + 16 + 16
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    weights = [RNG.normal(size=w.shape).astype("float32") for w in ours.weights]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    x = image(2, 8, 8, 16)
    expected = np.asarray(theirs(x, training=False))
    np.testing.assert_allclose(np.asarray(ours(x, training=False)), expected, rtol=1e-5,
                               atol=1e-5)
    path = tmp_path / "convnext.keras"
    ours.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(np.asarray(loaded(x, training=False)), expected, rtol=1e-5,
                               atol=1e-5)
    assert [type(layer).__name__ for layer in loaded.layers][-3:] == \
        ["LayerScale", "DropPath", "Add"]


def test_a_spec_with_normalization_saves_and_loads_its_arrays_with_safe_mode(tmp_path):
    import keras
    spec = spec_of("  - rescaling: 0.00392156862745098\n"
                   "  - normalization: {mean: [0.485, 0.456, 0.406], "
                   "variance: [0.05, 0.06, 0.07]}\n")
    model = build_model(spec)
    model.layers[-1].set_weights([np.array([1.0, 2.0, 3.0], "float32"),
                                  np.array([4.0, 4.0, 4.0], "float32"), np.int64(10)])
    x = image(1, 6, 6, 3)
    model.save(tmp_path / "n.keras")
    loaded = keras.saving.load_model(tmp_path / "n.keras", safe_mode=True)
    expected = (x / 255 - np.array([1.0, 2.0, 3.0])) / 2
    np.testing.assert_allclose(np.asarray(loaded(x)), expected, rtol=1e-5, atol=1e-6)


def errors(line: str, shape="[4, 4, 3]"):
    with pytest.raises(SpecErrors) as caught:
        load_spec_text(f"name: t\ninput: {{shape: {shape}}}\nlayers:\n  - {line}\n", "t.yaml")
    return str(caught.value)


@pytest.mark.parametrize("line, message", [
    ("drop_path: -0.1", "t.yaml:4:5: layers[0].drop_path.rate: expected a number in [0, 1), "
                        "received float -0.1"),
    ("drop_path: 1.0", "t.yaml:4:5: layers[0].drop_path.rate: expected a number in [0, 1), "
                       "received float 1.0"),
    ("layernorm: {epsilon: 0}", "t.yaml:4:26: layers[0].layernorm.epsilon: expected a number "
                                "> 0, received int 0"),
    ("layer_scale: .nan", "t.yaml:4:5: layers[0].layer_scale.init_value: expected a number, "
                          "received nan: NaN and infinity are not values a spec can hold"),
    ("conv: {filters: 4, kernel_init: trunc_normal}",
     "t.yaml:4:37: layers[0].conv.kernel_init: unknown initializer 'trunc_normal'; "
     "did you mean 'truncated_normal'?"),
    ("conv: {filters: 4, kernel_init: {truncated_normal: {stdev: 0.02}}}",
     "t.yaml:4:37: layers[0].conv.kernel_init: unknown argument 'stdev' for initializer "
     "truncated_normal; did you mean 'stddev'?"),
    ("conv: {filters: 4, kernel_init: {truncated_normal: {stddev: .nan}}}",
     "t.yaml:4:37: layers[0].conv.kernel_init: truncated_normal.stddev must be a number > 0, "
     "received nan: NaN and infinity are not values a spec can hold"),
    ("conv: {filters: 4, kernel_init: {truncated_normal: {stddev: -1}}}",
     "t.yaml:4:37: layers[0].conv.kernel_init: truncated_normal.stddev must be a number > 0, "
     "received -1"),
    ("conv: {filters: 4, kernel_init: {variance_scaling: {mode: fan_ot}}}",
     "t.yaml:4:37: layers[0].conv.kernel_init: variance_scaling.mode must be one of fan_in, "
     "fan_out, fan_avg, received 'fan_ot'"),
    ("conv: {filters: 4, kernel_init: {he_normal: {scale: 2}}}",
     "t.yaml:4:37: layers[0].conv.kernel_init: unknown argument 'scale' for initializer "
     "he_normal; he_normal takes no arguments"),
    ("conv: {filters: 4, kernel_init: {random_uniform: {minval: 1, maxval: 0}}}",
     "t.yaml:4:37: layers[0].conv.kernel_init: random_uniform needs minval < maxval, "
     "received 1.0 and 0.0"),
    ("conv: {filters: 4, kernel_init: {constant: {value: 0}, zeros: {}}}",
     "t.yaml:4:37: layers[0].conv.kernel_init: an initializer with arguments is a mapping of "
     "one name, e.g. {truncated_normal: {stddev: 0.02}}, received 2 keys"),
    ("conv: {filters: 4, kernel_init: 3}",
     "t.yaml:4:37: layers[0].conv.kernel_init: expected an initializer name or "
     "{name: {arguments}}, received int 3"),
    ("rescaling: {scale: [1, 2]}",
     "t.yaml:4:5: layers[0].rescaling: input shape (4, 4, 3) does not fit rescaling: rescaling "
     "scale has 2 values, the input has 3 channels (give 1 value or 3)"),
    ("normalization: {mean: [1, 2, 3, 4]}",
     "t.yaml:4:5: layers[0].normalization: input shape (4, 4, 3) does not fit normalization: "
     "normalization mean has 4 values, the input has 3 channels (give 1 value or 3)"),
    ("normalization: {variance: [1, -1, 1]}",
     "t.yaml:4:31: layers[0].normalization.variance: expected a number >= 0 or a list of them, "
     "received list [1, -1, 1]"),
    ("conv: {filters: 4, activation: hard_swich}",
     "t.yaml:4:36: layers[0].conv.activation: expected one of linear, relu, leaky_relu, sigmoid, "
     "softmax, tanh, relu6, elu, gelu, swish, hard_swish, hard_sigmoid, received str "
     "'hard_swich'; did you mean 'hard_swish'?"),
    ("globalavgpool: {keepdims: 1}",
     "t.yaml:4:31: layers[0].globalavgpool.keepdims: expected true or false, received int 1"),
])
def test_bad_arguments_are_spec_errors_that_say_what_to_change(line, message):
    assert errors(line) == message


def test_multiply_names_shapes_that_do_not_stretch():
    with pytest.raises(SpecErrors) as caught:
        spec_of("  - conv: {filters: 4, padding: same, id: a}\n"
                "  - multiply: {from: [input, a]}\n", shape="[4, 4, 3]")
    assert str(caught.value) == (
        "t.yaml:5:5: layers[1].multiply: input shape (4, 4, 3), (4, 4, 4) does not fit "
        "multiply: multiply inputs must agree in each dimension or have 1 there, received "
        "(4, 4, 3), (4, 4, 4)")
    with pytest.raises(SpecErrors, match=r"multiply inputs must have the same rank, received "
                                         r"\(4, 4, 3\), \(3\)"):
        spec_of("  - globalavgpool: {id: g}\n  - multiply: {from: [input, g]}\n",
                shape="[4, 4, 3]")


def test_the_schema_knows_initializers_with_arguments_and_the_new_layers():
    import json
    from pathlib import Path

    import jsonschema
    import yaml
    schema = json.loads((Path(__file__).parents[2] / "docs" / "kspec.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    good = yaml.safe_load("name: t\ninput: {shape: [4, 4, 3]}\nlayers:\n"
                          "  - conv: {filters: 4, kernel_init: {truncated_normal: "
                          "{stddev: 0.02}}, activation: hard_swish}\n  - layernorm\n")
    assert not list(validator.iter_errors(good))
    bad = yaml.safe_load("name: t\ninput: {shape: [4, 4, 3]}\nlayers:\n"
                         "  - conv: {filters: 4, kernel_init: {trunc_normal: {}}}\n")
    assert list(validator.iter_errors(bad))


def test_init_pairs_them_with_the_keras_applications_layers_by_class_name():
    """`init:` pairs layers of one class name by position, so the names must agree."""
    import keras
    from keras.src.applications.convnext import LayerScale

    from trainer.pretrained import snake
    _, _, normalization = model_of("normalization")
    _, _, layer_scale = model_of("layer_scale")
    assert snake(type(normalization).__name__) == snake(keras.layers.Normalization.__name__)
    assert snake(type(layer_scale).__name__) == snake(LayerScale.__name__) == "layer_scale"


def test_a_fresh_process_reads_a_saved_convnext_block_for_init(tmp_path):
    """A new process (a trainer given `init: x.keras`) has no kspec layer registered yet."""
    import subprocess
    import sys
    from pathlib import Path
    spec = spec_of("  - convnext\n  - normalization: {mean: 0.5}\n", shape="[8, 8, 16]",
                   extra=CONVNEXT)
    build_model(spec).save(tmp_path / "c.keras")
    code = ("import sys; from trainer.pretrained import read_source; "
            "print([(s.name, s.kind, [a.shape for a in s.arrays]) "
            "for s in read_source(sys.argv[1])][-2:])")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "c.keras")],
                          cwd=Path(__file__).parents[2], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == (
        "[('convnext0.residual0.body.layer_scale4', 'layer_scale', [(16,)]), "
        "('normalization1', 'normalization', [(16,), (16,), ()])]")
