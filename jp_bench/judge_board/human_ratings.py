"""Human ratings files: several raters score each answer 1–5 on several axes, for up to two turns.

The layout is that of llm-jp's llm-human-eval-jp (its README documents it; its data is not shipped
here). One JSON object per line::

    {"id": "<source>###<n>",
     "turns": [{"prompt": "...",
                "responses": {"llm_a": {"response": "...",
                                        "human_evals": {"overall": [4, 5, 4], "fluency": [...], ...}},
                              "llm_b": {...}}},
               {"prompt": "...", "responses": {...}}]}

An item is one (question ``id``, model, turn); its reference score is the mean of its raters' scores
on the chosen axis (``overall`` unless told otherwise). A rating that is no score from 1 to 5 (the
layout allows ``"NA"``, ``null`` and ``0`` where a rater could not rate) is left out of that mean and
counted; an item without any rating is no item. The prompts and responses are kept, so a candidate
judge can be run on the very answers the raters saw.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jp_bench.benchmarks.questions import iter_jsonl
from jp_bench.errors import InputFileError, JpBenchError

DEFAULT_AXIS = "overall"
RATING_SCALE = (1.0, 5.0)  # the raters' scale; a value outside it is no rating

ScoreKey = tuple[Any, str, int]  # (question id, model, turn)


@dataclass
class HumanRatings:
    """One ratings file read for one axis: mean scores per item, and the texts rated."""

    path: Path
    axis: str
    scores: dict[ScoreKey, float]
    raters: int  # the most raters any item had
    prompts: dict[Any, list[str]]  # question id -> the prompt of each turn
    responses: dict[tuple[Any, str], list[str]]  # (question id, model) -> the response of each turn
    axes: list[str] = field(default_factory=list)  # every axis the file has
    missing: int = 0  # ratings that were no score (NA, null, 0, out of range), left out of the means


def looks_like_human_ratings(record: Mapping[str, Any] | None) -> bool:
    """Whether a first record has the layout: ``turns`` holding objects with ``responses``."""
    if not isinstance(record, Mapping):
        return False
    turns = record.get("turns")
    return isinstance(turns, list) and bool(turns) and isinstance(turns[0], Mapping) and "responses" in turns[0]


def _rating(value: object) -> float | None:
    """A rater's score, or None when it is none (NA, null, 0, text, out of 1–5)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    low, high = RATING_SCALE
    return number if math.isfinite(number) and low <= number <= high else None


def _object(value: object, path: Path, line: int, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputFileError(path, line, f"field '{where}': expected an object, got {type(value).__name__}")
    return value


def _text(value: object, path: Path, line: int, where: str) -> str:
    if not isinstance(value, str):
        raise InputFileError(path, line, f"field '{where}': expected a string, got {type(value).__name__}")
    return value


def read_human_ratings(path: str | Path, axis: str | None = None) -> HumanRatings:
    """Read a ratings file (see the module docstring) for ``axis`` (default ``overall``).

    A malformed line is an :class:`InputFileError` naming it; an axis no item has is a
    :class:`JpBenchError` listing the axes there are.
    """
    source = Path(path)
    chosen = axis or DEFAULT_AXIS
    scores: dict[ScoreKey, float] = {}
    prompts: dict[Any, list[str]] = {}
    responses: dict[tuple[Any, str], list[str]] = {}
    axes: set[str] = set()
    raters = missing = 0
    first_line: dict[Any, int] = {}
    for line, record in iter_jsonl(source):
        question = record.get("id")
        if isinstance(question, bool) or not isinstance(question, int | str) or question == "":
            raise InputFileError(source, line, "field 'id': expected the prompt's id (a string or an integer)")
        if question in first_line:
            raise InputFileError(source, line, f"id {question!r} again (first on line {first_line[question]})")
        first_line[question] = line
        turns = record.get("turns")
        if not isinstance(turns, list) or not turns:
            raise InputFileError(source, line, "field 'turns': expected a non-empty list of turns")
        prompts[question] = []
        for turn, raw in enumerate(turns, start=1):
            where = f"turns.{turn - 1}"
            entry = _object(raw, source, line, where)
            prompts[question].append(_text(entry.get("prompt"), source, line, f"{where}.prompt"))
            for model, answer_raw in _object(entry.get("responses"), source, line, f"{where}.responses").items():
                answer = _object(answer_raw, source, line, f"{where}.responses.{model}")
                text = _text(answer.get("response"), source, line, f"{where}.responses.{model}.response")
                responses.setdefault((question, model), []).append(text)
                evals = _object(answer.get("human_evals"), source, line, f"{where}.responses.{model}.human_evals")
                axes.update(evals)
                given = evals.get(chosen)
                if given is None:
                    continue
                if not isinstance(given, list):
                    raise InputFileError(source, line, f"field '{where}.responses.{model}.human_evals.{chosen}': "
                                                       "expected a list of the raters' scores")
                valid = [score for score in map(_rating, given) if score is not None]
                missing += len(given) - len(valid)
                raters = max(raters, len(given))
                if valid:
                    scores[(question, model, turn)] = sum(valid) / len(valid)
    if not first_line:
        raise InputFileError(source, None, "no rated prompts found")
    if not scores:
        raise JpBenchError(f"{source}: no item has ratings on the axis {chosen!r} (axes: {', '.join(sorted(axes))})")
    return HumanRatings(source, chosen, scores, raters, prompts, responses, sorted(axes), missing)
