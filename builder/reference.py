"""The reference of every layer, head and train option, generated from the registries.

    python -m builder.reference > docs/reference.md
"""
from __future__ import annotations

from .argtypes import REQUIRED
from .heads import HEADS
from .pretrained import APPLICATIONS, INIT_ARGS
from .registry import UNIVERSAL_ARGS, all_layers
from .train_section import AUGMENT_ARGS, INPUT_ARGS, OPTIMIZERS, SCHEDULES, TRAIN_ARGS


def _default(arg) -> str:
    if arg.default is REQUIRED:
        return "**required**"
    return "–" if arg.default is None else f"`{arg.default}`"


def _table(args) -> list[str]:
    rows = ["| argument | type | default | meaning |", "|---|---|---|---|"]
    for a in args:
        kind = a.type.describe if a.type is not None else "see below"
        rows.append(f"| `{a.name}` | {kind} | {_default(a)} | {a.doc} |")
    return rows


def reference_markdown() -> str:
    out = ["# kspec spec language reference", "",
           "Generated from the registries by `python -m builder.reference`; do not edit.", "",
           "## Layers", "",
           "Every layer also takes `id` (a name for `from:` and the Keras layer name) and "
           "`from` (ids to read from instead of the previous layer). A layer with a "
           "*primary* argument can be written `type: value`.", ""]
    out += _table(UNIVERSAL_ARGS) + [""]
    for name, lt in sorted(all_layers().items()):
        out += [f"### `{name}`", "", lt.doc + ".", ""]
        if lt.primary:
            out += [f"Primary argument: `{lt.primary}` (`{name}: value`).", ""]
        if lt.merge:
            out += ["Merges several inputs: give them with `from: [id, id]`.", ""]
        out += (_table(lt.args) if lt.args else ["No arguments."]) + [""]
    out += ["## Structure", "",
            "- `repeat: N` with `layers: [...]`, optional `first: [...]` for iteration 0; "
            "`$index` is the iteration number.",
            "- `parallel: [[branch], [branch]]` with `merge: concat|add` (default concat).",
            "- `residual: {body: [...], shortcut: [...] | {when: $flag, layers: [...]}}`, "
            "merged by add (no shortcut: identity), which takes its inputs in the order they "
            "are written; `add: $cond` false leaves the body alone (no shortcut, no add).",
            "- a block defined under `blocks:` is used like a layer; its first argument is "
            "its primary one.",
            "- `when: $cond` on any layer or block use (`conv: {filters: 8, when: $t > 1}`) "
            "or structural item (beside `repeat:`, `parallel:`, `residual:`) leaves it out "
            "when false.", "",
            "## Expressions", "",
            "Any value that names an argument is an expression: `4 * $growth`, "
            "`$c // 2 + 1`, `$t > 1 and $stride == 1`, `$f if $wide else $f // 2`, "
            "`$name + \"_up\"`.",
            "",
            "- values: numbers, `true`/`false`, quoted strings, `$name` (a spec or block "
            "argument; `$index` inside `repeat`);",
            "- `$in.channels`, `$in.height`, `$in.width`: the shape of the block's input "
            "(of the model's input outside blocks), from the shape pass;",
            "- operators, loosest first: `A if COND else B`, `or`, `and`, `not`, "
            "`== != < <= > >=` (no chains), `+ -`, `* / //`, unary `-`, parentheses;",
            "- strict kinds: `and`/`or`/`not`/`if` take true or false, `<` and friends "
            "numbers, `==` the same kind on both sides;",
            "- bounded: 500 characters, nesting 32 deep, numbers up to 15 digits and 1e15. "
            "Nothing is executed: the grammar is closed.", "",
            "## Heads (`head: {task: ...}`)", ""]
    for name, head in sorted(HEADS.items()):
        out += [f"### `{name}`", "", head.doc + ".", ""]
        out += (_table(head.args) if head.args else ["No arguments."]) + [""]
    out += ["## `input:`", ""] + _table(INPUT_ARGS) + [""]
    out += ["## `init:`", "",
            "Where the weights start from: `init: SOURCE` or a mapping. Matching goes by "
            "layer name, then by position among layers of one type, always by shape; arrays "
            "whose shapes differ (a head with other classes) start from random, and the run "
            "reports what it copied. `kspec train --init SOURCE` replaces the spec's `init:`. "
            "`keras.applications` models: " + ", ".join(f"`{n}`" for n in APPLICATIONS) + ".",
            ""] + _table(INIT_ARGS) + ["", "## `train:`", ""]
    out += _table(TRAIN_ARGS) + ["", "### optimizers", ""]
    for name, args in OPTIMIZERS.items():
        out += [f"- `{name}`: " + ", ".join(f"`{a.name}` ({_default(a)})" for a in args)]
    out += ["", "### schedules", ""]
    for name, args in SCHEDULES.items():
        out += [f"- `{name}`: " + (", ".join(f"`{a.name}` ({_default(a)})" for a in args)
                                   or "no arguments")]
    out += ["", "### `augment:`", ""] + _table(AUGMENT_ARGS) + [""]
    return "\n".join(out)


if __name__ == "__main__":
    print(reference_markdown())
