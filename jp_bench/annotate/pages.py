"""The annotation tool's HTML pages, rendered from ``jp_bench/annotate/templates`` (jinja2, autoescape on)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

from jp_bench.annotate.tasks import AnnotationTask
from jp_bench.annotate.votes import MAX_ANNOTATOR_LENGTH
from jp_bench.errors import JpBenchError


@dataclass(frozen=True)
class TaskView:
    """What the task page shows: the task with its two models in the order shown (A left, B right)."""

    task: AnnotationTask
    annotator: str
    shown_a: str
    shown_b: str
    done: int
    total: int
    already: bool = False
    order: str = ""  # the opaque token the form posts back: the page never names the models


class Pages:
    """Renders each page to a string; loads the templates from the package once."""

    def __init__(self) -> None:
        try:
            import jinja2
        except ImportError:
            raise JpBenchError("the annotation tool needs jinja2: pip install jinja2") from None
        folder = resources.files("jp_bench.annotate").joinpath("templates")

        def load(name: str) -> str:
            return folder.joinpath(name).read_text(encoding="utf-8")

        self._env = jinja2.Environment(loader=jinja2.FunctionLoader(load), autoescape=True,
                                       undefined=jinja2.StrictUndefined, keep_trailing_newline=True)

    def _render(self, name: str, **context: Any) -> str:
        return self._env.get_template(name).render(**context)

    def name(self, total: int, annotator: str = "") -> str:
        """``/``: asks for the annotator's name."""
        return self._render("name.html.j2", total=total, annotator=annotator, max_length=MAX_ANNOTATOR_LENGTH)

    def task(self, view: TaskView) -> str:
        """``/next``: the question and the two anonymised answers, with the vote buttons.

        For turn k of a multi-turn question: turns 1..k-1 (questions and both answers) as context, then
        turn k's question and the two answers voted on.
        """
        task = view.task
        answers_a, answers_b = task.answer_of(view.shown_a), task.answer_of(view.shown_b)
        turns = [{"number": number, "question": question, "answer_a": answer_a, "answer_b": answer_b}
                 for number, (question, answer_a, answer_b)
                 in enumerate(zip(task.questions, answers_a, answers_b, strict=True), start=1)]
        return self._render("task.html.j2", task_id=task.task_id, category=task.category,
                            context=turns[:-1], current=turns[-1], turn=task.turn, multi_turn=task.multi_turn,
                            total_turns=len(task.question.turns), annotator=view.annotator, order=view.order,
                            done=view.done, total=view.total, already=view.already)

    def done(self, annotator: str, done: int, total: int) -> str:
        """``/next`` once every task has the annotator's vote."""
        return self._render("done.html.j2", annotator=annotator, done=done, total=total)

    def message(self, title: str, message: str) -> str:
        """An error or notice page."""
        return self._render("message.html.j2", title=title, message=message)
