"""``jp-bench tasks-path``: the folder to pass to lm-eval's ``--include_path``."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(commands: Any) -> None:
    tasks = commands.add_parser("tasks-path", help="print the folder to pass to lm-eval's --include_path")
    tasks.set_defaults(func=run)


def run(_args: argparse.Namespace) -> int:
    from jp_bench.paths import tasks_path

    print(tasks_path())
    return 0
