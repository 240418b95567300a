"""Style control: Bradley–Terry ratings with the judge's taste for answer style taken out.

A judge may prefer long answers, or answers with many markdown headers, list items and bold spans,
whatever they say. Style control fits that preference beside the models' strengths, so that the
ratings answer "who wins at equal style" (after Chatbot Arena's and Arena-Hard v2's style control).

Model: every game (see :func:`jp_bench.stats.tables.expand_games`; games with an error are dropped)
shows model ``a`` first (assistant A) and ``b`` second, with A's result ``y`` (1 win, 0.5 tie, 0 loss)
and ``P(A beats B) = sigmoid(theta_a - theta_b + gamma + beta · z)``: ``gamma`` is the first position's
advantage and ``z`` the style differences of the two answers, one per feature of
:data:`STYLE_FEATURES`. The fit and its conventions are those of :mod:`jp_bench.stats.ratings` (same
penalised likelihood, L2 ``l2/2·|phi|²`` over theta, gamma and beta, theta centred, Elo scale
``1000 + 400/ln(10)·theta``), on single games with a weight each rather than on per-pair totals, since
``z`` differs from game to game.

The style difference of a feature, with values ``a`` (A's answer) and ``b`` (B's), is for the
length the relative difference ``r = (a - b) / (a + b + 1)`` (in (-1, 1): a ratio, so 300 characters
more weigh more beside a short answer than beside a long one, and one runaway answer cannot weigh
without bound), and for the markdown counts the plain difference ``r = a - b`` (each header, list
item or bold span more moves the log-odds by the same amount); then ``z = r / s``, ``s`` being the
root mean square of ``r`` over the games fitted, so ``beta`` is the change of the log-odds per
typical difference and ``beta / s`` the change per character ratio unit or per markdown element.
Where we differ from upstream (Chatbot Arena: ``(a - b) / (a + b + 1)`` for every feature; Arena-Hard
v2: ``(a - b) / (a + b)`` for the length, and for the markdown counts that ratio with ``+ 1`` after
dividing each count by its answer's length; both then centre each feature on its mean and divide by
its standard deviation): (1) the markdown counts are plain
differences: in simulations (``bench/style_control.py``, ``tests/test_style_control.py``) a judge
that adds a bonus per header is only taken out by them, the relative difference leaving the
header-heavy model rated too high, while they still take out a bonus on the relative difference;
(2) we divide without centring, because ``z = 0`` must stay "equal style": the win rates below are
predicted there (centring would move that point by the mean difference of the answers shown first,
which the position swap makes 0 only while no game is dropped). The scale ``s`` of the full data is
kept in every bootstrap replicate, so that the replicates' ``beta`` measure the same thing.

A game where a fitted feature is unknown (NaN) for either answer is left out (``n_games_left_out``);
a feature whose columns are missing, or unknown everywhere, or equal in every game (``s = 0``) is not
fitted. The bootstrap is that of :func:`jp_bench.stats.ratings.bradley_terry_bootstrap`: questions
(and judge samples) are drawn as in :func:`jp_bench.stats.judge_noise.two_level_counts`, a game's
weight in a replicate is its (question, sample)'s count, and all replicates are fitted at once by the
batched damped Newton method of the ratings, warm-started from the full fit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from jp_bench.stats.common import (
    check_bootstrap_args,
    interval,
    percentile_interval,
    resampling_units,
    sorted_unique,
    to_plain,
)
from jp_bench.stats.judge_noise import sample_positions, two_level_counts
from jp_bench.stats.ratings import ELO_BASE, ELO_SCALE, _fit, _fit_batch, _ranks, separability
from jp_bench.stats.tables import expand_games, validate_pairwise

# The style features, each with the PAIRWISE columns of model_1's and model_2's answer: the one list.
STYLE_FEATURES: dict[str, tuple[str, str]] = {
    "length": ("len_1", "len_2"),  # characters
    "headers": ("headers_1", "headers_2"),  # markdown headers
    "list_items": ("list_items_1", "list_items_2"),  # markdown list items
    "bold": ("bold_1", "bold_2"),  # bold spans
}
# Features compared by relative difference (a ratio); the others by plain difference (per element).
RELATIVE_FEATURES = frozenset({"length"})
# The batched Newton solve holds a (replicates × parameters × games) array: the replicates are fitted
# in chunks below this many cells (32 MiB), so that a large table does not need gigabytes.
_BATCH_CELLS = 1 << 22


def style_difference(feature: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The unscaled style difference of answer values ``a`` and ``b`` (see the module): relative for the
    length, ``(a - b) / (a + b + 1)``, plain ``a - b`` for the markdown counts; 0 when equal, and
    sign-flipped when the answers swap."""
    return (a - b) / (a + b + 1.0) if feature in RELATIVE_FEATURES else a - b


