"""The symbolic pass: output shape, parameters and MACs of every node, without Keras.

It stops at the first node whose input does not fit and names it, with the
shapes it received, so a mistake is reported before any weight is allocated.
"""
from __future__ import annotations

from .errors import ErrorSink
from .layers._common import fmt
from .registry import LAYERS, Inferred, ShapeMismatch


def infer_nodes(nodes, shapes: dict, sink: ErrorSink) -> bool:
    """Fills `shapes` (node name -> Inferred) for `nodes`; False after the first mismatch."""
    for node in nodes:
        ins = [shapes[name].shape for name in node.inputs]
        try:
            shapes[node.name] = LAYERS[node.type].infer(node.args, ins)
        except ShapeMismatch as exc:
            shown = ", ".join(fmt(s) for s in ins)
            sink.add(node.where.at(node.path), f"input shape {shown} does not fit {node.type}: "
                     f"{exc}")
            return False
    return True


def totals(graph, shapes: dict, frozen=()) -> dict:
    """Parameter, trainable-parameter and MAC totals over the graph; layers named in
    `frozen` (`train.freeze`) count as not trainable."""
    params = sum(shapes[n.name].params for n in graph.nodes)
    trainable = sum(_trainable(shapes[n.name]) for n in graph.nodes if n.name not in frozen)
    macs = sum(shapes[n.name].macs for n in graph.nodes)
    return {"params": params, "trainable": trainable, "macs": macs}


def _trainable(inf: Inferred) -> int:
    return inf.params if inf.trainable is None else inf.trainable


