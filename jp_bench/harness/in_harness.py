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

import asyncio
import hashlib
import json
import math
import os
import shlex
import sys
import weakref
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jp_bench import paths
from jp_bench.atomic import write_text_atomic
from jp_bench.errors import JpBenchError
from jp_bench.judging.outcomes import combine_games
from jp_bench.llm.limits import BaseUrl, Concurrency, MaxCost
from jp_bench.names import safe_name

# Metadata keys this module reads; every other key belongs to lm-eval or to the task's data hook.
SETTING_KEYS = ("judge", "judge_mode", "baseline", "judge_prompts", "judge_concurrency", "judge_max_cost",
                "judge_workspace", "judge_model", "judge_base_url", "judge_preflight")
PAPER_BASELINE = "paper"



def total(items: list[float]) -> float:
    """lm-eval aggregation for counts (lm-eval registers no ``sum``): 0/1 per document, summed."""
    return float(sum(items))


# lm-eval metric definitions per mode: (name, aggregation, higher_is_better).
_COUNTS: list[tuple[str, Any, bool]] = [("judge_errors", total, False), ("judge_missing", total, False)]
METRICS: dict[str, list[tuple[str, Any, bool]]] = {
    "single": [("judge_score", "mean", True), *_COUNTS],
    "pairwise": [("win_rate", "mean", True), ("adjusted_win_rate", "mean", True), ("loss_rate", "mean", False),
                 ("inconsistent_rate", "mean", False), *_COUNTS],
}
ANSWER_METRIC = {"metric": "answer_chars", "aggregation": "mean", "higher_is_better": True}


