"""Shared helpers: column checks, JSON-safe conversion, the paired question bootstrap, intervals.

The bootstrap here resamples *questions*. One matrix of resampled question positions is drawn per
call (:func:`question_draws`: ``numpy.random.default_rng(seed).integers(0, Q, size=(n_boot, Q))``) and
turned into a matrix of counts ``C[b, q]`` = how many times question ``q`` was drawn in replicate ``b``.
The mean of any per-question vector ``v`` (NaN = no usable value) over replicate ``b`` is then
``sum_q C[b, q] * v[q] / sum_q C[b, q] * [v[q] is not NaN]``, which is exactly ``nanmean`` of the
resampled values; every model, pair and category is evaluated against the same ``C``, so their
intervals are paired and comparable.

A question is the resampling unit even where a table's item is smaller (:func:`resampling_units`): the
turns of a multi-turn question are items of their own in a PAIRWISE table (``question_id`` "81/2"),
but they are not independent draws from the benchmark, so a drawn question brings all its items (a
cluster bootstrap), and a mean over items is ``C @ totals / C @ weights`` over per-question sums
(:func:`unit_totals`, :func:`bootstrap_weighted_means`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

# Optional column of PAIRWISE and SINGLE tables: the question a row's item belongs to (see resampling_units).
CLUSTER_COLUMN = "cluster"


def require_columns(df: pd.DataFrame, columns: Iterable[str], table: str) -> None:
    """Raise ``ValueError`` naming every column of ``columns`` that ``df`` lacks."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{table} table must be a pandas DataFrame, got {type(df).__name__}")
    needed = list(columns)
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"{table} table is missing column(s) {missing}; required: {needed}; "
                         f"present: {list(df.columns)}")


def check_bootstrap_args(n_boot: int, ci: float) -> None:
    """Validate the bootstrap size (an int >= 0; 0 disables the bootstrap) and the interval level."""
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 0:
        raise ValueError(f"n_boot must be an integer >= 0, got {n_boot!r}")
    if not (isinstance(ci, int | float) and 0.0 < float(ci) < 1.0):
        raise ValueError(f"ci must be a level strictly between 0 and 1 (e.g. 0.95), got {ci!r}")


def sorted_unique(values: Iterable[Any]) -> list[Any]:
    """Distinct values, sorted (by value, or by their text when the values do not compare)."""
    unique = list(pd.unique(pd.Series(list(values), dtype=object)))
    try:
        return sorted(unique)
    except TypeError:
        return sorted(unique, key=str)


def to_plain(value: Any) -> Any:
    """``value`` with numpy/pandas scalars and arrays turned into Python types; NaN and ±inf become None."""
    if isinstance(value, Mapping):
        return {to_plain(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray | pd.Series | pd.Index):
        return [to_plain(v) for v in value]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, np.generic):
        return value.item()
    return value


def resampling_units(table: pd.DataFrame) -> tuple[list[Any], np.ndarray]:
    """The questions a bootstrap of ``table`` resamples, sorted (the draw order), and each row's position
    among them.

    A row's question is its ``cluster`` when the table has that column and the row a value there, else
    its ``question_id``: the sources put the question in ``cluster`` when an item is only a part of it
    (a turn: ``question_id`` "81/2", ``cluster`` 81; a judge sample folded into ``question_id``), since
    the parts of one question are not independent draws from the benchmark. Every table of one report
    thus draws the same questions in the same order, and with one item per question (no ``cluster``, or
    ``cluster`` = ``question_id``) the draws, and every interval, are exactly those of the plain
    question bootstrap. Raises ``ValueError`` when one ``question_id`` is given two questions.
    """
    units = table["question_id"]
    if CLUSTER_COLUMN in table.columns:
        units = table[CLUSTER_COLUMN].where(table[CLUSTER_COLUMN].notna(), units)
    split = pd.DataFrame({"item": table["question_id"].to_numpy(), "unit": units.to_numpy()}).groupby(
        "item", sort=False)["unit"].nunique()
    if (split > 1).any():
        raise ValueError(f"question_id(s) {list(split.index[split > 1][:5])} belong to more than one {CLUSTER_COLUMN}")
    order = sorted_unique(units)
    position = {unit: index for index, unit in enumerate(order)}
    return order, np.array([position[unit] for unit in units], dtype=int)


