"""The common form every reference and candidate judge is compared in: pairwise votes and per-answer scores.

- **Votes** are :class:`jp_bench.votes.Vote` s keyed ``(question, model_lo, model_hi, turn)``: a judge's
  two games on an item become one vote (:func:`jp_bench.votes.combine_games`: the winner when both
  orders name it, else a tie; an error in either game gives none); humans may cast several per key.
- **Scores** map ``(question, model, turn)`` to a number on the side's ``scale``.

A judge's tables come from :func:`jp_bench.reporting.sources.load_judgments`: its first judge sample
only (sample 0, the one an ordinary run makes; the other samples feed the noise figure), and a FastChat
row that judges an item again is left out, as is a pair judged again the other way round (the first
one counts). Where one side has scores and the
other votes, :func:`votes_from_scores` turns scores into votes: the higher score wins, equal scores tie.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from jp_bench.reporting.scales import ScoreScale
from jp_bench.stats.common import CLUSTER_COLUMN
from jp_bench.stats.tables import REPEAT_COLUMN
from jp_bench.votes import Vote, VoteKey, combine_games, make_vote, normalize_question_id

ScoreKey = tuple[Any, str, int]  # (question id, model, turn)
# The scale a judge's scores are read on when its judgments state none (FastChat's turn-2 prompts).
ASSUMED_SCALE = ScoreScale(1.0, 10.0)


@dataclass
class Verdicts:
    """What one judge (or the reference) said, in the common form."""

    name: str
    votes: tuple[Vote, ...] = ()
    scores: dict[ScoreKey, float] = field(default_factory=dict)
    scale: ScoreScale | None = None
    # A judge's own PAIRWISE and SINGLE rows (first sample), for its biases; None for humans.
    pairwise: pd.DataFrame | None = None
    single: pd.DataFrame | None = None

    @property
    def has_votes(self) -> bool:
        return bool(self.votes)

    @property
    def has_scores(self) -> bool:
        return bool(self.scores)

    @property
    def kind(self) -> str:
        """``pairwise``, ``single`` or ``pairwise+single``: what the side judged."""
        return "+".join(k for k, present in (("pairwise", self.has_votes), ("single", self.has_scores)) if present)

    def vote_keys(self) -> set[VoteKey]:
        return {vote.key for vote in self.votes}


def first_sample(frame: pd.DataFrame) -> pd.DataFrame:
    """A judge's rows of its first judge sample, each item once (a FastChat repeat left out)."""
    keep = pd.Series(True, index=frame.index)
    if "sample" in frame.columns:
        keep &= frame["sample"].isna() | (frame["sample"] == 0)
    if REPEAT_COLUMN in frame.columns:
        keep &= frame[REPEAT_COLUMN] == 0
    return frame[keep]


def question_of(frame: pd.DataFrame) -> pd.Series:
    """Each row's question (the ``cluster`` of a turn item ``"81/2"``), as the votes spell question ids."""
    question = frame["question_id"]
    if CLUSTER_COLUMN in frame.columns:
        question = frame[CLUSTER_COLUMN].where(frame[CLUSTER_COLUMN].notna(), question)
    return question.map(normalize_question_id)


def judge_verdicts(name: str, pairwise: pd.DataFrame, single: pd.DataFrame,
                   scale: ScoreScale | None) -> Verdicts:
    """One judge's votes and scores from its PAIRWISE and SINGLE rows (see the module docstring)."""
    pair_rows = first_sample(pairwise).reset_index(drop=True)
    votes: dict[VoteKey, Vote] = {}
    for question, row in zip(question_of(pair_rows), pair_rows.itertuples(index=False), strict=True):
        winner = combine_games(row.g1_winner, row.g2_winner)
        if winner is not None:
            vote = make_vote(question, row.model_1, row.model_2, winner, turn=int(row.turn), voter=name)
            # A pair judged in both orientations (a baseline run and a pairwise-all run) votes once: the first.
            votes.setdefault(vote.key, vote)
    single_rows = first_sample(single).reset_index(drop=True)
    scores: dict[ScoreKey, float] = {}
    for question, row in zip(question_of(single_rows), single_rows.itertuples(index=False), strict=True):
        if pd.notna(row.score):
            scores.setdefault((question, row.model, int(row.turn)), float(row.score))
    return Verdicts(name, tuple(votes.values()), scores, scale if scale is not None or not scores else ASSUMED_SCALE,
                    pair_rows if len(pair_rows) else None, single_rows if len(single_rows) else None)


def votes_from_scores(scores: Mapping[ScoreKey, float], voter: str,
                      keys: Iterable[VoteKey] | None = None) -> tuple[Vote, ...]:
    """Votes read off scores: on each key of ``keys`` whose two answers both have a score (default: every
    pair of models scored on the same question and turn), the higher score wins and equal scores tie."""
    if keys is None:
        by_item: dict[tuple[Any, int], list[str]] = {}
        for question, model, turn in scores:
            by_item.setdefault((question, turn), []).append(model)
        keys = [(question, *sorted(pair), turn) for (question, turn), models in by_item.items()
                for pair in itertools.combinations(sorted(models, key=str), 2)]
    votes = []
    for question, lo, hi, turn in keys:
        first, second = scores.get((question, lo, turn)), scores.get((question, hi, turn))
        if first is None or second is None or math.isnan(first) or math.isnan(second):
            continue
        winner = "model_1" if first > second else "model_2" if second > first else "tie"
        votes.append(make_vote(question, lo, hi, winner, turn=turn, voter=voter))
    return tuple(votes)
