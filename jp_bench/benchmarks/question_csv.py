"""Reader for question sets published as CSV (the ELYZA-tasks-100 ``test.csv`` layout).

A header row names the columns; each following record is one task::

    input,output,eval_aspect
    "task text","a reference answer","what a grader should check"

Cells may hold commas and line breaks inside double quotes. Tasks are numbered 1, 2, ... in file
order (the file has no id column, so the row order is the id). A malformed file stops with
``file:line: what was expected``, where the line is the one the bad record starts on.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from jp_bench.benchmarks.questions import Question
from jp_bench.errors import InputFileError, describe_validation_error

TASK_COLUMN = "input"
REFERENCE_COLUMN = "output"
NOTES_COLUMN = "eval_aspect"
COLUMNS = (TASK_COLUMN, REFERENCE_COLUMN, NOTES_COLUMN)
ELYZA_CATEGORY = "elyza_tasks_100"


def _records(handle: TextIO, source: Path) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(first physical line, cells)`` for each non-blank record."""
    # strict: an unterminated quote is an error instead of silently swallowing the rest of the file.
    reader = csv.reader(handle, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputFileError(source, start, f"not valid CSV ({exc}); expected comma-separated cells, "
                                                f"in double quotes where they hold commas or line breaks") from None
        if row:  # csv gives [] for a blank line
            yield start, row


def _column_positions(header: list[str], line: int, source: Path) -> dict[str, int]:
    names = [name.strip() for name in header]
    missing = [column for column in COLUMNS if column not in names]
    if missing:
        raise InputFileError(source, line, f"expected a header row with columns {', '.join(COLUMNS)}; "
                                           f"found {', '.join(names)}")
    return {column: names.index(column) for column in COLUMNS}


def _question(number: int, cells: list[str], positions: dict[str, int], width: int, line: int,
              source: Path, category: str) -> Question:
    if len(cells) != width:
        raise InputFileError(source, line, f"expected {width} cells as in the header, found {len(cells)} "
                                           f"(a comma or line break outside quotes?)")
    task = cells[positions[TASK_COLUMN]]
    if not task.strip():
        raise InputFileError(source, line, f"column '{TASK_COLUMN}' is empty; expected the task text")
    reference = cells[positions[REFERENCE_COLUMN]]
    notes = cells[positions[NOTES_COLUMN]]
    try:
        return Question(
            question_id=number,
            category=category,
            turns=[task],
            reference=[reference] if reference.strip() else None,
            grading_notes=notes if notes.strip() else None,
            rubric=True,
        )
    except ValidationError as exc:
        raise InputFileError(source, line, describe_validation_error(exc)) from None


def parse_tasks_csv(path: str | Path, category: str = ELYZA_CATEGORY) -> list[Question]:
    """Read and validate a task CSV, keeping file order; every task gets ``category``."""
    source = Path(path)
    try:
        handle = source.open(encoding="utf-8-sig", newline="")  # newline="": csv handles quoted breaks
    except FileNotFoundError:
        raise InputFileError(source, None, "file not found") from None
    questions: list[Question] = []
    with handle:
        try:
            records = _records(handle, source)
            first = next(records, None)
            if first is None:
                raise InputFileError(source, None, f"empty file; expected a header row ({', '.join(COLUMNS)})")
            header_line, header = first
            positions = _column_positions(header, header_line, source)
            for line, cells in records:
                questions.append(_question(len(questions) + 1, cells, positions, len(header), line, source, category))
        except UnicodeDecodeError:
            raise InputFileError(source, None, "not UTF-8 text") from None
    if not questions:
        raise InputFileError(source, None, "no tasks found (expected one record per task after the header)")
    return questions
