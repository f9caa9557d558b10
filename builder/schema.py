"""The JSON Schema of the spec language, generated from the layer and head registries."""
from __future__ import annotations

from .graph import WHEN
from .heads import HEADS
from .pretrained import INIT_ARGS
from .registry import UNIVERSAL_ARGS, all_layers
from .train_section import AUGMENT_ARGS, INPUT_ARGS, OPTIMIZERS, SCHEDULES, TRAIN_ARGS

SCHEMA_ID = "https://kspec.dev/schema/kspec-1.json"


# Any string that names an argument is an expression (`4 * $growth`); the builder reads
# it, so the schema only recognises it.
EXPRESSION = {"type": "string", "pattern": "\\$[A-Za-z_]",
              "description": "an expression: a value that names an argument ($name)"}


def _expr_or(schema: dict) -> dict:
    return {"anyOf": [schema, EXPRESSION]}


def _args_schema(args, extra=(), expressions=False) -> dict:
    props = {}
    for a in tuple(args) + tuple(extra):
        s = a.type.schema() if a.type is not None else {}
        if a.default is None and s:
            s = {"anyOf": [s, {"type": "null"}]}  # null: left out (`classes`: the data's)
        if expressions:
            s = _expr_or(s)
        if a.doc:
            s["description"] = a.doc
        props[a.name] = s
    return {"type": "object", "properties": props, "additionalProperties": False}


def _layer_item_schema() -> dict:
    layers = all_layers()
    names = sorted(layers)
    one_key = {}
    for name in names:
        lt = layers[name]
        args = _args_schema(lt.args, UNIVERSAL_ARGS + (WHEN,), expressions=True)
        alts = [args, {"type": "null"}]
        if lt.primary:
            alts += [lt.arg(lt.primary).type.schema(), EXPRESSION]
        one_key[name] = {"description": lt.doc, "anyOf": alts}
    ref = {"$ref": "#/$defs/layers"}
    structural = {
        "repeat": {"description": "repeat `layers` N times; `first` replaces iteration 0",
                   "type": ["integer", "string"]},
        "layers": ref, "first": ref,
        "parallel": {"description": "branches from the same input, merged",
                     "type": "array", "items": ref},
        "merge": {"enum": ["concat", "add"]},
        "residual": {"type": "object", "additionalProperties": False, "properties": {
            "body": ref, "add": _expr_or({"type": "boolean"}),
            "shortcut": {"anyOf": [ref, {"type": "object", "properties": {
                "when": _expr_or({"type": "boolean"}), "layers": ref}}]}}},
        "id": {"type": "string"},
        "when": {**_expr_or({"type": "boolean"}), "description": WHEN.doc},
    }
    return {"anyOf": [
        {"type": "string", "description": "a layer type or block without arguments"},
        {"type": "object", "minProperties": 1,
         "properties": {**one_key, **structural},
         "description": "a layer type (or block name) mapped to its arguments"},
    ]}


def _named_choice(table) -> dict:
    return {"anyOf": [{"enum": sorted(table)},
                      {"type": "object", "maxProperties": 1,
                       "properties": {k: _args_schema(v) for k, v in table.items()}}]}


def json_schema() -> dict:
    heads = [{"type": "object", "required": ["task"],
              "properties": {"task": {"const": name},
                             **_args_schema(h.args, expressions=True)["properties"]},
              "additionalProperties": False, "description": h.doc}
             for name, h in sorted(HEADS.items())]
    train = _args_schema(a for a in TRAIN_ARGS if a.type is not None)
    train["properties"].update(optimizer=_named_choice(OPTIMIZERS),
                               schedule=_named_choice(SCHEDULES),
                               augment=_args_schema(AUGMENT_ARGS))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "kspec model spec, language version 1",
        "type": "object",
        # A spec that extends another may take its name, input and layers from it.
        "anyOf": [{"required": ["extends"]}, {"required": ["name", "input", "layers"]}],
        "additionalProperties": False,
        "$defs": {"layers": {"type": "array", "items": {"$ref": "#/$defs/layer"}},
                  "layer": _layer_item_schema()},
        "properties": {
            "kspec": {"const": 1}, "name": {"type": "string"}, "paper": {"type": "string"},
            "extends": {"type": "string", "description": "base spec file; keys here override"},
            "args": {"type": "object", "additionalProperties": {
                "type": ["integer", "number", "boolean", "string"]}},
            "input": _args_schema(INPUT_ARGS),
            "defaults": {"type": "object", "properties": {
                name: _args_schema(lt.args, expressions=True)
                for name, lt in sorted(all_layers().items())},
                "additionalProperties": False},
            "blocks": {"type": "object", "description": "name: {args, layers} or "
                       "name(arg, arg=default): [layers]", "additionalProperties": {"anyOf": [
                           {"type": "object", "required": ["layers"], "properties": {
                               "args": {"type": "object"}, "layers": {"$ref": "#/$defs/layers"},
                               "doc": {"type": "string"}}},
                           {"$ref": "#/$defs/layers"}]}},
            "layers": {"$ref": "#/$defs/layers"},
            "head": {"anyOf": heads},
            "init": {"anyOf": [{"type": "string", "minLength": 1},
                               {**_args_schema(INIT_ARGS), "required": ["from"]}]},
            "train": train,
        },
    }