def unit_totals(units: np.ndarray, columns: np.ndarray, values: np.ndarray, rows: np.ndarray, n_units: int,
                n_columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Per (question, column): the sum of the usable (non-NaN) ``values`` of the selected ``rows`` and how
    many there are, shapes ``(n_units, n_columns)``; ``units`` and ``columns`` are each row's positions.

    The input of :func:`bootstrap_weighted_means`: one place turns a table's rows into what a drawn
    question brings into a replicate.
    """
    picked = rows & ~np.isnan(values)
    totals = np.zeros((n_units, n_columns))
    weights = np.zeros((n_units, n_columns))
    np.add.at(totals, (units[picked], columns[picked]), values[picked])
    np.add.at(weights, (units[picked], columns[picked]), 1.0)
    return totals, weights


def breakdowns(table: pd.DataFrame) -> list[tuple[str | None, Any, np.ndarray]]:
    """The parts of a table every summary reports, in the order of their bootstrap blocks: ``(None,
    None, all rows)``, then ``("by_category", category, rows)`` per category (sorted) and, when the table
    has a ``turn`` column, ``("by_turn", "1", rows)`` per turn (ascending); ``rows`` is a boolean mask.

    The one place that says what a summary is broken down by, so pairwise and single figures of a
    multi-turn benchmark come per turn alike (a turn's figure: its items alone, under the same draw).
    """
    parts: list[tuple[str | None, Any, np.ndarray]] = [(None, None, np.ones(len(table), dtype=bool))]
    category = table["category"].to_numpy()
    parts += [("by_category", c, category == c) for c in sorted_unique(table["category"])]
    if "turn" in table.columns:
        turn = table["turn"].to_numpy()
        parts += [("by_turn", str(t), turn == t) for t in sorted_unique(table["turn"])]
    return parts


def breakdown_entries(parts: list[tuple[str | None, Any, np.ndarray]], mine: np.ndarray,
                      make: Callable[[np.ndarray, int], dict[str, Any]]) -> dict[str, Any]:
    """One summary entry from its rows ``mine`` (a mask): ``make(rows, block)`` of all of them, with
    ``by_category`` (and ``by_turn`` where :func:`breakdowns` gives turns) holding ``make`` of each
    non-empty part; ``block`` is the part's position in ``parts`` (its bootstrap block)."""
    entry = make(mine, 0)
    entry["by_category"] = {}
    if any(kind == "by_turn" for kind, _, _ in parts):
        entry["by_turn"] = {}
    for block, (kind, label, rows) in enumerate(parts[1:], start=1):
        if (mine & rows).any():
            entry[kind][label] = make(mine & rows, block)
    return entry


def question_draws(n_questions: int, n_boot: int, seed: int | None) -> np.ndarray:
    """The question positions drawn by every bootstrap here, shape ``(n_boot, n_questions)``:
    ``numpy.random.default_rng(seed).integers(0, n_questions, size=(n_boot, n_questions))``."""
    return np.random.default_rng(seed).integers(0, n_questions, size=(n_boot, n_questions))


def bootstrap_counts(n_questions: int, n_boot: int, seed: int | None) -> np.ndarray:
    """Counts ``C`` (shape ``(n_boot, n_questions)``, float) of one question bootstrap.

    Draws :func:`question_draws` once and counts, per replicate, how often each question position was
    drawn.
    """
    if n_boot == 0 or n_questions == 0:
        return np.zeros((n_boot, n_questions))
    drawn = question_draws(n_questions, n_boot, seed)
    flat = (drawn + n_questions * np.arange(n_boot)[:, None]).ravel()
    return np.bincount(flat, minlength=n_boot * n_questions).reshape(n_boot, n_questions).astype(float)


def bootstrap_weighted_means(counts: np.ndarray, totals: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Replicate means, shape ``(n_boot, P)``, of columns whose values are grouped by question.

    ``totals[q, p]`` is the sum of column p's usable values on question q and ``weights[q, p]`` how
    many there are (several turns, or a row given twice; see :func:`unit_totals`), so a replicate mean
    is the mean of every value of the drawn questions: ``C @ totals / C @ weights``. With one value per
    question this is the ``nanmean`` of the resampled values. A replicate with no usable value in a
    column is NaN.
    """
    total = counts @ totals
    weight = counts @ weights
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / np.where(weight > 0, weight, 1.0), np.nan)


def percentile_interval(replicates: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column of ``replicates`` (``(n_boot, P)``): percentile interval at level ``ci`` and bootstrap SD.

    Returns ``(lo, hi, sd)``, each of shape ``(P,)``: ``lo``/``hi`` are the ``(1-ci)/2`` and ``(1+ci)/2``
    quantiles (linear interpolation) of the non-NaN replicates; ``sd`` is their standard deviation
    (``ddof=1``). Columns with no usable replicate give NaN (and ``sd`` needs two).
    """
    n_cols = replicates.shape[1] if replicates.ndim == 2 else 0
    if replicates.shape[0] == 0:
        empty = np.full(n_cols, np.nan)
        return empty, empty.copy(), empty.copy()
    alpha = (1.0 - ci) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: NaN is the right answer
        lo, hi = np.nanquantile(replicates, [alpha, 1.0 - alpha], axis=0)
        finite = np.sum(~np.isnan(replicates), axis=0)
        sd = np.where(finite >= 2, np.nanstd(replicates, axis=0, ddof=1), np.nan)
    return lo, hi, sd


def interval(lo: float, hi: float) -> list[float | None] | None:
    """``[lo, hi]`` as Python floats, or None when the interval is undefined."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    return [float(lo), float(hi)]


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or None when the denominator is 0."""
    return None if denominator == 0 else float(numerator) / float(denominator)
