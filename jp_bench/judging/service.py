"""`jp-bench judge` as a library call: load answers, plan, estimate, run, write, summarise."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jp_bench import paths
from jp_bench.benchmarks.answers import Answer
from jp_bench.benchmarks.questions import Question
from jp_bench.errors import JpBenchError
from jp_bench.judging.grammars import verdict_grammar
from jp_bench.judging.judges import JudgeConfig, load_judge
from jp_bench.judging.outputs import SingleSummary, judgment_lines, pair_tallies, single_summaries, write_outputs
from jp_bench.judging.plan import Mode, Plan, build_plan, check_answers_fit
from jp_bench.judging.prompts import PromptSet, load_prompt_set
from jp_bench.judging.records import judgment_rows
from jp_bench.judging.runner import CostEstimate, JapaneseRule, JudgeRunner, RunReport, estimate_cost
from jp_bench.judging.structured import uses_json, with_response_format
from jp_bench.llm.batch import BatchSettings
from jp_bench.llm.endpoints import endpoint_host
from jp_bench.llm.store import Store
from jp_bench.llm.types import ModelSpec
from jp_bench.stats.outcomes import PairTally


@dataclass
class JudgeRequest:
    answers: Sequence[str]
    judge: str
    mode: Mode = "pairwise"
    baseline: str | None = None
    out: Path | None = None
    benchmark: str | None = None
    prompts: str | None = None
    judges_dirs: Sequence[str] = ()
    workspace: Path | None = None
    concurrency: int | None = None
    max_cost_usd: float | None = None
    dry_run: bool = False
    retry_errors: bool = False
    judge_model: str | None = None
    base_url: str | None = None
    batch: BatchSettings | None = None  # send through the vendor's Batch API (at its batch price)
    weighted: bool = False  # ask for log-probabilities and record verdict probabilities (the YAML may say so too)
    samples: int = 1  # judge every item this many times (each sample its own store key)
    temperature: float | None = None  # override the judge's temperature (samples need one above 0)
    jury: str | None = None  # the jury this judge sits on: its rows say so and reports pool them
    turns: tuple[int, ...] | None = None  # multi-turn questions: judge only these turns (None: every turn)
    # Answers not in Japanese get the lowest score / lose without a call (the judge YAML may say so too).
    require_japanese: bool = False
    japanese_threshold: float | None = None  # None: the judge YAML's (default JAPANESE_THRESHOLD)


@dataclass
class JudgeOutcome:
    judge: JudgeConfig
    spec: ModelSpec
    prompts: PromptSet
    plan: Plan
    estimate: CostEstimate
    report: RunReport | None = None
    pairs: list[PairTally] = field(default_factory=list)
    singles: list[SingleSummary] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)  # judgments.jsonl rows of this run's plan
    complete: bool = False
    # Which answers are not Japanese, and whether they are scored without the judge (--require-japanese).
    japanese: JapaneseRule = field(default_factory=JapaneseRule)


def parse_answer_source(value: str) -> tuple[str | None, Path]:
    """``NAME=PATH`` names a model explicitly; a bare path keeps the name found in the files."""
    name, sep, rest = value.partition("=")
    if sep and name and not Path(value).exists():
        return name, Path(rest).expanduser()
    return None, Path(value).expanduser()


def load_answers(sources: Sequence[str]) -> tuple[list[Answer], list[Question]]:
    """Answers from every source, and the questions embedded in lm-eval samples (if any)."""
    from jp_bench.fastchat_io import is_fastchat_answer_path, read_answers
    from jp_bench.harness.samples import read_lm_eval_questions

    answers: list[Answer] = []
    embedded: dict[object, Question] = {}
    for source in sources:
        name, path = parse_answer_source(source)
        if not path.exists():
            raise JpBenchError(f"{path}: no such file or folder")
        found = read_answers(path)
        if name:
            found = [dataclasses.replace(a, model_id=name) for a in found]
        answers.extend(found)
        if not is_fastchat_answer_path(path):
            for question in read_lm_eval_questions(path):
                embedded.setdefault(question.question_id, question)
    return answers, list(embedded.values())


def resolve_questions(benchmark: str | None, embedded: list[Question]) -> list[Question]:
    """The benchmark asked for, else the questions the lm-eval answers carry, else jp_bench."""
    from jp_bench.benchmarks import load_questions

    if benchmark is None and embedded:
        return embedded
    return load_questions(benchmark or "jp_bench")


def check_turns(turns: Sequence[int] | None, questions: Sequence[Question], benchmark: str) -> None:
    """``--turn K`` names a turn the questions have: never dropped or read as turn 1 without a word
    (checked here, not in the parser, so the library and the in-harness judge get it too)."""
    if not turns or not questions:
        return
    most = max(len(question.turns) for question in questions)
    beyond = sorted(turn for turn in set(turns) if turn > most or turn < 1)
    if beyond:
        have = ("1 turn each (single-turn: every answer is judged whole, without --turn)" if most == 1
                else f"{most} turns (--turn 1 to {most})")
        raise JpBenchError(f"--turn {beyond[0]}: the questions of {benchmark} have {have}")


def model_spec_for(judge: JudgeConfig, mode: Mode, model: str | None, base_url: str | None) -> ModelSpec:
    spec = judge.model_spec(model=model, base_url=base_url)
    if judge.provider == "embedded" or judge.params.get("verdict_grammar"):
        params = {k: v for k, v in spec.params.items() if k != "verdict_grammar"}
        # Scored on 1–10 here; a task on another scale (the ELYZA rubric's 1–5) narrows it in the plan.
        params["grammar"] = verdict_grammar("single" if mode == "single" else "pairwise")
        spec = dataclasses.replace(spec, params=params)
    return spec


def prepare(request: JudgeRequest) -> JudgeOutcome:
    judge = load_judge(request.judge, list(request.judges_dirs))
    if request.batch is not None:
        judge.check_batch()
    if request.weighted and not judge.weighted:
        judge.check_weighted()
        judge = judge.model_copy(update={"weighted": True})
    from jp_bench.llm.registry import sends_temperature as provider_sends_temperature

    sends_temperature = provider_sends_temperature(judge.provider)
    if request.temperature is not None and not sends_temperature:
        # It would only change the store key: every value would pay again for the same replies.
        raise JpBenchError(f"--temperature: {judge.name} ({judge.provider}) is sent no temperature (its API takes "
                           "none), so the value would change nothing but what is paid for; leave it out")
    if request.temperature is not None:
        judge = judge.model_copy(update={"temperature": request.temperature})
    # A judge sent no temperature samples at the vendor's default, as reasoning judges do.
    if request.samples > 1 and judge.temperature == 0 and sends_temperature:
        raise JpBenchError(f"--samples {request.samples}: {judge.name} judges at temperature 0, so every sample would "
                           "be the same verdict; give --temperature (e.g. 0.7) or a judge that samples")
    prompts = load_prompt_set(request.prompts or judge.prompt_set)
    spec = model_spec_for(judge, request.mode, request.judge_model, request.base_url)
    answers, embedded = load_answers(request.answers)
    questions = resolve_questions(request.benchmark, embedded)
    # A whole named benchmark: an answer to a question it lacks is an answer to another benchmark. A question
    # file may be a chosen subset, and the answers' own questions are those they answer: no such check.
    from jp_bench.benchmarks import BENCHMARKS

    named = request.benchmark in BENCHMARKS if request.benchmark is not None else not embedded
    label = request.benchmark or ("jp_bench" if named else "the benchmark the answers were generated for")
    check_turns(request.turns, questions, label)
    check_answers_fit(questions, answers, every_id=named, benchmark=label)
    structured = uses_json(judge.verdict_format, spec)
    if structured:
        spec = with_response_format(spec, "single" if request.mode == "single" else "pairwise")
        # The output format is part of the prompt: its version says so, and the messages carry it.
        prompts = dataclasses.replace(prompts, version=f"{prompts.version}+json",
                                      templates={k: dataclasses.replace(t, user=t.user + _json_suffix(t, k))
                                                 for k, t in prompts.templates.items()})
    plan = build_plan(request.mode, questions, answers, prompts, spec, request.baseline, samples=request.samples,
                      turns=request.turns)
    japanese = JapaneseRule(
        threshold=judge.japanese_threshold if request.japanese_threshold is None else request.japanese_threshold,
        required=request.require_japanese or judge.require_japanese)
    outcome = JudgeOutcome(judge=judge, spec=spec, prompts=prompts, plan=plan,
                           estimate=estimate_cost(plan.tasks, spec, judge.expected_output_tokens,
                                                  batch=request.batch is not None), japanese=japanese)
    # The plan line printed before a run says what will be called now: only what the store does not
    # have yet, one call per distinct key, as the run (and --dry-run) count it.
    with workspace_store(request.workspace) as store:
        outcome.estimate = _pending_estimate(request, outcome, store)
    return outcome


def _json_suffix(template: Any, kind: str) -> str:
    """The closing line asking for the verdict JSON, in the template's own placeholder style."""
    from jp_bench.judging.structured import instruction

    text = instruction(kind, template.scale)
    if template.style == "fastchat":  # str.format: braces of the JSON example must be doubled
        text = text.replace("{", "{{").replace("}", "}}")
    else:  # jinja: keep the example literal
        text = "{% raw %}" + text + "{% endraw %}"
    return "\n\n" + text


