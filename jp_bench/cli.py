"""The ``jp-bench`` command line: parsing and printing only; the work is done by the library.

Imports are lazy so ``jp-bench --help`` starts instantly and never imports torch or lm-eval.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jp_bench import __version__
from jp_bench.errors import JpBenchError


def _print_err(message: str) -> None:
    print(f"jp-bench: error: {message}", file=sys.stderr)


# ---------------------------------------------------------------------------------------- data
def _turns_summary(questions: Sequence[Any]) -> str:
    counts = sorted({len(q.turns) for q in questions})
    if len(counts) == 1:
        return f"{counts[0]} turn{'s' if counts[0] > 1 else ''} each"
    return f"{counts[0]}–{counts[-1]} turns"


def _summary(questions: Sequence[Any], benchmark: Any, reference_set: str | None) -> str:
    """``80 questions, 8 categories, 2 turns each, 30 with reference answers (set gpt-4), ...``."""
    from jp_bench.benchmarks import UpstreamBenchmark
    from jp_bench.questions import count_by_category

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


def cmd_data_show(args: argparse.Namespace) -> int:
    from jp_bench.benchmarks import BENCHMARKS, UpstreamBenchmark, load_questions
    from jp_bench.questions import count_by_category
    from jp_bench.text_table import render_table

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


def cmd_data_import(args: argparse.Namespace) -> int:
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


# ------------------------------------------------------------------------------------ lm-eval
def cmd_tasks_path(_args: argparse.Namespace) -> int:
    from jp_bench.paths import tasks_path

    print(tasks_path())
    return 0


# --------------------------------------------------------------------------------------- demo
def cmd_demo(args: argparse.Namespace) -> int:
    from collections import defaultdict

    from jp_bench.demo import run_demo
    from jp_bench.text_table import clip, render_table

    result = run_demo(
        args.out,
        per_category=args.per_category,
        max_gen_toks=args.max_gen_toks,
        backend=args.backend,
        log=lambda message: print(message, flush=True),
    )
    by_category: dict[str, list] = defaultdict(list)
    for answer in result.answers:
        by_category[answer.category].append(answer)
    rows = []
    for category, items in by_category.items():
        scores = [result.scores[a.question_id] for a in items if result.scores.get(a.question_id) is not None]
        mean_score = f"{sum(scores) / len(scores):.1f}" if scores else "-"
        rows.append((category, len(items), mean_score, round(sum(len(a.turns[0]) for a in items) / len(items)),
                     clip(items[0].turns[0], 36)))
    print()
    print(render_table(["category", "answers", "score (1-10)", "mean chars", "first answer"], rows,
                       align_right=[1, 2, 3]))
    print()
    print(f"{len(result.answers)} answers from the packaged Gemma 3 270M ({result.backend}); "
          f"scores: {result.judged_with}.")
    if result.example is not None:
        example = result.example
        print("\nOne answer in full:")
        for label, text in (("question", example["question"]), ("answer", example["answer"].strip()),
                            (f"judge's reply (score {example['score']})", example["reply"])):
            print(f"--- {label} ---\n{text}")
        print()
    print("This proves the pipeline, not model quality. Samples (lm-eval format):")
    for path in result.sample_files:
        print(f"  {path}")
    if result.judgment_files:
        print("Judgments:")
        for path in result.judgment_files:
            print(f"  {path}")
    return 0


# -------------------------------------------------------------------------------------- judges
def cmd_judges(args: argparse.Namespace) -> int:
    from jp_bench.judging.judges import available_judges
    from jp_bench.text_table import render_table

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


def _batch_settings(args: argparse.Namespace) -> Any:
    """``--batch`` and its options as :class:`jp_bench.llm.batch.BatchSettings` (None without ``--batch``)."""
    if not getattr(args, "batch", False):
        return None
    from jp_bench.llm.batch import BatchSettings

    return BatchSettings(poll_interval_s=args.batch_poll, fallback=args.batch_fallback,
                         max_requests_per_batch=args.batch_size)


def _add_batch_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Batch API (half price, results within 24 h)")
    group.add_argument("--batch", action="store_true",
                       help="send through the vendor's Batch API; a re-run polls the batches already submitted")
    group.add_argument("--batch-fallback", default="resubmit", choices=["resubmit", "live"],
                       help="errored or expired requests: resubmit them in a new batch (default) or send them live")
    group.add_argument("--batch-poll", type=_setting("BatchPoll", float), default=30.0, metavar="S",
                       help="seconds before the first status check (at most 300; grows to 5 minutes; default 30)")
    group.add_argument("--batch-size", type=_positive_int, metavar="N",
                       help="at most N requests per batch (default: the vendor's limit)")


def _setting(rule_name: str, parse: Any) -> Any:
    """An argparse type that checks a value by its rule in jp_bench.llm.limits (the rule the judge YAML and
    the in-harness keys use too), so a bad value is one usage error before anything runs."""
    def convert(text: str) -> Any:
        from jp_bench.llm import limits

        try:
            return limits.parse_setting(getattr(limits, rule_name), parse, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = rule_name  # argparse names the type in some messages
    return convert


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def cmd_judge(args: argparse.Namespace) -> int:
    from jp_bench.judging.jury import jury_of
    from jp_bench.judging.service import JudgeRequest, prepare, run_judging
    from jp_bench.judging.summary import print_outcome, print_plan

    jury = jury_of(args.judge)
    request = JudgeRequest(
        answers=args.answers, judge=args.judge[0], mode=args.mode, baseline=args.baseline,
        out=Path(args.out) if args.out else None, benchmark=args.benchmark, prompts=args.prompts,
        judges_dirs=args.judges_dir or (), workspace=Path(args.workspace) if args.workspace else None,
        concurrency=args.concurrency, max_cost_usd=args.max_cost, dry_run=args.dry_run,
        retry_errors=args.retry_errors, judge_model=args.judge_model, base_url=args.base_url,
        batch=_batch_settings(args), weighted=args.weighted, samples=args.samples, temperature=args.temperature,
        turns=tuple(sorted(set(args.turn))) if args.turn else None,
    )
    if jury is not None:
        return _judge_with_jury(request, jury)
    if args.dry_run:
        outcome = run_judging(request)
        print_plan(outcome)
        return 0
    from jp_bench.judging.progress import progress_bar

    prepared = prepare(request)
    print_plan(prepared, brief=True)
    update, close = progress_bar()
    try:
        outcome = run_judging(request, prepared=prepared, on_progress=update)
    except KeyboardInterrupt:
        close()
        _print_err("interrupted: every finished judgment is stored; run the same command again to resume")
        return 130
    finally:
        close()  # before any error line, so it is never glued onto the bar
    print_outcome(outcome)
    return 0 if outcome.complete else 1


def _judge_with_jury(request: Any, jury: Any) -> int:
    """Each member judges in turn (one store: a member already done costs nothing); then the jury's files."""
    from jp_bench.judging.progress import progress_bar
    from jp_bench.judging.service import JuryOutcome, prepare_jury, run_judging, write_jury_outputs
    from jp_bench.judging.summary import print_outcome, print_plan

    print(f"jury {jury.name}: {', '.join(jury.judges)}")
    # Every member is checked (each judge once, judge file, answers, plan) before any is paid for.
    prepared = prepare_jury(request, jury)
    outcome = JuryOutcome(jury=jury, members=[])
    for member, plan in prepared:
        if request.dry_run:
            outcome.members.append(run_judging(member, prepared=plan))
            print_plan(outcome.members[-1])
            continue
        print_plan(plan, brief=True)
        update, close = progress_bar()
        try:
            outcome.members.append(run_judging(member, prepared=plan, on_progress=update))
        except KeyboardInterrupt:
            close()
            _print_err("interrupted: every finished judgment is stored; run the same command again to resume")
            return 130
        finally:
            close()
        print_outcome(outcome.members[-1])
    if request.dry_run:
        return 0
    if request.out is not None and outcome.complete:
        outcome.written = write_jury_outputs(Path(request.out), outcome)
        print("jury files written:")
        for path in outcome.written[:1]:
            print(f"  {path}  (every member's rows: `jp-bench report {request.out}` pools them)")
    elif not outcome.complete:
        print("incomplete: some members' judgments are missing; run the same command again to finish")
    return 0 if outcome.complete else 1


