"""Length-controlled win rate, a simplified version of AlpacaEval 2's.

For one (model, baseline) pair, every usable observation ``i`` (a game, or a question) has an
outcome ``y_i`` from the model's side (1 win, 0.5 tie, 0 loss) and a length difference
``d_i = len(model's answer) - len(baseline's answer)``. The fit is the logistic model
``P(model wins) = sigmoid(theta + beta · tanh(d / sd(d)))`` (``sd`` with ``ddof=1`` over the pair's
observations), maximising ``sum y·log p + (1 - y)·log(1 - p) - l2/2 · (theta² + beta²)``. The
length-controlled win rate is ``sigmoid(theta)``: the predicted rate at equal lengths.

Simplifications against AlpacaEval 2: no per-instruction difficulty term and no position term (the
position swap gives every question both orders, so position averages out), one fit per pair.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit

from jp_bench.stats.common import to_plain
from jp_bench.stats.outcomes import OUTCOME_SCORES
from jp_bench.stats.tables import has_lengths, orient_to_baseline, question_outcomes

_GAME_SCORE = {"model_1": OUTCOME_SCORES["win"], "tie": OUTCOME_SCORES["tie"], "model_2": OUTCOME_SCORES["loss"]}


def _observations(rows: pd.DataFrame, unit: str, lengths: bool) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes from model_1's side and length differences (NaN without lengths), errors dropped."""
    diff = (rows["len_1"] - rows["len_2"]).to_numpy(dtype=float) if lengths else np.full(len(rows), np.nan)
    if unit == "question":
        y, d = rows["score"].to_numpy(dtype=float), diff
    else:
        y = np.concatenate([rows["g1_winner"].map(_GAME_SCORE).to_numpy(dtype=float),
                            rows["g2_winner"].map(_GAME_SCORE).to_numpy(dtype=float)])
        d = np.concatenate([diff, diff])
    keep = ~np.isnan(y)
    if lengths:
        keep &= ~np.isnan(d)
    return y[keep], d[keep]


def fit_length_logistic(y: np.ndarray, d: np.ndarray, l2: float = 1e-3) -> dict[str, float | None]:
    """Fit ``P(win) = sigmoid(theta + beta·tanh(d / sd(d)))`` to outcomes ``y`` in [0, 1].

    ``sd`` is the standard deviation of ``d`` (``ddof=1``); when it is 0 or undefined the length term
    is 0 and ``beta`` stays 0. Penalised maximum likelihood (L2 ``l2`` on theta and beta) with
    ``scipy.optimize.minimize`` (trust-exact). Returns ``{"theta", "beta", "length_sd",
    "lc_win_rate": sigmoid(theta)}``.
    """
    y = np.asarray(y, dtype=float)
    d = np.asarray(d, dtype=float)
    sd = float(np.std(d, ddof=1)) if len(d) > 1 else float("nan")
    x = np.tanh(d / sd) if np.isfinite(sd) and sd > 0 else np.zeros_like(d)
    design = np.column_stack([np.ones_like(x), x])

    def fun(w: np.ndarray) -> tuple[float, np.ndarray]:
        eta = design @ w
        value = np.sum(y * eta - np.logaddexp(0.0, eta)) - 0.5 * l2 * (w @ w)
        grad = (y - expit(eta)) @ design - l2 * w
        return -float(value), -grad

    def hess(w: np.ndarray) -> np.ndarray:
        p = expit(design @ w)
        return (design.T * (p * (1.0 - p))) @ design + l2 * np.eye(2)

    found = minimize(fun, np.zeros(2), jac=True, hess=hess, method="trust-exact", options={"gtol": 1e-10})
    theta, beta = (float(v) for v in found.x)
    return {"theta": theta, "beta": beta, "length_sd": sd if np.isfinite(sd) else None,
            "lc_win_rate": float(expit(theta))}


def length_controlled_win_rate(df: pd.DataFrame, baseline: str | None = None, l2: float = 1e-3,
                               unit: Literal["game", "question"] = "game") -> list[dict[str, Any]]:
    """Length-controlled win rate per (model, baseline) pair of a PAIRWISE table.

    Pairs are formed as in :func:`jp_bench.stats.pairwise.pairwise_summary` (oriented against
    ``baseline`` when given). ``unit="game"`` (default) uses every game without an error on its own
    (outcome of the model in that game: 1 win, 0.5 tie, 0 loss); ``unit="question"`` uses the
    combined per-question outcome (so that at equal lengths the result is the adjusted win rate).
    Observations without both lengths are dropped.

    Per pair: ``{"model", "baseline", "unit", "n"``: observations used, ``"raw_win_rate"``: their
    mean outcome, ``"lc_win_rate"``: ``sigmoid(theta)`` (None when the table has no length columns
    or no observation has both lengths), ``"theta"``, ``"beta"``: the length coefficient,
    ``"length_sd"``: sd of the length differences}``. With equal lengths everywhere ``beta = 0`` and
    ``lc_win_rate`` equals ``raw_win_rate`` (up to the tiny L2 penalty).
    """
    if unit not in ("game", "question"):
        raise ValueError(f"unit must be 'game' or 'question', got {unit!r}")
    if not l2 > 0:
        raise ValueError(f"l2 must be > 0, got {l2!r}")
    table = orient_to_baseline(df, baseline) if baseline is not None else df
    table = question_outcomes(table)
    lengths = has_lengths(table)
    results = []
    for (model, base), rows in table.groupby(["model_1", "model_2"], sort=False):
        y, d = _observations(rows, unit, lengths)
        entry: dict[str, Any] = {"model": model, "baseline": base, "unit": unit, "n": len(y),
                                 "raw_win_rate": float(y.mean()) if len(y) else None,
                                 "lc_win_rate": None, "theta": None, "beta": None, "length_sd": None}
        if lengths and len(y):
            entry.update(fit_length_logistic(y, d, l2=l2))
        results.append(entry)
    return to_plain(results)
