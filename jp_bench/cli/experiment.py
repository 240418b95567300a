"""``jp-bench experiment``: datasets × base models: fine-tune, answer, judge, compare."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from jp_bench.cli._options import print_err


def add_parser(commands: Any) -> None:
    experiment = commands.add_parser(
        "experiment", help="datasets × base models: fine-tune, answer, judge, compare (skips finished steps)")
    experiment.add_argument("config", help="experiment file (YAML; see docs/experiment.md)")
    experiment.add_argument("--dry-run", action="store_true",
                            help="show each step as done or to do (with judge call counts and cost) and stop")
    experiment.set_defaults(func=run, interrupted="interrupted: finished steps, checkpoints and judge calls are "
                                                  "kept; run the same command again to go on")


def run(args: argparse.Namespace) -> int:
    from jp_bench.experiment import load_experiment, run_experiment
    from jp_bench.experiment.results import render_console
    from jp_bench.judging.progress import progress_bar

    config = load_experiment(args.config)
    outcome = run_experiment(config, log=lambda line: print(line, file=sys.stderr, flush=True),
                             progress=None if args.dry_run else progress_bar, dry_run=args.dry_run)
    if args.dry_run:
        return 0
    if outcome.results is None:
        print_err("judging is incomplete; run the same command again to go on")
        return 1
    sys.stdout.write(render_console(outcome.results))
    for path in outcome.written:
        print(path)
    return 0
