"""kspec's builder: YAML spec -> validated, shape-checked spec -> Keras 3 model.

Importing this package imports neither TensorFlow nor Keras; only `build_model`
does, when it is called.

    >>> from builder import load_spec, build_model
"""
from .errors import EXIT_BAD_INPUT, SpecError, SpecErrors, Where
from .heads import HeadLayer, HeadType, register_head
from .registry import LayerType, register_layer
from .spec import Spec, load_spec, load_spec_text


def build_model(spec, **kwargs):
    """See `builder.keras_build.build_model`."""
    from .keras_build import build_model as _build
    return _build(spec, **kwargs)


__all__ = ["EXIT_BAD_INPUT", "Spec", "SpecError", "SpecErrors", "Where", "LayerType", "HeadLayer",
           "HeadType", "build_model", "load_spec", "load_spec_text", "register_head",
           "register_layer"]
