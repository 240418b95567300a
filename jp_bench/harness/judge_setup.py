"""The in-harness judge's set-up, checked before generation: the judge (and one access check per
endpoint), the baseline answers, the questions they cover, the score scale."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jp_bench.errors import JpBenchError
from jp_bench.harness.judge_settings import PAPER_BASELINE, JudgingSettings, check_workspace, store_path
from jp_bench.harness.session import current_session


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




def prepare_setup(settings: JudgingSettings, benchmark: str) -> JudgingSetup:
    """Check the settings for ``benchmark`` once per process (each subtask asks; the first one checks)."""
    key = (settings, benchmark)
    setups = current_session().setups
    if key not in setups:
        setups[key] = _check(settings, benchmark)
    return setups[key]


def _check(settings: JudgingSettings, benchmark: str) -> JudgingSetup:
    from jp_bench.judging.judges import load_judge
    from jp_bench.judging.prompts import load_prompt_set
    from jp_bench.judging.service import model_spec_for
    from jp_bench.llm.registry import describe

    try:
        judge = load_judge(settings.judge)
    except JpBenchError as exc:
        raise JpBenchError(f"--metadata judge: {exc}") from None
    try:
        prompts = load_prompt_set(settings.judge_prompts or judge.prompt_set)
    except JpBenchError as exc:
        raise JpBenchError(f"--metadata judge_prompts: {exc}") from None
    spec = model_spec_for(judge, settings.judge_mode, settings.judge_model, settings.judge_base_url)
    provider = describe(spec.provider)
    key_required = provider is not None and provider.key_required
    if spec.api_key_env and key_required and not os.environ.get(spec.api_key_env):
        raise JpBenchError(f"--metadata judge: judge {judge.name!r} reads its API key from {spec.api_key_env}, "
                           "which is not set")
    baseline = _load_baseline(settings.baseline, benchmark) if settings.baseline else None
    store = store_path(settings)
    check_workspace(store)
    if settings.judge_preflight:  # last: the only check that goes over the network
        _check_access(spec)
    decided = {"judge": spec.identity(), "prompts": [prompts.name, prompts.version],
               "mode": settings.judge_mode, "baseline": baseline.source if baseline else None}
    # A judge YAML with require_japanese gives other verdicts for the same calls, so it is part of what
    # decides the judgments (named only then: the set-ups of every other judge keep their identity).
    if judge.require_japanese:
        decided["require_japanese"] = judge.japanese_threshold
    identity = json.dumps(decided, sort_keys=True, ensure_ascii=False, default=str)
    return JudgingSetup(settings=settings, judge_name=judge.name, smoke_test=judge.smoke_test,
                        store=store, baseline=baseline, prompts=prompts,
                        identity=hashlib.sha256(identity.encode()).hexdigest()[:16])


def _check_access(spec: Any) -> None:
    """One free request to the judge's endpoint (model list), so a bad key stops the run before generation."""
    from jp_bench.llm.errors import LLMError
    from jp_bench.llm.registry import describe, get_provider

    identity = json.dumps([spec.provider, spec.base_url, spec.api_key_env])  # base_url is resolved (env included)
    checked = current_session().checked_access
    description = describe(spec.provider)
    if identity in checked or description is None or not description.checks_access:
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
    checked.add(identity)


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