class JudgingSettings(BaseModel):
    """The judging keys of lm-eval's ``--metadata`` (documented in docs/evaluate.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    judge: str = Field(min_length=1, description="a judge name (`jp-bench judges`) or a judge YAML path")
    judge_mode: Literal["single", "pairwise"] = "single"
    baseline: str | None = Field(None, min_length=1, description="pairwise: 'paper' or answers (NAME=PATH or PATH)")
    judge_prompts: str | None = Field(None, min_length=1)
    # The rules of `jp-bench judge --concurrency/--max-cost/--base-url` (jp_bench.llm.limits): strict, so
    # `true` is not 1 and nan is no budget.
    judge_concurrency: Concurrency | None = None
    judge_max_cost: MaxCost | None = None
    judge_workspace: str | None = Field(None, min_length=1, description="the SQLite store, or a folder for one")
    judge_model: str | None = Field(None, min_length=1)
    judge_base_url: BaseUrl | None = None
    judge_preflight: bool = Field(True, strict=True)


def parse_settings(metadata: Mapping[str, Any] | None) -> JudgingSettings | None:
    """The judging settings in ``metadata``; None when judging was not asked for (no ``judge`` key)."""
    for key in metadata or {}:
        # lm-eval passes every key on; a judging key in other letter case would be silently ignored.
        if key not in SETTING_KEYS and key.casefold() in SETTING_KEYS:
            raise JpBenchError(f"--metadata {key}: unknown key; did you mean {key.casefold()!r}? "
                               "(judging keys are lower case)")
    given = {k: v for k, v in (metadata or {}).items() if k in SETTING_KEYS or k.casefold().startswith("judge")}
    if "judge" not in given:
        if given:
            raise JpBenchError(f"--metadata {sorted(given)[0]}: judging settings need a 'judge' key as well")
        return None
    try:
        settings = JudgingSettings.model_validate(given)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        if first["type"] == "extra_forbidden":
            import difflib

            close = difflib.get_close_matches(key.casefold(), SETTING_KEYS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            known = ", ".join(SETTING_KEYS)
            raise JpBenchError(f"--metadata {key}: unknown judging key ({hint}known: {known})") from None
        message = first["msg"].removeprefix("Value error, ")
        if key == "judge_base_url":  # a URL may carry credentials: never echoed
            raise JpBenchError(f"--metadata {key}: {message}") from None
        raise JpBenchError(f"--metadata {key}: {message} (got {first.get('input')!r})") from None
    if settings.judge_mode == "pairwise" and settings.baseline is None:
        raise JpBenchError("--metadata baseline: judge_mode 'pairwise' needs a baseline "
                           "('paper' for jp_bench, or a path to lm-eval output or FastChat answers)")
    if settings.judge_mode == "single" and settings.baseline is not None:
        raise JpBenchError("--metadata baseline: a baseline is only used with judge_mode 'pairwise'")
    return settings


def store_path(settings: JudgingSettings) -> Path:
    """``judge_workspace`` is the SQLite file (as ``jp-bench judge --workspace``) or a folder holding one."""
    if settings.judge_workspace is None:
        return paths.default_store_path()
    given = Path(settings.judge_workspace).expanduser()
    if given.is_dir() or (not given.suffix and not given.exists()):
        return given / "store.sqlite"
    # A file must say it is a store: the answers and judgments are written beside it, so a path such as
    # /etc/passwd would otherwise put them into whatever folder holds that file.
    if given.suffix not in STORE_SUFFIXES and not _is_sqlite_file(given):
        raise JpBenchError(f"--metadata judge_workspace: {given} is neither a folder nor a "
                           f"{' / '.join(STORE_SUFFIXES)} store file (the answers and judgments are written in "
                           "the store's folder: name a folder of your own, or a .sqlite file in one)")
    return given


STORE_SUFFIXES = (".sqlite", ".sqlite3", ".db")


def _is_sqlite_file(path: Path) -> bool:
    """An existing SQLite database (the store of an earlier ``jp-bench judge --workspace NAME``)."""
    try:
        with path.open("rb") as file:
            return file.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def check_workspace(store: Path) -> None:
    """Before generation: the store opens as a jp-bench store and its folder takes files. Found only
    when judging starts, inside lm-eval's filters, either would end the run with the generation lost."""
    import sqlite3
    import tempfile

    from jp_bench.store import Store

    folder = store.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise JpBenchError(f"--metadata judge_workspace: {folder}: cannot write there "
                           f"({exc.strerror or exc}); name a folder you can write to") from None
    try:
        with Store(store) as opened:
            opened.get("")  # reads every column of the calls table: another program's SQLite file fails here
    except JpBenchError as exc:
        raise JpBenchError(f"--metadata judge_workspace: {exc}") from None
    except sqlite3.Error as exc:
        raise JpBenchError(f"--metadata judge_workspace: {store}: not a usable jp-bench store ({exc}); "
                           "name a new file or folder, or the store of an earlier run") from None


# ------------------------------------------------------------------------------------ the set-up
@dataclass
class Baseline:
    name: str
    source: str  # NAME=PATH, as `jp-bench judge` takes it
    question_ids: frozenset
    turns: dict[Any, int] = field(default_factory=dict)  # question id -> how many turns the baseline answered


@dataclass
class JudgingSetup:
    """Everything checked before generation: the judge, its key, its prompts, the baseline."""

    settings: JudgingSettings
    judge_name: str
    smoke_test: bool
    store: Path
    baseline: Baseline | None = None
    prompts: Any = None  # the PromptSet the judge uses (jp_bench.judging.prompts)
    # What decides the judgments (judge model and endpoint, prompt set version, mode, baseline), as a
    # digest: each sample's judgment carries it, so `jp-bench lm-eval --tasks ja_mt_bench` can tell a
    # subtask judged with these settings (kept) from one judged otherwise or not at all (run again).
    identity: str = ""


_SETUPS: dict[tuple[JudgingSettings, str], JudgingSetup] = {}
_CHECKED_ACCESS: set[str] = set()


def prepare_setup(settings: JudgingSettings, benchmark: str) -> JudgingSetup:
    """Check the settings for ``benchmark`` once per process (each subtask asks; the first one checks)."""
    key = (settings, benchmark)
    if key not in _SETUPS:
        _SETUPS[key] = _check(settings, benchmark)
    return _SETUPS[key]


