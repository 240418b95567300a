"""``jp-bench report``: :func:`jp_bench.report` printed as a table, Markdown, CSV or JSON."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from jp_bench.cli._options import setting


def add_parser(commands: Any) -> None:
    report = commands.add_parser("report", help="win rates with bootstrap CIs, rankings and judge diagnostics")
    report.add_argument("sources", nargs="+", metavar="SOURCES",
                        help="judging output folders or judgments.jsonl, or FastChat model_judgment files/folders")
    report.add_argument("--format", default="table", choices=["table", "md", "csv", "json"])
    report.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap resamples (default 1000)")
    report.add_argument("--seed", type=int, default=0)
    report.add_argument("--baseline", help="the baseline model (default: the model every comparison involves)")
    report.add_argument("--benchmark", help="question set for categories (FastChat judgment files carry none)")
    report.add_argument("--plot", metavar="PATH", help="write MT-Bench's radar plot of the single scores by "
                                                       "category (PNG)")
    report.add_argument("--japanese-threshold", type=setting("JapaneseThreshold", float), metavar="SHARE",
                        help="answers whose share of kana/kanji letters is under it count as not Japanese (default "
                             "0.5; give the one the judging run used)")
    report.add_argument("--publish", action="store_true", help="write results/<benchmark>/<judge>/<model>.json")
    report.add_argument("--results", default="results", help="results folder for --publish (default ./results)")
    report.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from jp_bench._api.report import report

    result = report(args.sources, baseline=args.baseline, benchmark=args.benchmark, bootstrap=args.bootstrap,
                    seed=args.seed, plot=args.plot, publish=args.publish, results=args.results,
                    japanese_threshold=args.japanese_threshold)
    sys.stdout.write(result.render(args.format))
    if args.format == "csv":  # the CSV has no place for them
        for note in result.notes:
            print(f"jp-bench: note: {note}", file=sys.stderr)
    if result.plot is not None:
        print(f"wrote {result.plot}", file=sys.stderr)
    for path in result.published:
        print(f"published {path}", file=sys.stderr)
    return 0
