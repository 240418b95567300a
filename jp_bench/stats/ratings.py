"""Bradley–Terry ratings with a first-position term, fitted on the games of a PAIRWISE table.

Model: a game shows model ``a`` first (assistant A) and ``b`` second; its result for A is ``y`` (1 win,
0.5 tie, 0 loss) and ``P(A beats B) = sigmoid(theta_a - theta_b + gamma)``, ``gamma`` being the
advantage of the first position. A tie counts as half a win each way: the log-likelihood of a game is
``y·log p + (1 - y)·log(1 - p)``. The fit maximises the total log-likelihood minus
``l2/2 · (sum theta² + gamma²)`` (a weak N(0, 1/l2) prior: it only matters when some model wins or
loses everything, and it makes the optimum unique with ``sum theta = 0``; theta is also re-centred).
Ratings are on an Elo-like scale: ``rating = 1000 + 400/ln(10) · theta``, so 400 points are odds of
10 to 1.

Games with the same ordered pair (a, b) share ``theta_a - theta_b + gamma``, so the likelihood only
needs, per ordered pair, the number of games ``N`` and the sum of results ``S``; a bootstrap
replicate's ``N`` and ``S`` are the per-unit ones weighted by how often each unit was drawn. A unit is
a (question, judge sample): the bootstrap is the two-level one of every other summary, questions
drawn with replacement, then each drawn question's samples (:func:`two_level_counts`), and all turns
of a question are one question (:func:`resampling_units`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit

from jp_bench.stats.common import (
    check_bootstrap_args,
    interval,
    percentile_interval,
    require_columns,
    resampling_units,
    sorted_unique,
    to_plain,
)
from jp_bench.stats.judge_noise import sample_positions, two_level_counts
from jp_bench.stats.tables import expand_games

ELO_SCALE = 400.0 / math.log(10.0)
ELO_BASE = 1000.0
GAMES_COLUMNS = ("model_a", "model_b", "result")


class _Design:
    """Models, ordered pairs and the design matrix X (pairs × (models + 1)) of a games table."""

    def __init__(self, games: pd.DataFrame) -> None:
        require_columns(games, GAMES_COLUMNS, "games")
        result = pd.to_numeric(games["result"], errors="coerce").to_numpy(dtype=float)
        if np.isnan(result).any() or (result < 0).any() or (result > 1).any():
            raise ValueError("games column result must be a number in [0, 1] for every row (1 win, 0.5 tie, 0 loss)")
        if (games["model_a"] == games["model_b"]).any():
            raise ValueError("games table has a game of a model against itself")
        self.models = sorted_unique(pd.concat([games["model_a"], games["model_b"]]))
        if len(games) == 0 or len(self.models) < 2:
            raise ValueError("Bradley–Terry needs at least one game between two models")
        index = {m: i for i, m in enumerate(self.models)}
        a = games["model_a"].map(index).to_numpy(dtype=int)
        b = games["model_b"].map(index).to_numpy(dtype=int)
        m = len(self.models)
        pair_codes, self.pair = np.unique(a * m + b, return_inverse=True)
        self.result = result
        self.x = np.zeros((len(pair_codes), m + 1))
        rows = np.arange(len(pair_codes))
        self.x[rows, pair_codes // m] = 1.0
        self.x[rows, pair_codes % m] = -1.0
        self.x[:, m] = 1.0  # gamma: the first position's advantage

    def totals(self) -> tuple[np.ndarray, np.ndarray]:
        """Games ``N`` and result sums ``S`` per ordered pair, over all games."""
        n_pairs = self.x.shape[0]
        return (np.bincount(self.pair, minlength=n_pairs).astype(float),
                np.bincount(self.pair, weights=self.result, minlength=n_pairs))


def _penalised_loglik(phi: np.ndarray, n: np.ndarray, s: np.ndarray, x: np.ndarray, l2: float) -> np.ndarray:
    eta = phi @ x.T
    return np.sum(s * eta - n * np.logaddexp(0.0, eta), axis=-1) - 0.5 * l2 * np.sum(phi * phi, axis=-1)


def _fit(n: np.ndarray, s: np.ndarray, x: np.ndarray, l2: float) -> tuple[np.ndarray, bool]:
    """Maximise the penalised log-likelihood of one data set: scipy (trust-region, exact Hessian), then Newton."""

    def fun(phi: np.ndarray) -> tuple[float, np.ndarray]:
        p = expit(x @ phi)
        grad = (s - n * p) @ x - l2 * phi
        return -float(_penalised_loglik(phi, n, s, x, l2)), -grad

    def hess(phi: np.ndarray) -> np.ndarray:
        p = expit(x @ phi)
        return (x.T * (n * p * (1.0 - p))) @ x + l2 * np.eye(x.shape[1])

    found = minimize(fun, np.zeros(x.shape[1]), jac=True, hess=hess, method="trust-exact",
                     options={"gtol": 1e-8, "maxiter": 500})
    # trust-exact may stop early once the objective's rounding hides further progress; a few Newton
    # steps from there converge on the step size instead, which rounding does not limit.
    phi, converged = _fit_batch(n[None], s[None], x, l2, found.x)
    return phi[0], bool(converged[0])


def _fit_batch(n: np.ndarray, s: np.ndarray, x: np.ndarray, l2: float, init: np.ndarray,
               max_iter: int = 100, tol: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """Maximise the penalised log-likelihood of B data sets at once (``n``, ``s``: shape (B, pairs)).

    Damped Newton, vectorised over the data sets: every iteration solves the B Newton systems with one
    batched ``numpy.linalg.solve`` and backtracks (Armijo) per data set. Starts from ``init``.
    Returns the parameters (B, models + 1) and whether each data set's last Newton step was < ``tol``.
    """
    batch, dim = n.shape[0], x.shape[1]
    phi = np.tile(init, (batch, 1))
    value = _penalised_loglik(phi, n, s, x, l2)
    converged = np.zeros(batch, dtype=bool)
    ridge = l2 * np.eye(dim)
    for _ in range(max_iter):
        p = expit(phi @ x.T)
        grad = (s - n * p) @ x - l2 * phi
        info = np.matmul(x.T[None, :, :] * (n * p * (1.0 - p))[:, None, :], x) + ridge
        step = np.linalg.solve(info, grad[..., None])[..., 0]
        converged = np.max(np.abs(step), axis=1) < tol
        if converged.all():
            break
        slope = np.sum(grad * step, axis=1)
        # A tiny full step is taken as is: Newton converges there, and rounding of the objective could
        # otherwise reject it.
        tiny = np.max(np.abs(step), axis=1) < 1e-5
        t = np.ones(batch)
        todo = ~converged
        for _ in range(50):
            candidate = phi + t[:, None] * step
            candidate_value = _penalised_loglik(candidate, n, s, x, l2)
            accept = todo & ((candidate_value >= value + 1e-4 * t * slope) | (tiny & (t == 1.0)))
            phi[accept], value[accept] = candidate[accept], candidate_value[accept]
            todo &= ~accept
            if not todo.any():
                break
            t = np.where(todo, 0.5 * t, t)
    return phi, converged


def _ranks(ratings: np.ndarray) -> np.ndarray:
    """1 + the number of models rated strictly higher (ties share a rank)."""
    rounded = np.round(ratings, 6)
    return 1 + np.sum(rounded[None, :] > rounded[:, None], axis=1)


def _fit_design(design: _Design, l2: float) -> tuple[np.ndarray, float, bool]:
    """Centred theta, gamma and convergence of the full-data fit."""
    n, s = design.totals()
    phi, converged = _fit(n, s, design.x, l2)
    m = len(design.models)
    return phi[:m] - phi[:m].mean(), float(phi[m]), converged


def bradley_terry(games: pd.DataFrame, l2: float = 0.01) -> dict[str, Any]:
    """Fit Bradley–Terry with a first-position term to a games table by penalised maximum likelihood.

    ``games`` has one row per game: ``model_a`` (shown first), ``model_b``, ``result`` for A in [0, 1]
    (see :func:`jp_bench.stats.tables.expand_games`, which builds it from a PAIRWISE table).
    Fitted with ``scipy.optimize.minimize`` (trust-exact, analytic gradient and Hessian).

    Returns ``{"models": [{"model", "theta", "rating", "rank"}, ...]`` (best first; ``sum theta = 0``,
    ``rating = 1000 + 400/ln(10)·theta``, rank 1 = best, equal ratings share a rank),
    ``"ratings": {model: rating}``, ``"position_bias"``: gamma (logit scale), ``"position_bias_elo"``:
    ``400/ln(10)·gamma``, ``"first_position_win_prob"``: ``sigmoid(gamma)``, the probability that A
    beats an equal model, ``"n_games"``, ``"log_likelihood"`` (unpenalised, at the optimum),
    ``"converged"``, ``"l2"}``.
    """
    if not l2 > 0:
        raise ValueError(f"l2 must be > 0, got {l2!r}")
    design = _Design(games)
    theta, gamma, converged = _fit_design(design, l2)
    n, s = design.totals()
    ratings = ELO_BASE + ELO_SCALE * theta
    ranks = _ranks(ratings)
    order = np.argsort(-ratings, kind="stable")
    return to_plain({
        "models": [{"model": design.models[i], "theta": theta[i], "rating": ratings[i], "rank": ranks[i]}
                   for i in order],
        "ratings": {design.models[i]: ratings[i] for i in order},
        "position_bias": gamma,
        "position_bias_elo": ELO_SCALE * gamma,
        "first_position_win_prob": float(expit(gamma)),
        "n_games": int(n.sum()),
        "log_likelihood": float(_penalised_loglik(np.append(theta, gamma), n, s, design.x, 0.0)),
        "converged": converged,
        "l2": l2,
    })


def separability(lo: np.ndarray, hi: np.ndarray) -> float | None:
    """Share of model pairs whose intervals ``[lo, hi]`` do not overlap (None with fewer than two models)."""
    m = len(lo)
    if m < 2:
        return None
    apart = (hi[:, None] < lo[None, :]) | (hi[None, :] < lo[:, None])
    upper = np.triu_indices(m, k=1)
    return float(np.mean(apart[upper]))


def _replicate_weights(games: pd.DataFrame, design: _Design, n_boot: int,
                       seed: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Games ``N`` and result sums ``S`` per (resampling unit, ordered pair), and each replicate's unit
    weights, shape ``(n_boot, units)``: a replicate's data are ``weights @ N`` and ``weights @ S``.

    A unit is a (question, sample); its weight is how often the two-level bootstrap brings it in, not
    divided by the number of samples: a replicate then holds as many games as the data, so the L2
    prior weighs the same in the replicates as in the full-data fit whose interval they give.
    """
    questions, question = resampling_units(games)
    samples = games["sample"] if "sample" in games.columns else pd.Series(0, index=games.index)
    sample, n_samples = sample_positions(samples)
    unit = question * n_samples + sample
    n_units = np.zeros((len(questions) * n_samples, design.x.shape[0]))
    s_units = np.zeros_like(n_units)
    np.add.at(n_units, (unit, design.pair), 1.0)
    np.add.at(s_units, (unit, design.pair), design.result)
    weights = two_level_counts(len(questions), n_samples, n_boot, seed).reshape(n_boot, -1)
    return n_units, s_units, weights


