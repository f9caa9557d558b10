"""The layer registry: one typed argument model and one build function per layer type.

The argument models are the single source for validation, the generated
reference, and the JSON Schema. Registering a name twice is an error; custom
layers come in only through `register_layer`, from a plugin module the user
names explicitly (see `plugins.py`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .argtypes import NAMES, STR, Arg


@dataclass(frozen=True)
class Inferred:
    """What the symbolic pass knows of one layer: output shape, parameters, MACs."""

    shape: tuple
    params: int = 0
    trainable: int | None = None
    macs: int = 0


class ShapeMismatch(ValueError):
    """A layer's input does not fit it; the message names what is wrong."""


@dataclass(frozen=True)
class LayerType:
    """A registered layer type.

    Attributes:
        name: the word used in specs (`conv`).
        doc: one line for the reference.
        args: typed arguments (excluding the universal `id` and `from`).
        infer: `(args, input_shapes) -> Inferred`, pure Python, no Keras.
        build: `(args, name) -> keras layer`; imports Keras itself.
        primary: the argument a scalar sets (`zeropad: 3`).
        merge: True when the layer takes a list of inputs.
    """

    name: str
    doc: str
    args: tuple
    infer: Callable
    build: Callable
    primary: str | None = None
    merge: bool = False

    def arg(self, name: str) -> Arg | None:
        for a in self.args:
            if a.name == name:
                return a
        return None


# Every layer (and structural item) accepts these two.
UNIVERSAL_ARGS = (
    Arg("id", STR, None, "a name later layers use in `from:`; also the Keras layer name"),
    Arg("from", NAMES, None, "take input from these ids instead of the previous layer"),
)

LAYERS: dict[str, LayerType] = {}


def register_layer(layer: LayerType) -> LayerType:
    """Adds a layer type; a second registration of a name is an error."""
    if layer.name in LAYERS:
        raise ValueError(f"layer type {layer.name!r} is registered twice")
    names = [a.name for a in layer.args]
    if len(set(names)) != len(names) or {"id", "from"} & set(names):
        raise ValueError(f"layer type {layer.name!r} has duplicate or reserved argument names")
    LAYERS[layer.name] = layer
    return layer


def all_layers() -> dict[str, LayerType]:
    from . import layers  # noqa: F401  (registers the built-in layers)
    return LAYERS
