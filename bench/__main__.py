"""`python -m bench [--quick] [--out FILE.json]`: the side-by-side comparisons, one table.

Every row measures ours and its reference in the same run, alternately, and
reports the best of each (noise on a shared machine only slows things down).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from .common import table
from .meta import run_info

SECTIONS = ("build", "training", "pipeline", "input", "export")


def collect(quick: bool, sections=SECTIONS) -> list:
    from .build import build_rows
    from .training import input_work_rows, pipeline_rows, training_rows
    makers = {"build": build_rows, "training": training_rows, "pipeline": pipeline_rows,
              "input": input_work_rows}
    try:
        from .export_speed import export_rows
        makers["export"] = export_rows
    except ImportError:
        pass
    rows = []
    for name in sections:
        if name in makers:
            start = time.time()
            rows += makers[name](quick)
            print(f"[bench] {name}: {time.time() - start:.0f} s", file=sys.stderr, flush=True)
    return rows


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer steps and rounds (a smoke run)")
    p.add_argument("--out", help="write the rows as a JSON list")
    p.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    args = p.parse_args(argv)
    info = run_info(["bench"] + (argv if argv is not None else sys.argv[1:]))
    rows = collect(args.quick, args.only)
    print(f"# {info['measured_at']} {info['machine']['cpu']}, {info['machine']['cpus']} CPUs"
          f"{' (quick)' if args.quick else ''}")
    print(table(rows))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({**info, "quick": args.quick, "rows": [r.as_dict() for r in rows]}, fh,
                      indent=1)
    missed = [r.what for r in rows if r.met is False]
    if missed:
        print("[bench] bars missed: " + "; ".join(missed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
