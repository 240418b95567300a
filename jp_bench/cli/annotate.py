"""``jp-bench annotate``: a local page for human A/B/tie votes on pairs of answers; ``--export`` writes them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from jp_bench.errors import JpBenchError


def add_parser(commands: Any) -> None:
    annotate = commands.add_parser("annotate", help="a local page for human A/B/tie votes on pairs of answers")
    annotate.add_argument("--pairs", nargs="+", metavar="ANSWERS",
                          help="answers of two or more models (lm-eval outputs or FastChat model_answer); "
                               "every question x pair of models becomes a task (multi-turn: one per turn)")
    annotate.add_argument("--benchmark", help="questions (default: from lm-eval samples, else jp_bench); with "
                                              "--export, tells an earlier jp-bench's whole-conversation votes on "
                                              "them apart (the store knows the questions it served)")
    annotate.add_argument("--workspace", help="SQLite store for the votes (default: the workspace store)")
    annotate.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    annotate.add_argument("--seed", type=int, default=0, help="task order and A/B placement")
    annotate.add_argument("--open", action="store_true", help="open the page in a browser")
    annotate.add_argument("--export", metavar="FILE", help="write the stored votes as JSONL and exit")
    annotate.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from jp_bench.annotate import default_store_path, export_votes, run_annotation

    store = Path(args.workspace) if args.workspace else default_store_path()
    if args.export:
        from jp_bench.benchmarks import load_questions

        # The store knows the questions it served; --benchmark adds a set it never served with this version.
        questions = load_questions(args.benchmark) if args.benchmark else ()
        count = export_votes(store, Path(args.export), questions, echo=lambda line: print(line, file=sys.stderr))
        print(f"exported {count} votes to {args.export}")
        return 0
    if not args.pairs:
        raise JpBenchError("give the answers to compare with --pairs (or --export FILE to export votes)")
    run_annotation(args.pairs, args.benchmark, store, args.port, args.open, seed=args.seed,
                   echo=lambda message: print(message, flush=True))
    print("export the votes with `jp-bench annotate --export votes.jsonl`", flush=True)
    return 0