# -------------------------------------------------------------------------------------- report
def cmd_report(args: argparse.Namespace) -> int:
    from jp_bench.reporting.formats import render
    from jp_bench.reporting.report import build_report
    from jp_bench.reporting.sources import attach_categories, load_judgments

    judgments = load_judgments(args.sources)
    if args.benchmark:
        from jp_bench.benchmarks import load_questions

        attach_categories(judgments, {q.question_id: q.category for q in load_questions(args.benchmark)})
    report = build_report(judgments, baseline=args.baseline, n_boot=args.bootstrap, seed=args.seed)
    plot = None
    if args.plot:  # drawn before anything is printed, so a report that cannot be plotted prints one error
        from jp_bench.reporting.plots import render_radar

        plot = render_radar(report)
    sys.stdout.write(render(report, args.format))
    if args.format == "csv":  # the CSV has no place for them
        for note in report["notes"]:
            print(f"jp-bench: note: {note}", file=sys.stderr)
    if plot is not None:
        from jp_bench.atomic import write_bytes_atomic

        print(f"wrote {write_bytes_atomic(Path(args.plot), plot)}", file=sys.stderr)
    if args.publish:
        from jp_bench.reporting.publish import publish_report

        for path in publish_report(report, judgments, results_dir=Path(args.results), benchmark=args.benchmark):
            print(f"published {path}", file=sys.stderr)
    return 0

