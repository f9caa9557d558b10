"""Expansion of a spec's layer list into a flat graph of named nodes.

Blocks, `repeat`, `parallel` and `residual` are unrolled here; every node gets
a Keras name derived from its place in the spec (`stage6.repeat1_2.bottleneck0`
style, or its `id`) and a spec path for messages. Items whose `when:` is false
are skipped. Shapes are inferred as nodes are added, so a block can read its
input's shape (`$in.channels`). The nesting of blocks, branches and residuals is
kept as an outline (`Group`) for `kspec draw`. `repeat`, `parallel` and `residual`
are in `structure.py`. Nothing here imports Keras.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field

from .argtypes import BOOL, STR, Arg
from .check import check_args, check_value, key_where, where_of
from .errors import ErrorSink, Where, did_you_mean, type_name, use_sites
from .expr import UnknownValue
from .registry import LAYERS, UNIVERSAL_ARGS, Inferred
from .shapes import infer_nodes
from .structure import StructuralItems
from .yaml_loader import SpecMap

STRUCTURAL = ("repeat", "parallel", "residual")
ID_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
MAX_NODES = 20_000
MAX_BLOCK_DEPTH = 32
# Items visited while unrolling, layers or not: bounds repeats of empty lists and of
# items that fail, which add no node. ResNet-152 takes about 1,100.
MAX_WORK = 50_000
INPUT = "input"


@dataclass(frozen=True)
class Node:
    """One Keras layer to be: registry type, typed arguments, inputs by node name."""

    name: str
    type: str
    args: dict
    inputs: tuple
    path: str
    where: Where
    output: bool = False


@dataclass(frozen=True)
class BlockDef:
    """A parameterised block defined in YAML: typed arguments and a list of layers."""

    name: str
    args: tuple
    layers: list
    where: Where


@dataclass
class Group:
    """A part of the outline: a block use, a parallel or residual item, a branch, the head.

    `children` are node names and nested groups, in the order they were expanded;
    `label` and `args` are what a collapsed box shows."""

    kind: str
    label: str
    args: dict = field(default_factory=dict)
    children: list = field(default_factory=list)


@dataclass
class Graph:
    nodes: list = field(default_factory=list)
    ids: dict = field(default_factory=dict)
    body_output: str = INPUT
    outputs: list = field(default_factory=list)
    outline: Group = field(default_factory=lambda: Group("model", "model"))


class _TooBig(Exception):
    pass


class Expander(StructuralItems):
    """Walks layer items with an argument environment, appending nodes to a graph."""

    def __init__(self, blocks: dict, defaults: dict, spec_args: dict, sink: ErrorSink,
                 input_shape=None):
        self.blocks, self.defaults, self.spec_args, self.sink = blocks, defaults, spec_args, sink
        self.graph = Graph()
        self.names: set = {INPUT}
        self.stack: list = []  # blocks being expanded, outermost first
        self.uses: list = []  # (block, line of its use) for messages, outermost first
        self.groups: list = [self.graph.outline]  # the outline part being filled
        self.shapes: dict = {INPUT: Inferred(tuple(input_shape))} if input_shape else {}
        self.work = 0
        self.broken = False

    # -- lists and items -------------------------------------------------------------
    def items(self, items, env: dict, cur: str, path: str, prefix: str, where: Where) -> str:
        if not isinstance(items, list):
            self.error(where.at(path), f"expected a list of layers, received {type_name(items)}")
            return cur
        for i, item in enumerate(items):
            iw = where_of(items, i, where)
            cur = self.item(item, iw, env, cur, f"{path}[{i}]", prefix, i)
        return cur

    def item(self, item, where: Where, env, cur, path, prefix, index) -> str:
        self.count_work(where, path)
        kind, value, extra = self.split(item, where, path)
        if kind is None:
            return cur
        # `relu6` then index 2 reads `relu6_2`, not `relu62`.
        local = f"{kind}_{index}" if kind[-1:].isdigit() else f"{kind}{index}"
        name = f"{prefix}.{local}" if prefix else local
        path = f"{path}.{kind}"
        if not self.wanted(extra if kind in STRUCTURAL else value, where, path, env):
            return cur
        if kind in STRUCTURAL:
            out = getattr(self, kind)(item, value, where, env, cur, path, name)
            self.name_output(extra.get("id"), out, item, where, path, env)
            return out
        if kind in self.blocks and self.blocks[kind] is None:
            self.broken = True  # its definition is wrong, and was reported
            self.sink.skip()
            return cur
        if kind in self.blocks:
            return self.block(kind, value, where, env, cur, path, name)
        if kind in LAYERS:
            return self.layer(LAYERS[kind], value, where, env, cur, path, name)
        self.error(key_where(item, kind, where).at(path), f"unknown layer type '{kind}'",
                   did_you_mean(kind, list(LAYERS) + list(self.blocks) + list(STRUCTURAL)))
        return cur

    def split(self, item, where, path):
        """`relu` | `{conv: {...}}` | `{repeat: 3, layers: [...]}` -> (kind, value, extras)."""
        if isinstance(item, str):
            return item, None, {}
        if isinstance(item, dict) and item:
            main = [k for k in item if k in STRUCTURAL]
            if main:
                return main[0], item[main[0]], item
            if len(item) == 1:
                kind = next(iter(item))
                return kind, item[kind], {}
            self.error(where.at(path), "a layer item has exactly one key, its type; found "
                       + ", ".join(map(str, item)), "put id: and from: inside the arguments")
            return None, None, {}
        self.error(where.at(path), f"expected a layer (a name or a one-key mapping), received "
                   f"{type_name(item)}")
        return None, None, {}

    def wanted(self, mapping, where, path, env) -> bool:
        """False when the item's `when:` is false (or broken, after reporting it)."""
        if not isinstance(mapping, dict) or "when" not in mapping:
            return True
        got = check_value(mapping["when"], WHEN, where_of(mapping, "when", where).at(
            f"{path}.when"), self.sink, env)
        if not isinstance(got, bool):
            self.broken = True
            return False
        return got

    # -- plain layers ------------------------------------------------------------------
    def layer(self, lt, value, where, env, cur, path, name) -> str:
        args, universal = self.args_of(value, lt.primary, lt.name, where, path, env)
        n_errors = self.sink.count
        typed = check_args(args, lt.args, where, path, self.sink, env,
                           self.defaults.get(lt.name), what=lt.name)
        inputs = self.inputs_of(universal.get("from"), cur, lt.merge, where, path)
        if self.sink.count > n_errors or inputs is None:
            self.broken = True
            return cur
        node_name = universal.get("id") or name
        if universal.get("id") and not self.valid_id(universal["id"], value, where, path):
            return cur
        self.add(Node(node_name, lt.name, typed, inputs, path, where))
        if universal.get("id"):
            self.graph.ids[universal["id"]] = node_name
        return node_name

    def args_of(self, value, primary, what, where, path, env):
        """Splits the written arguments into the type's own and the universal id/from."""
        if value is None:
            return {}, {}
        if not isinstance(value, dict):
            if primary is None:
                self.error(where.at(path), f"{what} takes no positional value, received "
                           f"{type_name(value)}", "write its arguments as a mapping")
                return {}, {}
            return {primary: value}, {}
        universal = {}
        for arg in UNIVERSAL_ARGS:
            if arg.name in value:
                got = check_value(value[arg.name], arg,
                                  where_of(value, arg.name, where).at(f"{path}.{arg.name}"),
                                  self.sink, env)
                if isinstance(got, (str, tuple)):
                    universal[arg.name] = got
        own = {k: v for k, v in value.items() if k not in ("id", "from", "when")}
        if hasattr(value, "value_where"):
            own = SpecMap.like(own, value)
        return own, universal

    def inputs_of(self, from_, cur, merge, where, path):
        if from_ is None:
            if merge:
                self.error(where.at(path), "a merge layer needs `from:` with the ids it merges",
                           "or use parallel: / residual:")
                return None
            return (cur,)
        resolved = []
        for ref in from_:
            if ref == INPUT:
                resolved.append(INPUT)
            elif ref in self.graph.ids:
                resolved.append(self.graph.ids[ref])
            else:
                self.error(where.at(path + ".from"), f"unknown id '{ref}' (ids must be defined "
                           "earlier in the spec)", did_you_mean(ref, list(self.graph.ids) + [INPUT]))
                return None
        if not merge and len(resolved) != 1:
            self.error(where.at(path + ".from"), "this layer takes one input; `from:` names "
                       f"{len(resolved)}")
            return None
        return tuple(resolved)

    def add(self, node: Node) -> None:
        if node.name in self.names:
            self.error(node.where.at(node.path), f"layer name '{node.name}' is used twice",
                       "ids must be unique in the whole model")
            self.broken = True
            return
        if len(self.graph.nodes) >= MAX_NODES:
            self.error(node.where.at(node.path), f"the model expands to more than {MAX_NODES:,} "
                       "layers", "check repeat counts")
            raise _TooBig()
        self.names.add(node.name)
        self.graph.nodes.append(node)
        self.groups[-1].children.append(node.name)
        # Shapes follow the nodes while nothing is wrong, so that `$in` can be read; after
        # an error they stop, and later shape errors would only echo the first one.
        if not self.broken and self.shapes and not infer_nodes([node], self.shapes, self.sink):
            self.broken = True

    def in_fields(self, node_name: str) -> dict:
        """`$in`: the shape of a block's (or the model's) input, as read-only fields."""
        inferred = self.shapes.get(node_name)
        if inferred is None:
            if self.broken:
                return {k: UnknownValue("the shapes stop at an earlier error", quiet=True)
                        for k in ("channels", "height", "width")}
            why = "the model's input shape is not known (input.shape)"
            return {k: UnknownValue(why) for k in ("channels", "height", "width")}
        shape = inferred.shape
        dims = {"channels": shape[-1]}
        if len(shape) == 3:
            dims.update(height=shape[0], width=shape[1])
        out = {}
        for key in ("channels", "height", "width"):
            if key not in dims:
                out[key] = UnknownValue(f"the input is a vector of shape {list(shape)}, it has "
                                        f"no {key}")
            elif dims[key] is None:
                out[key] = UnknownValue(f"the input's {key} is not fixed (its shape is "
                                        f"{list(shape)})")
            else:
                out[key] = dims[key]
        return out

    def name_output(self, id_, out, item, where, path, env):
        if id_ is None:
            return
        got = check_value(id_, Arg("id", STR), where_of(item, "id", where).at(path + ".id"),
                          self.sink, env)
        if isinstance(got, str):
            if got in self.graph.ids:
                self.error(where_of(item, "id", where).at(path + ".id"), f"id '{got}' is defined "
                           "twice")
            self.graph.ids[got] = out

    def merge_node(self, kind, inputs, name, path, where) -> str:
        if len(set(inputs)) == 1 and len(inputs) == 1:
            return inputs[0]
        node = Node(f"{name}.{kind}", kind, {}, inputs, f"{path}.{kind}", where)
        self.add(node)
        return node.name

    def block(self, kind, value, where, env, cur, path, name) -> str:
        """One use of a block; a list gives its arguments by position (`fire: [16, 64]`),
        a list of lists is one use per row, in order (`fire: [[16, 64], [32, 128]]`)."""
        if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
            for r, row in enumerate(value):
                self.count_work(where, path)
                cur = self.block(kind, row, where_of(value, r, where), env, cur,
                                 f"{path}[{r}]", f"{name}_{r}")
            return cur
        bdef = self.blocks[kind]
        if isinstance(value, list):
            value = self.positional(bdef, value, where, path)
            if value is None:
                return cur
        primary = bdef.args[0].name if bdef.args else None
        args, universal = self.args_of(value, primary, kind, where, path, env)
        n_errors = self.sink.count
        typed = check_args(args, bdef.args, where, path, self.sink, env, what=f"block {kind}")
        inputs = self.inputs_of(universal.get("from"), cur, False, where, path)
        if self.sink.count > n_errors or inputs is None:
            self.broken = True
            return cur
        if kind in self.stack:
            chain = " -> ".join(self.stack[self.stack.index(kind):] + [kind])
            self.error(where.at(path), f"block '{kind}' uses itself ({chain})",
                       "a block cannot contain itself")
            return cur
        if len(self.stack) >= MAX_BLOCK_DEPTH:
            self.error(where.at(path), f"blocks nest deeper than {MAX_BLOCK_DEPTH}")
            return cur
        self.stack.append(kind)
        self.uses.append((kind, where.line))
        self.sink.context = use_sites(self.uses)
        try:
            with self.group("block", kind, typed):
                out = self.items(bdef.layers, {**self.spec_args, **typed,
                                               "in": self.in_fields(inputs[0])}, inputs[0],
                                 f"{path}/blocks.{kind}.layers", name, bdef.where)
        finally:
            self.stack.pop()
            self.uses.pop()
            self.sink.context = use_sites(self.uses)
        if universal.get("id"):
            self.graph.ids[universal["id"]] = out
        return out

    def positional(self, bdef, values, where, path):
        """`[16, 64]` -> `{s: 16, e: 64}` in the block's declared order, with positions."""
        if len(values) > len(bdef.args):
            self.error(where.at(path), f"block {bdef.name} takes {len(bdef.args)} arguments "
                       f"({', '.join(a.name for a in bdef.args) or 'none'}), received "
                       f"{len(values)}", "a list of lists is one use per row")
            return None
        out = SpecMap.marked({}, where)
        for i, (arg, v) in enumerate(zip(bdef.args, values)):
            out[arg.name] = v
            out.value_where[arg.name] = where_of(values, i, where)
        return out

    # -- helpers -----------------------------------------------------------------------
    @contextmanager
    def group(self, kind: str, label: str, args: dict | None = None):
        part = Group(kind, label, dict(args or {}))
        self.groups[-1].children.append(part)
        self.groups.append(part)
        try:
            yield part
        finally:
            self.groups.pop()

    def valid_id(self, id_: str, value, where, path) -> bool:
        """An id becomes a Keras layer name: letters, digits, `_`, `.` and `-` only."""
        if ID_PATTERN.match(id_):
            return True
        self.error(where_of(value, "id", where).at(path + ".id"), f"id {id_!r} cannot name a "
                   "layer", "use letters, digits, _, . and - (starting with a letter, digit or _)")
        return False

    def count_work(self, where, path):
        self.work += 1
        if self.work > MAX_WORK:
            self.error(where.at(path), f"the spec unrolls to more than {MAX_WORK:,} items",
                       "check repeat counts")
            raise _TooBig()

    def allow_keys(self, mapping, allowed, where, path):
        for key in mapping:
            if key not in allowed:
                self.error(key_where(mapping, key, where).at(f"{path}.{key}"),
                           f"unknown key '{key}'", did_you_mean(key, allowed))

    def error(self, where, message, hint=""):
        self.sink.add(where, message, hint)
        self.broken = True


WHEN = Arg("when", BOOL, None, "the item is left out when this is false")


def expand(layers, blocks, defaults, spec_args, sink, where,
           input_shape=None) -> tuple[Graph, dict, bool]:
    """Unrolls the body; returns the graph, the shapes inferred (node name -> Inferred,
    complete when nothing is wrong) and whether the graph is complete (no errors)."""
    ex = Expander(blocks, defaults, spec_args, sink, input_shape)
    try:
        env = {**spec_args, "in": ex.in_fields(INPUT)}
        ex.graph.body_output = ex.items(layers, env, INPUT, "layers", "", where)
    except _TooBig:
        return ex.graph, ex.shapes, False
    finally:
        sink.context = ""
    return ex.graph, ex.shapes, not ex.broken


