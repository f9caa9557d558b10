"""A YOLO `data.yaml` read strictly: plain data only, every value with its line and column.

PyYAML's safe_load expands aliases (an alias bomb of a few hundred bytes grows past
2 GB), keeps the last of duplicate keys, and reads `no` as False. This reads the node
tree with anchors and aliases refused before anything expands, duplicate keys refused,
nesting and number length bounded, and scalars typed as YAML 1.2's core schema does for
what data.yaml holds (strings, integers, booleans, null). The spec loader
(builder/yaml_loader.py) does the same for specs but needs string keys, and YOLO writes
`names:` as a mapping of integers to names.
"""
from __future__ import annotations

import re

import yaml

from .sources import DataError

MAX_DEPTH = 16
MAX_NUMBER_CHARS = 40
_INT = re.compile(r"^[-+]?[0-9]+$")
_NULL = {"", "~", "null", "Null", "NULL"}
# Tags a plain data file carries: those PyYAML's safe resolver gives untagged values.
_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "timestamp",
                                            "merge", "value", "yaml", "seq", "map")} | {"!"}
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False,
         "FALSE": False}


class _Composer(yaml.SafeLoader):
    """Composes nodes only; an anchor, an alias or deep nesting stops it where it stands."""

    depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        m = event.start_mark
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise DataError(f"{self.name}:{m.line + 1}:{m.column + 1}: YAML anchors and "
                            "aliases are not allowed in data.yaml; write the value out")
        if self.depth >= MAX_DEPTH:
            raise DataError(f"{self.name}:{m.line + 1}:{m.column + 1}: nested deeper than "
                            f"{MAX_DEPTH} levels")
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def load(text: str, path: str) -> tuple[object, dict]:
    """(the document, {value path: "path:line:col"}); DataError naming the place."""
    loader = None
    try:
        loader = _Composer(text)  # its reader refuses control characters (NUL) at once
        loader.name = path
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise DataError(f"{path}{at}: not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        # A reader's error (a NUL, a control character) says where on a second line.
        raise DataError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise DataError(f"{path}: not valid YAML (nested too deeply)") from None
    finally:
        if loader is not None:
            loader.dispose()
    marks: dict = {}
    return (_value(node, path, "", marks) if node is not None else None), marks


def _where(path: str, node) -> str:
    return f"{path}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"


def _value(node, path: str, at: str, marks: dict):
    where = _where(path, node)
    marks[at] = where
    if node.tag not in _TAGS:
        raise DataError(f"{where}: tag {node.tag!r} is not allowed; data.yaml is plain data")
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node, where)
    if isinstance(node, yaml.SequenceNode):
        return [_value(item, path, f"{at}[{i}]", marks)
                for i, item in enumerate(node.value)]
    out: dict = {}
    for key_node, value_node in node.value:
        key = _value(key_node, path, at, {})
        if isinstance(key, (list, dict)) or key is None:
            raise DataError(f"{_where(path, key_node)}: a key must be a name or a number")
        if key in out:
            raise DataError(f"{_where(path, key_node)}: duplicate key {key!r}; keep one")
        out[key] = _value(value_node, path, f"{at}.{key}" if at else str(key), marks)
    return out


def _scalar(node, where: str):
    text = node.value
    if node.style:  # quoted: a string as written
        return text
    if text in _NULL:
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.match(text):
        if len(text) > MAX_NUMBER_CHARS:
            raise DataError(f"{where}: a number of {len(text):,} characters")
        return int(text)
    return text
