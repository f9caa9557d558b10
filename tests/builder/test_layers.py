"""Every registered layer through one harness: build, call, config round trip, a training step.

The harness is driven by the registry, so a new layer type is enrolled by registering it.
"""
import numpy as np
import pytest

from builder import build_model, load_spec_text
from builder.registry import all_layers

# The smallest spec line that exercises each layer type; keys are the registry names.
CASES = {
    "dense": ("[6]", "dense: {units: 3, activation: relu, l2: 0.01}"),
    "flatten": ("[4, 4, 2]", "flatten"),
    "reshape": ("[4, 4, 2]", "reshape: [8, 4]"),
    "dropout": ("[6]", "dropout: 0.5"),
    "conv": ("[8, 8, 4]", "conv: {filters: 4, kernel: 3, strides: 2, groups: 2, padding: same, "
                          "kernel_init: he_normal}"),
    "depthwise_conv": ("[8, 8, 3]", "depthwise_conv: {kernel: 3, multiplier: 2, padding: same, "
                                    "activation: tanh}"),
    "separable_conv": ("[9, 9, 3]", "separable_conv: {filters: 5, strides: 2, multiplier: 2, "
                                    "padding: same, use_bias: false, l2: 0.01}"),
    "select": ("[4, 4, 6]", "select: [5, 0, 2]"),
    "conv_transpose": ("[4, 4, 3]", "conv_transpose: {filters: 2, kernel: 3, strides: 2}"),
    "zeropad": ("[4, 4, 3]", "zeropad: [[1, 2], [0, 1]]"),
    "crop": ("[6, 6, 3]", "crop: 1"),
    "upsample": ("[4, 4, 3]", "upsample: {size: 2, interpolation: bilinear}"),
    "maxpool": ("[8, 8, 3]", "maxpool: {size: 3, strides: 2, padding: same}"),
    "avgpool": ("[8, 8, 3]", "avgpool: 2"),
    "globalavgpool": ("[8, 8, 3]", "globalavgpool"),
    "globalmaxpool": ("[8, 8, 3]", "globalmaxpool"),
    "batchnorm": ("[8, 8, 3]", "batchnorm: {epsilon: 1.0e-5}"),
    "lrn": ("[8, 8, 6]", "lrn"),
    "leaky_relu": ("[6]", "leaky_relu: 0.1"),
    "softmax": ("[6]", "softmax"),
    "identity": ("[6]", "identity"),
    "concat": ("[4, 4, 3]", "concat: {from: [input, input]}"),
    "add": ("[4, 4, 3]", "add: {from: [input, input]}"),
    "multiply": ("[4, 4, 3]", "multiply: {from: [input, input]}"),
    "layernorm": ("[4, 4, 3]", "layernorm: {epsilon: 1.0e-6}"),
    "layer_scale": ("[4, 4, 3]", "layer_scale: 0.5"),
    "drop_path": ("[4, 4, 3]", "drop_path: 0.2"),
    "rescaling": ("[4, 4, 3]", "rescaling: {scale: [0.5, 2, 1], offset: -1}"),
    "normalization": ("[4, 4, 3]", "normalization: {mean: [0.4, 0.5, 0.6], variance: 0.25}"),
}
SIMPLE_ACTIVATIONS = ("relu", "sigmoid", "tanh", "relu6", "elu", "gelu", "swish", "hard_swish",
                      "hard_sigmoid")


def case(name):
    if name in SIMPLE_ACTIVATIONS:
        return "[6]", name
    return CASES[name]


@pytest.mark.parametrize("name", sorted(all_layers()))
def test_layer_harness(name):
    import keras

    shape, line = case(name)
    spec = load_spec_text(f"name: t\ninput: {{shape: {shape}}}\nlayers:\n  - {line}\n", "t.yaml")
    model = build_model(spec)
    layer = model.get_layer(spec.graph.nodes[0].name)
    # the shape pass and Keras agree on shape and parameter count
    inferred = spec.shapes[layer.name]
    assert tuple(model.output.shape[1:]) == inferred.shape
    assert layer.count_params() == inferred.params
    # config round trip
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    # a call and one training step that changes trainable weights (if any)
    x = np.random.default_rng(0).normal(size=(2,) + tuple(model.input.shape[1:])).astype("float32")
    y = model(x, training=False)
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(y)))
    before = [w.numpy().copy() for w in model.trainable_weights]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.train_on_batch(x, np.ones_like(keras.ops.convert_to_numpy(y)))
    after = [w.numpy() for w in model.trainable_weights]
    assert all(not np.allclose(b, a) for b, a in zip(before, after))


def test_every_registered_layer_has_a_case():
    missing = set(all_layers()) - set(CASES) - set(SIMPLE_ACTIVATIONS)
    assert not missing, f"add a harness case for {sorted(missing)}"


def test_lrn_matches_tensorflow():
    import tensorflow as tf

    from builder.keras_layers import LocalResponseNormalization
    x = np.random.default_rng(1).normal(size=(2, 5, 5, 8)).astype("float32")
    ours = LocalResponseNormalization(2, 2.0, 1e-2, 0.75)(x)
    ref = tf.nn.local_response_normalization(x, 2, 2.0, 1e-2, 0.75)
    np.testing.assert_allclose(np.asarray(ours), ref.numpy(), rtol=1e-5, atol=1e-6)


def test_select_keeps_the_listed_channels_in_order_and_names_a_missing_one():
    from builder import SpecErrors
    from builder.keras_layers import SelectChannels
    x = np.arange(2 * 3 * 6, dtype="float32").reshape(2, 1, 3, 6)
    np.testing.assert_array_equal(np.asarray(SelectChannels([5, 0, 2])(x)), x[..., [5, 0, 2]])
    with pytest.raises(SpecErrors, match=r"select names channel 6, the input has 6 \(0 to 5\)"):
        load_spec_text("name: t\ninput: {shape: [4, 4, 6]}\nlayers:\n  - select: [0, 6]\n")
    with pytest.raises(SpecErrors, match=r"expected a non-empty list of integers >= 0, "
                                         r"received list \[-1\]"):
        load_spec_text("name: t\ninput: {shape: [4, 4, 6]}\nlayers:\n  - select: [-1]\n")


def test_register_twice_is_an_error():
    from builder.registry import LAYERS, register_layer
    with pytest.raises(ValueError, match="registered twice"):
        register_layer(LAYERS["conv"])