def cmd_leaderboard(args: argparse.Namespace) -> int:
    from jp_bench.reporting.leaderboard import build_leaderboard

    for path in build_leaderboard(Path(args.results), Path(args.out)):
        print(path)
    return 0


def cmd_agreement(args: argparse.Namespace) -> int:
    import json

    from jp_bench.agreement import Vote, agreement_report, read_human_vote_file, read_judge_votes
    from jp_bench.text_table import render_table

    humans: list[Vote] = []
    for path in args.human or []:
        human_file = read_human_vote_file(path)
        humans += human_file.votes
        if human_file.conversation:  # said, not hidden: those votes would otherwise vanish without a word
            print(f"{path}: left out {human_file.conversation} whole-conversation vote(s) (\"scope\": "
                  "\"conversation\", cast by an earlier jp-bench annotate): they judge no one turn, and every "
                  "comparison is per turn", file=sys.stderr)
    judges: dict = {}
    for source in args.judgments or []:
        for name, votes in read_judge_votes(source).items():
            if name in judges:
                raise JpBenchError(f"judge {name!r} appears in more than one --judgments source")
            judges[name] = votes
    if not humans and not judges:
        raise JpBenchError("nothing to compare: give --human votes and/or --judgments")
    categories = None
    if args.benchmark:
        from jp_bench.benchmarks import load_questions

        categories = {q.question_id: q.category for q in load_questions(args.benchmark)}
    entries = agreement_report(humans, judges, n_boot=args.bootstrap, seed=args.seed, categories=categories)
    if args.format == "json":
        print(json.dumps(entries, ensure_ascii=False, indent=2))
        return 0

    def cell(stats: dict) -> list[str]:
        ci = stats.get("ci95") or [None, None]
        rate = "-" if stats.get("agreement") is None else f"{stats['agreement']:.3f}"
        kappa = "-" if stats.get("kappa") is None else f"{stats['kappa']:.3f}"
        interval = "-" if ci[0] is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"
        return [rate, interval, kappa, str(stats.get("n", 0))]

    rows = []
    for e in entries:
        rows.append([e["pair"], *cell(e["with_ties"]), *cell(e["without_ties"])])
        # Multi-turn votes (MT-Bench): one row per turn too, as FastChat's study reports turns apart.
        if len(e["by_turn"]) > 1:
            rows += [[f"  turn {turn}", *cell(figures["with_ties"]), *cell(figures["without_ties"])]
                     for turn, figures in sorted(e["by_turn"].items())]
    print(render_table(["comparison", "agree (w/ ties)", "95% CI", "kappa", "n", "agree (w/o ties)", "95% CI",
                        "kappa", "n"], rows))
    return 0


