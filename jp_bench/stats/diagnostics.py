"""Judge diagnostics on a PAIRWISE table: position consistency, first-slot preference, length effect."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from jp_bench.stats.common import ratio, to_plain
from jp_bench.stats.tables import has_lengths, question_outcomes, validate_pairwise


def position_consistency(df: pd.DataFrame) -> float | None:
    """Share of questions without an error whose two games name the same winner.

    "Same" compares the winners in model terms, so two ties count as consistent; a win in one order
    and a tie in the other does not. Questions with an error in either game are left out; None when
    no question remains. A judge that always picks the first slot scores 0.
    """
    table = validate_pairwise(df)
    usable = (table["g1_winner"] != "error") & (table["g2_winner"] != "error")
    same = usable & (table["g1_winner"] == table["g2_winner"])
    return ratio(int(same.sum()), int(usable.sum()))


def _first_slot_counts(table: pd.DataFrame) -> tuple[int, int]:
    """(games won by A, games with a decided verdict A or B) over both games of every row."""
    g1, g2 = table["g1_winner"], table["g2_winner"]
    # Game 1 shows model_1 as A; game 2 shows model_2 as A.
    a_won = int((g1 == "model_1").sum() + (g2 == "model_2").sum())
    decided = int(g1.isin(["model_1", "model_2"]).sum() + g2.isin(["model_1", "model_2"]).sum())
    return a_won, decided


def first_slot_preference(df: pd.DataFrame) -> float | None:
    """Share of games with a decided verdict (A or B, not a tie or an error) in which A won.

    The verdict is read back from the winner and the game: in game 1 ``"model_1"`` means A won, in
    game 2 ``"model_1"`` means B won. Every game counts on its own (also when the other game of the
    question is an error). 0.5 = no position bias; 1.0 = the judge always picks A. None without a
    decided game.
    """
    a_won, decided = _first_slot_counts(validate_pairwise(df))
    return ratio(a_won, decided)


def length_effect(df: pd.DataFrame) -> dict[str, Any] | None:
    """How the per-question outcome relates to the answers' length difference; None without lengths.

    Uses questions without an error whose ``len_1`` and ``len_2`` are both known. Per question:
    ``score`` from model_1's side (win 1, tie 0.5, loss 0) and ``diff = len_1 - len_2``.

    Returns ``{"n"``: such questions, ``"spearman"``, ``"spearman_p"``: Spearman's rank correlation
    of score and diff (``scipy.stats.spearmanr``), ``"n_decided"``: questions with a win or a loss,
    ``"point_biserial"``, ``"point_biserial_p"``: the point-biserial correlation of won (win 1, loss
    0; ties left out) and diff (``scipy.stats.pointbiserialr``), ``"n_longer"``: questions whose
    answers differ in length, ``"longer_win_rate"``: the mean score of the longer answer among them
    (win 1, tie 0.5, loss 0)}``. A correlation is None with fewer than 3 questions or a constant
    variable; a rate is None with no question.
    """
    table = question_outcomes(df)
    if not has_lengths(table):
        return None
    usable = table[table["score"].notna() & table["len_1"].notna() & table["len_2"].notna()]
    score = usable["score"].to_numpy(dtype=float)
    diff = (usable["len_1"] - usable["len_2"]).to_numpy(dtype=float)

    def varies(*columns: np.ndarray) -> bool:
        return len(columns[0]) >= 3 and all(np.ptp(c) > 0 for c in columns)

    result: dict[str, Any] = {"n": len(score), "spearman": None, "spearman_p": None}
    if varies(score, diff):
        rho, p_value = stats.spearmanr(score, diff)
        result.update(spearman=float(rho), spearman_p=float(p_value))
    decided = (score == 0.0) | (score == 1.0)
    result.update(n_decided=int(decided.sum()), point_biserial=None, point_biserial_p=None)
    if varies(score[decided], diff[decided]):
        r, p_value = stats.pointbiserialr(score[decided], diff[decided])
        result.update(point_biserial=float(r), point_biserial_p=float(p_value))
    differ = diff != 0
    longer_score = np.where(diff[differ] > 0, score[differ], 1.0 - score[differ])
    result.update(n_longer=int(differ.sum()),
                  longer_win_rate=float(longer_score.mean()) if differ.any() else None)
    return to_plain(result)


def judge_diagnostics(df: pd.DataFrame) -> dict[str, Any]:
    """All position and length diagnostics of a PAIRWISE table in one JSON-ready dict.

    ``{"n_questions"``: rows, ``"n_usable"``: rows without an error, ``"position_consistency"``,
    ``"n_decided_games"``, ``"first_slot_preference"`` (see those functions), ``"length"``:
    :func:`length_effect` (None without lengths)}``.
    """
    table = validate_pairwise(df)
    usable = int(((table["g1_winner"] != "error") & (table["g2_winner"] != "error")).sum())
    a_won, decided = _first_slot_counts(table)
    return to_plain({
        "n_questions": len(table),
        "n_usable": usable,
        "position_consistency": position_consistency(table),
        "n_decided_games": decided,
        "first_slot_preference": ratio(a_won, decided),
        "length": length_effect(table),
    })
