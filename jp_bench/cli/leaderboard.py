"""``jp-bench leaderboard``: :func:`jp_bench.leaderboard`, the files written printed one a line."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(commands: Any) -> None:
    board = commands.add_parser("leaderboard", help="build LEADERBOARD.md, a CSV, PNG plots and one HTML page")
    board.add_argument("--results", default="results", help="published results folder (default ./results)")
    board.add_argument("--out", default="results", help="where to write the views (default: the results folder)")
    board.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from jp_bench._api.leaderboard import leaderboard

    for path in leaderboard(args.results, out=args.out):
        print(path)
    return 0
