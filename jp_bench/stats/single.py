"""Mean single-answer scores of a SINGLE table with paired bootstrap intervals (per category and turn)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from jp_bench.stats.common import (
    bootstrap_counts,
    bootstrap_weighted_means,
    breakdown_entries,
    breakdowns,
    check_bootstrap_args,
    interval,
    percentile_interval,
    resampling_units,
    to_plain,
    unit_totals,
)
from jp_bench.stats.tables import validate_single


def _entry(model: Any, rows: pd.DataFrame, lo: float, hi: float, sd: float, ci: float) -> dict[str, Any]:
    usable = rows["score"].dropna()
    return {
        "model": model,
        "n": len(usable),
        "mean": float(usable.mean()) if len(usable) else None,
        "ci95": interval(lo, hi),
        "ci_level": ci,
        "stderr": sd,
        "errors": int(rows["score"].isna().sum()),
    }


def single_summary(df: pd.DataFrame, n_boot: int = 1000, seed: int | None = 0,
                   ci: float = 0.95, *, allow_duplicates: bool = False) -> list[dict[str, Any]]:
    """Mean score per model with a paired bootstrap interval, overall, per category and per turn.

    Per model (in order of first appearance): ``model``, ``n`` (rows with a score),
    ``mean`` (mean of those scores; None when ``n == 0``), ``ci95``: the percentile interval
    ``[lo, hi]`` at level ``ci`` (also given as ``ci_level``) of the mean over ``n_boot``
    question-bootstrap replicates, ``stderr``: the standard deviation of the replicates, ``errors``
    (rows whose score is NaN: excluded from ``n`` and the mean), ``by_category``:
    ``{category: the same keys without by_category}`` and, when the table has a ``turn`` column,
    ``by_turn``: ``{"1": ..., "2": ...}`` likewise.

    With turns, the overall and category means are over every scored row (both turns together),
    as FastChat's ``show_result`` averages; ``allow_duplicates`` lets a (question, model, turn)
    count more than once, as FastChat does (the caller should say so).

    The bootstrap is paired: one matrix ``default_rng(seed).integers(0, Q, size=(n_boot, Q))`` over
    the Q distinct question ids (sorted) serves every model, category and turn; a drawn question
    brings all its rows (every turn) into the replicate (a cluster bootstrap: the turns of a question
    are not independent draws; an optional ``cluster`` column names the question where
    ``question_id`` is a smaller item, see :func:`jp_bench.stats.common.resampling_units`); NaN scores
    and questions a model did not answer are ignored in its replicate means. Returns plain Python types.
    """
    check_bootstrap_args(n_boot, ci)
    table = validate_single(df, allow_duplicates=allow_duplicates)
    if table.empty:
        return []
    units, unit = resampling_units(table)
    table["m"] = table.groupby("model", sort=False).ngroup()
    models = table.drop_duplicates("m").sort_values("m")["model"].tolist()
    m = table["m"].to_numpy()
    scores = table["score"].to_numpy()

    parts = breakdowns(table)  # all rows, each category, each turn
    blocks = [unit_totals(unit, m, scores, mask, len(units), len(models)) for _, _, mask in parts]
    counts = bootstrap_counts(len(units), n_boot, seed)
    replicates = bootstrap_weighted_means(counts, np.hstack([b[0] for b in blocks]), np.hstack([b[1] for b in blocks]))
    lo, hi, sd = (a.reshape(len(blocks), len(models)) for a in percentile_interval(replicates, ci))

    results = []
    for index, model in enumerate(models):
        results.append(breakdown_entries(parts, m == index, lambda rows, b, i=index, name=model: _entry(
            name, table[rows], lo[b, i], hi[b, i], sd[b, i], ci)))
    return to_plain(results)
