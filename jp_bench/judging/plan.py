"""Planning a judging run: which judgments are needed, with which prompt, under which store key.

Reasoning the evaluated models left in their answers (``<think>…</think>``) is removed before any prompt
is rendered (:mod:`jp_bench.answer_text.reasoning`): the judge weighs the answer the user would read.
An answer without reasoning renders exactly as before, under the same store key. Each task records
what the answers judged say about themselves (:class:`jp_bench.answer_text.AnswerFeatures`): their
length, markdown counts, Japanese share and the reasoning removed.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Literal

from jp_bench.answer_text import AnswerFeatures, conversation_features
from jp_bench.benchmarks.answers import Answer
from jp_bench.benchmarks.questions import Question
from jp_bench.errors import JpBenchError
from jp_bench.judging.grammars import grammar_for_scale
from jp_bench.judging.prompts import PromptKind, PromptSet
from jp_bench.llm.store import call_key
from jp_bench.llm.types import Message, ModelSpec

Mode = Literal["single", "pairwise", "pairwise-all"]
MODES: tuple[Mode, ...] = ("single", "pairwise", "pairwise-all")


@dataclass(frozen=True)
class JudgeTask:
    """One call to the judge: a single score, or one order (game) of a pairwise comparison."""

    kind: Literal["single", "pairwise"]
    question: Question
    model_1: str
    model_2: str | None
    game: int  # pairwise: 1 = model_1 shown as A, 2 = model_1 shown as B; single: 1
    prompt_kind: PromptKind
    messages: tuple[Message, ...]
    key: str
    answer_chars: tuple[int, int | None] = (0, None)  # lengths of model_1's and model_2's answers (the turn judged)
    sample: int = 0  # judge sample k of --samples N (its own store key)
    turn: int | None = None  # the turn judged of a multi-turn question; None: a single-turn question
    scale: tuple[int, int] = (1, 10)  # single: the score range the prompt asks for
    # What model_1's and model_2's answers judged say about themselves (the turn judged; the whole
    # answer when turn is None), measured after their reasoning was removed; None: not measured.
    features: tuple[AnswerFeatures | None, AnswerFeatures | None] = (None, None)

    @property
    def model_a(self) -> str:
        return self.model_1 if self.game == 1 or self.model_2 is None else self.model_2

    @property
    def model_b(self) -> str | None:
        if self.model_2 is None:
            return None
        return self.model_2 if self.game == 1 else self.model_1


@dataclass
class Plan:
    mode: Mode
    tasks: list[JudgeTask]
    pairs: list[tuple[str, str]]
    models: list[str]
    questions: list[Question]
    skipped: dict[str, list] = field(default_factory=dict)  # model -> question ids without an answer
    # model -> "<question id> (turn k)" for a multi-turn question answered, but not up to turn k (it is
    # counted apart from the questions without any answer: those are a different problem)
    short: dict[str, list] = field(default_factory=dict)
    samples: int = 1  # judge samples per item (--samples N)


def index_answers(answers: Sequence[Answer]) -> dict[str, dict[int | str, Answer]]:
    by_model: dict[str, dict[int | str, Answer]] = defaultdict(dict)
    for answer in answers:
        if answer.question_id in by_model[answer.model_id]:
            raise JpBenchError(
                f"two answers of model {answer.model_id!r} to question {answer.question_id!r} "
                f"({by_model[answer.model_id][answer.question_id].source} and {answer.source}); "
                "pass each model's answers once, or name them apart with NAME=PATH"
            )
        by_model[answer.model_id][answer.question_id] = answer
    return dict(by_model)


def check_answers_fit(questions: Sequence[Question], answers: Sequence[Answer], *, every_id: bool,
                      benchmark: str) -> None:
    """Answers that belong to other questions are refused with their file and line, never judged or skipped
    without a word: an answer with more turns than its question has, and (``every_id``: the questions are
    a whole benchmark, not those embedded in the answers) an answer to a question the benchmark lacks."""
    known = {question.question_id: question for question in questions}
    for answer in answers:
        question = known.get(answer.question_id)
        if question is None:
            if every_id:
                raise JpBenchError(f"{answer.source}: question_id {answer.question_id!r} is not a question of "
                                   f"{benchmark}; give the answers to {benchmark} (or --benchmark the questions "
                                   "they answer)")
            continue
        if len(answer.turns) > len(question.turns):
            raise JpBenchError(f"{answer.source}: {len(answer.turns)} turns answered, but question "
                               f"{answer.question_id!r} of {benchmark} has {len(question.turns)}")


def model_pairs(mode: Mode, models: Sequence[str], baseline: str | None) -> list[tuple[str, str]]:
    if mode == "single":
        return []
    if mode == "pairwise":
        if baseline is None:
            raise JpBenchError(f"--mode pairwise needs --baseline (one of: {', '.join(models)})")
        if baseline not in models:
            raise JpBenchError(f"baseline {baseline!r} is not among the answers given ({', '.join(models)})")
        others = [m for m in models if m != baseline]
        if not others:
            raise JpBenchError("pairwise judging needs answers of at least one model besides the baseline")
        return [(model, baseline) for model in others]
    if len(models) < 2:
        raise JpBenchError("--mode pairwise-all needs answers of at least two models")
    return list(itertools.combinations(sorted(models), 2))


def build_plan(
    mode: Mode,
    questions: Sequence[Question],
    answers: Sequence[Answer],
    prompts: PromptSet,
    spec: ModelSpec,
    baseline: str | None = None,
    samples: int = 1,
    turns: Collection[int] | None = None,
) -> Plan:
    """Every judgment needed, ``samples`` times each: sample k > 0 is asked under its own store key
    (``ModelSpec.sample``), so N samples are N calls and a re-run pays for none of them again.

    ``turns`` limits the judgments of multi-turn questions to those turns (None: every turn the answers
    have); judging inside lm-eval judges one turn's subtasks at a time and pays for no other turn."""
    if mode not in MODES:
        raise JpBenchError(f"unknown mode {mode!r} (choose from {', '.join(MODES)})")
    if samples < 1:
        raise JpBenchError(f"--samples must be at least 1, not {samples}")
    only = frozenset(turns) if turns is not None else None
    # Measured once (reasoning removed, features), whatever the samples and pairings that judge them.
    measured = {(answer.model_id, answer.question_id): _measure(answer) for answer in answers}
    plans = [_build_one(mode, questions, answers, prompts, dataclasses.replace(spec, sample=k), baseline, k, only,
                        measured) for k in range(samples)]
    first = plans[0]
    return Plan(mode=mode, tasks=[task for plan in plans for task in plan.tasks], pairs=first.pairs,
                models=first.models, questions=first.questions, skipped=first.skipped, samples=samples,
                short=first.short)


