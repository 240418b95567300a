"""Shared helpers: column checks, JSON-safe conversion, the paired question bootstrap, intervals.

The bootstrap here resamples *questions*. One matrix of resampled question positions is drawn per
call (``numpy.random.default_rng(seed).integers(0, Q, size=(n_boot, Q))``) and turned into a
matrix of counts ``C[b, q]`` = how many times question ``q`` was drawn in replicate ``b``. The mean of
any per-question vector ``v`` (NaN = no usable value) over replicate ``b`` is then
``sum_q C[b, q] * v[q] / sum_q C[b, q] * [v[q] is not NaN]``, which is exactly ``nanmean`` of the
resampled values; every model, pair and category is evaluated against the same ``C``, so their
intervals are paired and comparable.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd


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


def bootstrap_counts(n_questions: int, n_boot: int, seed: int | None) -> np.ndarray:
    """Counts ``C`` (shape ``(n_boot, n_questions)``, float) of one question bootstrap.

    Draws ``numpy.random.default_rng(seed).integers(0, n_questions, size=(n_boot, n_questions))`` once
    and counts, per replicate, how often each question position was drawn.
    """
    if n_boot == 0 or n_questions == 0:
        return np.zeros((n_boot, n_questions))
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, n_questions, size=(n_boot, n_questions))
    flat = (drawn + n_questions * np.arange(n_boot)[:, None]).ravel()
    return np.bincount(flat, minlength=n_boot * n_questions).reshape(n_boot, n_questions).astype(float)


def bootstrap_means(counts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Replicate means, shape ``(n_boot, P)``, of the columns of ``values`` (shape ``(Q, P)``, NaN ignored).

    A replicate in which a column has no usable (non-NaN) question is NaN.
    """
    usable = ~np.isnan(values)
    total = counts @ np.where(usable, values, 0.0)
    weight = counts @ usable.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / np.where(weight > 0, weight, 1.0), np.nan)


def bootstrap_weighted_means(counts: np.ndarray, totals: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Replicate means, shape ``(n_boot, P)``, when a question holds several values per column.

    ``totals[q, p]`` is the sum of column p's usable values on question q and ``weights[q, p]`` how
    many there are (several turns, or a row given twice), so a replicate mean is the mean of every
    value of the drawn questions: ``C @ totals / C @ weights``. With one value per question this is
    :func:`bootstrap_means` exactly. A replicate with no usable value in a column is NaN.
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
