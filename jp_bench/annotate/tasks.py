"""Annotation tasks: one per question, turn and unordered pair of models that both answered it.

A multi-turn question (Japanese MT-Bench) gives one task per turn, as the LLM judges judge it turn by
turn (FastChat's MT-Bench human judgments are per turn too): turn k shows the conversation up to turn
k, the earlier turns as context, and asks which answer to turn k is better. A single-turn question
gives one task, turn 1.

A task's id is a hash of the question id and the two model ids (sorted), plus the turn for a
multi-turn question, so it stays the same whatever order the answers were loaded in and whatever seed
shuffled the task list; votes stored under an id therefore survive a restart of the tool with the
same answers. Single-turn ids hash exactly what they hashed before turns existed, so older vote
stores stay valid.

Which model is shown on the left ("回答A") is decided per annotator and task by :func:`shown_order`,
a hash as well: the same annotator reloading the same task always sees the same order.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass

from jp_bench.benchmarks.answers import Answer
from jp_bench.benchmarks.questions import Question
from jp_bench.errors import JpBenchError
from jp_bench.judging.plan import index_answers

QuestionId = int | str


def task_id_for(question_id: QuestionId, model_1: str, model_2: str, turn: int | None = None) -> str:
    """The stable id of the task comparing ``model_1`` and ``model_2`` on ``question_id`` (order-free).

    ``turn`` is None for a single-turn question and the turn (1, 2, ...) for a multi-turn one. Every
    turn of a multi-turn question, turn 1 included, hashes its turn: a vote cast when the tool showed
    the whole conversation once is not taken for a vote on turn 1 alone (such a vote keeps the
    turn-less id: :func:`jp_bench.annotate.votes.vote_scope` tells it apart).
    """
    lo, hi = sorted((model_1, model_2))
    parts: list[object] = [question_id, lo, hi] if turn is None else [question_id, lo, hi, turn]
    canonical = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:20]


@dataclass(frozen=True)
class AnnotationTask:
    """Two answers to one turn of one question. ``model_1 < model_2``.

    ``answer_*`` hold one text per turn up to ``turn``: the last one is the answer voted on, the ones
    before it the context the page shows (each model's own earlier answers, as the judge's ``*_multi``
    prompts show them). A single-turn question's task has ``turn`` 1 and one text each.
    """

    task_id: str
    question: Question
    model_1: str
    model_2: str
    answer_1: tuple[str, ...]
    answer_2: tuple[str, ...]
    turn: int = 1

    @property
    def question_id(self) -> QuestionId:
        return self.question.question_id

    @property
    def category(self) -> str:
        return self.question.category

    @property
    def multi_turn(self) -> bool:
        return len(self.question.turns) > 1

    @property
    def questions(self) -> tuple[str, ...]:
        """The user turns the page shows: the question's turns up to ``turn``."""
        return tuple(self.question.turns[: self.turn])

    @property
    def models(self) -> tuple[str, str]:
        return (self.model_1, self.model_2)

    def answer_of(self, model: str) -> tuple[str, ...]:
        """The answer turns of ``model`` (one of the task's two models) up to ``turn``."""
        if model == self.model_1:
            return self.answer_1
        if model == self.model_2:
            return self.answer_2
        raise KeyError(f"model {model!r} is not part of task {self.task_id}")


def _turns(answer: Answer, count: int) -> tuple[str, ...]:
    """One answer text for each of the first ``count`` turns (missing turns become empty, extra ones are dropped)."""
    turns = list(answer.turns)[:count]
    return tuple(turns + [""] * (count - len(turns)))


def build_tasks(answers: Sequence[Answer], questions: Sequence[Question], seed: int = 0) -> list[AnnotationTask]:
    """Every question × turn × unordered pair of models that both answered it, shuffled by ``seed``.

    A multi-turn question gives one task per turn that both models answered (the judge skips a turn
    either answer lacks, so a vote on it would have nothing to be compared with). The shuffled order
    is the order in which every annotator meets the tasks, so early tasks collect votes from several
    people (what human–human agreement needs) and consecutive tasks rarely share a question. Answers
    to questions not in ``questions`` are ignored. Two answers of one model to one question, or no
    task at all, is a :class:`JpBenchError`.
    """
    by_model = index_answers(answers)
    models = sorted(by_model)
    tasks: list[AnnotationTask] = []
    for question in questions:
        answered = [model for model in models if question.question_id in by_model[model]]
        # As the judging plan does: [None] for a single-turn question (its id keeps no turn), else 1..n.
        turns: list[int | None] = [None] if len(question.turns) == 1 else list(range(1, len(question.turns) + 1))
        for model_1, model_2 in itertools.combinations(answered, 2):
            first, second = by_model[model_1][question.question_id], by_model[model_2][question.question_id]
            for turn in turns:
                if turn is not None and min(len(first.turns), len(second.turns)) < turn:
                    continue
                tasks.append(
                    AnnotationTask(
                        task_id=task_id_for(question.question_id, model_1, model_2, turn),
                        question=question,
                        model_1=model_1,
                        model_2=model_2,
                        answer_1=_turns(first, turn or 1),
                        answer_2=_turns(second, turn or 1),
                        turn=turn or 1,
                    )
                )
    if not tasks:
        raise JpBenchError(
            "nothing to annotate: no question has answers from two models "
            f"({len(models)} model(s), {len(questions)} question(s); do the question ids match?)"
        )
    random.Random(seed).shuffle(tasks)
    return tasks


def shown_order(task: AnnotationTask, annotator: str, seed: int = 0) -> tuple[str, str]:
    """``(shown_a, shown_b)``: the models shown as 回答A and 回答B to ``annotator``, fixed per task."""
    digest = hashlib.sha256(f"{seed}\0{annotator}\0{task.task_id}".encode()).digest()
    return (task.model_2, task.model_1) if digest[0] & 1 else (task.model_1, task.model_2)
