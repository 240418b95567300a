"""Mean single-answer scores of a SINGLE table with paired bootstrap intervals."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from jp_bench.stats._common import (
    bootstrap_counts,
    bootstrap_means,
    check_bootstrap_args,
    interval,
    percentile_interval,
    sorted_unique,
    to_plain,
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
                   ci: float = 0.95) -> list[dict[str, Any]]:
    """Mean score per model with a paired bootstrap interval, overall and per category.

    Per model (in order of first appearance): ``model``, ``n`` (questions with a score),
    ``mean`` (mean of those scores; None when ``n == 0``), ``ci95``: the percentile interval
    ``[lo, hi]`` at level ``ci`` (also given as ``ci_level``) of the mean over ``n_boot``
    question-bootstrap replicates, ``stderr``: the standard deviation of the replicates, ``errors``
    (rows whose score is NaN: excluded from ``n`` and the mean), and ``by_category``:
    ``{category: the same keys without by_category}``.

    The bootstrap is paired: one matrix ``default_rng(seed).integers(0, Q, size=(n_boot, Q))`` over
    the Q distinct question ids (sorted) serves every model and category; NaN scores and questions
    a model did not answer are ignored in its replicate means. Returns plain Python types.
    """
    check_bootstrap_args(n_boot, ci)
    table = validate_single(df)
    if table.empty:
        return []
    questions = sorted_unique(table["question_id"])
    q = table["question_id"].map({qid: i for i, qid in enumerate(questions)}).to_numpy(dtype=int)
    table["m"] = table.groupby("model", sort=False).ngroup()
    models = table.drop_duplicates("m").sort_values("m")["model"].tolist()

    scores = np.full((len(questions), len(models)), np.nan)
    scores[q, table["m"].to_numpy()] = table["score"].to_numpy()
    category_of = pd.Series(table["category"].to_numpy(), index=q)
    category_of = category_of[~category_of.index.duplicated()].reindex(range(len(questions)))
    categories = sorted_unique(table["category"])

    blocks = [scores] + [np.where((category_of == c).to_numpy()[:, None], scores, np.nan) for c in categories]
    replicates = bootstrap_means(bootstrap_counts(len(questions), n_boot, seed), np.hstack(blocks))
    lo, hi, sd = (a.reshape(len(blocks), len(models)) for a in percentile_interval(replicates, ci))

    results = []
    for m, model in enumerate(models):
        rows = table[table["m"] == m]
        entry = _entry(model, rows, lo[0, m], hi[0, m], sd[0, m], ci)
        entry["by_category"] = {}
        for c, category in enumerate(categories, start=1):
            in_category = rows[rows["category"] == category]
            if len(in_category):
                entry["by_category"][category] = _entry(model, in_category, lo[c, m], hi[c, m], sd[c, m], ci)
        results.append(entry)
    return to_plain(results)
