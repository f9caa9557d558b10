"""`kspec data PATH`, registered without importing TensorFlow (the check itself does)."""
from __future__ import annotations

import json
import os
import sys


def cmd_data(args) -> int:
    from builder.errors import EXIT_BAD_INPUT, printable

    from .data.annotations import detect, read_annotated
    from .data.report import describe, table
    from .data.sources import DataError
    path = args.path
    if not os.path.isdir(path):
        print(f"kspec data {path}: no such folder", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.grid < 1 or args.grid > 1024:
        print(f"--grid {args.grid}: expected 1 to 1024", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not detect(path) and not any(os.path.isdir(os.path.join(path, d))
                                    for d in os.listdir(path)):
        print(f"kspec data {path}: no COCO (annotations/instances_*.json), Pascal VOC "
              "(Annotations/ + JPEGImages/) or YOLO (data.yaml) layout here, and no class "
              "folders (PATH/<class>/*.png) or images/ folder", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        if detect(path):
            d = describe(read_annotated(path), args.grid)
            text = table(printable(d))
        else:
            from .data.folder import load_folder
            from .data.report import describe_folder, folder_table
            d = describe_folder(path, load_folder(path))
            text = folder_table(printable(d))
    except DataError as exc:
        print(str(exc), file=sys.stderr)  # DataError escapes what it quotes
        return EXIT_BAD_INPUT
    print(json.dumps(d, indent=1) if args.json else text)  # the table's values are escaped
    return 0


def add_commands(sub, common) -> None:
    p = sub.add_parser("data", help="check a dataset folder (COCO, VOC, YOLO, class folders) "
                       "before training")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--grid", type=int, default=8, metavar="N",
                   help="detector grid for the shared-cell count (default 8, as "
                   "specs/detector.yaml)")
    p.set_defaults(func=cmd_data)