def workspace_store(path: Path | None) -> Store:
    return Store(path or paths.default_store_path())


def run_judging(request: JudgeRequest, *, prepared: JudgeOutcome | None = None,
                on_progress: Callable[[RunReport, int], None] | None = None,
                client_factory: Callable[[ModelSpec, int], object] | None = None) -> JudgeOutcome:
    """Judge what the store does not have yet; write outputs when every judgment is in."""
    outcome = prepared or prepare(request)
    with workspace_store(request.workspace) as store:
        runner = _runner(request, outcome, store, on_progress, client_factory)
        pending_estimate = _pending_estimate(request, outcome, store)
        outcome.estimate = pending_estimate
        if request.dry_run:
            return outcome
        if request.max_cost_usd is not None and pending_estimate.cost_usd > request.max_cost_usd:
            raise JpBenchError(
                f"estimated cost ${pending_estimate.cost_usd:.2f} for {pending_estimate.calls} calls is above "
                f"--max-cost ${request.max_cost_usd:.2f}; raise the limit or judge fewer models/questions"
            )
        outcome.report = asyncio.run(runner.run(outcome.plan))
        rows = judgment_rows(outcome.plan, outcome.report.results, outcome.judge.name, outcome.prompts.name,
                             outcome.prompts.version, judge_model=outcome.spec.model,
                             judge_endpoint=endpoint_host(outcome.spec.base_url), jury=request.jury)
        outcome.rows = rows
        outcome.complete = len(rows) == len(outcome.plan.tasks)
        outcome.pairs = pair_tallies(rows)
        outcome.singles = single_summaries(rows)
        if request.out is not None and outcome.complete:
            outcome.written = write_outputs(Path(request.out), rows, outcome.judge.name)
    return outcome


