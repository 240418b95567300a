"""``jp-bench data show``, ``import`` and ``publish``: benchmark questions, their counts and their pins, and
the judgments released with them as published results."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jp_bench.errors import JpBenchError


def add_parser(commands: Any) -> None:
    data = commands.add_parser("data", help="benchmark questions: show counts, import upstream data")
    data_commands = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    show = data_commands.add_parser("show", help="print the number of questions per category")
    show.add_argument("--benchmark", default="jp_bench",
                      help="jp_bench (the paper's 80), jp_bench_fresh (ours), ja_mt_bench, rakuda, "
                           "elyza_tasks_100, or a question.jsonl path")
    show.add_argument("--reference-set", metavar="NAME",
                      help="which published reference answers to attach (ja_mt_bench: gpt-4, the default, "
                           "or gpt-4o-human)")
    show.set_defaults(func=run_show)
    imp = data_commands.add_parser(
        "import", help="verify and cache upstream data from a local checkout (offline use)"
    )
    imp.add_argument("path", help="a checkout of the benchmark's upstream repository (see docs/data.md), "
                                  "or a folder laid out like its data folder")
    imp.add_argument("--benchmark", default="jp_bench",
                     help="jp_bench (ku-nlp/ja-vicuna-qa-benchmark, the default), ja_mt_bench "
                          "(Stability-AI/FastChat), rakuda (yuzu-ai/japanese-llm-ranking) or "
                          "elyza_tasks_100 (elyza/ELYZA-tasks-100 on the Hugging Face Hub)")
    imp.set_defaults(func=run_import)
    publish = data_commands.add_parser(
        "publish", help="publish the judgments released with a benchmark (pinned) as results, rebuild the views"
    )
    publish.add_argument("--benchmark", default="jp_bench",
                         help="the benchmark whose released judgments to publish (jp_bench: the paper's GPT-4 "
                              "pairwise judgments; the default)")
    publish.add_argument("--results", default="results",
                         help="published results folder; the views are rebuilt there (default ./results)")
    publish.set_defaults(func=run_publish)


def _turns_summary(questions: Sequence[Any]) -> str:
    counts = sorted({len(q.turns) for q in questions})
    if len(counts) == 1:
        return f"{counts[0]} turn{'s' if counts[0] > 1 else ''} each"
    return f"{counts[0]}–{counts[-1]} turns"


def _summary(questions: Sequence[Any], benchmark: Any, reference_set: str | None) -> str:
    """``80 questions, 8 categories, 2 turns each, 30 with reference answers (set gpt-4), ...``."""
    from jp_bench.benchmarks import UpstreamBenchmark
    from jp_bench.benchmarks.questions import count_by_category

    with_reference = sum(1 for q in questions if q.reference)
    upstream = isinstance(benchmark, UpstreamBenchmark)
    chosen = benchmark.reference_set(reference_set) if upstream else None
    categories = len(count_by_category(questions))
    parts = [f"{len(questions)} questions", f"{categories} categor{'ies' if categories > 1 else 'y'}",
             _turns_summary(questions),
             f"{with_reference} with reference answers" + (f" (set {chosen.name})" if chosen else "")]
    with_notes = sum(1 for q in questions if q.grading_notes)
    if with_notes:
        parts.append(f"{with_notes} with grading notes")
    if upstream and benchmark.score_scale:
        parts.append(f"scored {benchmark.score_scale[0]}–{benchmark.score_scale[1]}")
    return ", ".join(parts)


def _pin_notes(benchmark: Any, reference_set: str | None) -> list[str]:
    """Lines on what ``data show`` cannot state in the summary: other reference sets, unpinned files."""
    from jp_bench.benchmarks import RECORDED_SUMS, recorded_sha256

    notes = []
    others = [s.name for s in benchmark.reference_sets if s is not benchmark.reference_set(reference_set)]
    if others:
        notes.append(f"other reference sets: {', '.join(others)} (choose with --reference-set)")
    for pinned in benchmark.pinned_files():
        if pinned.sha256 is None:
            recorded = recorded_sha256(benchmark, pinned)
            if os.environ.get(benchmark.data_env):
                state = f"read in place from ${benchmark.data_env}, unverified"
            elif recorded:
                state = f"sha256 {recorded} recorded in {RECORDED_SUMS} when cached, checked on every load"
            else:
                state = f"no sha256 recorded in the cache ({RECORDED_SUMS} missing), unverified"
            notes.append(f"{pinned.path}: upstream publishes no sha256; pinned by revision {benchmark.commit}; {state}")
    return notes


def run_show(args: argparse.Namespace) -> int:
    from jp_bench._util.text_table import render_table
    from jp_bench.benchmarks import BENCHMARKS, UpstreamBenchmark, load_questions
    from jp_bench.benchmarks.questions import count_by_category

    questions = load_questions(args.benchmark, reference_set=args.reference_set)
    counts = count_by_category(questions)
    benchmark = BENCHMARKS.get(args.benchmark)
    upstream = isinstance(benchmark, UpstreamBenchmark)
    if upstream:
        origin = f"{benchmark.pin} ({benchmark.license})"
    elif benchmark is not None:
        origin = f"shipped with jp-bench ({benchmark.license})"
    else:
        origin = str(Path(args.benchmark).resolve())
    print(f"{args.benchmark}: {_summary(questions, benchmark, args.reference_set)} — {origin}")
    if upstream:
        for note in _pin_notes(benchmark, args.reference_set):
            print(f"note: {note}")
    if upstream and benchmark.category_slugs:
        # Upstream labels are kept in the questions; the ASCII names are what task names use.
        rows = [(category, benchmark.category_slug(category), count) for category, count in counts.items()]
        rows.append(("total", "", len(questions)))
        print(render_table(["category", "ASCII name", "questions"], rows, align_right=[2]))
        return 0
    rows = [(category, count) for category, count in counts.items()]
    rows.append(("total", len(questions)))
    print(render_table(["category", "questions"], rows, align_right=[1]))
    return 0


def run_import(args: argparse.Namespace) -> int:
    from jp_bench.benchmarks import RECORDED_SUMS, UpstreamBenchmark, get_benchmark, import_upstream, sha256_of

    benchmark = get_benchmark(args.benchmark)
    if not isinstance(benchmark, UpstreamBenchmark):
        raise JpBenchError(f"{args.benchmark} ships with jp-bench; there is nothing to import")
    written = import_upstream(args.path, benchmark)
    pins = {pinned.path: pinned for pinned in benchmark.pinned_files()}
    for relative, target in written.items():
        if pins[relative].sha256 is not None:
            print(f"verified and imported {relative} -> {target}")
        else:
            print(f"imported {relative} -> {target} (upstream publishes no sha256 for it; recorded "
                  f"{sha256_of(target.read_bytes())} in {RECORDED_SUMS}: compare it with a copy you trust)")
    return 0


def run_publish(args: argparse.Namespace) -> int:
    from jp_bench.reporting.published_upstream import publish_upstream

    done = publish_upstream(args.benchmark, args.results)
    for path in done.results:
        print(f"published {path}")
    for path in done.removed:
        print(f"removed {path} (no longer among the released judgments)")
    for path in done.views:
        print(path)
    return 0
