"""Loading a spec: YAML -> extends -> --set overrides -> validation -> graph -> shapes.

The result is a frozen `Spec`: typed sections, the expanded graph with shapes,
and the resolved data (what `spec.yaml` in a run directory holds) with its hash.
Everything here is pure Python; Keras is imported only by `keras_build`.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import yaml

from .argtypes import ArgTypeError, type_of_default
from .blocks import RESERVED_ARGS, read_blocks
from .check import check_args, key_where, where_of
from .errors import ErrorSink, SpecError, SpecErrors, Where, did_you_mean, type_name
from .graph import Graph, Group, Node, expand
from .heads import HEADS
from .pretrained import check_init, check_layer_refs, preset_input
from .registry import LAYERS, ShapeMismatch, all_layers
from .shapes import infer_nodes
from .train_section import INPUT_ARGS, check_train
from .yaml_loader import SpecList, SpecMap, UnreadableSpec, load_yaml_file, load_yaml_text

TOP_KEYS = ("kspec", "name", "paper", "extends", "args", "input", "defaults", "blocks", "layers",
            "head", "init", "train")
LANGUAGE_VERSION = 1
MAX_EXTENDS = 8
SPEC_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Spec:
    """A validated spec: typed sections, the expanded graph and its shapes."""

    name: str
    paper: str | None
    file: str
    args: dict
    input: dict
    head: dict
    train: dict
    graph: Graph
    shapes: dict
    resolved: dict
    sha256: str
    init: dict | None = None  # where the weights start from (`builder.pretrained.check_init`)

    @property
    def task(self) -> str:
        return self.head["task"]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.resolved, sort_keys=False)


def load_spec(source, overrides=(), plugins=()) -> Spec:
    """Loads and validates a spec file (or a mapping from `load_yaml_text`).

    Args:
        source: a path, or already-parsed data.
        overrides: `key.path=value` strings (the CLI's `--set`), or (option, string) pairs.
        plugins: module names that register custom layers (imported explicitly).

    Raises:
        SpecErrors: every problem found, each with file, line, column and spec path.
    """
    from .plugins import load_plugins
    load_plugins(plugins)
    all_layers()
    raw = _with_extends(source, set()) if isinstance(source, (str, os.PathLike)) else source
    raw = apply_overrides(raw, overrides)
    return _validate(raw)


def load_spec_text(text: str, file: str = "<spec>", overrides=()) -> Spec:
    return load_spec(load_yaml_text(text, file), overrides)


def _with_extends(path, seen: set, depth: int = 0):
    path = os.fspath(path)
    raw = load_yaml_file(path)
    if not isinstance(raw, dict):
        raise SpecErrors([SpecError(Where(path, 1, 1), "a spec must be a mapping at the top, "
                                    f"received {type_name(raw)}")])
    base_name = raw.get("extends")
    if base_name is None:
        return raw
    w = where_of(raw, "extends", Where(path, 1, 1)).at("extends")
    if not isinstance(base_name, str):
        raise SpecErrors([SpecError(w, f"extends must be a file name, received "
                                    f"{type_name(base_name)}")])
    base_path = os.path.normpath(os.path.join(os.path.dirname(path), base_name))
    if not base_path.lower().endswith(SPEC_SUFFIXES):
        raise SpecErrors([SpecError(w, f"extends names {base_name!r}, which is not a spec file",
                                    "extends reads .yaml or .yml files only")])
    if base_path in seen or depth >= MAX_EXTENDS:
        raise SpecErrors([SpecError(w, f"extends forms a cycle or is deeper than {MAX_EXTENDS}")])
    if not os.path.exists(base_path):
        raise SpecErrors([SpecError(w, f"extends names {base_name!r}, which does not exist "
                                    f"(looked for {base_path})")])
    try:
        base = _with_extends(base_path, seen | {os.path.normpath(path)}, depth + 1)
    except UnreadableSpec as exc:
        # The base cannot be read at all (a FIFO, a folder, too large): said where it is named.
        raise SpecErrors([SpecError(w, f"extends names {base_name!r}: "
                                    f"{exc.errors[0].message}")]) from None
    if not any(key in base for key in ("kspec", "name", "layers", "input", "blocks")):
        # Its keys are not echoed: a file that is not a spec may hold anything.
        raise SpecErrors([SpecError(w, f"extends names {base_name!r}, which is not a kspec "
                                    "spec (it has none of kspec:, name:, input:, layers:)")])
    merged = merge(base, raw)
    merged.pop("extends", None)
    return merged


def merge(base, child):
    """Child keys replace base keys; mappings merge key by key, lists are replaced whole.

    A one-key mapping whose key differs from the base's one key is another choice, not
    an addition: `optimizer: {adam: ...}` replaces `optimizer: {sgd: ...}` whole."""
    if not (isinstance(base, dict) and isinstance(child, dict)):
        return child
    if len(base) == 1 and len(child) == 1 and set(base) != set(child):
        return child
    out = SpecMap.marked(base, getattr(child, "where", getattr(base, "where", Where())),
                         {**getattr(base, "key_where", {}), **getattr(child, "key_where", {})},
                         {**getattr(base, "value_where", {}),
                          **getattr(child, "value_where", {})})
    for key, value in child.items():
        out[key] = merge(base[key], value) if key in base else value
    return out


def apply_overrides(raw, overrides):
    """Applies `a.b.c=value` strings; values are typed like YAML (`1e-4` is a float).

    An item may be an `(option, "key=value")` pair: the override an option such as
    `--init` stands for, whose errors then name that option instead of `--set`."""
    sink = ErrorSink()
    for item in overrides:
        origin, text = item if isinstance(item, tuple) else ("--set", item)
        w = Where("--set", 1, 1, str(text)) if origin == "--set" else \
            Where(origin, path=str(text).split("=", 1)[0])
        if "=" not in text:
            sink.add(w, "expected key=value", "for example: --set train.epochs=5")
            continue
        key, value_text = text.split("=", 1)
        try:
            value = load_yaml_text(value_text, "--set") if value_text.strip() else None
        except SpecErrors as exc:
            sink.add(w, f"cannot read the value: {exc.errors[0].message}")
            continue
        parts = key.strip().split(".")
        if parts[0] == "args" and len(parts) == 2 and not _declared(raw, parts[1], w, sink):
            continue
        node = raw
        for i, part in enumerate(parts[:-1]):
            if not isinstance(node.get(part, {}), dict):
                sink.add(w, f"'{'.'.join(parts[:i + 1])}' is not a mapping; cannot set {key}")
                break
            if part not in node:
                node[part] = SpecMap.marked({}, w)
            node = node[part]
        else:
            node[parts[-1]] = value
            if hasattr(node, "value_where"):
                node.value_where[parts[-1]] = w.at(key)
                node.key_where[parts[-1]] = w.at(key)
    sink.raise_if_any()
    return raw


def _declared(raw, name: str, where: Where, sink: ErrorSink) -> bool:
    """`--set args.NAME` may only change an argument the spec declares under `args:`."""
    declared = raw.get("args") if isinstance(raw.get("args"), dict) else {}
    if name in declared:
        return True
    sink.add(where, f"the spec declares no argument '{name}'",
             did_you_mean(name, declared) if declared else "it has no `args:` section")
    return False


def _validate(raw) -> Spec:
    top = getattr(raw, "where", Where())
    file = top.file
    sink = ErrorSink()
    if not isinstance(raw, dict):
        sink.add(top, f"a spec must be a mapping at the top, received {type_name(raw)}")
        sink.raise_if_any()
    for key in raw:
        if key not in TOP_KEYS:
            sink.add(key_where(raw, key, top).at(key), f"unknown top-level key '{key}'",
                     did_you_mean(key, TOP_KEYS))
    version = raw.get("kspec", LANGUAGE_VERSION)
    if version != LANGUAGE_VERSION or isinstance(version, bool):
        sink.add(where_of(raw, "kspec", top).at("kspec"), f"unsupported language version "
                 f"{version!r}", f"this kspec reads version {LANGUAGE_VERSION}")
    name = _name(raw, top, sink)
    paper = raw.get("paper")
    if paper is not None and not isinstance(paper, str):
        sink.add(where_of(raw, "paper", top).at("paper"), "paper must be a string")
    spec_args = _spec_args(raw.get("args"), where_of(raw, "args", top), sink)
    inp = _input(raw, top, sink)
    defaults = _defaults(raw.get("defaults"), where_of(raw, "defaults", top), spec_args, sink)
    blocks = read_blocks(raw.get("blocks"), where_of(raw, "blocks", top), sink)
    head = _head(raw, top, spec_args, sink)
    train = check_train(raw.get("train"), where_of(raw, "train", top), sink)
    init = check_init(raw.get("init"), where_of(raw, "init", top), sink)
    if "layers" not in raw:
        sink.add(top.at("layers"), "missing `layers:`", "a spec lists its layers")
        sink.raise_if_any()
    graph, shapes, complete = expand(raw["layers"], blocks, defaults, spec_args, sink,
                                     where_of(raw, "layers", top), (inp or {}).get("shape"))
    if not complete:
        shapes = {}
    elif shapes:
        if head and not classes_pending(head):
            _add_head(graph, shapes, head, inp["shape"], where_of(raw, "head", top), sink)
        check_layer_refs(raw, graph, shapes, init, train, top, sink)
    sink.raise_if_any()
    if not graph.outputs:
        graph.outputs = [graph.body_output]
    resolved = to_plain(raw)
    digest = hashlib.sha256(yaml.safe_dump(resolved, sort_keys=True).encode()).hexdigest()
    return Spec(name, paper, file, spec_args, inp, head, train, graph, shapes, resolved, digest,
                init)


MAX_NAME_CHARS = 200


def _name(raw, top, sink) -> str:
    """`name:` names the model in every line kspec prints and in default file names: one
    printable line (no newline or control character), of a length a file name can take."""
    name = _required_str(raw, "name", top, sink)
    if name and (not name.isprintable() or len(name) > MAX_NAME_CHARS):
        sink.add(where_of(raw, "name", top).at("name"), f"`name:` must be one printable line "
                 f"of at most {MAX_NAME_CHARS} characters, received {type_name(name)}",
                 "for example: name: resnet50")
        return ""
    return name


def _required_str(raw, key, top, sink):
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        sink.add(where_of(raw, key, top).at(key), f"`{key}:` must be a non-empty string, "
                 f"received {type_name(value)}")
        return ""
    return value


def _spec_args(raw, where, sink) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        sink.add(where.at("args"), f"args must be a mapping, received {type_name(raw)}")
        return {}
    out = {}
    for key, value in raw.items():
        if type_of_default(value) is None:
            sink.add(where_of(raw, key, where).at(f"args.{key}"), "a spec argument must be a "
                     f"number, bool or string, received {type_name(value)}")
        elif not key.isidentifier() or key in RESERVED_ARGS:
            sink.add(key_where(raw, key, where).at(f"args.{key}"), f"'{key}' is not a valid "
                     "argument name", "use letters, digits and _; $in and $index are kspec's")
        else:
            try:  # a number within bounds (no NaN, no 40-digit integer) where it is written
                out[key] = value if isinstance(value, str) else type_of_default(value).check(value)
            except ArgTypeError as exc:
                sink.add(where_of(raw, key, where).at(f"args.{key}"), str(exc))
    return out


def _input(raw, top, sink) -> dict:
    w = where_of(raw, "input", top)
    if "input" not in raw:
        sink.add(top.at("input"), "missing `input:`", "for example: input: {shape: [32, 32, 3]}")
        return {}
    inp = check_args(raw["input"], INPUT_ARGS, w, "input", sink, what="input")
    written = raw["input"] if isinstance(raw["input"], dict) else {}
    inp = preset_input(inp, written, w, sink)
    shape = inp.get("shape")
    if shape is not None and len(shape) not in (1, 3):
        sink.add(w.at("input.shape"), f"input shape must be [features] or [height, width, "
                 f"channels], received {list(shape)}")
        inp.pop("shape")
    return inp


def _defaults(raw, where, env, sink) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        sink.add(where.at("defaults"), f"defaults must be a mapping, received {type_name(raw)}")
        return {}
    out = {}
    for kind, values in raw.items():
        path = f"defaults.{kind}"
        if kind not in LAYERS:
            sink.add(key_where(raw, kind, where).at(path), f"unknown layer type '{kind}'",
                     did_you_mean(kind, LAYERS))
            continue
        out[kind] = check_args(values, LAYERS[kind].args, where_of(raw, kind, where), path, sink,
                               env, what=kind, partial=True)
    return out


def _head(raw, top, env, sink) -> dict:
    value = raw.get("head", {"task": "none"})
    w = where_of(raw, "head", top)
    if not isinstance(value, dict) or "task" not in value:
        sink.add(w.at("head"), "head must be a mapping with `task:`",
                 "for example: head: {task: classification, classes: 10}")
        return {}
    task = value["task"]
    if task not in HEADS:
        sink.add(where_of(value, "task", w).at("head.task"), f"unknown task {task!r}",
                 did_you_mean(task, HEADS))
        return {}
    rest = {k: v for k, v in value.items() if k != "task"}
    if hasattr(value, "value_where"):
        rest = merge(value, {})
        rest.pop("task")
    n_errors = sink.count
    args = check_args(rest, HEADS[task].args, w, "head", sink, env, what=f"the {task} head")
    if sink.count > n_errors:
        return {}  # the head cannot be built from arguments that are wrong or missing
    for arg, message in HEADS[task].check(args):
        sink.add(where_of(value, arg, w).at(f"head.{arg}"), message)
    return {"task": task, **args}


def classes_pending(head: dict) -> bool:
    """True when the head's `classes` was left out: it comes from the dataset at training."""
    return "classes" in head and head["classes"] is None


def _add_head(graph: Graph, shapes: dict, head: dict, input_shape, where, sink) -> None:
    body = graph.body_output
    try:
        layers = HEADS[head["task"]].layers(head, shapes[body].shape, tuple(input_shape))
    except ShapeMismatch as exc:
        sink.add(where.at("head"), f"the {head['task']} head does not fit the body: {exc}")
        return
    taken = {n.name: n for n in graph.nodes}
    for hl in layers:
        if hl.name in taken:
            node = taken[hl.name]
            sink.add(node.where.at(node.path), f"layer name '{hl.name}' is taken by the "
                     f"{head['task']} head's output", "choose another id")
            return
    cur, features = body, body
    nodes = []
    for hl in layers:
        src = features if hl.source == "features" else cur
        node = Node(hl.name, hl.type, hl.args, (src,), f"head.{hl.name}", where, hl.output)
        nodes.append(node)
        cur = hl.name
        if not hl.output:
            features = cur
    if infer_nodes(nodes, shapes, sink):
        graph.nodes.extend(nodes)
        graph.outline.children.append(Group("head", f"{head['task']} head",
                                            children=[n.name for n in nodes]))
        graph.outputs = [n.name for n in nodes if n.output] or [body]


def to_plain(value):
    """SpecMap/SpecList -> plain dicts and lists (for spec.yaml and hashing)."""
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, SpecList)):
        return [to_plain(v) for v in value]
    return value
