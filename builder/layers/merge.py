"""Merging several inputs: concatenation, addition and multiplication."""
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



def _multiply_infer(a, shapes):
    """Equal shapes, except that a dimension of 1 stretches (squeeze-and-excitation)."""
    if len({len(s) for s in shapes}) != 1:
        raise ShapeMismatch("multiply inputs must have the same rank, received "
                            + ", ".join(fmt(s) for s in shapes))
    out = []
    for dims in zip(*shapes):
        sizes = {d for d in dims if d != 1}
        known = {d for d in sizes if d is not None}
        if len(known) > 1:
            raise ShapeMismatch("multiply inputs must agree in each dimension or have 1 there, "
                                "received " + ", ".join(fmt(s) for s in shapes))
        out.append(known.pop() if known else (None if None in sizes else 1))
    return Inferred(tuple(out))


register_layer(LayerType(
    "multiply", "multiplies inputs elementwise; a dimension of 1 stretches ([h, w, c] x [1, 1, c])",
    (), _multiply_infer, lambda a, name: keras().layers.Multiply(name=name), merge=True))
