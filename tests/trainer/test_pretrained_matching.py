"""Matching source arrays to a model, in-process: names first, then position within a
layer type while the shapes agree, and a Keras 2 weights file read by its layer names."""
import h5py
import keras
import numpy as np

from trainer.pretrained import plan, read_source


def cnn(widths, classes, names=None):
    names = names or [f"c{i}" for i in range(len(widths))]
    x = inp = keras.Input((16, 16, 3))
    for name, width in zip(names, widths):
        x = keras.layers.Conv2D(width, 3, name=name)(x)
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(classes, name="predictions")(x))


def test_names_first_then_position_stopping_where_the_structure_differs(tmp_path):
    source = cnn([4, 8, 8], 10, names=["a", "b", "c"])  # no names in common but the head
    source.save_weights(tmp_path / "s.weights.h5")
    target = cnn([4, 6, 8], 3)  # the second conv differs: positions after it are not trusted
    p = plan(target, read_source(str(tmp_path / "s.weights.h5")))
    assert [layer.name for layer, _ in p.pairs] == ["c0", "c0_bn"]
    assert [layer.name for layer in p.new] == ["c1", "c1_bn", "c2", "c2_bn", "predictions"]
    same = plan(cnn([4, 8, 8], 3), read_source(str(tmp_path / "s.weights.h5")))
    assert [layer.name for layer in same.new] == ["predictions"]  # 10 classes there, 3 here
    for layer, src in same.pairs:
        assert [w.shape for w in src.arrays] == [tuple(w.shape) for w in layer.weights]


def test_a_keras_2_weights_file_is_matched_by_its_layer_names(tmp_path):
    from keras.src.legacy.saving import legacy_h5_format
    keras.utils.set_random_seed(3)
    source = cnn([4, 8], 3, names=["x", "y"])
    with h5py.File(tmp_path / "old.h5", "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, source)
    # A layer first that has x's shapes but not its name: by position it would take x's
    # arrays; by name it stays new and x gets its own.
    inp = keras.Input((16, 16, 3))
    z = keras.layers.Conv2D(4, 3, name="z")(inp)
    x = keras.layers.BatchNormalization(name="x_bn")(keras.layers.Conv2D(4, 3, name="x")(inp))
    y = keras.layers.BatchNormalization(name="y_bn")(keras.layers.Conv2D(8, 3, name="y")(x))
    target = keras.Model(inp, [z, y])
    p = plan(target, read_source(str(tmp_path / "old.h5")))
    assert [layer.name for layer, _ in p.pairs] == ["x", "x_bn", "y", "y_bn"]
    assert [layer.name for layer in p.new] == ["z"]
    for layer, src in p.pairs:
        for got, want in zip(src.arrays, source.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(got, want)
