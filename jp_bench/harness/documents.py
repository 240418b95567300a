"""The documents our lm-eval tasks evaluate: one per question, with the fields every task carries
(single- and multi-turn) and, for single-turn tasks, the prompt in the chosen style."""

from __future__ import annotations

from typing import Any

from jp_bench.benchmarks.prompt_styles import render_prompt
from jp_bench.errors import JpBenchError


def question_fields(questions: list[Any]) -> list[dict[str, Any]]:
    """The fields every document of our tasks carries for its question (single- and multi-turn)."""
    # datasets needs one type per column: keep ints when every id is an int, else use strings.
    ids_are_ints = all(isinstance(q.question_id, int) for q in questions)
    return [
        {
            "question_id": q.question_id if ids_are_ints else str(q.question_id),
            "category": q.category,
            "turns": list(q.turns),
            "reference": list(q.reference or []),
            "grading_notes": q.grading_notes or "",  # "" not None: datasets wants one type per column
        }
        for q in questions
    ]



def question_docs(
    benchmark: str,
    category: str | None = None,
    prompt_style: str = "plain",
    questions_file: str | None = None,
    reference_set: str | None = None,
) -> list[dict[str, Any]]:
    """The documents one subtask evaluates: one per question of ``category`` (all when None)."""
    from jp_bench.benchmarks import category_slug, load_questions

    questions = load_questions(questions_file or benchmark, reference_set=reference_set)
    selected = [q for q in questions
                if category is None or category in (q.category, category_slug(benchmark, q.category))]
    if not selected:
        raise JpBenchError(f"benchmark {benchmark!r} has no questions in category {category!r}")
    return [{**doc, "rubric": q.rubric, "prompt": render_prompt(q.text, prompt_style)}
            for q, doc in zip(selected, question_fields(selected), strict=True)]