def _check(settings: JudgingSettings, benchmark: str) -> JudgingSetup:
    from jp_bench.judging.judges import load_judge
    from jp_bench.judging.prompts import load_prompt_set
    from jp_bench.judging.service import model_spec_for

    try:
        judge = load_judge(settings.judge)
    except JpBenchError as exc:
        raise JpBenchError(f"--metadata judge: {exc}") from None
    try:
        prompts = load_prompt_set(settings.judge_prompts or judge.prompt_set)
    except JpBenchError as exc:
        raise JpBenchError(f"--metadata judge_prompts: {exc}") from None
    spec = model_spec_for(judge, settings.judge_mode, settings.judge_model, settings.judge_base_url)
    if spec.api_key_env and spec.provider in ("openai", "anthropic") and not os.environ.get(spec.api_key_env):
        raise JpBenchError(f"--metadata judge: judge {judge.name!r} reads its API key from {spec.api_key_env}, "
                           "which is not set")
    baseline = _load_baseline(settings.baseline, benchmark) if settings.baseline else None
    store = store_path(settings)
    check_workspace(store)
    if settings.judge_preflight:  # last: the only check that goes over the network
        _check_access(spec)
    identity = json.dumps({"judge": spec.identity(), "prompts": [prompts.name, prompts.version],
                           "mode": settings.judge_mode, "baseline": baseline.source if baseline else None},
                          sort_keys=True, ensure_ascii=False, default=str)
    return JudgingSetup(settings=settings, judge_name=judge.name, smoke_test=judge.smoke_test,
                        store=store, baseline=baseline, prompts=prompts,
                        identity=hashlib.sha256(identity.encode()).hexdigest()[:16])


def _check_access(spec: Any) -> None:
    """One free request to the judge's endpoint (model list), so a bad key stops the run before generation."""
    from jp_bench.llm.errors import LLMError
    from jp_bench.llm.registry import get_provider

    identity = json.dumps([spec.provider, spec.base_url, spec.api_key_env])  # base_url is resolved (env included)
    if identity in _CHECKED_ACCESS or spec.provider not in ("openai", "openai-compatible", "anthropic"):
        return
    provider = get_provider(spec)

    async def probe() -> None:
        try:
            await provider.check_access()  # type: ignore[attr-defined]
        finally:
            await provider.aclose()

    try:
        asyncio.run(probe())
    except LLMError as exc:
        raise JpBenchError(f"--metadata judge: the judge failed a check made before generation: {exc} "
                           "(set judge_preflight to false to skip this check)") from None
    _CHECKED_ACCESS.add(identity)


def _load_baseline(value: str, benchmark: str) -> Baseline:
    from jp_bench.benchmarks import BENCHMARKS, UpstreamBenchmark, baseline_answers_path
    from jp_bench.harness.multiturn import BENCHMARK as MULTI_TURN
    from jp_bench.judging.plan import index_answers
    from jp_bench.judging.service import load_answers, parse_answer_source

    if value == PAPER_BASELINE:
        pinned = BENCHMARKS.get(benchmark)
        if not isinstance(pinned, UpstreamBenchmark) or pinned.baseline_answers is None:
            # Only the paper's jp_bench released baseline answers; every other benchmark needs them by path.
            what = ("another model's answers with both turns: its lm-eval output folder of ja_mt_bench, or a "
                    "FastChat model_answer file with 2 turns per question" if benchmark == MULTI_TURN
                    else "another model's answers: its lm-eval output folder, or a FastChat model_answer file")
            raise JpBenchError(f"--metadata baseline: 'paper' names the text-davinci-003 answers released with "
                               f"jp_bench; {benchmark} has none: give {what}, as PATH or NAME=PATH")
        name, path = str(pinned.baseline_model), baseline_answers_path(pinned)
    else:
        name, path = parse_answer_source(value)  # type: ignore[assignment]
    try:
        answers, _ = load_answers([f"{name}={path}" if name else str(path)])
        # Two answers to one question (a folder holding several benchmarks' samples, whose ids overlap)
        # would only fail when judging, after generation: refuse them now.
        index_answers(answers)
    except JpBenchError as exc:
        raise JpBenchError(f"--metadata baseline: {exc} (give the baseline's answers to {benchmark} only)") from None
    models = sorted({a.model_id for a in answers})
    if len(models) != 1:
        raise JpBenchError(f"--metadata baseline: {path} holds answers of {len(models)} models "
                           f"({', '.join(models[:4])}); give one model's answers, or NAME=PATH")
    return Baseline(name=models[0], source=f"{models[0]}={path}",
                    question_ids=frozenset(a.question_id for a in answers),
                    turns={a.question_id: len(a.turns) for a in answers})


