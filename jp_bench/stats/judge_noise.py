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

``judge_sd`` is the judge's own spread on one item (the square root of the mean within-item
variance, ddof = 1), and ``judge_share`` the part of the interval's variance that is the judge's:
``(σ²_within / (Q·N)) / stderr²``. Both are None with one sample.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from jp_bench.stats._common import interval, percentile_interval, sorted_unique

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


def two_level_bootstrap(values: np.ndarray, n_boot: int, seed: int | None, ci: float) -> dict[str, Any]:
    """The mean of item means of ``values`` (``(Q, S)``) with its two-level bootstrap interval.

    Returns ``mean``, ``ci95`` (percentile interval at level ``ci``), ``stderr`` (SD of the
    replicates), ``judge_sd``, ``judge_share`` and ``samples`` (S).
    """
    q_count, s_count = values.shape
    item_means = _nanmean(values, axis=1)
    usable = ~np.isnan(item_means)
    mean = float(item_means[usable].mean()) if usable.any() else math.nan
    if n_boot > 0 and q_count > 0:
        # The question draws of bootstrap_counts (same generator, same call), kept as draws: a
        # question drawn twice gets two independent draws of its samples.
        picked = np.random.default_rng(seed).integers(0, q_count, size=(n_boot, q_count))
        if s_count > 1:
            rng = np.random.default_rng(None if seed is None else seed + _SAMPLE_STREAM)
            drawn = rng.integers(0, s_count, size=(n_boot, q_count, s_count))
            replicate_items = _nanmean(values[picked[:, :, None], drawn], axis=2)  # (B, Q draws)
        else:
            replicate_items = item_means[picked]
        replicates = _nanmean(replicate_items, axis=1)[:, None]
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


def _nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    present = ~np.isnan(values)
    total = np.sum(np.where(present, values, 0.0), axis=axis)
    count = np.sum(present, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.where(count > 0, count, 1), np.nan)