def _runner(request: JudgeRequest, outcome: JudgeOutcome, store: Store,
            on_progress: Callable[[RunReport, int], None] | None = None,
            client_factory: Callable[[ModelSpec, int], object] | None = None) -> JudgeRunner:
    concurrency = request.concurrency or outcome.judge.concurrency
    return JudgeRunner(spec=outcome.spec, store=store, client=None,
                       purpose=f"judge:{outcome.judge.name}", prompt_version=outcome.prompts.version,
                       max_cost_usd=request.max_cost_usd, retry_errors=request.retry_errors,
                       on_progress=on_progress, expected_output_tokens=outcome.judge.expected_output_tokens,
                       client_factory=_client_factory(outcome.spec, concurrency, client_factory),
                       batch=request.batch, japanese=outcome.japanese)


def _pending_estimate(request: JudgeRequest, outcome: JudgeOutcome, store: Store) -> CostEstimate:
    """The estimate of the calls the store does not answer yet (one per distinct key)."""
    todo, _ = _runner(request, outcome, store).pending(outcome.plan)
    return estimate_cost(todo, outcome.spec, outcome.judge.expected_output_tokens, batch=request.batch is not None)


def _client_factory(spec: ModelSpec, concurrency: int,
                    custom: Callable[[ModelSpec, int], object] | None) -> Callable[[], object]:
    """What builds the judge's client when the first call is needed (never when everything is stored)."""
    def build() -> object:
        if custom is not None:
            return custom(spec, concurrency)
        from jp_bench.llm import LLMClient

        return LLMClient(spec, concurrency=concurrency)

    return build


@dataclass
class JuryOutcome:
    jury: Any  # jp_bench.judging.jury.Jury
    members: list[JudgeOutcome]
    written: list[Path] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return all(member.complete for member in self.members)


def member_request(request: JudgeRequest, jury: Any, judge: str) -> JudgeRequest:
    """The request one jury member runs: the jury's settings, its own judge, no output of its own."""
    return dataclasses.replace(request, judge=judge, jury=jury.name, out=None)


def prepare_jury(request: JudgeRequest, jury: Any) -> list[tuple[JudgeRequest, JudgeOutcome]]:
    """Every member's request and plan, all checked before any member is paid for: each judge once and
    under its own name (:func:`jp_bench.judging.jury.check_members`), then judge file, answers and plan."""
    from jp_bench.judging.jury import check_members

    configs = [load_judge(judge, list(request.judges_dirs)) for judge in jury.judges]
    check_members(list(jury.judges), [c.name for c in configs], [c.source or judge for c, judge in
                                                                zip(configs, jury.judges, strict=True)])
    members = [member_request(request, jury, judge) for judge in jury.judges]
    return [(member, prepare(member)) for member in members]


def write_jury_outputs(out: Path, outcome: JuryOutcome) -> list[Path]:
    """``out/judgments.jsonl`` with every member's rows (a report pools them), and each member's own
    files (its judgments.jsonl and FastChat model_judgment files) in ``out/<judge>/``."""
    from jp_bench._util.atomic import write_text_atomic
    from jp_bench._util.names import safe_name

    rows = [row for member in outcome.members for row in member.rows]
    written = []
    for member in outcome.members:
        written += write_outputs(out / safe_name(member.judge.name), member.rows, member.judge.name)
    written.insert(0, write_text_atomic(out / "judgments.jsonl", judgment_lines(rows)))
    return written
