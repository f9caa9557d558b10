"""A test plugin: registers a `scale` layer (multiplies by a constant) through the registry."""
from builder import LayerType, register_layer
from builder.argtypes import FLOAT, Arg
from builder.registry import Inferred


def _build(args, name):
    import keras
    return keras.layers.Rescaling(args["factor"], name=name)


register_layer(LayerType("scale", "multiplies by a constant", (Arg("factor", FLOAT, 1.0),),
                         lambda a, shapes: Inferred(shapes[0]), _build, primary="factor"))
