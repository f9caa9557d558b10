"""`kspec check`, `summary`, `draw` and `schema`: the builder's commands (no TensorFlow)."""
from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile

from .errors import EXIT_BAD_INPUT, SpecErrors
from .names import file_stem
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


DRAW_FORMATS = (".svg", ".html")
MAX_DRAW_DEPTH = 32


def cmd_draw(args) -> int:
    out = args.out
    ext = os.path.splitext(out or "")[1].lower()
    if out is not None and ext not in DRAW_FORMATS:
        print(f"--out {out!r}: kspec draw writes .svg or .html files", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not 0 <= args.depth <= MAX_DRAW_DEPTH:
        print(f"--depth {args.depth}: expected 0 to {MAX_DRAW_DEPTH} (how many levels of "
              "blocks the SVG opens)", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        spec = load_spec(args.spec, args.set, args.plugin)
    except (SpecErrors, PluginError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    if not spec.shapes:
        print(f"{args.spec}: the input shape is not known, so no shapes can be drawn "
              "(set input.shape)", file=sys.stderr)
        return EXIT_BAD_INPUT
    out = out or f"{file_stem(spec.name, 'model')}.svg"
    if out.lower().endswith(".html"):
        from .picture.html import to_html
        text, what = to_html(spec), "blocks open with a click"
    else:
        from .picture import layout
        from .picture.svg import to_svg
        pic = layout(spec, args.depth)
        text, what = to_svg(pic), f"{len(pic.boxes)} boxes, {len(pic.edges)} arrows"
    folder = os.path.dirname(os.path.abspath(out))
    tmp = None
    try:
        # A temporary file beside the target, renamed over it: never half a picture.
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(out)}.", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as a plain open() would create it, not mkstemp's 0600
        os.replace(tmp, out)
    except OSError as exc:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)  # a full disk or a folder in the way: no half picture is left
        print(f"cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"wrote {out} ({spec.name}: {what})")
    print(f"next: open {shlex.quote(out)} in a browser | {_other_picture(args, out)}")
    return 0


def _other_picture(args, out: str) -> str:
    """The command that draws the other format beside `out`, with the same plugins and
    overrides (it would not load without them), quoted for a shell."""
    stem, ext = os.path.splitext(out)
    other = stem + (".svg" if ext.lower() == ".html" else ".html")
    words = ["kspec", "draw", args.spec]
    for plugin in args.plugin:
        words += ["--plugin", plugin]
    for override in args.set:
        words += ["--set", override]
    if other.endswith(".svg") and args.depth:
        words += ["--depth", str(args.depth)]
    return " ".join(shlex.quote(w) for w in words + ["--out", other])


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
    p = sub.add_parser("draw", parents=[common], help="a picture of the architecture "
                       "(SVG, or HTML whose blocks open)")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--out", metavar="FILE", help="FILE.svg or FILE.html (default: NAME.svg "
                   "in the current folder)")
    p.add_argument("--depth", type=int, default=0, metavar="N",
                   help="levels of blocks the SVG opens (default 0: each block use is a box)")
    p.set_defaults(func=cmd_draw)
    p = sub.add_parser("schema", help="print the JSON Schema of the spec language")
    p.set_defaults(func=cmd_schema)
