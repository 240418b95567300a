"""``jp-bench judges``: the judges there are, their models and prices (``list``, also with no subcommand), and
``judges compare``: candidate judges scored against a reference (:func:`jp_bench.compare_judges`)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

from jp_bench.cli._options import setting

COMPARE_INTERRUPTED = ("interrupted: every finished judgment of the --judge runs is stored; run the same command "
                       "again to resume")


def add_parser(commands: Any) -> None:
    judges = commands.add_parser("judges", help="list the available judges, or compare judges against a reference")
    judges.add_argument("--judges-dir", action="append", help="also read judge YAMLs from this folder")
    judges.set_defaults(func=run_list)
    actions = judges.add_subparsers(dest="judges_command", metavar="SUBCOMMAND")

    listing = actions.add_parser("list", help="list the available judges (as `jp-bench judges` does)")
    # Its own dest: a subparser's default would otherwise overwrite `jp-bench judges --judges-dir D list`.
    listing.add_argument("--judges-dir", action="append", dest="list_judges_dir",
                         help="also read judge YAMLs from this folder")
    listing.set_defaults(func=run_list)

    compare = actions.add_parser("compare", help="a judges leaderboard: candidate judges scored against a reference "
                                                 "(agreement, kappa, correlations, biases, cost)")
    compare.add_argument("judged", nargs="*", metavar="JUDGED",
                         help="judgments of candidate judges: our judging output (folder or judgments.jsonl) or "
                              "FastChat judgment files; every judge in them is a candidate")
    compare.add_argument("--reference", required=True,
                         help="human votes (lmsys layout or jp-bench annotate export, JSONL or CSV), a human ratings "
                              "file (llm-human-eval-jp layout) or one judge's judgments")
    compare.add_argument("--judge", action="append", metavar="NAME",
                         help="run this judge (a name or a judge YAML) on the reference's items first, through the "
                              "store (nothing is paid twice); repeatable")
    compare.add_argument("--axis", help="human ratings: the axis to read (default: overall)")
    compare.add_argument("--answers", action="append", metavar="PATH",
                         help="--judge: the answers the reference judged (lm-eval output or FastChat answers), when "
                              "the reference does not carry them; repeatable")
    compare.add_argument("--benchmark", help="--judge: the questions of --answers (a benchmark name or a file)")
    compare.add_argument("--format", default="table", choices=["table", "json"])
    compare.add_argument("--out", metavar="DIR",
                         help="write JUDGES.md, judges.csv, judges.html and judges_agreement_cost.png here (and the "
                              "--judge judgments under DIR/judged/)")
    compare.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                         help="bootstrap resamples of questions for every interval (default 1000)")
    compare.add_argument("--seed", type=int, default=0)
    run_options = compare.add_argument_group("--judge runs (as jp-bench judge)")
    run_options.add_argument("--workspace", help="SQLite store (default: $JP_BENCH_HOME/workspaces/default/"
                                                 "store.sqlite); also where costs are measured")
    run_options.add_argument("--concurrency", type=setting("Concurrency", int), help="calls in flight at once")
    run_options.add_argument("--max-cost", type=setting("MaxCost", float), metavar="USD",
                             help="refuse to start, or stop, a judge's runs above this spend")
    run_options.add_argument("--judges-dir", action="append", dest="compare_judges_dir", metavar="DIR",
                             help="also read judge YAMLs from this folder")
    run_options.add_argument("--judge-model", help="override the judge's model name")
    run_options.add_argument("--base-url", type=setting("BaseUrl", str), help="override the judge's API base URL")
    compare.set_defaults(func=run_compare, interrupted=COMPARE_INTERRUPTED)


def run_list(args: argparse.Namespace) -> int:
    from jp_bench._util.text_table import render_table
    from jp_bench.judging.judges import available_judges

    judges = available_judges((args.judges_dir or []) + (getattr(args, "list_judges_dir", None) or []) or None)
    rows = []
    for name, judge in sorted(judges.items()):
        price = f"${judge.prices.input_per_mtok:g} / ${judge.prices.output_per_mtok:g}"
        if judge.batch and judge.prices.batch_discount:
            price += f" (batch -{judge.prices.batch_discount:.0%})"
        note = "smoke test, not a real judge" if judge.smoke_test else judge.description
        rows.append((name, judge.provider, judge.model, price, note))
    print(render_table(["judge", "provider", "model", "USD per M tokens in/out", "notes"], rows))
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from jp_bench.judge_board import compare_judges

    # The --judge runs print their plans and results as `jp-bench judge` does, on stderr: stdout holds
    # the leaderboard alone (a JSON reader gets JSON).
    with contextlib.redirect_stdout(sys.stderr):
        board = compare_judges(
            args.reference, args.judged, judge=args.judge, axis=args.axis, answers=args.answers,
            benchmark=args.benchmark, out=args.out, workspace=args.workspace, concurrency=args.concurrency,
            max_cost=args.max_cost, judges_dir=(args.judges_dir or []) + (args.compare_judges_dir or []),
            judge_model=args.judge_model, base_url=args.base_url, bootstrap=args.bootstrap, seed=args.seed,
            verbose=True,
        )
    sys.stdout.write(board.render(args.format))
    for path in board.written:
        print(f"wrote {path}", file=sys.stderr)
    return 0