def cmd_annotate(args: argparse.Namespace) -> int:
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


# ---------------------------------------------------------------------------------- selfinstruct
def cmd_seeds_translate(args: argparse.Namespace) -> int:
    from jp_bench.judging.judges import load_judge
    from jp_bench.judging.service import workspace_store
    from jp_bench.selfinstruct.seeds import read_english_seeds
    from jp_bench.selfinstruct.seeds_translate import translate_seeds
    from jp_bench.selfinstruct.sheet import write_sheet

    config = load_judge(args.translator, args.judges_dir)
    if args.batch:
        config.check_batch()
    spec = config.model_spec(model=args.translator_model, base_url=args.base_url)
    seeds = read_english_seeds(args.input)
    if args.limit:
        seeds = seeds[: args.limit]
    with workspace_store(Path(args.workspace) if args.workspace else None) as store:
        rows = translate_seeds(seeds, spec, store, concurrency=args.concurrency, batch=_batch_settings(args))
    for path in write_sheet(rows, Path(args.out), overwrite=args.overwrite):
        print(path)
    errors = sum(1 for row in rows if row.status == "error")
    print(f"{len(rows)} rows ({errors} without a usable translation); edit the sheet, set status to done or skip, "
          f"then run `jp-bench selfinstruct seeds import SHEET --out seeds_ja.jsonl`")
    return 0