def bradley_terry_bootstrap(df: pd.DataFrame, n_boot: int = 200, seed: int | None = 0, ci: float = 0.95,
                            l2: float = 0.01) -> dict[str, Any]:
    """Bradley–Terry ratings of a PAIRWISE table (pairwise-all) with question-bootstrap intervals.

    The table's rows are expanded into games (:func:`expand_games`: game 1 has A = model_1, game 2
    A = model_2; a game with an error is dropped) and fitted by :func:`bradley_terry`. Intervals
    resample questions: one matrix ``default_rng(seed).integers(0, Q, size=(n_boot, Q))`` over the Q
    distinct question ids with a usable game (sorted; with a ``cluster`` column, the Q questions, each
    drawn with all its turns); with judge samples (a ``sample`` column), each drawn question then
    draws its samples with replacement, as the other two-level intervals do
    (:func:`jp_bench.stats.judge_noise.two_level_counts`). Every replicate is refitted, all replicates
    at once by a batched damped Newton method warm-started from the full-data solution. ``n_boot``
    defaults to 200 (each replicate is a full refit; 200 gives stable 95% percentile intervals for a
    benchmark-sized table in well under a second).

    Returns ``{"models": [{"model", "rating", "ci95", "stderr", "rank", "theta"}, ...]`` (best first;
    ``ci95`` is the percentile interval at level ``ci`` of the rating, ``stderr`` the replicates'
    standard deviation), ``"separability"``: the share of model pairs whose rating intervals do not
    overlap, ``"position_bias"`` (gamma) and ``"position_bias_ci95"``, ``"first_position_win_prob"``
    (``sigmoid(gamma)``) and ``"first_position_win_prob_ci95"``, ``"n_games"``, ``"n_questions"``,
    ``"n_boot"``, ``"ci_level"``, ``"l2"``, ``"bootstrap_converged"`` (share of replicates whose fit
    converged)}``.
    """
    check_bootstrap_args(n_boot, ci)
    if not l2 > 0:
        raise ValueError(f"l2 must be > 0, got {l2!r}")
    games = expand_games(df)
    design = _Design(games)
    theta_full, gamma, _ = _fit_design(design, l2)
    m = len(design.models)
    questions = sorted_unique(games["question_id"])
    n_units, s_units, weights = _replicate_weights(games, design, n_boot, seed)

    init = np.append(theta_full, gamma)
    if n_boot:
        phi, converged = _fit_batch(weights @ n_units, weights @ s_units, design.x, l2, init)
        phi[:, :m] -= phi[:, :m].mean(axis=1, keepdims=True)
    else:
        phi, converged = np.zeros((0, m + 1)), np.zeros(0, dtype=bool)
    replicates = np.hstack([ELO_BASE + ELO_SCALE * phi[:, :m], phi[:, m:], expit(phi[:, m:])])
    lo, hi, sd = percentile_interval(replicates, ci)

    ratings = ELO_BASE + ELO_SCALE * theta_full
    ranks = _ranks(ratings)
    order = np.argsort(-ratings, kind="stable")
    models = [{"model": design.models[i], "rating": ratings[i], "ci95": interval(lo[i], hi[i]), "stderr": sd[i],
               "rank": ranks[i], "theta": theta_full[i]} for i in order]
    return to_plain({
        "models": models,
        "separability": separability(lo[:m], hi[:m]) if n_boot else None,
        "position_bias": gamma,
        "position_bias_ci95": interval(lo[m], hi[m]),
        "first_position_win_prob": expit(gamma),
        "first_position_win_prob_ci95": interval(lo[m + 1], hi[m + 1]),
        "n_games": len(games),
        "n_questions": len(questions),
        "n_boot": n_boot,
        "ci_level": ci,
        "l2": l2,
        "bootstrap_converged": float(np.mean(converged)) if n_boot else None,
    })
