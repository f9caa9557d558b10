"""`kspec check`, `kspec summary` and `kspec schema`: the builder's commands (no TensorFlow)."""
from __future__ import annotations

import json
import sys

from .errors import EXIT_BAD_INPUT, SpecErrors
from .plugins import PluginError
from .spec import load_spec
from .summary import summary_dict, summary_table


def cmd_check(args) -> int:
    bad = 0
    for path in args.specs:
        try:
            spec = load_spec(path, args.set, args.plugin)
        except SpecErrors as exc:
            bad += 1
            print(str(exc), file=sys.stderr)
            continue
        except PluginError as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        pending = "; head classes come from the dataset" if spec.head.get("classes", 0) is None \
            else ""
        print(f"{path}: ok ({spec.name}, {len(spec.graph.nodes)} layers{pending})")
    return EXIT_BAD_INPUT if bad else 0


def cmd_summary(args) -> int:
    try:
        spec = load_spec(args.spec, args.set, args.plugin)
    except (SpecErrors, PluginError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(summary_dict(spec), indent=1))
    else:
        print(summary_table(spec))
    return 0


def cmd_schema(args) -> int:
    from .schema import json_schema
    print(json.dumps(json_schema(), indent=1))
    return 0


def add_commands(sub, common) -> None:
    p = sub.add_parser("check", parents=[common], help="validate specs (exit 2 on errors)")
    p.add_argument("specs", nargs="+", metavar="SPEC")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("summary", parents=[common], help="per-layer shapes, params, MACs, memory")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_summary)
    p = sub.add_parser("schema", help="print the JSON Schema of the spec language")
    p.set_defaults(func=cmd_schema)
