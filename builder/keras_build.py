"""Turns a validated spec's graph into a Keras 3 functional model (pure Keras, any backend)."""
from __future__ import annotations

import re

from .errors import SpecError, SpecErrors, Where, did_you_mean
from .graph import INPUT
from .registry import LAYERS
from .spec import Spec, load_spec


def build_model(spec, *, until: str | None = None, overrides=(), plugins=()):
    """Builds the Keras model a spec describes.

    Args:
        spec: a `Spec` or a path to a spec file.
        until: a layer name or id: return the body up to and including it (an encoder).
        overrides: `key=value` strings, as the CLI's `--set`.

    Returns:
        A `keras.Model`; one output, or a dict of named outputs for multi-output heads.

    Example:
        >>> model = build_model("specs/lenet5.yaml")  # doctest: +SKIP
    """
    import keras

    if not isinstance(spec, Spec):
        spec = load_spec(spec, overrides, plugins)
    stop = spec.graph.ids.get(until, until)
    names = {n.name for n in spec.graph.nodes}
    if until is not None and stop not in names:
        raise SpecErrors([SpecError(Where(spec.file, 0, 0, "until"), f"no layer named {until!r}",
                                    did_you_mean(until, list(names) + list(spec.graph.ids)))])
    # TensorFlow takes a model's name as its root name scope, which refuses spaces, "/",
    # ":" and letters outside ASCII, all of which a spec's `name:` may hold.
    model_name = re.sub(r"[^A-Za-z0-9_.-]", "_", spec.name).lstrip("-_") or "model"
    inputs = keras.Input(shape=spec.input["shape"], name="image")
    tensors = {INPUT: inputs}
    for node in spec.graph.nodes:
        kind = LAYERS[node.type]
        layer = kind.build(node.args, node.name)
        if node.output:
            # Outputs and losses stay float32 under mixed precision.
            layer.dtype_policy = keras.DTypePolicy("float32")
        args = [tensors[name] for name in node.inputs]
        tensors[node.name] = layer(args if kind.merge else args[0])
        if node.name == stop:
            return keras.Model(inputs, tensors[node.name], name=f"{model_name}_until_{until}")
    outs = spec.graph.outputs
    if len(outs) == 1:
        return keras.Model(inputs, tensors[outs[0]], name=model_name)
    return keras.Model(inputs, {name: tensors[name] for name in outs}, name=model_name)
