"""Strict YAML loading that keeps line and column for every value.

PyYAML's SafeLoader keeps the last of duplicate keys, reads `1e-4` as a string,
`no` as False, `010` as 8 and `1:30` as 90, and expands aliases lazily. This
loader composes the node tree itself (marks kept), resolves scalars by the
YAML 1.2 core schema, and rejects duplicate keys, aliases, anchors, and any tag
that is not a plain YAML type. SafeLoader itself is never mutated.
"""
from __future__ import annotations

import re

import yaml

from .errors import ErrorSink, SpecErrors, Where
from .untrusted import UntrustedFileError, read_bytes

MAX_BYTES = 1_000_000
MAX_DEPTH = 64
MAX_NUMBER_CHARS = 40  # Python refuses to read integers of over 4,300 digits at all

_STD_TAGS = {
    "tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null", "map", "seq")
}
_INT = re.compile(r"^[-+]?[0-9][0-9_]*$|^0x[0-9a-fA-F]+$|^0o[0-7]+$")
_FLOAT = re.compile(
    r"^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9]*)?)([eE][-+]?[0-9]+)?$|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULL = {"", "~", "null", "Null", "NULL"}


class SpecMap(dict):
    """A mapping that remembers where it, each key and each value stand."""

    where: Where
    key_where: dict
    value_where: dict

    @classmethod
    def marked(cls, values, where: Where, key_where=None, value_where=None) -> "SpecMap":
        """`values` as a SpecMap standing at `where`, with copies of the key and value
        marks given (none: a mapping made by kspec, such as one `--set` creates)."""
        out = cls(values)
        out.where, out.key_where, out.value_where = where, dict(key_where or {}), \
            dict(value_where or {})
        return out

    @classmethod
    def like(cls, values, original) -> "SpecMap":
        """`values` with the marks of `original` (a SpecMap or a plain dict)."""
        return cls.marked(values, getattr(original, "where", Where()),
                          getattr(original, "key_where", None),
                          getattr(original, "value_where", None))


class SpecList(list):
    """A list that remembers where it and each item stand."""

    where: Where
    item_where: list


# The tag of an untagged plain scalar, typed by the YAML 1.2 core schema below. It is
# told apart from an explicit `!!str 5`, which stays the string "5".
_PLAIN = "kspec:plain"


class _StrictLoader(yaml.SafeLoader):
    """Only composes nodes; tags and scalars are resolved by `_to_python`."""

    def resolve(self, kind, value, implicit):
        # No implicit typing by PyYAML's YAML 1.1 resolvers (overridden on the subclass
        # only, never on SafeLoader itself).
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        return super().resolve(kind, value, implicit)


# A `"\ud800"` escape gives half a UTF-16 pair: no text, it cannot be printed or saved.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _scalar(node: yaml.ScalarNode, where: Where, sink: ErrorSink):
    text = node.value
    tag = node.tag
    lone = _SURROGATE.search(text)
    if lone:
        sink.add(where, f"the string holds a lone surrogate ({lone.group()!r} at character "
                 f"{lone.start() + 1}), which is not text", "remove the \\u escape")
        return None
    if len(text) > MAX_NUMBER_CHARS and (_INT.match(text) or _FLOAT.match(text)):
        sink.add(where, f"a number of {len(text):,} characters is too long",
                 f"numbers in a spec have at most {MAX_NUMBER_CHARS} characters")
        return None
    if tag == _PLAIN:
        return _plain_scalar(text)
    if tag in ("tag:yaml.org,2002:str", "!"):
        return text
    if tag == "tag:yaml.org,2002:int" and _INT.match(text):
        return _to_int(text)
    if tag == "tag:yaml.org,2002:float" and (_FLOAT.match(text) or _INT.match(text)):
        return _to_float(text)
    if tag == "tag:yaml.org,2002:bool" and text in _BOOL:
        return _BOOL[text]
    if tag == "tag:yaml.org,2002:null" and text in _NULL:
        return None
    sink.add(where, f"value {text!r} does not fit its tag {tag}")
    return None


def _plain_scalar(text: str):
    if text in _NULL:
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.match(text):
        return _to_int(text)
    if _FLOAT.match(text):
        return _to_float(text)
    return text


def _to_int(text: str) -> int:
    text = text.replace("_", "")
    return int(text, 0) if text[:2] in ("0x", "0o") else int(text, 10)


def _to_float(text: str) -> float:
    low = text.lower().lstrip("+")
    if low in (".inf", "-.inf"):
        return float(low.replace(".", ""))
    if low == ".nan":
        return float("nan")
    return float(text.replace("_", ""))


def _mark(file: str, node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _to_python(node, file: str, path: str, depth: int, sink: ErrorSink):
    line, col = _mark(file, node)
    where = Where(file, line, col, path)
    if depth > MAX_DEPTH:
        sink.add(where, f"nesting deeper than {MAX_DEPTH} levels", "flatten the spec or use blocks")
        return None
    untagged = isinstance(node, yaml.ScalarNode) and node.tag in (_PLAIN, "!")  # "!": non-specific
    if node.tag not in _STD_TAGS and not untagged:
        sink.add(where, f"tag {node.tag!r} is not allowed",
                 "specs are plain data: remove the tag")
        return None
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node, where, sink)
    if isinstance(node, yaml.SequenceNode):
        out = SpecList()
        out.where, out.item_where = where, []
        for i, item in enumerate(node.value):
            out.append(_to_python(item, file, f"{path}[{i}]", depth + 1, sink))
            out.item_where.append(Where(file, *_mark(file, item), f"{path}[{i}]"))
        return out
    out = SpecMap.marked({}, where)
    for key_node, value_node in node.value:
        key = _to_python(key_node, file, path, depth + 1, sink)
        kline, kcol = _mark(file, key_node)
        key_path = f"{path}.{key}" if path else str(key)
        if not isinstance(key, str):
            sink.add(Where(file, kline, kcol, path), f"key {key!r} is not a string", "quote it")
            key = str(key)
        if key in out:
            first = out.key_where[key]
            sink.add(Where(file, kline, kcol, key_path),
                     f"duplicate key '{key}' (first at line {first.line})",
                     "keep one of the two")
            continue
        out.key_where[key] = Where(file, kline, kcol, key_path)
        out.value_where[key] = Where(file, *_mark(file, value_node), key_path)
        out[key] = _to_python(value_node, file, key_path, depth + 1, sink)
    return out


def _compose(text: str, file: str, sink: ErrorSink):
    loader = _StrictLoader(text)
    try:
        return _compose_node_tree(loader, file, sink)
    finally:
        loader.dispose()


def _compose_node_tree(loader, file: str, sink: ErrorSink):
    original = loader.compose_node

    # Aliases and anchors are refused at the event level, before anything expands.
    def compose_node(parent, index):
        event = loader.peek_event()
        anchor = getattr(event, "anchor", None)
        if isinstance(event, yaml.AliasEvent) or anchor is not None:
            m = event.start_mark
            sink.add(Where(file, m.line + 1, m.column + 1, ""),
                     "YAML anchors and aliases are not allowed",
                     "write the value out, or define a block and use it twice")
            raise _Stop()
        return original(parent, index)

    loader.compose_node = compose_node
    try:
        return loader.get_single_node()
    except _Stop:
        return None


class _Stop(Exception):
    pass


class UnreadableSpec(SpecErrors):
    """A spec file that cannot be read as text at all (not what it says)."""


def load_yaml_text(text: str, file: str = "<spec>"):
    """Parses spec text into SpecMap/SpecList/scalars, or raises SpecErrors."""
    sink = ErrorSink()
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        sink.add(Where(file, 1, 1), f"file is larger than {MAX_BYTES} bytes", "a spec is a short text")
        sink.raise_if_any()
    if not text.strip():
        sink.add(Where(file, 1, 1), "file is empty", "a spec needs at least `input:` and `layers:`")
        sink.raise_if_any()
    try:
        node = _compose(text, file, sink)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "not valid YAML"
        sink.add(Where(file, line, col), f"YAML syntax error: {problem}")
        sink.raise_if_any()
    except yaml.YAMLError as exc:
        sink.add(Where(file, 1, 1), f"YAML error: {exc}")
        sink.raise_if_any()
    except RecursionError:
        sink.add(Where(file, 1, 1), "nesting too deep to read", "flatten the spec")
        sink.raise_if_any()
    sink.raise_if_any()
    if node is None:
        sink.add(Where(file, 1, 1), "file holds no YAML document")
        sink.raise_if_any()
    value = _to_python(node, file, "", 0, sink)
    sink.raise_if_any()
    return value


def load_yaml_file(path: str):
    """Reads a spec file strictly as UTF-8 text and parses it.

    Read through `untrusted.read_bytes`: only a regular file (a FIFO named as a spec fails
    at once instead of waiting for a writer), its size bounded before it is read."""
    try:
        raw = read_bytes(path, MAX_BYTES, "spec")
    except UntrustedFileError as exc:
        text = str(exc)
        raise UnreadableSpec([_error(path, text[len(path) + 2:] if text.startswith(f"{path}: ")
                                 else text)]) from None
    if b"\x00" in raw:
        raise UnreadableSpec([_error(path, "file is binary, not a YAML text")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableSpec([_error(path, f"file is not UTF-8 text (byte {exc.start})")]) from None
    return load_yaml_text(text, path)


def _error(path: str, message: str, hint: str = ""):
    from .errors import SpecError
    return SpecError(Where(path, 1, 1), message, hint)