def _counts(table: pd.DataFrame, column: str) -> np.ndarray:
    """A feature column as floats (NaN: unknown); raises ``ValueError`` on text or a negative count."""
    values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)
    bad = (np.isnan(values) & table[column].notna().to_numpy()) | (values < 0) | np.isinf(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"PAIRWISE column {column} must hold counts >= 0 (NaN: unknown); "
                         f"row {row} has {table[column].iloc[row]!r}")
    return values


class _StyleGames:
    """The games of a PAIRWISE table fitted with style: models, design matrix, results, bootstrap units."""

    def __init__(self, df: pd.DataFrame) -> None:
        table = validate_pairwise(df)
        present = [name for name, columns in STYLE_FEATURES.items() if all(c in table.columns for c in columns)]
        # Each game remembers its row: expand_games keeps question_id, so it is set to the row's position
        # here (unique per row) and the question is looked up in the table itself.
        games = expand_games(table.assign(question_id=np.arange(len(table))))
        row = games["question_id"].to_numpy(dtype=int)
        first = (games["game"] == 1).to_numpy()
        known = np.ones(len(games), dtype=bool)
        differences: dict[str, np.ndarray] = {}
        for name in present:
            one, two = (_counts(table, column)[row] for column in STYLE_FEATURES[name])
            a, b = np.where(first, one, two), np.where(first, two, one)
            feature_known = ~np.isnan(a) & ~np.isnan(b)
            if feature_known.any():  # a feature unknown everywhere is not fitted, it does not void every game
                known &= feature_known
                differences[name] = style_difference(name, a, b)
        self.n_left_out = int(np.sum(~known)) if differences else 0
        self.n_games = int(np.sum(known)) if differences else 0
        diff = np.column_stack([differences[n] for n in differences])[known] if differences else np.zeros((0, 0))
        scale = np.sqrt(np.mean(diff**2, axis=0)) if len(diff) else np.zeros(diff.shape[1])
        varying = scale > 0
        self.features = [name for name, use in zip(differences, varying, strict=True) if use]
        self.scales = scale[varying]
        self.usable = bool(self.features) and self.n_games > 0
        if not self.usable:
            return
        fitted = games[known]
        self.result = fitted["result"].to_numpy(dtype=float)
        self.models = sorted_unique(pd.concat([fitted["model_a"], fitted["model_b"]]))
        index = {m: i for i, m in enumerate(self.models)}
        m, g = len(self.models), len(fitted)
        self.x = np.zeros((g, m + 1 + len(self.features)))
        self.x[np.arange(g), fitted["model_a"].map(index).to_numpy(dtype=int)] = 1.0
        self.x[np.arange(g), fitted["model_b"].map(index).to_numpy(dtype=int)] = -1.0
        self.x[:, m] = 1.0  # gamma: the first position's advantage
        self.x[:, m + 1:] = diff[:, varying] / self.scales
        rows = table.iloc[row[known]]
        self.questions, question = resampling_units(rows)
        samples = rows["sample"] if "sample" in rows.columns else pd.Series(0, index=rows.index)
        sample, self.n_samples = sample_positions(samples)
        self.unit = question * self.n_samples + sample  # the (question, judge sample) a game belongs to

    def fit(self, l2: float) -> tuple[np.ndarray, bool]:
        """Parameters (theta centred, gamma, beta) of the full-data fit and its convergence."""
        phi, converged = _fit(np.ones(len(self.result)), self.result, self.x, l2)
        return _centred(phi, len(self.models)), converged

    def fit_replicates(self, n_boot: int, seed: int | None, l2: float, init: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
        """Parameters of every bootstrap replicate, shape ``(n_boot, parameters)``, and their convergence."""
        unit_weights = two_level_counts(len(self.questions), self.n_samples, n_boot, seed).reshape(n_boot, -1)
        weights = unit_weights[:, self.unit]
        chunk = max(1, _BATCH_CELLS // self.x.size)
        phis, converged = [], []
        for start in range(0, n_boot, chunk):
            w = weights[start:start + chunk]
            phi, done = _fit_batch(w, w * self.result, self.x, l2, init)
            phis.append(phi)
            converged.append(done)
        return _centred(np.vstack(phis), len(self.models)), np.concatenate(converged)


def _centred(phi: np.ndarray, m: int) -> np.ndarray:
    """``phi`` with its theta (the first ``m`` columns) centred on 0, as the ratings are."""
    phi = np.array(phi, dtype=float)
    phi[..., :m] -= phi[..., :m].mean(axis=-1, keepdims=True)
    return phi


def equal_style_win_rate(d: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """Predicted result of a model against another at equal style, averaged over the two positions.

    ``d`` is its theta minus the other's. Shown first it wins with ``sigmoid(d + gamma)``; shown second
    the other wins with ``sigmoid(-d + gamma)``, so it wins with ``1 - sigmoid(-d + gamma) =
    sigmoid(d - gamma)``. The position swap judges every question in both orders, so the win rate is
    the mean of the two: ``(sigmoid(d + gamma) + sigmoid(d - gamma)) / 2`` (a tie counting half, as in
    the fit), 0.5 at ``d = 0`` whatever ``gamma``.
    """
    return 0.5 * (expit(d + gamma) + expit(d - gamma))


def style_controlled_ratings(df: pd.DataFrame, baseline: str | None = None, n_boot: int = 200,
                             seed: int | None = 0, ci: float = 0.95, l2: float = 0.01) -> dict[str, Any] | None:
    """Style-controlled Bradley–Terry ratings of a PAIRWISE table, with question-bootstrap intervals.

    The style columns are those of :data:`STYLE_FEATURES` (both columns of a feature must be present;
    counts, NaN unknown). Returns None when no feature can be fitted (no style column, unknown
    everywhere, or equal everywhere) or no game is left; otherwise a JSON-ready dict:

    ``"models"``: ``[{"model", "rating", "ci95", "stderr", "rank", "theta"}]``, best first, the ratings
    at equal style (conventions of :func:`jp_bench.stats.ratings.bradley_terry_bootstrap`);
    ``"separability"``; ``"baseline"`` and ``"win_rates"`` (None without a baseline):
    ``[{"model", "baseline", "win_rate", "ci95", "n_games"}]``, the predicted win rate against the
    baseline at equal style averaged over both positions (:func:`equal_style_win_rate`), ``n_games``
    the games against the baseline fitted (a model without any still gets a prediction, through the
    others); ``"coefficients"``: ``{feature: {"beta", "ci95", "stderr", "scale", "win_prob_plus_1sd",
    "win_prob_plus_1sd_ci95"}}``: how much the feature moved the verdicts, ``beta`` in log-odds per
    ``scale`` of relative difference (see the module), ``win_prob_plus_1sd`` the chance that an
    answer beats an equally strong model's answer that is one ``scale`` behind on this feature alone
    (positions averaged: ``equal_style_win_rate(beta, gamma)``); ``"position_bias"`` (gamma) and
    ``"position_bias_ci95"``; ``"features"`` (those fitted), ``"n_games"``, ``"n_games_left_out"``
    (games with a fitted feature unknown), ``"n_questions"``, ``"n_boot"``, ``"ci_level"``, ``"l2"``,
    ``"converged"`` and ``"bootstrap_converged"`` (share of replicates). Raises ``ValueError`` for a
    baseline that has no game in the fit.
    """
    check_bootstrap_args(n_boot, ci)
    if not l2 > 0:
        raise ValueError(f"l2 must be > 0, got {l2!r}")
    games = _StyleGames(df)
    if not games.usable:
        return None
    models, features = games.models, games.features
    if baseline is not None and baseline not in models:
        raise ValueError(f"baseline {baseline!r} has no game in the style-controlled fit (models: {models})")
    m, k = len(models), len(features)
    phi, converged = games.fit(l2)
    if n_boot:
        replicates, replicate_converged = games.fit_replicates(n_boot, seed, l2, phi)
    else:
        replicates, replicate_converged = np.zeros((0, len(phi))), np.zeros(0, dtype=bool)

    def figures(p: np.ndarray) -> np.ndarray:
        """Ratings, gamma, betas, their win probabilities and the win rates of one parameter set (rows)."""
        theta, gamma, beta = p[..., :m], p[..., m:m + 1], p[..., m + 1:]
        parts = [ELO_BASE + ELO_SCALE * theta, gamma, beta, equal_style_win_rate(beta, gamma)]
        if baseline is not None:
            base = models.index(baseline)
            parts.append(equal_style_win_rate(theta - theta[..., base:base + 1], gamma))
        return np.concatenate(parts, axis=-1)

    point = figures(phi)
    lo, hi, sd = percentile_interval(figures(replicates), ci)
    ratings = point[:m]
    ranks = _ranks(ratings)
    order = np.argsort(-ratings, kind="stable")
    beta_at, prob_at, rate_at = m + 1, m + 1 + k, m + 1 + 2 * k
    win_rates = None
    if baseline is not None:
        a, b = games.x[:, :m].argmax(axis=1), games.x[:, :m].argmin(axis=1)
        base = models.index(baseline)
        win_rates = [{"model": models[i], "baseline": baseline, "win_rate": point[rate_at + i],
                      "ci95": interval(lo[rate_at + i], hi[rate_at + i]),
                      "n_games": int(np.sum(((a == i) & (b == base)) | ((a == base) & (b == i))))}
                     for i in order if i != base]
    return to_plain({
        "models": [{"model": models[i], "rating": ratings[i], "ci95": interval(lo[i], hi[i]), "stderr": sd[i],
                    "rank": ranks[i], "theta": phi[i]} for i in order],
        "separability": separability(lo[:m], hi[:m]) if n_boot else None,
        "baseline": baseline,
        "win_rates": win_rates,
        "coefficients": {name: {"beta": point[beta_at + j], "ci95": interval(lo[beta_at + j], hi[beta_at + j]),
                                "stderr": sd[beta_at + j], "scale": games.scales[j],
                                "win_prob_plus_1sd": point[prob_at + j],
                                "win_prob_plus_1sd_ci95": interval(lo[prob_at + j], hi[prob_at + j])}
                         for j, name in enumerate(features)},
        "position_bias": point[m],
        "position_bias_ci95": interval(lo[m], hi[m]),
        "features": features,
        "n_games": games.n_games,
        "n_games_left_out": games.n_left_out,
        "n_questions": len(games.questions),
        "n_boot": n_boot,
        "ci_level": ci,
        "l2": l2,
        "converged": converged,
        "bootstrap_converged": float(np.mean(replicate_converged)) if n_boot else None,
    })
