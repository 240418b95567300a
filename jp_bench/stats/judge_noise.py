"""Judge noise in the statistics: N judge samples per item and a two-level bootstrap.

With ``--samples N`` every item (a question's answer, or a question's pair of answers) is judged N
times. The quantity reported is still the mean over questions of the item's value (its score, or
its combined pairwise outcome 1 / 0.5 / 0), each item's value now the mean of its N samples.

Two sources of uncertainty make up its confidence interval: which questions the benchmark happens
to hold, and what the judge happened to say. The **two-level bootstrap** resamples both: each
replicate draws Q questions with replacement (the same question draws as the one-level bootstrap, so
N = 1 gives exactly its numbers), then, for every question drawn, draws its N samples with
replacement and averages them. For a mean this gives, in expectation, the plug-in variance
``σ²_between / Q + σ²_within / (Q·N)``.

Where an item is only a part of a question (the turns of a multi-turn question), the question is
still the unit drawn: a drawn question brings all its items, each with the same draw of sample
indices (``clusters`` of :func:`two_level_bootstrap`), and the replicate is the mean over every
item brought in. :func:`two_level_counts` gives the same two-level draws as weights per (question,
sample), for estimators that take weighted data (Bradley–Terry).

``judge_sd`` is the judge's own spread on one item (the square root of the mean within-item
variance, ddof = 1), and ``judge_share`` the part of the interval's variance that is the judge's:
``(σ²_within / (Q·N)) / stderr²``. Both are None with one sample.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from jp_bench.stats.common import bootstrap_counts, interval, percentile_interval, question_draws, sorted_unique

# Seeds the within-question draws apart from the question draws (which must stay as in the one-level bootstrap).
_SAMPLE_STREAM = 7_919


def sample_matrix(items: list[tuple[Any, int, float]], questions: list[Any] | None = None) -> np.ndarray:
    """``(question_id, sample, value)`` triples as a ``(Q, S)`` matrix (NaN: missing) over ``questions``
    (default: the triples' question ids, sorted). Pass every question of the table, so that the
    question draws are those of the one-level bootstrap of the same table."""
    questions = questions if questions is not None else sorted_unique(q for q, _, _ in items)
    samples = sorted({s for _, s, _ in items})
    row = {q: i for i, q in enumerate(questions)}
    column = {s: j for j, s in enumerate(samples)}
    values = np.full((len(questions), len(samples)), np.nan)
    for question, sample, value in items:
        values[row[question], column[sample]] = value
    return values


def sample_positions(samples: pd.Series) -> tuple[np.ndarray, int]:
    """Each row's judge sample as a position among the table's samples (sorted), and how many there are.
    A missing sample (NaN) is the one sample of an ordinary run, sample 0."""
    numbers = samples.fillna(0).astype(int).to_numpy()
    found, positions = np.unique(numbers, return_inverse=True)
    return positions.reshape(-1), max(1, len(found))


def sample_draws(n_questions: int, n_samples: int, n_boot: int, seed: int | None) -> np.ndarray:
    """The within-question sample draws of the two-level bootstrap, shape ``(n_boot, n_questions, n_samples)``:
    for the d-th question drawn in replicate b, the positions of the samples it brings, with replacement."""
    rng = np.random.default_rng(None if seed is None else seed + _SAMPLE_STREAM)
    return rng.integers(0, n_samples, size=(n_boot, n_questions, n_samples))


def two_level_counts(n_questions: int, n_samples: int, n_boot: int, seed: int | None) -> np.ndarray:
    """How often sample s of question q enters replicate b of the two-level bootstrap, shape
    ``(n_boot, n_questions, n_samples)``, float: the draws of :func:`two_level_bootstrap` as weights.

    Every draw of a question brings ``n_samples`` sample draws, so a replicate weighs ``Q·S`` (question,
    sample) units in all, as many as the data hold. With one sample this is
    :func:`jp_bench.stats.common.bootstrap_counts` exactly.
    """
    if n_samples <= 1:
        return bootstrap_counts(n_questions, n_boot, seed)[:, :, None]
    if n_boot == 0 or n_questions == 0:
        return np.zeros((n_boot, n_questions, n_samples))
    picked = question_draws(n_questions, n_boot, seed)
    drawn = sample_draws(n_questions, n_samples, n_boot, seed)
    flat = ((np.arange(n_boot)[:, None, None] * n_questions + picked[:, :, None]) * n_samples + drawn).ravel()
    counts = np.bincount(flat, minlength=n_boot * n_questions * n_samples)
    return counts.reshape(n_boot, n_questions, n_samples).astype(float)


def two_level_bootstrap(values: np.ndarray, n_boot: int, seed: int | None, ci: float,
                        clusters: np.ndarray | None = None) -> dict[str, Any]:
    """The mean of item means of ``values`` (``(I, S)``) with its two-level bootstrap interval.

    ``clusters``: each item's question as a position ``0..K-1`` in draw order (see
    :func:`jp_bench.stats.common.resampling_units`); default: every item is a question of its own.
    Returns ``mean``, ``ci95`` (percentile interval at level ``ci``), ``stderr`` (SD of the
    replicates), ``judge_sd``, ``judge_share`` and ``samples`` (S).
    """
    i_count, s_count = values.shape
    item_means = _nanmean(values, axis=1)
    usable = ~np.isnan(item_means)
    mean = float(item_means[usable].mean()) if usable.any() else math.nan
    if n_boot > 0 and i_count > 0:
        layout = _cluster_layout(np.arange(i_count) if clusters is None else np.asarray(clusters, dtype=int))
        replicates = _nanmean(_replicate_items(values, item_means, layout, n_boot, seed), axis=1)[:, None]
    else:
        replicates = np.zeros((n_boot, 1))
    lo, hi, sd = (float(a[0]) for a in percentile_interval(replicates, ci))
    judge_sd = judge_share = None
    if s_count > 1:
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            # Items with fewer than two samples have no variance (NaN, as it should be): no warning.
            warnings.simplefilter("ignore", RuntimeWarning)
            within = np.nanvar(values, axis=1, ddof=1)
        within = within[~np.isnan(within)]
        if len(within):
            judge_sd = float(math.sqrt(within.mean()))
            if math.isfinite(sd) and sd > 0:
                plug_in = float(np.mean(np.nanvar(values[usable], axis=1, ddof=0)))
                judge_share = min(1.0, plug_in / (usable.sum() * s_count) / sd**2)
    return {"mean": mean if math.isfinite(mean) else None, "ci95": interval(lo, hi), "ci_level": ci,
            "stderr": sd if math.isfinite(sd) else None, "judge_sd": judge_sd, "judge_share": judge_share,
            "samples": s_count}


def _cluster_layout(clusters: np.ndarray) -> np.ndarray:
    """``(K, T)``: the items of each question (T: the most any question has), in item order, padded with
    ``I`` (a row of NaN that every mean ignores). One item per question in order: ``arange(I)[:, None]``."""
    sizes = np.bincount(clusters)
    order = np.argsort(clusters, kind="stable")
    slot = np.arange(len(clusters)) - np.repeat(np.cumsum(sizes) - sizes, sizes)  # rank within its question
    layout = np.full((len(sizes), max(1, int(sizes.max()))), len(clusters))
    layout[clusters[order], slot] = order
    return layout


def _replicate_items(values: np.ndarray, item_means: np.ndarray, layout: np.ndarray, n_boot: int,
                     seed: int | None) -> np.ndarray:
    """Per replicate, the value of every item the drawn questions bring, shape ``(n_boot, K·T)`` (NaN:
    padding, or no usable sample): its mean over its question's draw of samples."""
    n_questions, width = layout.shape
    # The question draws of bootstrap_counts (question_draws), kept as draws: a question drawn twice
    # gets two independent draws of its samples.
    picked = question_draws(n_questions, n_boot, seed)
    if values.shape[1] > 1:
        padded = np.vstack([values, np.full((1, values.shape[1]), np.nan)])[layout]  # (K, T, S)
        # One draw of sample positions per drawn question, used by all its items: the question is the
        # unit at both levels (its items' judge calls are independent, so sharing costs nothing).
        drawn = sample_draws(n_questions, values.shape[1], n_boot, seed)
        brought = _nanmean(padded[picked[:, :, None, None], np.arange(width)[None, None, :, None],
                                  drawn[:, :, None, :]], axis=3)  # (B, K draws, T)
    else:
        brought = np.append(item_means, np.nan)[layout][picked]  # (B, K draws, T)
    return brought.reshape(n_boot, n_questions * width)


def _nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    present = ~np.isnan(values)
    total = np.sum(np.where(present, values, 0.0), axis=axis)
    count = np.sum(present, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.where(count > 0, count, 1), np.nan)

