"""The Question model and the reader for question files (FastChat ``question.jsonl`` layout).

One JSON object per line::

    {"question_id": 1, "category": "generic", "turns": ["..."], "reference": ["..."]}

``reference`` is optional (one reference answer per turn, used by reference-guided judging);
``grading_notes`` is optional (what a grader should check for, as ELYZA-tasks-100 publishes).
A malformed file stops with ``file:line: what is wrong``; nothing is half-read.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from jp_bench.errors import InputFileError, describe_validation_error

NonEmptyText = Annotated[str, StringConstraints(min_length=1)]


def check_question_id(value: object) -> int | str:
    """A question id is an integer or a non-blank string, exactly as written.

    The one rule for every reader (questions, answers, judgments, votes): ``true`` (a bool is an int
    to Python), ``1.0``, ``NaN`` (``json.loads`` reads it as a float), lists and blank strings are
    refused rather than coerced, so one file cannot name a question two ways.
    """
    if isinstance(value, bool) or not isinstance(value, int | str) or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"expected an integer or a string id, got {value!r}")
    return value


# Validated before the union so that pydantic neither coerces (True -> 1) nor reports per union member.
QuestionId = Annotated[int | str, BeforeValidator(check_question_id)]


class Question(BaseModel):
    """One benchmark question. Multi-turn questions have several ``turns``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    question_id: QuestionId
    category: Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
    turns: Annotated[list[NonEmptyText], Field(min_length=1)]
    reference: list[str] | None = None
    # What a grader should check (ELYZA-tasks-100's ``eval_aspect``), kept for judges that grade against it.
    grading_notes: str | None = None
    # Graded against its reference answer and grading notes on the benchmark's rubric (ELYZA-tasks-100,
    # 1-5): single judgments use the prompt set's `single_rubric` prompt, notes or not.
    rubric: bool = False

    @model_validator(mode="after")
    def _reference_matches_turns(self) -> Question:
        if self.reference is not None and len(self.reference) > len(self.turns):
            raise ValueError(
                f"reference has {len(self.reference)} entries but the question has {len(self.turns)} turn(s)"
            )
        return self

    @property
    def text(self) -> str:
        """The first turn: what a single-turn benchmark asks."""
        return self.turns[0]


def iter_jsonl_lines(lines: Iterable[str], label: str | Path,
                     expected: str = "expected a JSON object") -> Iterable[tuple[int, dict]]:
    """Yield ``(line_number, object)`` for each non-blank line; bad JSON is an InputFileError."""
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputFileError(label, line_number, f"not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise InputFileError(label, line_number, expected)
        yield line_number, obj


def iter_jsonl(path: str | Path, expected: str = "expected a JSON object") -> Iterable[tuple[int, dict]]:
    """Yield ``(line_number, object)`` for each non-blank line of a JSONL file (a BOM is ignored)."""
    source = Path(path)
    try:
        handle = source.open(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputFileError(source, None, "file not found") from None
    with handle:
        try:
            yield from iter_jsonl_lines(handle, source, expected)
        except UnicodeDecodeError:
            raise InputFileError(source, None, "not UTF-8 text") from None


def parse_questions(path: str | Path) -> list[Question]:
    """Read and validate a question file, keeping file order."""
    questions: list[Question] = []
    seen: dict[int | str, int] = {}
    for line_number, obj in iter_jsonl(path):
        try:
            question = Question.model_validate(obj)
        except ValidationError as exc:
            raise InputFileError(path, line_number, describe_validation_error(exc)) from None
        if question.question_id in seen:
            raise InputFileError(
                path,
                line_number,
                f"duplicate question_id {question.question_id!r} (first seen on line {seen[question.question_id]})",
            )
        seen[question.question_id] = line_number
        questions.append(question)
    if not questions:
        raise InputFileError(path, None, "no questions found (expected one JSON object per line)")
    return questions


def parse_reference_answers(path: str | Path) -> dict[int | str, list[str]]:
    """Read FastChat-format reference answers: ``question_id`` -> turns of the first choice."""
    references: dict[int | str, list[str]] = {}
    for line_number, obj in iter_jsonl(path):
        try:
            question_id = obj["question_id"]
            turns = obj["choices"][0]["turns"]
        except (KeyError, IndexError, TypeError):
            raise InputFileError(
                path, line_number, "expected 'question_id' and 'choices[0].turns' (FastChat answer format)"
            ) from None
        if not isinstance(turns, list) or not all(isinstance(turn, str) for turn in turns):
            raise InputFileError(path, line_number, "field 'choices.0.turns': expected a list of strings")
        references[question_id] = turns
    return references


def attach_references(
    questions: Sequence[Question], references: dict[int | str, list[str]]
) -> list[Question]:
    """Return questions with ``reference`` filled from ``references`` where one exists."""
    return [
        question.model_copy(update={"reference": references[question.question_id]})
        if question.question_id in references and question.reference is None
        else question
        for question in questions
    ]


def count_by_category(questions: Iterable[Question]) -> dict[str, int]:
    """Question counts per category, in order of first appearance."""
    return dict(Counter(question.category for question in questions))
