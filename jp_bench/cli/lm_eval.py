"""``jp-bench lm-eval ...``: lm-eval's own command line with jp-bench's tasks included.

The arguments are lm-eval's, untouched: :func:`jp_bench.cli.main.main` hands them over before parsing,
so the subparser here exists only to be listed in ``jp-bench --help``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def add_parser(commands: Any) -> None:
    commands.add_parser(
        "lm-eval",
        help="run lm-eval with jp-bench's tasks included (arguments are lm-eval's own)",
        add_help=False,
    )


def run_passthrough(arguments: Sequence[str]) -> int:
    from jp_bench.harness.runner import run_lm_eval

    return run_lm_eval(list(arguments))
