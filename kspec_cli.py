"""The `kspec` command: one dispatcher; each subcommand lives in its home.

check/summary/schema -> builder.cli; train -> train.py; evaluate/predict/embed ->
trainer.commands; export -> export.cli. TensorFlow is imported only by the commands
that need it, so `kspec check` stays fast.
"""
from __future__ import annotations

import argparse
import os
import sys


class _Parser(argparse.ArgumentParser):
    """Bad options exit 2 with a one-line message (argparse's default code, kept explicit)."""

    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"kspec: error: {message}", file=sys.stderr)
        sys.exit(2)


def make_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a spec key (typed like YAML), repeatable")
    common.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        help="import a module that registers custom layers")
    parser = _Parser(prog="kspec", description="Declarative model builder for Keras 3.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    from builder.cli import add_commands as builder_commands
    builder_commands(sub, common)
    import export.cli
    import train
    import trainer.commands
    for module in (train, trainer.commands, export.cli):
        module.add_commands(sub, common)
    return parser


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
    args = make_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("kspec: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
