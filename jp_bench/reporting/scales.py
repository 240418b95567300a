"""The score scale of single-answer judgments (1–10 for MT-Bench, 1–5 for rubric judges), read from data.

A report states the scale its means are on, and that scale comes from the judgments, never from an
assumption in the report: FastChat rows state it in their ``user_prompt`` ("on a scale of 1 to 10",
「1から10までのスケール」); our ``judgments.jsonl`` rows are on the scale their schema allows
(:class:`jp_bench.judging.records.SingleJudgment`'s ``score`` bounds). A judge whose rows state no
scale reports "scale not stated".
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class ScoreScale:
    """A closed score range, e.g. ``ScoreScale(1, 10)``; ``str()`` gives ``"1–10"``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise ValueError(f"not a score scale: {self.low}–{self.high}")

    def __str__(self) -> str:
        return f"{_number(self.low)}–{_number(self.high)}"

    def as_list(self) -> list[float]:
        """``[low, high]``, the JSON form."""
        return [float(self.low), float(self.high)]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def score_label(scale: ScoreScale | None) -> str:
    """How a report heads its scores: ``score (1–10)``, or says the judgments did not state a scale."""
    return f"score ({scale})" if scale is not None else "score (scale not stated in the judgments)"


# Where a judge prompt stops instructing and starts quoting the conversation: a question may itself
# say "1から1000までの整数", which is no scale. Every FastChat prompt puts its instructions first.
_QUOTED = re.compile(r"\[Question\]|\[質問\]|### User:|<\|The Start of|\[The Start of|\[ユーザーの質問|【ユーザーの質問"
                     r"|\[アシスタントの回答の開始\]|\[参考回答の開始\]")
_RANGE = r"(?P<low>\d+(?:\.\d+)?)\s*{sep}\s*(?P<high>\d+(?:\.\d+)?)"
_SCALE_PATTERNS = (
    # FastChat: "rate the response on a scale of 1 to 10"
    re.compile(r"scale\s+(?:of|from)\s+" + _RANGE.format(sep=r"(?:to|-|–)"), re.IGNORECASE),
    re.compile(r"\bfrom\s+" + _RANGE.format(sep="to") + r"\s*(?:points?|scale)", re.IGNORECASE),
    # Japanese MT-Bench: 「1から10までのスケールで」; rubric judges: 「1〜5の5段階」「1から5までの整数」
    re.compile(_RANGE.format(sep=r"(?:から|~|〜|-|–)")
               + r"\s*(?:まで)?\s*の?\s*(?:スケール|整数|\d*\s*段階|点数|評価|点)"),
)


def scale_from_prompt(prompt: str | None) -> ScoreScale | None:
    """The score range a judge prompt asks for, from its instructions (before any quoted question)."""
    if not prompt:
        return None
    text = unicodedata.normalize("NFKC", prompt)  # 「１から１０」, 「1〜10」 (〜 becomes ~)
    match = _QUOTED.search(text)
    instructions = text[: match.start()] if match else text
    found = [(m.start(), m) for pattern in _SCALE_PATTERNS for m in pattern.finditer(instructions)]
    if not found:
        return None
    _, first = min(found, key=lambda item: item[0])
    try:
        return ScoreScale(float(first["low"]), float(first["high"]))
    except ValueError:  # "from 10 to 1": not a range we can report on
        return None


def schema_scale() -> ScoreScale:
    """The scale of our ``judgments.jsonl`` single rows: the bounds their schema puts on ``score``."""
    from annotated_types import Ge, Le

    from jp_bench.judging.records import SingleJudgment

    metadata = SingleJudgment.model_fields["score"].metadata
    low = next(item.ge for item in metadata if isinstance(item, Ge))
    high = next(item.le for item in metadata if isinstance(item, Le))
    return ScoreScale(float(low), float(high))