@dataclass(frozen=True)
class _Measured:
    """One answer with its reasoning removed from every turn, and the features of each turn and of the whole."""

    answer: Answer
    turns: tuple[AnswerFeatures, ...]
    whole: AnswerFeatures

    def features(self, turn: int | None) -> AnswerFeatures:
        """Of the answer judged: turn ``turn``, or every turn (None)."""
        return self.whole if turn is None else self.turns[turn - 1]


def _measure(answer: Answer) -> _Measured:
    cleaned, turns, whole = conversation_features(answer.turns)
    return _Measured(dataclasses.replace(answer, turns=cleaned), turns, whole)


def _build_one(mode: Mode, questions: Sequence[Question], answers: Sequence[Answer], prompts: PromptSet,
               spec: ModelSpec, baseline: str | None, sample: int, only_turns: frozenset[int] | None,
               measured: dict[tuple[str, int | str], _Measured]) -> Plan:
    by_model = {model: {qid: measured[(model, qid)].answer for qid in found}
                for model, found in index_answers(answers).items()}
    models = sorted(by_model)
    if not models:
        raise JpBenchError("no answers given")
    pairs = model_pairs(mode, models, baseline)
    skipped: dict[str, list] = {m: [q.question_id for q in questions if q.question_id not in by_model[m]]
                                for m in models}
    short: dict[str, list] = {m: [] for m in models}
    tasks: list[JudgeTask] = []

    def add(kind: str, question: Question, model_1: str, model_2: str | None, game: int,
            messages: list[Message], prompt_kind: PromptKind, turn: int | None) -> None:
        scale = prompts.templates[prompt_kind].scale
        first = measured[(model_1, question.question_id)].features(turn)
        second = measured[(model_2, question.question_id)].features(turn) if model_2 is not None else None
        lengths = (first.chars, second.chars if second is not None else None)
        tasks.append(JudgeTask(kind, question, model_1, model_2, game, prompt_kind, tuple(messages),  # type: ignore[arg-type]
                               call_key(grammar_for_scale(spec, kind, scale), messages), lengths, sample, turn, scale,
                               (first, second)))

    for question in questions:
        # A multi-turn question is judged turn by turn, as FastChat judges MT-Bench: turn 1 on turn 1
        # alone, turn k on the conversation up to it (the `_multi` prompts ask about its last answer).
        judged_turns = [None] if len(question.turns) == 1 else [
            turn for turn in range(1, len(question.turns) + 1) if only_turns is None or turn in only_turns]
        for turn in judged_turns:
            upto = turn or len(question.turns)
            references = list(question.reference or [])[:upto]
            questions_text = list(question.turns)[:upto]
            multi = turn is not None and turn > 1
            if mode == "single":
                kind = prompts.kind_for("single", bool(references), multi_turn=multi,
                                        rubric=question.rubric)
                for model in models:
                    answer = by_model[model].get(question.question_id)
                    if answer is None:
                        continue
                    if turn is not None and len(answer.turns) < turn:
                        short[model].append(f"{question.question_id} (turn {turn})")
                        continue
                    messages = prompts.render(kind, questions=questions_text, answers=_turns(answer, upto),
                                              references=references, grading_notes=question.grading_notes)
                    add("single", question, model, None, 1, messages, kind, turn)
                continue
            kind = prompts.kind_for("pairwise", bool(references), multi_turn=multi)
            for model_1, model_2 in pairs:
                first = by_model[model_1].get(question.question_id)
                second = by_model[model_2].get(question.question_id)
                if first is None or second is None:
                    continue
                if turn is not None and min(len(first.turns), len(second.turns)) < turn:
                    short_one = model_1 if len(first.turns) < turn else model_2
                    short[short_one].append(f"{question.question_id} (turn {turn})")
                    continue
                for game, (a, b) in ((1, (first, second)), (2, (second, first))):
                    messages = prompts.render(kind, questions=questions_text, answers_a=_turns(a, upto),
                                              answers_b=_turns(b, upto), references=references,
                                              grading_notes=question.grading_notes)
                    add("pairwise", question, model_1, model_2, game, messages, kind, turn)
    if not tasks:
        raise JpBenchError("nothing to judge: no question has answers from the models compared "
                           "(do the answers and the benchmark's question ids match?)")
    return Plan(mode=mode, tasks=tasks, pairs=pairs, models=models, questions=list(questions),
                skipped={m: ids for m, ids in skipped.items() if ids},
                short={m: items for m, items in short.items() if items})


def _turns(answer: Answer, count: int) -> list[str]:
    """One answer text for each of the first ``count`` turns (missing turns become empty answers)."""
    turns = list(answer.turns)[:count]
    return turns + [""] * (count - len(turns))
