"""``jp-bench agreement``: :func:`jp_bench.agreement` printed as a table or as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(commands: Any) -> None:
    agree = commands.add_parser("agreement", help="judge-human, human-human, judge-judge and swapped-order agreement")
    agree.add_argument("--human", action="append", help="human votes: lmsys mt_bench_human_judgments layout "
                                                        "(JSONL or CSV) or our annotation export; repeatable")
    agree.add_argument("--judgments", action="append", help="judging output (judgments.jsonl or folder) or FastChat "
                                                            "pairwise files; repeatable")
    agree.add_argument("--benchmark", help="question set, for per-category agreement")
    agree.add_argument("--format", default="table", choices=["table", "json"])
    agree.add_argument("--bootstrap", type=int, default=1000, metavar="N")
    agree.add_argument("--seed", type=int, default=0)
    agree.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from jp_bench._util.text_table import render_table
    from jp_bench.votes.study import agreement

    study = agreement(human=args.human, judgments=args.judgments, benchmark=args.benchmark,
                      bootstrap=args.bootstrap, seed=args.seed, on_note=lambda line: print(line, file=sys.stderr))
    if args.format == "json":
        print(json.dumps(study.entries, ensure_ascii=False, indent=2))
        return 0
    rows = []
    for e in study.entries:
        rows.append([e["pair"], *_cells(e["with_ties"]), *_cells(e["without_ties"])])
        # Multi-turn votes (MT-Bench): one row per turn too, as FastChat's study reports turns apart.
        if len(e["by_turn"]) > 1:
            rows += [[f"  turn {turn}", *_cells(figures["with_ties"]), *_cells(figures["without_ties"])]
                     for turn, figures in sorted(e["by_turn"].items())]
    print(render_table(["comparison", "agree (w/ ties)", "95% CI", "kappa", "n", "agree (w/o ties)", "95% CI",
                        "kappa", "n"], rows))
    return 0


def _cells(stats: dict[str, Any]) -> list[str]:
    ci = stats.get("ci95") or [None, None]
    rate = "-" if stats.get("agreement") is None else f"{stats['agreement']:.3f}"
    kappa = "-" if stats.get("kappa") is None else f"{stats['kappa']:.3f}"
    interval = "-" if ci[0] is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"
    return [rate, interval, kappa, str(stats.get("n", 0))]
