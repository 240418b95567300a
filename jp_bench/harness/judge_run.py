"""Judging inside an lm-eval run: ``--metadata '{"judge": ...}'`` makes jp-bench's tasks report judged scores.

lm-eval generates the answers of every task first, then filters and scores one task after the
other. When the first judged task is filtered, every judged task of the run that has its answers is
handled at once:

1. the answers are written to the workspace as lm-eval samples files, before any judge call, so
   nothing generated is lost whatever the judge does next (401, budget reached, Ctrl-C);
2. they are judged by the engine ``jp-bench judge`` uses (plan, store, runner, position swap), with
   the same store keys, so running the same command again makes no call;
3. each document's judgment is kept for ``process_results`` (the metrics) and the logged sample.

A turn-k subtask of a multi-turn benchmark (``ja_mt_bench_turn<k>_*``) is judged at turn k only: turn 1
on its own, a later turn on the conversation its documents carry, as ``jp-bench judge`` judges them.

A subtask whose judgments are not all in reports its judged metrics as NaN, never a score of a
partial set, and the run prints the one command that completes them.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jp_bench._util.names import safe_name
from jp_bench.errors import JpBenchError
from jp_bench.harness.judge_setup import JudgingSetup, judged_turn
from jp_bench.harness.judged_metrics import DocJudgment, pairwise_judgment, single_judgment
from jp_bench.harness.samples import timestamp, write_model_name, write_samples
from jp_bench.harness.session import current_session


@dataclass
class TaskAnswers:
    """One judged task's answers as lm-eval produced them."""

    task: str
    benchmark: str
    docs: list[tuple[int, dict[str, Any], str, Any]]  # (doc_id, doc, answer, request arguments)


@dataclass
class TaskJudgments:
    complete: bool
    by_question: dict[Any, DocJudgment] = field(default_factory=dict)


@dataclass
class JudgedRun:
    """Result of judging some tasks together; ``failure`` says why judgments are missing."""

    tasks: dict[str, TaskJudgments]
    failure: str | None = None
    command: str | None = None




def lm_eval_model_name(default: str = "model") -> str:
    """The name lm-eval gives the model of the running evaluation (its results' ``model_name``).

    lm-eval hands filters no model, so we read ``model_args`` from the running ``simple_evaluate``
    call, as lm-eval's own tracker names the model from them.
    """
    frame = sys._getframe()
    while frame is not None:
        if frame.f_code.co_name == "simple_evaluate" and frame.f_globals.get("__name__") == "lm_eval.evaluator":
            try:
                from lm_eval.loggers.evaluation_tracker import GeneralConfigTracker

                name = GeneralConfigTracker._get_model_name(frame.f_locals.get("model_args"))
            except (ImportError, AttributeError, IndexError):
                name = None
            return str(name) if name else default
        frame = frame.f_back
    return default


def write_answers(folder_root: Path, model: str, benchmark: str, tasks: list[TaskAnswers]) -> Path:
    """The answers as lm-eval samples files in a folder named by their content (a re-run reuses it)."""
    digest = hashlib.sha256()
    for task in sorted(tasks, key=lambda t: t.task):
        for doc_id, doc, answer, _ in task.docs:
            digest.update(json.dumps([task.task, doc_id, doc.get("question_id"), answer], ensure_ascii=False,
                                     default=str).encode())
    folder = folder_root / "answers" / safe_name(model) / f"{benchmark}-{digest.hexdigest()[:12]}"
    if folder.is_dir() and len(list(folder.glob("samples_*.jsonl"))) == len(tasks):
        return folder
    stamp = timestamp()
    for task in tasks:
        write_samples(folder, task.task, task.docs, stamp)
    write_model_name(folder, model, stamp)
    return folder


def completion_command(setup: JudgingSetup, answers: str, out: Path, turns: Iterable[int] = ()) -> str:
    settings = setup.settings
    argv = ["jp-bench", "judge", answers]
    if setup.baseline is not None:
        argv += [setup.baseline.source, "--mode", "pairwise", "--baseline", setup.baseline.name]
    else:
        argv += ["--mode", "single"]
    for turn in turns:  # the turn the subtasks answered: the saved conversations hold the earlier ones too
        argv += ["--turn", str(turn)]
    argv += ["--judge", settings.judge, "--workspace", str(setup.store), "--out", str(out)]
    for flag, value in (("--prompts", settings.judge_prompts), ("--judge-model", settings.judge_model),
                        ("--base-url", settings.judge_base_url), ("--concurrency", settings.judge_concurrency),
                        ("--max-cost", settings.judge_max_cost)):
        if value is not None:
            argv += [flag, str(value)]
    return shlex.join(argv)


