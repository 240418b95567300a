"""Input tables: validation, per-question outcomes, orientation against a baseline, game expansion.

PAIRWISE table: one row per (question, model pair) with columns ``question_id``, ``category``,
``model_1``, ``model_2``, ``g1_winner``, ``g2_winner`` and optionally ``len_1``, ``len_2`` (answer
lengths in characters, NaN allowed). Game 1 showed model_1 as assistant A, game 2 showed it as B.
Winners are in model terms: ``"model_1"``, ``"model_2"``, ``"tie"`` or ``"error"``; a missing winner
(None/NaN) is read as ``"error"``.

Optional in both, for the bootstrap (:func:`jp_bench.stats.common.resampling_units`): ``cluster``,
the question a row's item belongs to when ``question_id`` is a smaller item (a turn, "81/2"; a judge
sample), and ``sample``, the judge sample (``--samples``) a row is. Optional in PAIRWISE: ``turn``
(the turn judged, for per-turn figures; the item is still ``question_id``) and ``repeat`` (0 for an
item's row, 1, 2, ... for rows that judge the same question and pair again, which a caller
reproducing FastChat counts as FastChat's ``show_result`` counts them; see
:func:`validate_pairwise`).

SINGLE table: one row per (question, model) with ``question_id``, ``category``, ``model``, ``score``
(float; NaN = the judge gave no score) and optionally ``length``; with an optional ``turn`` column,
one row per (question, model, turn) (MT-Bench grades each turn of a conversation).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from jp_bench.stats.common import CLUSTER_COLUMN, require_columns, to_plain
from jp_bench.stats.outcomes import OUTCOME_SCORES, combine_games

PAIRWISE_COLUMNS = ("question_id", "category", "model_1", "model_2", "g1_winner", "g2_winner")
SINGLE_COLUMNS = ("question_id", "category", "model", "score")
# Optional PAIRWISE column: which judgment of one (question_id, model pair) a row is (see validate_pairwise).
REPEAT_COLUMN = "repeat"
WINNERS = ("model_1", "model_2", "tie", "error")
_SWAP_WINNER = {"model_1": "model_2", "model_2": "model_1", "tie": "tie", "error": "error"}


def _check_one_category(df: pd.DataFrame, table: str) -> None:
    per_question = df.groupby("question_id", sort=False)["category"].nunique(dropna=False)
    clashing = per_question[per_question > 1]
    if len(clashing):
        raise ValueError(f"{table} table gives question(s) {list(clashing.index[:5])} more than one category")


def has_lengths(df: pd.DataFrame) -> bool:
    """Whether a PAIRWISE table has both length columns."""
    return "len_1" in df.columns and "len_2" in df.columns


def validate_pairwise(df: pd.DataFrame) -> pd.DataFrame:
    """A checked copy of a PAIRWISE table (index reset; winners as str, missing ones as ``"error"``).

    Raises ``ValueError`` for missing columns, unknown winner values, a row comparing a model with
    itself, a (question_id, model_1, model_2) given twice, or a question with two categories. With a
    ``repeat`` column, rows of one (question_id, model_1, model_2) are allowed when their ``repeat``
    differs: the caller says that the item was judged again and is to be counted again.
    """
    require_columns(df, PAIRWISE_COLUMNS, "PAIRWISE")
    table = df.reset_index(drop=True).copy()
    for column in ("g1_winner", "g2_winner"):
        winners = table[column].astype(object).where(table[column].notna(), "error")
        unknown = sorted({str(w) for w in winners} - set(WINNERS))
        if unknown:
            raise ValueError(f"PAIRWISE column {column} has unknown value(s) {unknown}; allowed: {list(WINNERS)}")
        table[column] = winners.astype(str)
    if table[["model_1", "model_2"]].isna().any().any():
        raise ValueError("PAIRWISE columns model_1 and model_2 must not be missing")
    same = table["model_1"] == table["model_2"]
    if same.any():
        raise ValueError(f"PAIRWISE row(s) {list(table.index[same][:5])} compare a model with itself")
    identity = ["question_id", "model_1", "model_2"] + ([REPEAT_COLUMN] if REPEAT_COLUMN in table.columns else [])
    duplicated = table.duplicated(identity)
    if duplicated.any():
        first = to_plain(table.loc[duplicated, identity].iloc[0].tolist())
        raise ValueError(f"PAIRWISE table has more than one row for ({', '.join(identity)}) = {first}; "
                         "give one row per question and pair (e.g. fold turns into question_id)")
    if has_lengths(table):
        table["len_1"] = pd.to_numeric(table["len_1"], errors="raise").astype(float)
        table["len_2"] = pd.to_numeric(table["len_2"], errors="raise").astype(float)
    _check_one_category(table, "PAIRWISE")
    return table


def validate_single(df: pd.DataFrame, *, allow_duplicates: bool = False) -> pd.DataFrame:
    """A checked copy of a SINGLE table (index reset; ``score`` as float; ``turn`` as int when present).

    An optional ``turn`` column (multi-turn benchmarks: one row per question, model and turn) must
    hold integers >= 1. Raises ``ValueError`` for missing columns, non-numeric or negative scores
    (FastChat writes -1 for an error: turn it into NaN first), a (question_id, model[, turn]) given
    twice (unless ``allow_duplicates``: a caller reproducing FastChat, which counts every row), or a
    question with two categories.
    """
    require_columns(df, SINGLE_COLUMNS, "SINGLE")
    table = df.reset_index(drop=True).copy()
    try:
        table["score"] = pd.to_numeric(table["score"], errors="raise").astype(float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"SINGLE column score must be numeric (NaN for an error): {exc}") from exc
    if (table["score"] < 0).any():
        raise ValueError("SINGLE column score has negative values; mark a judge error as NaN "
                         "(FastChat's -1 must be converted to NaN before calling)")
    if table["model"].isna().any():
        raise ValueError("SINGLE column model must not be missing")
    identity = ["question_id", "model"]
    if "turn" in table.columns:
        turns = pd.to_numeric(table["turn"], errors="coerce")
        if turns.isna().any() or (turns < 1).any() or (turns != turns.round()).any():
            raise ValueError("SINGLE column turn must hold integers >= 1")
        table["turn"] = turns.astype(int)
        identity.append("turn")
    duplicated = table.duplicated(identity)
    if duplicated.any() and not allow_duplicates:
        first = to_plain(table.loc[duplicated, identity].iloc[0].tolist())
        raise ValueError(f"SINGLE table has more than one row for ({', '.join(identity)}) = {first}")
    if "length" in table.columns:
        table["length"] = pd.to_numeric(table["length"], errors="raise").astype(float)
    _check_one_category(table, "SINGLE")
    return table


def question_outcomes(df: pd.DataFrame) -> pd.DataFrame:
    """The PAIRWISE table with the combined per-question outcome, from model_1's side.

    Adds columns ``outcome`` (``"error"`` if either game is an error; else ``"win"``/``"loss"`` when
    both games name model_1/model_2; else ``"tie"``: either game said tie, or the games disagree),
    ``inconsistent`` (True when both games named a winner and not the same one) and ``score``
    (:data:`jp_bench.stats.outcomes.OUTCOME_SCORES`, error NaN). This is the rule of ``jp_bench.stats.outcomes``.
    """
    table = validate_pairwise(df)
    # The one position-swap rule; a table holds one row per question and pair, so this is cheap.
    combined = [combine_games(g1, g2) for g1, g2 in zip(table["g1_winner"], table["g2_winner"], strict=True)]
    table["outcome"] = [c.outcome for c in combined]
    table["inconsistent"] = np.array([c.inconsistent for c in combined], dtype=bool)
    table["score"] = table["outcome"].map(_SCORES).astype(float)
    return table


_SCORES = {**OUTCOME_SCORES, "error": np.nan}


def orient_to_baseline(df: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """The rows of a PAIRWISE table that involve ``baseline``, rewritten so that ``model_2 == baseline``.

    A row with the baseline as model_1 is rewritten as the same two judgments seen from the other
    model: the models and lengths swap, and so do the games (its game 2 showed the other model as A,
    so it becomes game 1) with ``"model_1"``/``"model_2"`` exchanged in each winner. The result is a
    valid PAIRWISE table with the same meaning (game 1 shows model_1 as A). Rows without the baseline
    are dropped; raises ``ValueError`` when no row involves it.
    """
    table = validate_pairwise(df)
    involved = (table["model_1"] == baseline) | (table["model_2"] == baseline)
    if not involved.any():
        models = sorted(set(table["model_1"]) | set(table["model_2"]), key=str)
        raise ValueError(f"baseline {baseline!r} does not appear in the PAIRWISE table (models: {models})")
    table = table[involved].copy()
    flip = (table["model_1"] == baseline).to_numpy()
    if flip.any():
        swapped = table.loc[flip]
        table.loc[flip, "model_1"] = swapped["model_2"].to_numpy()
        table.loc[flip, "model_2"] = swapped["model_1"].to_numpy()
        table.loc[flip, "g1_winner"] = swapped["g2_winner"].map(_SWAP_WINNER).to_numpy()
        table.loc[flip, "g2_winner"] = swapped["g1_winner"].map(_SWAP_WINNER).to_numpy()
        if has_lengths(table):
            table.loc[flip, "len_1"] = swapped["len_2"].to_numpy()
            table.loc[flip, "len_2"] = swapped["len_1"].to_numpy()
    return validate_pairwise(table)


def expand_games(df: pd.DataFrame) -> pd.DataFrame:
    """One row per judged game of a PAIRWISE table, errors dropped.

    Columns: ``question_id``, ``category``, ``game`` (1 or 2), ``model_a`` (shown first),
    ``model_b``, ``result`` (for A: 1.0 win, 0.5 tie, 0.0 loss), and the table's ``cluster`` and
    ``sample`` when it has them (a bootstrap of the games resamples what the table's would). Game 1 has
    A = model_1, game 2 has A = model_2. A game whose winner is ``"error"`` is dropped on its own; the
    other game of the same question is kept.
    """
    table = validate_pairwise(df)
    carried = {column: table[column].to_numpy() for column in (CLUSTER_COLUMN, "sample") if column in table.columns}
    parts = []
    for game, column, model_a, model_b in ((1, "g1_winner", "model_1", "model_2"),
                                           (2, "g2_winner", "model_2", "model_1")):
        winner = table[column]
        result = np.select([winner == model_a, winner == model_b, winner == "tie"],
                           [OUTCOME_SCORES["win"], OUTCOME_SCORES["loss"], OUTCOME_SCORES["tie"]], np.nan)
        parts.append(pd.DataFrame({
            "question_id": table["question_id"].to_numpy(),
            "category": table["category"].to_numpy(),
            "game": game,
            "model_a": table[model_a].to_numpy(),
            "model_b": table[model_b].to_numpy(),
            "result": result,
            **carried,
        }))
    games = pd.concat(parts, ignore_index=True)
    return games[games["result"].notna()].reset_index(drop=True)
