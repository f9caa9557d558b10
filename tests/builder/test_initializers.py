"""builder/layers/initializers.py: initializers by name, with arguments, as Keras takes them."""
import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from builder import SpecErrors, load_spec
from builder.layers.initializers import keras_initializer
from tests.builder.test_modern_layers import model_of


def test_initializers_with_arguments_reach_keras():
    _, _, layer = model_of("conv: {filters: 4, kernel_init: {variance_scaling: "
                           "{scale: 2.0, mode: fan_out, distribution: truncated_normal}}, "
                           "bias_init: {constant: {value: 0.25}}}")
    config = layer.kernel_initializer.get_config()
    assert (type(layer.kernel_initializer).__name__, config["scale"], config["mode"],
            config["distribution"]) == ("VarianceScaling", 2.0, "fan_out", "truncated_normal")
    np.testing.assert_array_equal(layer.get_weights()[1], np.full(4, 0.25, "float32"))
    _, _, layer = model_of("dense: {units: 300, kernel_init: {truncated_normal: {stddev: 0.02}}}",
                           shape="[300]")
    kernel = layer.get_weights()[0]
    assert np.abs(kernel).max() <= 0.04 + 1e-6 and 0.015 < kernel.std() < 0.02
    _, _, layer = model_of("dense: {units: 3, kernel_init: he_normal}", shape="[4]")
    assert layer.get_config()["kernel_initializer"]["class_name"] == "HeNormal"


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 3),
                    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(
                        ("fan_out", "uniform", "zeros", "stddev", "")))
_INIT_NAMES = st.sampled_from(("truncated_normal", "variance_scaling", "constant",
                               "random_uniform", "he_normal", "trunc", ""))
_INIT_KEYS = st.sampled_from(("stddev", "mean", "scale", "mode", "distribution", "value",
                              "minval", "maxval", "gain", "seed"))


@settings(max_examples=60, deadline=None)
@given(st.one_of(_VALUES, _INIT_NAMES,
                 st.dictionaries(_INIT_NAMES, st.one_of(
                     _VALUES, st.dictionaries(_INIT_KEYS, _VALUES, max_size=3)), max_size=2)))
@example({"truncated_normal": {"stddev": float("nan")}})
@example({"variance_scaling": {"scale": 2.0, "mode": "fan_out", "distribution": "uniform"}})
def test_any_initializer_value_is_accepted_or_one_spec_error_at_its_place(value):
    spec = {"name": "t", "input": {"shape": [4]}, "layers": [{"dense": {
        "units": 2, "kernel_init": value}}]}
    try:
        checked = load_spec(spec).graph.nodes[0].args["kernel_init"]
    except SpecErrors as exc:
        assert str(exc).startswith("<spec>: layers[0].dense.kernel_init: "), str(exc)
        assert "\n" not in str(exc)
        return
    keras_initializer(checked)  # what was accepted, Keras takes