def judged_turn(doc: Mapping[str, Any]) -> int | None:
    """The turn a document's judgment is about: its ``turn`` when the question has several (the plan
    judges those turn by turn), None for a single-turn question (judged as a whole)."""
    turn = doc.get("turn")
    return int(turn) if turn is not None and len(doc.get("turns") or ()) > 1 else None


def check_baseline_covers(setup: JudgingSetup, task_name: str, docs: Iterable[Mapping[str, Any]], *,
                          turn: int | None = None) -> None:
    """The baseline answers every document, up to the turn judged (``turn``, else each document's own)."""
    if setup.baseline is None:
        return
    short: dict[int, list] = defaultdict(list)  # turn needed -> questions the baseline has not answered so far
    for doc in docs:
        needed = turn or judged_turn(doc) or 1
        if setup.baseline.turns.get(doc["question_id"], 0) < needed:
            short[needed].append(doc["question_id"])
    for needed, missing in sorted(short.items()):
        listed = ", ".join(map(str, sorted(missing, key=str)[:8]))
        what = "answer" if needed == 1 else f"turn-{needed} answer"
        why = "" if needed == 1 else (f" (turn {needed} is judged on the whole conversation: give baseline "
                                      "answers with every turn)")
        raise JpBenchError(f"--metadata baseline: {setup.baseline.name} has no {what} to question(s) {listed} "
                           f"of {task_name}{why}")


def score_scale(setup: JudgingSetup, docs: Iterable[Mapping[str, Any]]) -> list | None:
    """The score range of ``judge_score`` over ``docs`` ([1, 10]; ELYZA's rubric prompt: [1, 5]), as the
    plan will choose each document's prompt; None in pairwise mode. Checked while the task is built, so
    a prompt set without the prompt a document needs (a turn-2 ``_multi`` one) stops the run before
    generation. Several ranges (a question file mixing rubric and ordinary questions): all of them."""
    mode = setup.settings.judge_mode
    scales = set()
    for doc in docs:
        turn = judged_turn(doc)
        references = list(doc.get("reference") or [])[: turn or len(doc.get("turns") or ())]
        try:
            kind = setup.prompts.kind_for(mode, bool(references), multi_turn=bool(turn and turn > 1),
                                          rubric=bool(doc.get("rubric")))
        except JpBenchError as exc:
            raise JpBenchError(f"--metadata judge_prompts: {exc}") from None
        scales.add(tuple(setup.prompts.templates[kind].scale))
    if mode != "single" or not scales:
        return None
    ordered = [list(scale) for scale in sorted(scales)]
    return ordered[0] if len(ordered) == 1 else ordered


# ------------------------------------------------------------------------------------ one document
@dataclass
class DocJudgment:
    """What one document's judgment contributes: metrics for lm-eval and the record for its sample."""

    metrics: dict[str, float]
    record: dict[str, Any]


def single_judgment(rows: list[dict[str, Any]], complete: bool) -> DocJudgment:
    if not rows:
        return DocJudgment({"judge_score": math.nan, "judge_errors": 0.0, "judge_missing": 1.0},
                           {"mode": "single", "status": "missing", "rows": []})
    row = rows[0]
    metrics = {"judge_errors": float(row["status"] != "ok"), "judge_missing": 0.0}
    if row["status"] == "ok":
        metrics["judge_score"] = float(row["score"])
    if not complete:
        metrics["judge_score"] = math.nan
    return DocJudgment(metrics, {"mode": "single", "status": row["status"], "score": row["score"],
                                 "scale": row.get("scale") or [1, 10], "key": row["key"], "reply": row["reply"],
                                 "rows": rows})


