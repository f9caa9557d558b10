"""Merging several inputs: concatenation and addition."""
from __future__ import annotations

from ..registry import Inferred, LayerType, ShapeMismatch, register_layer
from ._common import fmt, keras


def _concat_infer(a, shapes):
    heads = {s[:-1] for s in shapes}
    ranks = {len(s) for s in shapes}
    if len(ranks) != 1 or len(heads) != 1:
        raise ShapeMismatch("concat inputs must agree except in the last axis, received "
                            + ", ".join(fmt(s) for s in shapes))
    last = None if any(s[-1] is None for s in shapes) else sum(s[-1] for s in shapes)
    return Inferred(shapes[0][:-1] + (last,))


def _add_infer(a, shapes):
    if len(set(shapes)) != 1:
        raise ShapeMismatch("add inputs must have equal shapes, received "
                            + ", ".join(fmt(s) for s in shapes))
    return Inferred(shapes[0])


register_layer(LayerType("concat", "concatenates inputs along the channel axis", (),
                         _concat_infer,
                         lambda a, name: keras().layers.Concatenate(axis=-1, name=name),
                         merge=True))
register_layer(LayerType("add", "adds inputs of equal shape (residual and skip connections)", (),
                         _add_infer, lambda a, name: keras().layers.Add(name=name), merge=True))

