"""Read the verdict out of a judge model's reply.

FastChat's judge prompts ask the judge to end with ``[[A]]``, ``[[B]]`` or ``[[C]]`` (pairwise) or
``[[rating]]`` (single-answer grading). Japanese judges often write the markers with full-width
characters (``［［Ａ］］``, ``[[８]]``), so replies are NFKC-normalised before matching.

The *last* marker wins: a judge frequently quotes the required format ("answer with [[A]] if ...")
or an assistant's answer that itself contains a marker before giving its own conclusion at the end.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

PairwiseVerdict = Literal["A", "B", "C"]

# Letters are matched case-sensitively: lower-case ``x[[a]]`` is R/NumPy indexing in quoted code, not
# a verdict. "tie" is accepted in any case because judges write both [[tie]] and [[TIE]].
_PAIRWISE_MARKER = re.compile(r"\[\[\s*(?:(?P<letter>[ABC])|(?P<tie>(?i:tie)))\s*\]\]")

_NUMBER = r"(?P<number>[+-]?\d+(?:\.\d+)?)(?:\s*/\s*(?P<scale>\d+(?:\.\d+)?))?"
_DOUBLE_SCORE = re.compile(r"\[\[\s*" + _NUMBER + r"\s*\]\]")
# FastChat's fallback for judges that drop one bracket pair. It is only tried when no double-bracket
# marker exists, because single brackets also appear as citations ("[1]") in ordinary prose.
_SINGLE_SCORE = re.compile(r"(?<!\[)\[\s*" + _NUMBER + r"\s*\](?!\])")


# A reasoning model's hidden reasoning, when a server leaves it in the content (vLLM without a
# reasoning parser, llama.cpp, DeepSeek-R1-style models): markers in there are thoughts, not verdicts.
# An unclosed block (the reply was cut off while thinking) hides everything after it.
_THINK = re.compile(r"<(think|thinking|reasoning)>.*?(?:</\1>|\Z)", re.DOTALL | re.IGNORECASE)


def strip_reasoning(reply: str) -> str:
    """``reply`` without ``<think>…</think>`` (also ``<thinking>``, ``<reasoning>``) blocks."""
    return _THINK.sub("", reply)


def _normalise(reply: str) -> str:
    # NFKC folds full-width brackets, letters, digits, "／" and the ideographic space to ASCII.
    return unicodedata.normalize("NFKC", strip_reasoning(reply))


def parse_pairwise_verdict(reply: str) -> PairwiseVerdict | None:
    """``"A"``, ``"B"`` or ``"C"`` (tie) from the last ``[[A]]``/``[[B]]``/``[[C]]``/``[[tie]]`` marker.

    Returns None when the reply contains no marker (FastChat records that as an "error" game).
    """
    matches = list(_PAIRWISE_MARKER.finditer(_normalise(reply)))
    if not matches:
        return None
    last = matches[-1]
    if last["tie"] is not None:
        return "C"
    letter = last["letter"]
    if letter == "A":
        return "A"
    if letter == "B":
        return "B"
    return "C"


def parse_score(reply: str, low: float = 1, high: float = 10) -> float | None:
    """The rating from the last ``[[N]]`` marker (``[[8.5]]``, ``[[７]]``, ``[[7/10]]`` are accepted).

    Single brackets (``[N]``) are used only when the reply has no double-bracket rating. Returns None
    when there is no rating, when the last rating lies outside ``low..high``, or when it is written
    against another scale (``[[4/5]]`` on a 1-10 scale): the judge's final word is invalid, and an
    earlier marker is more likely a quoted example than the judge's conclusion.
    """
    text = _normalise(reply)
    matches = list(_DOUBLE_SCORE.finditer(text)) or list(_SINGLE_SCORE.finditer(text))
    if not matches:
        return None
    last = matches[-1]
    score = float(last["number"])
    if last["scale"] is not None and float(last["scale"]) != float(high):
        return None
    if not low <= score <= high:
        return None
    return score
