"""Per-judge figures of the judges leaderboard, each with a question-bootstrap interval (pure: no I/O).

Every interval is a 95% percentile interval over ``n_boot`` replicates of a cluster bootstrap that
draws *questions* (:func:`jp_bench.stats.common.bootstrap_counts` with ``seed``, over the questions
the figure is computed on, sorted as :func:`~jp_bench.stats.common.resampling_units` sorts them): a
drawn question brings every item on it, all its turns and pairs of models, as ``jp-bench report`` and
``jp-bench agreement`` draw them. A replicate weighs each item by how often its question was drawn,
so a figure of a replicate is the figure of the resampled data, computed exactly (weighted moments
and weighted average ranks), without copying rows.

- :func:`agreement_figures`: agreement with and without ties and Cohen's kappa (the point values and
  the agreement interval are :func:`jp_bench.votes.agreement_stats`'; kappa's interval uses the same
  draws);
- :func:`score_figures`: Pearson, Spearman and the mean absolute difference of paired scores;
- :func:`ranking_figures`: how the model ranking a judge produces correlates with the reference's
  (Spearman, Kendall's tau-b, the same top model);
- :func:`bias_figures`: position consistency, first-slot preference and P(prefer longer) (the point
  values are :func:`jp_bench.stats.judge_diagnostics`');
- :func:`mean_figure`: a mean of per-item values (self-preference).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from jp_bench.stats.common import (
    bootstrap_counts,
    bootstrap_weighted_means,
    interval,
    percentile_interval,
    resampling_units,
    to_plain,
    unit_totals,
)
from jp_bench.stats.diagnostics import judge_diagnostics
from jp_bench.stats.tables import question_outcomes, validate_pairwise
from jp_bench.votes import Comparisons, agreement_stats

CI_LEVEL = 0.95  # jp_bench.votes.bootstrap_ci's level, used by every interval here
_LABELS = {True: 3, False: 2}  # kappa's labels with and without ties (lo, hi[, tie])
_TIE = 2
_BLOCK = 100  # bootstrap replicates weighed at once (memory: a block × items floats)


def question_units(questions: Sequence[Any]) -> tuple[list[Any], np.ndarray]:
    """The questions a bootstrap draws (sorted) and each item's position among them."""
    return resampling_units(pd.DataFrame({"question_id": pd.Series(list(questions), dtype=object)}))


def _interval_of(replicates: np.ndarray) -> list[float | None] | None:
    """The percentile interval of one figure's replicates (NaN replicates ignored; None without any)."""
    if replicates.size == 0:
        return None
    lo, hi, _ = percentile_interval(np.asarray(replicates, dtype=float).reshape(-1, 1), CI_LEVEL)
    return interval(float(lo[0]), float(hi[0]))


# ------------------------------------------------------------------------------------------ agreement


def kappa_replicates(keys: Sequence[tuple], first: np.ndarray, second: np.ndarray, n_labels: int, n_boot: int,
                     seed: int) -> np.ndarray:
    """Cohen's kappa of each bootstrap replicate (NaN where undefined): the replicate's confusion
    matrix is the drawn questions' confusion counts, weighted by how often each was drawn."""
    if n_boot <= 0 or first.size == 0:
        return np.zeros(0)
    questions, unit = question_units([key[0] for key in keys])
    cells = n_labels * n_labels
    per_question = np.zeros((len(questions), cells))
    np.add.at(per_question, (unit, first * n_labels + second), 1.0)
    confusion = (bootstrap_counts(len(questions), n_boot, seed) @ per_question).reshape(n_boot, n_labels, n_labels)
    n = confusion.sum(axis=(1, 2))
    observed = np.trace(confusion, axis1=1, axis2=2)
    chance = np.einsum("bi,bi->b", confusion.sum(axis=2), confusion.sum(axis=1))
    denominator = n * n - chance
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (observed * n - chance) / np.where(denominator > 0, denominator, 1.0),
                        np.nan)


