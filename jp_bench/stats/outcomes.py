"""Position-swap arithmetic: from two verdicts (both orders) to one outcome per question.

Game 1 shows model_1 as assistant A; game 2 shows it as B. A verdict is mapped back to model terms
first, then the two games combine: a win or a loss only when both games agree; a tie when either
game says tie or when they disagree (the latter is also flagged ``inconsistent``); an error when
either game has no verdict. Errors are never counted as wins, losses or ties.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

# What an outcome is worth from model_1's side: the one place "win 1, tie 0.5, loss 0" is written.
# Every adjusted win rate, judged metric and score column reads it (an error is worth nothing: no value).
OUTCOME_SCORES: dict[str, float] = {"win": 1.0, "tie": 0.5, "loss": 0.0}

Verdict = Literal["A", "B", "C"]
Winner = Literal["model_1", "model_2", "tie", "error"]
Outcome = Literal["win", "loss", "tie", "error"]


def winner_of_game(verdict: Verdict | None, game: int) -> Winner:
    """The winner in model terms of one game (``game`` 1: model_1 is A; 2: model_1 is B)."""
    if verdict is None:
        return "error"
    if verdict == "C":
        return "tie"
    model_1_is_a = game == 1
    a_won = verdict == "A"
    return "model_1" if a_won == model_1_is_a else "model_2"


@dataclass(frozen=True)
class PairOutcome:
    outcome: Outcome  # from model_1's side
    inconsistent: bool  # both games gave a winner, and not the same one


def combine_games(g1_winner: Winner, g2_winner: Winner) -> PairOutcome:
    if "error" in (g1_winner, g2_winner):
        return PairOutcome("error", False)
    if g1_winner == g2_winner:
        return PairOutcome({"model_1": "win", "model_2": "loss", "tie": "tie"}[g1_winner], False)  # type: ignore[arg-type]
    both_decided = "tie" not in (g1_winner, g2_winner)
    return PairOutcome("tie", both_decided)


@dataclass(frozen=True)
class PairTally:
    model_1: str
    model_2: str
    win: int
    loss: int
    tie: int
    inconsistent: int
    errors: int

    @property
    def n(self) -> int:
        """Questions with a usable outcome (errors excluded)."""
        return self.win + self.loss + self.tie

    @property
    def adjusted_win_rate(self) -> float | None:
        return adjusted_win_rate(self.win, self.tie, self.n)


def adjusted_win_rate(win: int, tie: int, n: int) -> float | None:
    """``(win + tie/2) / n`` by :data:`OUTCOME_SCORES` (losses are worth 0); None when ``n`` is 0."""
    if n == 0:
        return None
    return (win * OUTCOME_SCORES["win"] + tie * OUTCOME_SCORES["tie"]) / n


def tally(model_1: str, model_2: str, outcomes: Iterable[PairOutcome]) -> PairTally:
    counts = {"win": 0, "loss": 0, "tie": 0, "error": 0}
    inconsistent = 0
    for item in outcomes:
        counts[item.outcome] += 1
        inconsistent += item.inconsistent
    return PairTally(model_1, model_2, counts["win"], counts["loss"], counts["tie"], inconsistent, counts["error"])
