"""Win / loss / tie summaries of a PAIRWISE table with paired bootstrap intervals."""

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
    ratio,
    resampling_units,
    to_plain,
    unit_totals,
)
from jp_bench.stats.outcomes import OUTCOME_SCORES
from jp_bench.stats.tables import orient_to_baseline, question_outcomes


def _counts(rows: pd.DataFrame) -> dict[str, Any]:
    outcome = rows["outcome"]
    win, loss, tie = int((outcome == "win").sum()), int((outcome == "loss").sum()), int((outcome == "tie").sum())
    n = win + loss + tie
    return {
        "n": n,
        "win": win,
        "loss": loss,
        "tie": tie,
        "inconsistent": int(rows["inconsistent"].sum()),
        "errors": int((outcome == "error").sum()),
        "win_rate": ratio(win, n),
        "loss_rate": ratio(loss, n),
        "tie_rate": ratio(tie, n),
        "adjusted_win_rate": ratio(win * OUTCOME_SCORES["win"] + tie * OUTCOME_SCORES["tie"], n),
    }


def _entry(model: Any, baseline: Any, rows: pd.DataFrame, lo: float, hi: float, sd: float,
           ci: float) -> dict[str, Any]:
    return {"model": model, "baseline": baseline, **_counts(rows), "ci95": interval(lo, hi), "ci_level": ci,
            "stderr": sd}


def pairwise_summary(df: pd.DataFrame, baseline: str | None = None, n_boot: int = 1000, seed: int | None = 0,
                     ci: float = 0.95) -> list[dict[str, Any]]:
    """Win/loss/tie counts, rates and a paired bootstrap interval per (model, baseline) pair.

    Each row's two games are combined into one outcome from model_1's side (see
    :func:`jp_bench.stats.tables.question_outcomes`). With ``baseline`` given, only rows involving it
    are used and each is oriented so that the other model is ``model`` (:func:`orient_to_baseline`);
    with ``baseline=None`` every (model_1, model_2) pair is reported as it appears (``model`` =
    model_1, ``baseline`` = model_2). Pairs come in order of first appearance.

    Per pair: ``n`` (questions with a usable outcome), ``win``, ``loss``, ``tie``, ``inconsistent``
    (ties from two games that named different winners), ``errors`` (questions with an error in
    either game, excluded from ``n``), ``win_rate = win/n``, ``loss_rate``, ``tie_rate``,
    ``adjusted_win_rate = (win + 0.5·tie)/n`` (None when ``n == 0``), ``ci95``: the percentile
    interval ``[lo, hi]`` at level ``ci`` (0.95 by default; also given as ``ci_level``) of
    ``adjusted_win_rate`` over ``n_boot`` question-bootstrap replicates, ``stderr``: the standard
    deviation of those replicates, ``by_category``: ``{category: the same keys without
    by_category}`` and, when the table has a ``turn`` column (a multi-turn benchmark's items are its
    turns), ``by_turn``: ``{"1": ..., "2": ...}`` likewise (as :func:`jp_bench.stats.single_summary`).
    A ``repeat`` column lets an item be counted more than once (see
    :func:`jp_bench.stats.tables.validate_pairwise`).

    The bootstrap is paired: one matrix of resampled questions,
    ``default_rng(seed).integers(0, Q, size=(n_boot, Q))`` over the Q questions of the (oriented) table
    (its distinct question ids in sorted order), serves every pair and every category; a question with
    no usable outcome for a pair (error or absent) is ignored in that pair's replicate mean. With an
    optional ``cluster`` column (multi-turn: ``question_id`` "81/2" is turn 2 of question 81, ``cluster``
    81) a row is an item of its question, the rates are means over items as before (FastChat counts
    every turn's game) and the bootstrap draws whole questions, each bringing all its items (see
    :func:`jp_bench.stats.common.resampling_units`). ``n_boot=0`` gives ``ci95``/``stderr`` None.
    Returns plain Python types (NaN as None).
    """
    check_bootstrap_args(n_boot, ci)
    table = orient_to_baseline(df, baseline) if baseline is not None else df
    table = question_outcomes(table)
    if table.empty:
        return []

    units, unit = resampling_units(table)
    table["pair"] = table.groupby(["model_1", "model_2"], sort=False).ngroup()
    pairs = table.drop_duplicates("pair").sort_values("pair")[["model_1", "model_2"]].to_numpy().tolist()
    pair = table["pair"].to_numpy()
    scores = table["score"].to_numpy()

    # One stacked matrix: all pairs overall, then all pairs restricted to each category and each turn.
    parts = breakdowns(table)
    blocks = [unit_totals(unit, pair, scores, mask, len(units), len(pairs)) for _, _, mask in parts]
    counts = bootstrap_counts(len(units), n_boot, seed)
    replicates = bootstrap_weighted_means(counts, np.hstack([b[0] for b in blocks]), np.hstack([b[1] for b in blocks]))
    lo, hi, sd = (a.reshape(len(blocks), len(pairs)) for a in percentile_interval(replicates, ci))

    results = []
    for p, (model, base) in enumerate(pairs):
        results.append(breakdown_entries(parts, pair == p, lambda rows, b, p=p, model=model, base=base: _entry(
            model, base, table[rows], lo[b, p], hi[b, p], sd[b, p], ci)))
    return to_plain(results)