def cmd_seeds_import(args: argparse.Namespace) -> int:
    from jp_bench.selfinstruct.seeds import write_seed_set
    from jp_bench.selfinstruct.sheet import import_sheet

    seeds = import_sheet(args.sheet, allow_todo=args.allow_todo)
    path = write_seed_set(seeds, Path(args.out))
    print(f"{len(seeds)} Japanese seed tasks written to {path}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from jp_bench.selfinstruct.service import GenerateRequest, run_generation

    request = GenerateRequest(
        generator=args.generator, num=args.num, out=Path(args.out), seeds=args.seeds, prompt=args.prompt,
        workspace=Path(args.workspace) if args.workspace else None, concurrency=args.concurrency,
        tasks_per_request=args.tasks_per_request, seed=args.seed, max_cost_usd=args.max_cost,
        max_requests=args.max_requests, generator_model=args.generator_model, base_url=args.base_url,
        judges_dirs=tuple(args.judges_dir or ()), tokenizer=args.tokenizer, rouge_threshold=args.rouge_threshold,
        batch=_batch_settings(args),
    )

    def progress(report) -> None:
        print(f"requests {report.requests}: accepted {len(report.accepted)}/{args.num}, "
              f"dropped {sum(report.drop_counts.values())}, calls {report.calls_made} "
              f"(reused {report.reused}), spent ${report.spent_usd:.4f}", file=sys.stderr, flush=True)

    try:
        outcome = run_generation(request, on_progress=progress)
    except KeyboardInterrupt:
        _print_err("interrupted: every finished request is stored; run the same command again to continue")
        return 130
    report = outcome.report
    print(f"accepted {len(report.accepted)} of {len(report.accepted) + len(report.dropped)} candidates; "
          f"dropped: {dict(report.drop_counts)}")
    if report.stopped:
        print(report.stopped)
    for path in outcome.written:
        print(path)
    return 0 if len(report.accepted) >= args.num else 1


# -------------------------------------------------------------------------------------- finetune
def _finetune_settings(args: argparse.Namespace) -> dict[str, object]:
    """Settings from --config (the layout of OUT/finetune_config.json, JSON or YAML) under the flags given."""
    settings: dict[str, object] = {}
    if args.config:
        from jp_bench.yaml_lines import read_yaml_mapping

        _, loaded = read_yaml_mapping(Path(args.config), "fine-tuning settings")
        settings.update(loaded)
    flags = {"base": args.base, "data": args.data, "output_dir": args.out, "method": args.method,
             "template": args.template, "max_seq_len": args.max_seq_len, "epochs": args.epochs,
             "max_steps": args.max_steps, "lr": args.lr, "batch_size": args.batch_size, "grad_accum": args.grad_accum,
             "lora_r": args.lora_r, "lora_alpha": args.lora_alpha, "packing": args.packing, "seed": args.seed,
             "save_steps": args.save_steps, "logging_steps": args.logging_steps, "merge": args.merge}
    settings.update({key: value for key, value in flags.items() if value is not None})
    missing = [flag for flag, key in (("--base", "base"), ("--data", "data"), ("--out", "output_dir"))
               if key not in settings]
    if missing:
        raise JpBenchError(f"finetune needs {', '.join(missing)} (or a --config file that sets them)")
    return settings


def cmd_finetune(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from jp_bench.errors import describe_validation_error
    from jp_bench.finetune import FinetuneConfig, run_finetune

    settings = _finetune_settings(args)
    try:
        config = FinetuneConfig(**settings)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise JpBenchError(f"finetune settings: {describe_validation_error(exc)}") from None
    result = run_finetune(config, on_log=lambda record: print(json.dumps(record), file=sys.stderr, flush=True))
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun/accelerate: one summary, from the main process
        return 0
    if result.skipped:
        print(f"already finished: {result.output_dir}")
    print(f"steps: {result.steps}, final loss: {result.final_loss}")
    for label, path in (("adapter", result.adapter_dir), ("merged model", result.merged_dir)):
        if path is not None:
            print(f"{label}: {path}")
    return 0


# ------------------------------------------------------------------------------------ experiment
def cmd_experiment(args: argparse.Namespace) -> int:
    from jp_bench.experiment import load_experiment, run_experiment
    from jp_bench.experiment.results import render_console
    from jp_bench.judging.progress import progress_bar

    config = load_experiment(args.config)
    try:
        outcome = run_experiment(config, log=lambda line: print(line, file=sys.stderr, flush=True),
                                 progress=None if args.dry_run else progress_bar, dry_run=args.dry_run)
    except KeyboardInterrupt:
        _print_err("interrupted: finished steps, checkpoints and judge calls are kept; "
                   "run the same command again to go on")
        return 130
    if args.dry_run:
        return 0
    if outcome.results is None:
        _print_err("judging is incomplete; run the same command again to go on")
        return 1
    sys.stdout.write(render_console(outcome.results))
    for path in outcome.written:
        print(path)
    return 0


# ------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jp-bench",
        description="Japanese LLM evaluation: lm-eval tasks, LLM judges, statistics and instruction data.",
    )
    parser.add_argument("--version", action="version", version=f"jp-bench {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    data = commands.add_parser("data", help="benchmark questions: show counts, import upstream data")
    data_commands = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    show = data_commands.add_parser("show", help="print the number of questions per category")
    show.add_argument("--benchmark", default="jp_bench",
                      help="jp_bench (the paper's 80), jp_bench_fresh (ours), ja_mt_bench, rakuda, "
                           "elyza_tasks_100, or a question.jsonl path")
    show.add_argument("--reference-set", metavar="NAME",
                      help="which published reference answers to attach (ja_mt_bench: gpt-4, the default, "
                           "or gpt-4o-human)")
    show.set_defaults(func=cmd_data_show)
    imp = data_commands.add_parser(
        "import", help="verify and cache upstream data from a local checkout (offline use)"
    )
    imp.add_argument("path", help="a checkout of the benchmark's upstream repository (see docs/data.md), "
                                  "or a folder laid out like its data folder")
    imp.add_argument("--benchmark", default="jp_bench",
                     help="jp_bench (ku-nlp/ja-vicuna-qa-benchmark, the default), ja_mt_bench "
                          "(Stability-AI/FastChat), rakuda (yuzu-ai/japanese-llm-ranking) or "
                          "elyza_tasks_100 (elyza/ELYZA-tasks-100 on the Hugging Face Hub)")
    imp.set_defaults(func=cmd_data_import)

    tasks = commands.add_parser("tasks-path", help="print the folder to pass to lm-eval's --include_path")
    tasks.set_defaults(func=cmd_tasks_path)

    commands.add_parser(
        "lm-eval",
        help="run lm-eval with jp-bench's tasks included (arguments are lm-eval's own)",
        add_help=False,
    )

    judges = commands.add_parser("judges", help="list the available judges")
    judges.add_argument("--judges-dir", action="append", help="also read judge YAMLs from this folder")
    judges.set_defaults(func=cmd_judges)

    judge = commands.add_parser(
        "judge", help="judge answers with an LLM judge (single scores or position-swapped pairwise)"
    )
    judge.add_argument("answers", nargs="+", metavar="ANSWERS",
                       help="lm-eval output folders / samples_*.jsonl, or FastChat model_answer folders/files; "
                            "NAME=PATH names the model")
    judge.add_argument("--judge", required=True, action="append",
                       help="a judge name (see `jp-bench judges`) or a judge YAML; give it several times (or a "
                            "jury YAML) for a jury whose members the report pools")
    judge.add_argument("--mode", default="pairwise", choices=["single", "pairwise", "pairwise-all"])
    judge.add_argument("--baseline", help="the model every other model is compared with (pairwise)")
    judge.add_argument("--out", help="folder for judgments.jsonl and FastChat model_judgment files")
    judge.add_argument("--benchmark", help="questions: jp_bench, jp_bench_fresh or a file "
                                           "(default: taken from lm-eval samples, else jp_bench)")
    judge.add_argument("--prompts", help="a prompt set: shipped name, our YAML, or a FastChat judge_prompts.jsonl")
    judge.add_argument("--judges-dir", action="append", help="also read judge YAMLs from this folder")
    judge.add_argument("--judge-model", help="override the judge's model name")
    judge.add_argument("--base-url", type=_setting("BaseUrl", str), help="override the judge's API base URL")
    judge.add_argument("--workspace", help="SQLite store (default: $JP_BENCH_HOME/workspaces/default/store.sqlite)")
    judge.add_argument("--concurrency", type=_setting("Concurrency", int),
                       help="calls in flight at once (default: the judge's setting)")
    judge.add_argument("--max-cost", type=_setting("MaxCost", float), metavar="USD",
                       help="refuse to start, or stop, above this spend")
    judge.add_argument("--dry-run", action="store_true", help="print the plan and the cost estimate; call nothing")
    judge.add_argument("--retry-errors", action="store_true", help="call again for judgments stored as errors")
    judge.add_argument("--weighted", action="store_true",
                       help="ask for token log-probabilities and record each verdict's probability (OpenAI "
                            "non-reasoning models, vLLM, llama.cpp); reports add the probability-weighted result")
    judge.add_argument("--samples", type=_setting("Samples", int), default=1, metavar="N",
                       help="judge every item N times (temperature > 0; seeds where the server takes them); "
                            "reports put the judge's noise into the confidence intervals")
    judge.add_argument("--temperature", type=_setting("Temperature", float),
                       help="override the judge's temperature (e.g. for --samples; not for Anthropic judges, "
                            "which are sent none)")
    judge.add_argument("--turn", type=_positive_int, action="append", metavar="K",
                       help="multi-turn questions (ja_mt_bench): judge only turn K (repeatable; default: every "
                            "turn the answers have)")
    _add_batch_options(judge)
    judge.set_defaults(func=cmd_judge)

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
    report.add_argument("--publish", action="store_true", help="write results/<benchmark>/<judge>/<model>.json")
    report.add_argument("--results", default="results", help="results folder for --publish (default ./results)")
    report.set_defaults(func=cmd_report)

    board = commands.add_parser("leaderboard", help="build LEADERBOARD.md, a CSV, PNG plots and one HTML page")
    board.add_argument("--results", default="results", help="published results folder (default ./results)")
    board.add_argument("--out", default="results", help="where to write the views (default: the results folder)")
    board.set_defaults(func=cmd_leaderboard)

    agree = commands.add_parser("agreement", help="judge-human, human-human, judge-judge and swapped-order agreement")
    agree.add_argument("--human", action="append", help="human votes: lmsys mt_bench_human_judgments layout "
                                                        "(JSONL or CSV) or our annotation export; repeatable")
    agree.add_argument("--judgments", action="append", help="judging output (judgments.jsonl or folder) or FastChat "
                                                            "pairwise files; repeatable")
    agree.add_argument("--benchmark", help="question set, for per-category agreement")
    agree.add_argument("--format", default="table", choices=["table", "json"])
    agree.add_argument("--bootstrap", type=int, default=1000, metavar="N")
    agree.add_argument("--seed", type=int, default=0)
    agree.set_defaults(func=cmd_agreement)

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
    annotate.set_defaults(func=cmd_annotate)

    selfinstruct = commands.add_parser("selfinstruct", help="Japanese self-instruct: seeds, generation, filtering")
    si_commands = selfinstruct.add_subparsers(dest="si_command", metavar="ACTION", required=True)
    seeds = si_commands.add_parser("seeds", help="translate English seeds to a post-edit sheet; import it")
    seeds_commands = seeds.add_subparsers(dest="seeds_command", metavar="ACTION", required=True)
    translate = seeds_commands.add_parser("translate", help="machine-translate seeds into a post-edit sheet")
    translate.add_argument("--input", required=True, help="English seeds (self-instruct/Alpaca seed_tasks.jsonl)")
    translate.add_argument("--translator", required=True, help="a model from `jp-bench judges` (e.g. gpt-4o)")
    translate.add_argument("--out", required=True, help="sheet path without suffix: writes OUT.csv and OUT.jsonl")
    translate.add_argument("--translator-model", help="override the model name")
    translate.add_argument("--base-url", type=_setting("BaseUrl", str), help="override the API base URL")
    translate.add_argument("--judges-dir", action="append", help="also read model YAMLs from this folder")
    translate.add_argument("--workspace", help="SQLite store (calls are reused on re-runs)")
    translate.add_argument("--concurrency", type=_setting("Concurrency", int), default=8)
    translate.add_argument("--limit", type=int, help="translate only the first N seeds")
    translate.add_argument("--overwrite", action="store_true", help="replace an existing sheet (edits are lost)")
    _add_batch_options(translate)
    translate.set_defaults(func=cmd_seeds_translate)
    imp_sheet = seeds_commands.add_parser("import", help="validate an edited sheet and write the Japanese seed set")
    imp_sheet.add_argument("sheet", help="the edited sheet (.csv or .jsonl)")
    imp_sheet.add_argument("--out", required=True, help="Japanese seed set (JSONL)")
    imp_sheet.add_argument("--allow-todo", action="store_true", help="accept rows still marked todo")
    imp_sheet.set_defaults(func=cmd_seeds_import)
    generate = si_commands.add_parser("generate", help="generate Japanese tasks from seed demonstrations")
    generate.add_argument("--generator", required=True, help="a model from `jp-bench judges` (embedded works offline)")
    generate.add_argument("--num", type=int, required=True, help="accepted tasks wanted")
    generate.add_argument("--out", required=True, help="dataset folder")
    generate.add_argument("--seeds", help="Japanese seed set (JSONL); default: the shipped set")
    generate.add_argument("--prompt", help="generation prompt (shipped name or YAML file)")
    generate.add_argument("--tasks-per-request", type=int, default=10)
    generate.add_argument("--concurrency", type=_setting("Concurrency", int), default=8)
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--max-cost", type=_setting("MaxCost", float), metavar="USD")
    generate.add_argument("--max-requests", type=int)
    generate.add_argument("--generator-model", help="override the model name")
    generate.add_argument("--base-url", type=_setting("BaseUrl", str), help="override the API base URL")
    generate.add_argument("--judges-dir", action="append", help="also read model YAMLs from this folder")
    generate.add_argument("--workspace", help="SQLite store (calls are reused on re-runs)")
    generate.add_argument("--tokenizer", default="char", choices=["char", "morpheme"],
                          help="tokens for ROUGE-L de-duplication")
    generate.add_argument("--rouge-threshold", type=float, default=0.7)
    _add_batch_options(generate)
    generate.set_defaults(func=cmd_generate)

    finetune = commands.add_parser(
        "finetune", help="supervised fine-tuning (LoRA, QLoRA or full) on instruction data",
        description="Defaults are FinetuneConfig's (docs/finetune.md); flags given override --config.")
    finetune.add_argument("--config", help="settings file (JSON or YAML, the layout of OUT/finetune_config.json)")
    finetune.add_argument("--base", help="base model (folder or hub id)")
    finetune.add_argument("--data", help="instruction data: a dataset folder, JSONL or Parquet")
    finetune.add_argument("--method", choices=["lora", "qlora", "full"], help="default lora")
    finetune.add_argument("--out", help="output folder (checkpoints, adapter, merged model)")
    finetune.add_argument("--template", choices=["alpaca-ja", "chat"],
                          help="prompt format: the alpaca-ja frame (saved as the chat template, default) or the "
                               "model's own")
    finetune.add_argument("--max-seq-len", type=int, help="default 1024")
    finetune.add_argument("--epochs", type=float, help="default 3")
    finetune.add_argument("--max-steps", type=int, help="stop after N optimizer steps (wins over epochs)")
    finetune.add_argument("--lr", type=float, help="default 2e-4")
    finetune.add_argument("--batch-size", type=int, help="per device (default 4)")
    finetune.add_argument("--grad-accum", type=int, help="default 4")
    finetune.add_argument("--lora-r", type=int, help="default 16")
    finetune.add_argument("--lora-alpha", type=int, help="default 32")
    finetune.add_argument("--packing", action="store_true", default=None, help="pack examples up to --max-seq-len")
    finetune.add_argument("--seed", type=int, help="default 42")
    finetune.add_argument("--save-steps", type=int, help="default 100")
    finetune.add_argument("--logging-steps", type=int, help="default 10")
    finetune.add_argument("--merge", action="store_true", default=None,
                          help="also save the adapter merged into the base")
    finetune.set_defaults(func=cmd_finetune)

    experiment = commands.add_parser(
        "experiment", help="datasets × base models: fine-tune, answer, judge, compare (skips finished steps)")
    experiment.add_argument("config", help="experiment file (YAML; see docs/experiment.md)")
    experiment.add_argument("--dry-run", action="store_true",
                            help="show each step as done or to do (with judge call counts and cost) and stop")
    experiment.set_defaults(func=cmd_experiment)

    demo = commands.add_parser("demo", help="offline end-to-end run with a packaged model")
    demo.add_argument("--out", default="jp_bench_demo", help="output folder (default: ./jp_bench_demo)")
    demo.add_argument("--per-category", type=int, default=1, help="questions per category (default 1)")
    demo.add_argument("--max-gen-toks", type=int, default=128, help="answer length cap in tokens (default 128)")
    demo.add_argument("--backend", default="auto", choices=["auto", "transformers", "llama-cpp"],
                      help="auto uses llama-cpp-python when installed, else transformers")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        if arguments and arguments[0] == "lm-eval":
            # Everything after `lm-eval` belongs to lm-eval's own parser, untouched.
            from jp_bench.harness.runner import run_lm_eval

            return run_lm_eval(arguments[1:])
        parser = build_parser()
        args = parser.parse_args(arguments)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        return args.func(args)
    except JpBenchError as exc:
        _print_err(str(exc))
        return 1
    except KeyboardInterrupt:
        _print_err("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
