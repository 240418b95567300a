"""Votes normalised to a key ``(question_id, model_lo, model_hi, turn)`` and a winner ``lo``/``hi``/``tie``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Outcome = Literal["lo", "hi", "tie"]
QuestionId = int | str
VoteKey = tuple[QuestionId, str, str, int]

# What a human vote judged, the ``scope`` field of a votes file: one turn (the default, and what a file
# without the field means), or a whole multi-turn conversation, which an earlier ``jp-bench annotate``
# asked for and stored as turn 1. A conversation vote is no vote on any one turn: it is never compared.
Scope = Literal["turn", "conversation"]
TURN_SCOPE: Scope = "turn"
CONVERSATION_SCOPE: Scope = "conversation"
SCOPES: tuple[Scope, ...] = (TURN_SCOPE, CONVERSATION_SCOPE)

_INT_ID = re.compile(r"-?(?:0|[1-9][0-9]*)")


def normalize_question_id(value: QuestionId) -> QuestionId:
    """``value`` with a string that spells an integer (CSV's ``"81"``) turned into it, so sources match."""
    if isinstance(value, str) and _INT_ID.fullmatch(value.strip()):
        return int(value.strip())
    return value


@dataclass(frozen=True)
class Vote:
    """One verdict on one key. ``voter`` is the annotator or judge; ``category`` is None when unknown."""

    question_id: QuestionId
    model_lo: str
    model_hi: str
    turn: int
    winner: Outcome
    voter: str = ""
    category: str | None = None

    @property
    def key(self) -> VoteKey:
        """``(question_id, model_lo, model_hi, turn)``: votes with equal keys are compared."""
        return (self.question_id, self.model_lo, self.model_hi, self.turn)


@dataclass(frozen=True)
class JudgeVotes:
    """A judge's votes: ``votes`` (both games combined, one per key) and, when known, each game alone."""

    votes: tuple[Vote, ...]
    game1: tuple[Vote, ...] = ()
    game2: tuple[Vote, ...] = ()


def make_vote(
    question_id: QuestionId,
    model_1: str,
    model_2: str,
    winner: str,
    *,
    turn: int = 1,
    voter: str = "",
    category: str | None = None,
) -> Vote:
    """Normalise a vote on ``model_1`` vs ``model_2``; ``winner`` is ``"model_1"``, ``"model_2"`` or a tie.

    The models are sorted into ``model_lo < model_hi`` and the winner is flipped when that swaps them.
    """
    if model_1 == model_2:
        raise ValueError(f"a vote needs two different models, got {model_1!r} twice")
    lo, hi = sorted((model_1, model_2))
    if "tie" in winner:
        outcome: Outcome = "tie"
    elif winner in ("model_1", "model_2"):
        outcome = "lo" if (winner == "model_1") == (model_1 == lo) else "hi"
    else:
        raise ValueError(f"winner must be 'model_1', 'model_2' or a tie, got {winner!r}")
    return Vote(question_id, lo, hi, turn, outcome, voter, category)


def combine_games(g1_winner: str | None, g2_winner: str | None) -> str | None:
    """One vote from both orders (winners in model terms): the winner if both agree, else ``"tie"``.

    None when either game is missing or an error (such a question gives no combined vote).
    """
    from jp_bench.stats.outcomes import combine_games as position_swap

    if g1_winner is None or g2_winner is None:
        return None
    outcome = position_swap(g1_winner, g2_winner).outcome  # type: ignore[arg-type]  # the one rule
    return {"win": "model_1", "loss": "model_2", "tie": "tie"}.get(outcome)