def judge_answers(setup: JudgingSetup, tasks: list[TaskAnswers], *, log: Any = None) -> JudgedRun:
    """Write the answers of ``tasks`` (one benchmark), judge them, and split the judgments per task."""
    from jp_bench.judging.progress import progress_bar
    from jp_bench.judging.service import JudgeRequest, run_judging

    say = log or (lambda line: print(line, file=sys.stderr, flush=True))
    settings = setup.settings
    model = lm_eval_model_name()
    benchmark = tasks[0].benchmark
    root = setup.store.parent
    folder = write_answers(root, model, benchmark, tasks)
    answers = f"{model}={folder}"
    out = root / "judgments" / safe_name(model) / folder.name
    # Multi-turn subtasks: judge the turn they answered, not the earlier turns their conversations hold.
    turns = sorted({turn for task in tasks for _, doc, _, _ in task.docs if (turn := judged_turn(doc)) is not None})
    command = completion_command(setup, answers, out, turns)
    total = sum(len(t.docs) for t in tasks)
    say(f"jp-bench: judging {total} answers of {len(tasks)} task(s) with {setup.judge_name} "
        f"({settings.judge_mode}); answers saved in {folder}")
    if setup.smoke_test:
        say(f"jp-bench: note: {setup.judge_name} is a pipeline smoke test; its verdicts say nothing about quality")
    request = JudgeRequest(
        answers=[answers, *([setup.baseline.source] if setup.baseline else [])], judge=settings.judge,
        mode=settings.judge_mode, baseline=setup.baseline.name if setup.baseline else None, out=out,
        prompts=settings.judge_prompts, workspace=setup.store, concurrency=settings.judge_concurrency,
        max_cost_usd=settings.judge_max_cost, judge_model=settings.judge_model, base_url=settings.judge_base_url,
        turns=tuple(turns) or None,
    )
    update, close = progress_bar(f"judging {benchmark}")
    failure: str | None = None
    rows: list[dict[str, Any]] = []
    spent = ""
    try:
        outcome = run_judging(request, on_progress=update)
        rows = outcome.rows
        report = outcome.report
        if report is not None:
            spent = (f"{report.called} judge calls made, {report.reused} reused from the store, "
                     f"{report.errors} without a verdict, ${report.spent_usd:.4f}; ")
            if report.stopped_at_cost_limit:
                failure = f"judge_max_cost ${settings.judge_max_cost} reached"
    except JpBenchError as exc:
        failure = str(exc)
    except KeyboardInterrupt:
        close()
        say(f"jp-bench: interrupted while judging; the answers are saved and every finished judgment is "
            f"stored. Complete them with: {command}")
        raise
    finally:
        close()
    run = _split(tasks, rows, settings.judge_mode, model, setup.identity)
    missing_by_task = {name: sum(d.record["status"] == "missing" for d in t.by_question.values())
                       for name, t in run.tasks.items()}
    missing = sum(missing_by_task.values())
    if missing:
        run.failure = failure or "some judgments are missing"
        run.command = command
        current_session().incomplete_runs.append(run)  # read by `jp-bench lm-eval` for its exit code
        where = ", ".join(f"{name} {count}" for name, count in missing_by_task.items() if count)
        say(f"jp-bench: error: {missing} of {total} answers are not judged ({run.failure}; {where}); the judged "
            f"metrics of those tasks are reported as nan. Complete them with: {command}")
    else:
        say(f"jp-bench: {spent}judgments written to {out}")
    return run


def _split(tasks: list[TaskAnswers], rows: list[dict[str, Any]], mode: str, model: str,
           identity: str = "") -> JudgedRun:
    # Rows by question and turn judged: a turn-k subtask takes the turn-k judgments of its questions.
    by_item: dict[tuple[Any, int | None], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row.get("model", row.get("model_1")) == model:
            by_item[(row["question_id"], row.get("turn"))].append(row)
    build = single_judgment if mode == "single" else pairwise_judgment
    result: dict[str, TaskJudgments] = {}
    for task in tasks:
        items = [(doc.get("question_id"), judged_turn(doc)) for _, doc, _, _ in task.docs]
        expected = 1 if mode == "single" else 2
        complete = all(len(by_item.get(item, [])) == expected for item in items)
        judgments = {}
        for item in items:
            judgment = build(by_item.get(item, []), complete)
            if item[1] is not None:
                judgment.record["turn"] = item[1]
            judgment.record["setup"] = identity
            judgments[item[0]] = judgment
        result[task.task] = TaskJudgments(complete, judgments)
    return JudgedRun(result)




def register(task: Any) -> None:
    current_session().judged_tasks.add(task)


def judge_pending_tasks() -> None:
    """Judge every registered task that has its answers and no judgments yet, grouped by set-up."""
    groups: dict[int, tuple[JudgingSetup, list[Any]]] = {}
    for task in list(current_session().judged_tasks):
        if task.judged is None and task.has_answers():
            groups.setdefault(id(task.judging), (task.judging, []))[1].append(task)
    for setup, members in groups.values():
        answers = [member.answers() for member in sorted(members, key=lambda t: t.config.task)]
        run = judge_answers(setup, answers)
        for member in members:
            member.judged = run.tasks[member.config.task]
