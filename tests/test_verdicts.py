"""Judge replies to verdicts and scores: the last marker wins, full-width markers count."""

from __future__ import annotations

import pytest

from jp_bench.judging.verdicts import parse_pairwise_verdict, parse_score

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Both are fine, but A is clearer. [[A]]", "A"),
        ("判定: [[B]]", "B"),
        ("引き分けです。[[C]]", "C"),
        ("It is a draw. [[tie]]", "C"),
        ("It is a draw. [[TIE]]", "C"),
        ("判定：［［Ａ］］", "A"),  # full-width brackets and letter
        ("判定：［［Ｂ］］", "B"),
        ("判定：[[Ｃ]]", "C"),  # mixed: ASCII brackets, full-width letter
        ("判定：［[B]］", "B"),  # mixed brackets
        ("Verdict: [[ A ]]", "A"),
        ("判定：［［　Ｂ　］］", "B"),  # ideographic spaces inside the brackets
    ],
)
def test_pairwise_marker(reply: str, expected: str) -> None:
    assert parse_pairwise_verdict(reply) == expected


def test_quoted_answer_marker_is_overridden_by_final_verdict() -> None:
    # The judge quotes assistant A's answer, which itself contains "[[A]]", then concludes with [[B]].
    reply = (
        'Assistant A wrote: "The correct output format is [[A]] for the first option."\n'
        "That answer misreads the question; assistant B is correct.\n\n[[B]]"
    )
    assert parse_pairwise_verdict(reply) == "B"


def test_format_instructions_quoted_before_the_verdict() -> None:
    reply = "指示どおり [[A]]、[[B]]、[[C]] のいずれかで答えます。Bの方が正確です。最終判定：[[B]]"
    assert parse_pairwise_verdict(reply) == "B"


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "I cannot decide between the two answers.",
        "Assistant [A] is better.",  # single brackets are not a pairwise verdict
        "[[D]]",
        "x[[a]] indexes a nested list",  # lower-case letters are code, not a verdict
        "[[A]",
    ],
)
def test_no_pairwise_marker(reply: str) -> None:
    assert parse_pairwise_verdict(reply) is None


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Rating: [[7]]", 7.0),
        ("評価：[[8.5]]", 8.5),
        ("評価：［［８］］", 8.0),  # full-width brackets and digits
        ("評価：[[９.５]]", 9.5),  # mixed full-width digit, ASCII point
        ("Rating: [[7/10]]", 7.0),
        ("評価：［［６／１０］］", 6.0),
        ("Rating: [[ 10 ]]", 10.0),
        ("Rating: [[1]]", 1.0),
        ("Format: [[5]] ... my rating is [[3]]", 3.0),  # the last marker wins
        ("Rating: [rating] ... final: [6]", 6.0),  # single-bracket fallback
        ("See [1] and [2]. Rating: [[4]]", 4.0),  # double brackets beat single ones anywhere
    ],
)
def test_score(reply: str, expected: float) -> None:
    assert parse_score(reply) == expected


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "The answer is good.",
        "Rating: [[rating]]",
        "Rating: [[11]]",
        "Rating: [[0]]",
        "Rating: [[-3]]",
        "Rating: [[10.5]]",
        "Example [[5]]; my rating: [[12]]",  # the judge's last word is invalid: no falling back
        "Rating: [[4/5]]",  # another scale
    ],
)
def test_no_usable_score(reply: str) -> None:
    assert parse_score(reply) is None


def test_score_custom_range() -> None:
    assert parse_score("[[0]]", low=0, high=5) == 0.0
    assert parse_score("[[4/5]]", low=0, high=5) == 4.0
    assert parse_score("[[6]]", low=0, high=5) is None
