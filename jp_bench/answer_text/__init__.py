"""What an answer's text says about itself, measured once for judging and reports: its reasoning left in
(:mod:`.reasoning`, removed before anything else), how much of it is Japanese (:mod:`.japanese`), its
markdown dressing (:mod:`.style`), with code, math and URLs set aside (:mod:`.code`).

:func:`answer_features` is what a judgment row records of the answer judged (``answer_features``,
``answer_1_features``, ``answer_2_features``), and :data:`FEATURE_COLUMNS` the names the report tables
give those values (``headers``, ... in the SINGLE table; ``headers_1``, ..., ``headers_2``, ... in the
PAIRWISE table: :data:`PAIRWISE_FEATURE_COLUMNS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jp_bench.answer_text.japanese import JAPANESE_THRESHOLD, japanese_share, letter_counts, share_of
from jp_bench.answer_text.reasoning import strip_reasoning
from jp_bench.answer_text.style import StyleCounts, style_counts

__all__ = ["FEATURE_COLUMNS", "JAPANESE_THRESHOLD", "PAIRWISE_FEATURE_COLUMNS", "AnswerFeatures", "StyleCounts",
           "answer_features", "conversation_features", "japanese_share", "strip_reasoning", "style_counts"]

# What a judgment row records of an answer and the report tables carry: the one list of the names.
FEATURE_COLUMNS: tuple[str, ...] = ("headers", "list_items", "bold", "japanese_share", "reasoning_chars")
# The PAIRWISE table's: model_1's answer (``_1``), then model_2's (``_2``).
PAIRWISE_FEATURE_COLUMNS: tuple[str, ...] = tuple(f"{name}_{side}" for side in (1, 2) for name in FEATURE_COLUMNS)


@dataclass(frozen=True)
class AnswerFeatures:
    """An answer after its reasoning is removed: its length, markdown counts and Japanese share
    (None: no letter to measure), and how many characters of reasoning were removed."""

    chars: int
    headers: int
    list_items: int
    bold: int
    japanese_share: float | None
    reasoning_chars: int

    def row_fields(self) -> dict[str, Any]:
        """The values a judgment row records (:data:`FEATURE_COLUMNS`; the length has a field of its own)."""
        return {name: getattr(self, name) for name in FEATURE_COLUMNS}


def answer_features(text: str) -> tuple[str, AnswerFeatures]:
    """``text`` without its reasoning, and the features of what is left (``chars`` is its length)."""
    (cleaned,), _, features = conversation_features([text])
    return cleaned, features


def conversation_features(turns: Sequence[str]) -> tuple[tuple[str, ...], tuple[AnswerFeatures, ...], AnswerFeatures]:
    """Each turn without its reasoning, each turn's features, and the features of the whole answer:
    lengths, counts and reasoning summed over the turns, the Japanese share over the letters of every
    turn together (not the mean of the turns' shares: a one-line turn weighs what its letters weigh)."""
    cleaned: list[str] = []
    each: list[AnswerFeatures] = []
    japanese = letters = 0
    for turn in turns:
        text, removed = strip_reasoning(turn)
        counts = style_counts(text)
        in_japanese, in_all = letter_counts(text)
        japanese += in_japanese
        letters += in_all
        cleaned.append(text)
        each.append(AnswerFeatures(chars=len(text), headers=counts.headers, list_items=counts.list_items,
                                   bold=counts.bold, japanese_share=share_of(in_japanese, in_all),
                                   reasoning_chars=removed))
    whole = AnswerFeatures(chars=sum(f.chars for f in each), headers=sum(f.headers for f in each),
                           list_items=sum(f.list_items for f in each), bold=sum(f.bold for f in each),
                           japanese_share=share_of(japanese, letters),
                           reasoning_chars=sum(f.reasoning_chars for f in each))
    return tuple(cleaned), tuple(each), whole
