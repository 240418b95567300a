"""``--judge NAME``: a candidate judge judges the reference's own items first, through :func:`jp_bench.judge`.

The candidate sees the same items the reference judged: the same pairs of answers on the same
questions and turns (pairwise references: one pairwise run per pair of models, ``model_1`` against
``model_2`` as the reference ordered them, on that pair's questions only) or the same answers
(score references: one single-score run). It runs through the ordinary engine and the workspace
store, so a second comparison, or a ``jp-bench judge`` of the same items, pays for nothing again.

The texts come from the reference when it carries them (the paper's FastChat pairwise files copy the
question and both answers in; human ratings files hold the prompts and responses), else from
``answers`` (``--answers``: lm-eval output or FastChat answers) with the questions of ``benchmark``
(``--benchmark``; or those embedded in lm-eval answers). They are written as a question file and
FastChat answer files in a work folder, which is what :func:`jp_bench.judge` reads. Each judge's
judgments go to ``<out>/<judge>/judgments.jsonl`` (and FastChat files), a source like any other.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jp_bench._util.atomic import write_text_atomic
from jp_bench._util.names import safe_name
from jp_bench.benchmarks.questions import Question
from jp_bench.errors import JpBenchError
from jp_bench.judge_board.references import Materials, Reference
from jp_bench.votes import normalize_question_id


@dataclass(frozen=True)
class JudgeRunSettings:
    """What passes through to :func:`jp_bench.judge` (the ``jp-bench judge`` options of those names)."""

    workspace: str | Path | None = None
    concurrency: int | None = None
    max_cost: float | None = None  # for all of one judge's runs together
    judges_dir: Sequence[str | Path] = ()
    judge_model: str | None = None
    base_url: str | None = None
    verbose: bool = False


@dataclass(frozen=True)
class _Call:
    """One :func:`jp_bench.judge` run: its mode, models (baseline last, for pairwise) and the items."""

    mode: str
    models: tuple[str, ...]
    items: dict[str, set[tuple[Any, int]]]  # model -> the (question, turn) items it answers in this run


def _calls(reference: Reference) -> list[_Call]:
    calls = [_Call("pairwise", (model_1, model_2), {model_1: items, model_2: items})
             for (model_1, model_2), items in sorted(reference.pair_items.items())]
    if reference.verdicts.has_scores:
        items: dict[str, set[tuple[Any, int]]] = {}
        for question, model, turn in reference.verdicts.scores:
            items.setdefault(model, set()).add((question, turn))
        calls.append(_Call("single", tuple(sorted(items)), items))
    return calls


def _materials(reference: Reference, answers: Sequence[str] | None,
               benchmark: str | None) -> tuple[dict[Any, Question], dict[tuple[Any, str], list[str]]]:
    """The questions (by id) and answers (by question and model) the runs judge; one line when there are none."""
    from jp_bench.benchmarks import load_questions
    from jp_bench.judging.service import load_answers

    carried = reference.materials
    if not answers and carried is None:
        raise JpBenchError(f"--judge: the reference ({reference.description}) carries no answers to judge; give the "
                           "answers it judged with --answers PATH... (and --benchmark for their questions)")
    texts: dict[tuple[Any, str], list[str]] = {}
    embedded: list[Question] = []
    if answers:
        found, embedded = load_answers(list(answers))
        texts = {(normalize_question_id(a.question_id), a.model_id): list(a.turns) for a in found}
    elif carried is not None:
        texts = dict(carried.answers)
    if benchmark:
        questions = load_questions(benchmark)
    elif embedded:
        questions = embedded
    elif carried is not None:
        questions = _carried_questions(carried)
    else:
        raise JpBenchError("--judge: the answers carry no questions; give --benchmark NAME|FILE (the questions "
                           "they answer)")
    return {normalize_question_id(q.question_id): q for q in questions}, texts


def _carried_questions(carried: Materials) -> list[Question]:
    # Their category is unknown: the prompts do not depend on it (only on reference answers, which
    # such files do not carry either).
    return [Question(question_id=qid, category="unknown", turns=turns) for qid, turns in carried.questions.items()]


def _write_inputs(folder: Path, call: _Call, questions: dict[Any, Question],
                  texts: dict[tuple[Any, str], list[str]]) -> tuple[list[str], list[int], int]:
    """The call's FastChat answer files, with the answers of its items only; returns the ``NAME=PATH``
    answer sources, the turns judged and how many items are left out (no question or answer text; a
    pair needs both answers)."""
    def judgeable(question: Any, model: str) -> bool:
        if question not in questions:
            return False
        partners = call.models if call.mode == "pairwise" else (model,)
        return all((question, partner) in texts for partner in partners)

    sources = []
    for model in call.models:
        kept = sorted({q for q, _ in call.items[model] if judgeable(q, model)}, key=str)
        lines = "".join(json.dumps({"question_id": questions[q].question_id, "model_id": model,
                                    "choices": [{"index": 0, "turns": texts[(q, model)]}]}, ensure_ascii=False) + "\n"
                        for q in kept)
        if kept:
            sources.append(f"{model}={write_text_atomic(folder / f'{safe_name(model)}.jsonl', lines)}")
    if call.mode == "pairwise":  # a pair's items once (both models share them)
        left_out = sum(1 for q, _ in call.items[call.models[0]] if not judgeable(q, call.models[0]))
    else:
        left_out = sum(1 for model, found in call.items.items() for q, _ in found if not judgeable(q, model))
    turns = sorted({turn for found in call.items.values() for _, turn in found})
    return sources, turns, left_out


def run_candidate_judges(judges: Sequence[str], reference: Reference, out: Path, *,
                         answers: Sequence[str] | None = None, benchmark: str | None = None,
                         settings: JudgeRunSettings = JudgeRunSettings(),
                         on_note: Callable[[str], None] = lambda _: None) -> list[Path]:
    """Run each of ``judges`` on the reference's items (see the module docstring); returns the folder of
    each judge's judgments, ``<out>/<judge>``. An incomplete run (stopped by ``max_cost``, say) is a
    :class:`JpBenchError`: what finished is in the store, and the same command resumes."""
    from jp_bench._api.judge import judge as run_judge
    from jp_bench.judging.outputs import write_outputs
    from jp_bench.judging.service import JuryOutcome

    calls = _calls(reference)
    questions, texts = _materials(reference, answers, benchmark)
    work = out / "_inputs"
    needed = sorted({q for call in calls for items in call.items.values() for q, _ in items if q in questions}, key=str)
    question_file = write_text_atomic(work / "questions.jsonl", "".join(
        json.dumps(questions[q].model_dump(mode="json"), ensure_ascii=False) + "\n" for q in needed))
    runs = []  # (call, answer sources, turns): the same inputs for every judge
    for index, call in enumerate(calls):
        sources, turns, left_out = _write_inputs(work / f"{index:03d}-{call.mode}", call, questions, texts)
        if left_out:
            on_note(f"--judge: {left_out} item(s) the reference judged in its {call.mode} run "
                    f"({' vs '.join(call.models)}) have no question or answer text here and are not judged")
        if sources and (call.mode != "pairwise" or len(sources) == 2):
            runs.append((call, sources, turns))
    folders = []
    for name in judges:
        rows: list[dict] = []
        spent = 0.0
        judge_name = name
        for call, sources, turns in runs:
            remaining = None if settings.max_cost is None else max(0.0, settings.max_cost - spent)
            outcome = run_judge(sources, judge=name, mode=call.mode, baseline=call.models[-1] if call.mode ==
                                "pairwise" else None, benchmark=str(question_file), turn=turns,
                                judges_dir=list(settings.judges_dir), judge_model=settings.judge_model,
                                base_url=settings.base_url, workspace=settings.workspace,
                                concurrency=settings.concurrency, max_cost=remaining, progress=settings.verbose,
                                verbose=settings.verbose)
            if isinstance(outcome, JuryOutcome):
                raise JpBenchError(f"--judge {name}: a jury; give its judges one by one (--judge A --judge B)")
            if not outcome.complete:
                raise JpBenchError(f"--judge {name}: not every judgment is in (stopped early); every finished one is "
                                   "stored: run the same command again to finish")
            rows += outcome.rows
            spent += outcome.report.spent_usd if outcome.report is not None else 0.0
            judge_name = outcome.judge.name
        if not rows:
            raise JpBenchError(f"--judge {name}: nothing to judge: no item of the reference has its question and "
                               "answers here")
        folder = out / safe_name(judge_name)
        write_outputs(folder, rows, judge_name)
        folders.append(folder)
    return folders
