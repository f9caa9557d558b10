"""The `kspec` command: one dispatcher; each subcommand lives in its home.

check/summary/schema -> builder.cli; train -> train.py; evaluate/predict/embed ->
trainer.commands; export -> export.cli. TensorFlow is imported only by the commands
that need it, so `kspec check` stays fast.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback

from builder import EXIT_BAD_INPUT
from trainer.environment import environment_exit_code
from trainer.options import plugin_module


class _Parser(argparse.ArgumentParser):
    """Bad options exit 2 with a one-line message (argparse's default code, kept explicit)."""

    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"kspec: error: {message}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def make_parser() -> argparse.ArgumentParser:
    # Options of every command that reads a run directory; spec commands add --set.
    run_common = argparse.ArgumentParser(add_help=False)
    run_common.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                            type=plugin_module,
                            help="import a module that registers custom layers")
    run_common.add_argument("--verbose", action="store_true",
                            help="show TensorFlow's and TFDS' own log lines (else they go to "
                            "RUN_DIR/logs/kspec.log)")
    common = argparse.ArgumentParser(add_help=False, parents=[run_common])
    common.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a spec key (typed like YAML), repeatable")
    parser = _Parser(prog="kspec", description="Declarative model builder for Keras 3.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    from builder.cli import add_commands as builder_commands
    builder_commands(sub, common)
    import export.cli
    import tasks.data_command
    import train
    import trainer.commands
    train.add_commands(sub, common)
    tasks.data_command.add_commands(sub, common)
    for module in (trainer.commands, export.cli):
        module.add_commands(sub, run_common)
    return parser


def main(argv=None) -> int:
    # A file name that is not UTF-8 is printed with escapes, not as a UnicodeEncodeError.
    sys.stdout.reconfigure(errors="backslashreplace")
    args = make_parser().parse_args(argv)
    bad_environment = environment_exit_code()  # before anything imports Keras
    if bad_environment:
        return bad_environment
    from rundir import console
    console.quiet_libraries(getattr(args, "verbose", False))  # before TensorFlow is imported
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("kspec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`kspec summary SPEC | head`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception:  # a bug, not bad input: the traceback, and where the details are
        traceback.print_exc()
        console.failed()
        return 1


if __name__ == "__main__":
    sys.exit(main())
