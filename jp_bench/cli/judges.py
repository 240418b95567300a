"""``jp-bench judges``: the judges there are, their models and prices."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(commands: Any) -> None:
    judges = commands.add_parser("judges", help="list the available judges")
    judges.add_argument("--judges-dir", action="append", help="also read judge YAMLs from this folder")
    judges.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from jp_bench._util.text_table import render_table
    from jp_bench.judging.judges import available_judges

    judges = available_judges(args.judges_dir)
    rows = []
    for name, judge in sorted(judges.items()):
        price = f"${judge.prices.input_per_mtok:g} / ${judge.prices.output_per_mtok:g}"
        if judge.batch and judge.prices.batch_discount:
            price += f" (batch -{judge.prices.batch_discount:.0%})"
        note = "smoke test, not a real judge" if judge.smoke_test else judge.description
        rows.append((name, judge.provider, judge.model, price, note))
    print(render_table(["judge", "provider", "model", "USD per M tokens in/out", "notes"], rows))
    return 0
