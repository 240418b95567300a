"""The parser, assembled from one module per command, and the one place errors and Ctrl-C are handled.

Each command module adds its own subparser and names its ``run`` function; a command whose interruption
needs more than "interrupted" (what is kept, how to resume) says so with ``set_defaults(interrupted=...)``.
Command modules import nothing heavy at import time, so ``jp-bench --help`` starts instantly and never
imports torch, pandas, pydantic or lm-eval; a command's work is imported when it runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from jp_bench import __version__
from jp_bench.cli import (
    agreement,
    annotate,
    data,
    demo,
    experiment,
    finetune,
    judge,
    judges,
    leaderboard,
    lm_eval,
    report,
    selfinstruct,
    tasks_path,
)
from jp_bench.cli._options import print_err
from jp_bench.errors import JpBenchError

# In the order `jp-bench --help` lists them.
COMMANDS = (data, tasks_path, lm_eval, judges, judge, report, leaderboard, agreement, annotate, selfinstruct,
            finetune, experiment, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jp-bench",
        description="Japanese LLM evaluation: lm-eval tasks, LLM judges, statistics and instruction data.",
    )
    parser.add_argument("--version", action="version", version=f"jp-bench {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    args: argparse.Namespace | None = None
    try:
        if arguments and arguments[0] == "lm-eval":
            # Everything after `lm-eval` belongs to lm-eval's own parser, untouched.
            return lm_eval.run_passthrough(arguments[1:])
        parser = build_parser()
        args = parser.parse_args(arguments)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        return int(args.func(args))
    except JpBenchError as exc:
        print_err(str(exc))
        return 1
    except KeyboardInterrupt:
        # A progress bar is closed by its own `finally` on the way here, so this line is never glued onto it.
        print_err(getattr(args, "interrupted", None) or "interrupted")
        return 130