_RATES = {"win": (1.0, 1.0, 0.0), "tie": (0.0, 0.5, 0.0), "loss": (0.0, 0.0, 1.0)}


def pairwise_judgment(rows: list[dict[str, Any]], complete: bool) -> DocJudgment:
    games = {row["game"]: row for row in rows}
    names = ("win_rate", "adjusted_win_rate", "loss_rate", "inconsistent_rate")
    if set(games) != {1, 2}:
        metrics = dict.fromkeys(names, math.nan) | {"judge_errors": 0.0, "judge_missing": 1.0}
        return DocJudgment(metrics, {"mode": "pairwise", "status": "missing", "rows": rows})
    combined = combine_games(games[1]["winner"], games[2]["winner"])
    metrics = {"judge_errors": float(combined.outcome == "error"), "judge_missing": 0.0}
    if combined.outcome != "error":
        win, adjusted, loss = _RATES[combined.outcome]
        metrics |= {"win_rate": win, "adjusted_win_rate": adjusted, "loss_rate": loss,
                    "inconsistent_rate": float(combined.inconsistent)}
    if not complete:
        metrics |= dict.fromkeys(names, math.nan)
    record = {"mode": "pairwise", "status": "ok" if combined.outcome != "error" else "error",
              "outcome": combined.outcome, "inconsistent": combined.inconsistent,
              "baseline": games[1]["model_2"],
              "games": [{"game": g, "verdict": games[g]["verdict"], "winner": games[g]["winner"],
                         "key": games[g]["key"], "reply": games[g]["reply"]} for g in (1, 2)],
              "rows": [games[1], games[2]]}
    return DocJudgment(metrics, record)


# ------------------------------------------------------------------------------------ the run
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


INCOMPLETE_RUNS: list[JudgedRun] = []  # read by `jp-bench lm-eval` for its exit code


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
    stamp = datetime.now().strftime("%Y-%m-%dT%H-%M-%S.%f")
    for task in tasks:
        lines = []
        for doc_id, doc, answer, arguments in task.docs:
            clean_doc = {k: v for k, v in doc.items() if k != "judgment"}
            record = {"doc_id": doc_id, "doc": clean_doc,
                      "arguments": {"gen_args_0": {f"arg_{i}": a for i, a in enumerate(arguments or ())}},
                      "resps": [[answer]], "filtered_resps": [answer]}
            lines.append(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        write_text_atomic(folder / f"samples_{task.task}_{stamp}.jsonl", "".join(lines))
    # lm-eval's results file names the model; this one does the same for our readers.
    write_text_atomic(folder / f"results_{stamp}.json",
                      json.dumps({"model_name": model, "written_by": "jp-bench: answers saved before judging"},
                                 ensure_ascii=False, indent=1) + "\n")
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
        INCOMPLETE_RUNS.append(run)
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


# ------------------------------------------------------------------------------------ the tasks
_JUDGED_TASKS: weakref.WeakSet = weakref.WeakSet()


def register(task: Any) -> None:
    _JUDGED_TASKS.add(task)


def judge_pending_tasks() -> None:
    """Judge every registered task that has its answers and no judgments yet, grouped by set-up."""
    groups: dict[int, tuple[JudgingSetup, list[Any]]] = {}
    for task in list(_JUDGED_TASKS):
        if task.judged is None and task.has_answers():
            groups.setdefault(id(task.judging), (task.judging, []))[1].append(task)
    for setup, members in groups.values():
        answers = [member.answers() for member in sorted(members, key=lambda t: t.config.task)]
        run = judge_answers(setup, answers)
        for member in members:
            member.judged = run.tasks[member.config.task]
