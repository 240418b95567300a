"""Annotation tasks: one per question and unordered pair of models that both answered it.

A task's id is a hash of the question id and the two model ids (sorted), so it stays the same
whatever order the answers were loaded in and whatever seed shuffled the task list; votes stored
under an id therefore survive a restart of the tool with the same answers.

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

from jp_bench.answers import Answer
from jp_bench.errors import JpBenchError
from jp_bench.judging.plan import index_answers
from jp_bench.questions import Question

QuestionId = int | str


def task_id_for(question_id: QuestionId, model_1: str, model_2: str) -> str:
    """The stable id of the task comparing ``model_1`` and ``model_2`` on ``question_id`` (order-free)."""
    lo, hi = sorted((model_1, model_2))
    canonical = json.dumps([question_id, lo, hi], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:20]


@dataclass(frozen=True)
class AnnotationTask:
    """Two answers to one question. ``model_1 < model_2``; ``answer_*`` hold one text per question turn.

    A multi-turn question is shown as a whole conversation and voted on once, like the LLM judges'
    pairwise judgments (which carry no turn), so ``turn`` is 1.
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
    def models(self) -> tuple[str, str]:
        return (self.model_1, self.model_2)

    def answer_of(self, model: str) -> tuple[str, ...]:
        """The answer turns of ``model`` (one of the task's two models)."""
        if model == self.model_1:
            return self.answer_1
        if model == self.model_2:
            return self.answer_2
        raise KeyError(f"model {model!r} is not part of task {self.task_id}")


def _turns(answer: Answer, question: Question) -> tuple[str, ...]:
    """One answer text per question turn (missing turns become empty, extra ones are dropped)."""
    turns = list(answer.turns)[: len(question.turns)]
    return tuple(turns + [""] * (len(question.turns) - len(turns)))


def build_tasks(answers: Sequence[Answer], questions: Sequence[Question], seed: int = 0) -> list[AnnotationTask]:
    """Every question × every unordered pair of models that both answered it, shuffled by ``seed``.

    The shuffled order is the order in which every annotator meets the tasks, so early tasks collect
    votes from several people (what human–human agreement needs) and consecutive tasks rarely share a
    question. Answers to questions not in ``questions`` are ignored. Two answers of one model to one
    question, or no task at all, is a :class:`JpBenchError`.
    """
    by_model = index_answers(answers)
    models = sorted(by_model)
    tasks: list[AnnotationTask] = []
    for question in questions:
        answered = [model for model in models if question.question_id in by_model[model]]
        for model_1, model_2 in itertools.combinations(answered, 2):
            tasks.append(
                AnnotationTask(
                    task_id=task_id_for(question.question_id, model_1, model_2),
                    question=question,
                    model_1=model_1,
                    model_2=model_2,
                    answer_1=_turns(by_model[model_1][question.question_id], question),
                    answer_2=_turns(by_model[model_2][question.question_id], question),
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