def agreement_figures(comparisons: Comparisons, n_boot: int, seed: int) -> dict[str, Any]:
    """``with_ties`` and ``without_ties``: agreement, its ``ci95``, ``kappa``, ``kappa_ci95``, ``n``
    (comparisons), ``n_keys`` and ``n_questions`` (see :func:`jp_bench.votes.agreement_stats`)."""
    out: dict[str, Any] = {}
    for ties, name in ((True, "with_ties"), (False, "without_ties")):
        stats = agreement_stats(comparisons, ties=ties, n_boot=n_boot, seed=seed)
        first, second, keys = comparisons.first, comparisons.second, comparisons.keys
        if not ties:  # the comparisons agreement_stats keeps without ties
            keep = (first != _TIE) & (second != _TIE)
            first, second = first[keep], second[keep]
            keys = tuple(key for key, kept in zip(keys, keep, strict=True) if kept)
        kappas = kappa_replicates(keys, first, second, _LABELS[ties], n_boot, seed)
        out[name] = {"agreement": stats["agreement"], "ci95": stats["ci95"], "kappa": stats["kappa"],
                     "kappa_ci95": _interval_of(kappas) if stats["kappa"] is not None else None, "n": stats["n"],
                     "n_keys": stats["n_keys"], "n_questions": stats["n_questions"]}
    return to_plain(out)


# ------------------------------------------------------------------------------------------ scores


def _weighted_pearson(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Pearson's r of ``x`` and ``y`` (rows of ``weights``: one weighted sample each; x and y may be
    per-row too); NaN where either side is constant."""
    total = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_x = (weights * x).sum(axis=1) / total
        mean_y = (weights * y).sum(axis=1) / total
        dx = x - mean_x[:, None]
        dy = y - mean_y[:, None]
        cov = (weights * dx * dy).sum(axis=1)
        var = (weights * dx * dx).sum(axis=1) * (weights * dy * dy).sum(axis=1)
        # Rounding leaves a constant side's variance a hair above 0: call it constant, as scipy does.
        scale = (weights * x * x).sum(axis=1) * (weights * y * y).sum(axis=1)
        constant = var <= 1e-24 * np.maximum(scale, 1e-300)
        return np.where(constant, np.nan, np.clip(cov / np.sqrt(np.where(constant, 1.0, var)), -1.0, 1.0))


def _weighted_ranks(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each item's average rank within each weighted sample (an item of weight w stands for w copies):
    ties, and the copies of one item, share the mean of the positions they take."""
    unique, group = np.unique(values, return_inverse=True)
    n_rows, n_groups = weights.shape[0], len(unique)
    flat = (np.arange(n_rows)[:, None] * n_groups + group[None, :]).ravel()
    group_weight = np.bincount(flat, weights=weights.ravel(), minlength=n_rows * n_groups).reshape(n_rows, n_groups)
    below_and_in = np.cumsum(group_weight, axis=1)
    group_rank = below_and_in - group_weight + (group_weight + 1.0) / 2.0
    return group_rank[:, group]


