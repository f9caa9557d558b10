"""The `blocks:` section: parameterised blocks, written with `args:` or as a signature.

    bottleneck:                       fire(s, e, stride=1):
      args: {filters: int, stride: 1}   - conv: {filters: $s, kernel: 1}
      layers: [...]                     - ...

A block whose definition is wrong is reported once here; its uses then say nothing
more (`graph.Expander` skips them quietly).
"""
from __future__ import annotations

import re

from .argtypes import DECLARED_TYPES, Arg, ArgTypeError, type_of_default
from .check import key_where, where_of
from .errors import SpecErrors, did_you_mean, type_name
from .graph import STRUCTURAL, BlockDef
from .registry import LAYERS
from .yaml_loader import SpecMap, load_yaml_text

RESERVED_ARGS = ("in", "index")  # the block input's shape; the iteration of `repeat`


def read_blocks(raw, where, sink) -> dict:
    """Block name -> BlockDef (None for one whose definition was reported wrong)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        sink.add(where.at("blocks"), f"blocks must be a mapping, received {type_name(raw)}")
        return {}
    out = {}
    for key, body in raw.items():
        n_errors = sink.count
        name, signature = _signature(key, key_where(raw, key, where), sink)
        if name is None:
            base = str(key).split("(")[0].strip()
            if base.isidentifier() and base not in LAYERS and base not in STRUCTURAL:
                out[base] = None  # reported: its uses say nothing more
            continue
        path, bw = f"blocks.{name}", where_of(raw, key, where)
        if name in LAYERS or name in STRUCTURAL or not name.isidentifier():
            sink.add(key_where(raw, key, where).at(path), f"block name '{name}' is taken by a "
                     "layer type or is not a valid name", "choose another name")
            continue
        out[name] = None  # until it is read whole: a broken block's uses say nothing more
        if signature is not None and isinstance(body, list):
            # `fire(s, e, stride=1): [layers]`: the arguments in the name, the list as body.
            body = SpecMap.marked({"layers": body}, bw, value_where={"layers": bw})
        if not isinstance(body, dict) or "layers" not in body:
            sink.add(bw.at(path), "a block needs `layers:` (and optionally `args:`)",
                     "or write it as name(args): [layers]")
            continue
        if signature is not None and "args" in body:
            sink.add(key_where(body, "args", bw).at(f"{path}.args"), "the arguments are "
                     "already in the block's name", f"write {name}(...) or args:, not both")
            continue
        for part in body:
            if part not in ("args", "layers", "doc"):
                sink.add(key_where(body, part, bw).at(f"{path}.{part}"), f"unknown key "
                         f"'{part}'", did_you_mean(part, ("args", "layers", "doc")))
        args = signature if signature is not None else body.get("args")
        bdef = BlockDef(name, _block_args(args, where_of(body, "args", bw), path, sink),
                        body["layers"], bw)
        out[name] = bdef if sink.count == n_errors else None
    return out


_SIGNATURE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*$")
_PARAM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?::\s*(\S+?)|=\s*(.+?))?\s*$")


def _signature(key, where, sink):
    """`fire(s, e:int, stride=1)` -> ("fire", {s: "scalar", e: "int", stride: 1}): an
    argument with neither type nor default takes any number, bool or string. A plain
    name -> (name, None); a broken signature is reported -> (None, None)."""
    if "(" not in str(key):
        return key, None
    m = _SIGNATURE.match(str(key))
    if not m:
        sink.add(where.at(f"blocks.{key}"), f"cannot read the block signature {key!r}",
                 "write name(arg, arg=default), e.g. fire(s, e, stride=1)")
        return None, None
    name, params = m.group(1), m.group(2).strip()
    args = SpecMap.marked({}, where)
    for part in params.split(",") if params else []:
        p = _PARAM.match(part)
        if not p:
            sink.add(where.at(f"blocks.{name}"), f"cannot read the argument {part.strip()!r} "
                     f"in {key!r}", "each is a name, name=default or name:type (int, float, "
                     "bool, str)")
            return None, None
        arg, kind, default = p.groups()
        if arg in args:
            sink.add(where.at(f"blocks.{name}"), f"argument '{arg}' appears twice in {key!r}")
            return None, None
        if kind is not None and kind not in DECLARED_TYPES:
            sink.add(where.at(f"blocks.{name}.{arg}"), f"a block argument is declared by a type "
                     f"({', '.join(DECLARED_TYPES)}), received {kind!r} in {key!r}")
            return None, None
        if default is None:
            args[arg] = kind or "scalar"
        else:
            try:
                args[arg] = load_yaml_text(default, where.file)
            except SpecErrors:
                args[arg] = None  # reported below as a default that is not a scalar
        args.value_where[arg] = where.at(f"blocks.{name}.{arg}")
    return name, args


def _block_args(raw, where, path, sink) -> tuple:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        sink.add(where.at(f"{path}.args"), "block args must be a mapping of name: type or default")
        return ()
    out = []
    for key, value in raw.items():
        if key in RESERVED_ARGS:
            sink.add(where_of(raw, key, where).at(f"{path}.args.{key}"), f"'{key}' is not a "
                     "valid argument name", "$in and $index are kspec's")
        elif isinstance(value, str) and value in DECLARED_TYPES:
            out.append(Arg(key, DECLARED_TYPES[value]))
        elif type_of_default(value) is not None:
            try:  # a default number is used as written: it holds to its kind's bounds
                if not isinstance(value, str):
                    type_of_default(value).check(value)
            except ArgTypeError as exc:
                sink.add(where_of(raw, key, where).at(f"{path}.args.{key}"), str(exc))
                continue
            out.append(Arg(key, type_of_default(value), value))
        else:
            sink.add(where_of(raw, key, where).at(f"{path}.args.{key}"), "a block argument is "
                     "declared by a type (int, float, bool, str, scalar) or a default value, "
                     "received "
                     f"{type_name(value)}")
    return tuple(out)