def _score_statistics(candidate: np.ndarray, reference: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        mae = (weights * np.abs(candidate - reference)).sum(axis=1) / weights.sum(axis=1)
    return {"pearson": _weighted_pearson(candidate, reference, weights),
            "spearman": _weighted_pearson(_weighted_ranks(candidate, weights), _weighted_ranks(reference, weights),
                                          weights),
            "mae": mae}


def score_figures(questions: Sequence[Any], candidate: np.ndarray, reference: np.ndarray, n_boot: int,
                  seed: int) -> dict[str, Any]:
    """Pearson's r, Spearman's rho and the mean absolute difference of paired scores (``candidate[i]``
    and ``reference[i]`` score one answer of question ``questions[i]``; put them on one scale first),
    each with its interval; ``n`` pairs over ``n_questions`` questions. A correlation is None when a
    side is constant."""
    candidate, reference = np.asarray(candidate, dtype=float), np.asarray(reference, dtype=float)
    if candidate.size == 0:
        return {"n": 0, "n_questions": 0, **{name: None for name in ("pearson", "spearman", "mae")},
                **{f"{name}_ci95": None for name in ("pearson", "spearman", "mae")}}
    units, unit = question_units(questions)
    point = _score_statistics(candidate, reference, np.ones((1, candidate.size)))
    out: dict[str, Any] = {"n": int(candidate.size), "n_questions": len(units)}
    replicates = None
    if n_boot > 0:
        counts = bootstrap_counts(len(units), n_boot, seed)
        # In blocks of replicates: a (replicates × items) weight matrix of a large file would not fit at once.
        blocks = [_score_statistics(candidate, reference, counts[start:start + _BLOCK][:, unit])
                  for start in range(0, n_boot, _BLOCK)]
        replicates = {name: np.concatenate([block[name] for block in blocks]) for name in point}
    for name, value in point.items():
        out[name] = float(value[0])
        out[f"{name}_ci95"] = _interval_of(replicates[name]) if replicates is not None else None
    return to_plain(out)


# ------------------------------------------------------------------------------------------ rankings


def _rank_correlations(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise Spearman's rho and Kendall's tau-b of two ``(rows, models)`` arrays (NaN where a row has
    a missing model or a constant side)."""
    missing = np.isnan(first).any(axis=1) | np.isnan(second).any(axis=1)
    ranks_1 = rankdata(np.nan_to_num(first), axis=1)
    ranks_2 = rankdata(np.nan_to_num(second), axis=1)
    rho = _weighted_pearson(ranks_1, ranks_2, np.ones_like(ranks_1))
    i, j = np.triu_indices(first.shape[1], k=1)
    sign_1, sign_2 = np.sign(first[:, i] - first[:, j]), np.sign(second[:, i] - second[:, j])
    pairs = len(i)
    untied = (pairs - (sign_1 == 0).sum(axis=1)) * (pairs - (sign_2 == 0).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = np.where(untied > 0, (sign_1 * sign_2).sum(axis=1) / np.sqrt(np.where(untied > 0, untied, 1)), np.nan)
    return np.where(missing, np.nan, rho), np.where(missing, np.nan, tau)


def _model_means(unit: np.ndarray, model: np.ndarray, values: np.ndarray, n_units: int, n_models: int,
                 counts: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    totals, weights = unit_totals(unit, model, values, np.ones(values.size, dtype=bool), n_units, n_models)
    with np.errstate(invalid="ignore", divide="ignore"):
        point = np.where(weights.sum(axis=0) > 0, totals.sum(axis=0) / weights.sum(axis=0), np.nan)
    return point, None if counts is None else bootstrap_weighted_means(counts, totals, weights)


def _top(values: np.ndarray) -> np.ndarray:
    """Per row, which models are best (a mask: several when they tie for first; none in a row with a
    missing model)."""
    best = np.max(np.where(np.isnan(values), -np.inf, values), axis=-1, keepdims=True)
    return np.isclose(values, best, rtol=0.0, atol=1e-12) & ~np.isnan(values).any(axis=-1, keepdims=True)


def ranking_figures(models: Sequence[str], candidate: tuple[Sequence[Any], np.ndarray, np.ndarray],
                    reference: tuple[Sequence[Any], np.ndarray, np.ndarray], n_boot: int,
                    seed: int) -> dict[str, Any] | None:
    """How the candidate's model ranking correlates with the reference's.

    Each side is ``(questions, model positions, values)``, one entry per observation of a model (its
    outcome in a vote, 1 / 0.5 / 0, or its score); a model's figure is the mean of its observations
    (``models`` sorted by name). Returns each model's ``candidate`` and ``reference`` figure, ``spearman``
    and ``kendall`` (tau-b) over the models, ``top`` and ``reference_top`` (the best model; all of those
    tied for first), ``same_top`` (the two name the same best model or models) and ``same_top_share``
    (of the bootstrap replicates), with intervals. None with fewer than two models."""
    if len(models) < 2:
        return None
    all_questions = list(candidate[0]) + list(reference[0])
    units, unit = question_units(all_questions)
    counts = bootstrap_counts(len(units), n_boot, seed) if n_boot > 0 else None
    n_first = len(candidate[0])
    mine, mine_reps = _model_means(unit[:n_first], np.asarray(candidate[1]), np.asarray(candidate[2], dtype=float),
                                   len(units), len(models), counts)
    theirs, theirs_reps = _model_means(unit[n_first:], np.asarray(reference[1]),
                                       np.asarray(reference[2], dtype=float), len(units), len(models), counts)
    rho, tau = _rank_correlations(mine[None, :], theirs[None, :])
    top_mine, top_theirs = _top(mine), _top(theirs)
    out: dict[str, Any] = {
        "models": [{"model": m, "candidate": mine[i], "reference": theirs[i]} for i, m in enumerate(models)],
        "spearman": rho[0], "kendall": tau[0], "top": [m for m, best in zip(models, top_mine, strict=True) if best],
        "reference_top": [m for m, best in zip(models, top_theirs, strict=True) if best],
        "same_top": bool(top_mine.any() and (top_mine == top_theirs).all()),
        "spearman_ci95": None, "kendall_ci95": None, "same_top_share": None,
    }
    if mine_reps is not None and theirs_reps is not None:
        rho_reps, tau_reps = _rank_correlations(mine_reps, theirs_reps)
        reps_mine, reps_theirs = _top(mine_reps), _top(theirs_reps)
        same = reps_mine.any(axis=1) & (reps_mine == reps_theirs).all(axis=1)
        out.update(spearman_ci95=_interval_of(rho_reps), kendall_ci95=_interval_of(tau_reps),
                   same_top_share=float(np.mean(same)))
    return to_plain(out)


# ------------------------------------------------------------------------------------------ biases


def _bias_observations(table: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per figure, (row of the observation, its value): the figure is the mean of its values.

    The rules are :mod:`jp_bench.stats.diagnostics`' (whose point values :func:`bias_figures` reports;
    the tests hold these means to them): position consistency, one observation per row without an
    error (same winner in both orders); first-slot preference, one per game with a decided verdict (A
    won); P(prefer longer), one per row whose answers differ in length (the longer answer's outcome,
    win 1, tie 0.5, loss 0)."""
    table = question_outcomes(table)
    rows = np.arange(len(table))
    g1, g2 = table["g1_winner"].to_numpy(), table["g2_winner"].to_numpy()
    usable = (g1 != "error") & (g2 != "error")
    decided_1, decided_2 = np.isin(g1, ["model_1", "model_2"]), np.isin(g2, ["model_1", "model_2"])
    observations = {
        "position_consistency": (rows[usable], (g1 == g2)[usable].astype(float)),
        # Game 1 shows model_1 as A, game 2 shows model_2 as A.
        "first_slot_preference": (np.concatenate([rows[decided_1], rows[decided_2]]),
                                  np.concatenate([(g1 == "model_1")[decided_1], (g2 == "model_2")[decided_2]])
                                  .astype(float)),
    }
    if "len_1" in table.columns and "len_2" in table.columns:
        score = table["score"].to_numpy(dtype=float)
        diff = (table["len_1"] - table["len_2"]).to_numpy(dtype=float)
        differ = ~np.isnan(score) & ~np.isnan(diff) & (diff != 0)
        observations["prefer_longer"] = (rows[differ], np.where(diff[differ] > 0, score[differ], 1 - score[differ]))
    return observations


def bias_figures(table: pd.DataFrame, questions: Sequence[Any], n_boot: int, seed: int) -> dict[str, Any]:
    """A judge's position consistency, first-slot preference and P(prefer longer) on its PAIRWISE rows
    ``table`` (``questions``: each row's question), each with its interval; ``n_usable`` (rows without
    an error), ``n_decided_games`` and ``n_longer`` (rows whose answers differ in length)."""
    checked = validate_pairwise(table)
    diagnostics = judge_diagnostics(checked)
    length = diagnostics.get("length") or {}
    point = {"position_consistency": diagnostics["position_consistency"],
             "first_slot_preference": diagnostics["first_slot_preference"],
             "prefer_longer": length.get("longer_win_rate")}
    units, unit = question_units(questions)
    counts = bootstrap_counts(len(units), n_boot, seed) if n_boot > 0 else None
    out: dict[str, Any] = {"n_usable": diagnostics["n_usable"], "n_decided_games": diagnostics["n_decided_games"],
                           "n_longer": length.get("n_longer", 0)}
    observations = _bias_observations(checked)
    for name, value in point.items():
        out[name] = value
        out[f"{name}_ci95"] = None
        if counts is not None and value is not None and name in observations:
            rows, values = observations[name]
            totals, weights = unit_totals(unit[rows], np.zeros(rows.size, dtype=int), values,
                                          np.ones(rows.size, dtype=bool), len(units), 1)
            out[f"{name}_ci95"] = _interval_of(bootstrap_weighted_means(counts, totals, weights)[:, 0])
    return to_plain(out)


def mean_figure(questions: Sequence[Any], values: np.ndarray, n_boot: int, seed: int) -> dict[str, Any]:
    """The mean of per-item ``values`` (item i on question ``questions[i]``) with its interval; ``n``."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return {"mean": None, "ci95": None, "n": 0}
    units, unit = question_units(questions)
    totals, weights = unit_totals(unit, np.zeros(values.size, dtype=int), values, np.ones(values.size, dtype=bool),
                                  len(units), 1)
    ci = (_interval_of(bootstrap_weighted_means(bootstrap_counts(len(units), n_boot, seed), totals, weights)[:, 0])
          if n_boot > 0 else None)
    return to_plain({"mean": float(np.nanmean(values)), "ci95": ci, "n": int(values.size)})
