"""Statistics of judged answers: pure functions over pandas tables, JSON-ready results.

Input tables (built by the caller):

- PAIRWISE: one row per (question, model pair): ``question_id``, ``category``, ``model_1``,
  ``model_2``, ``g1_winner``, ``g2_winner`` (``"model_1"``/``"model_2"``/``"tie"``/``"error"``; game 1
  shows model_1 as A, game 2 as B), optional ``len_1``, ``len_2`` and the markdown counts of
  :data:`jp_bench.stats.style_control.STYLE_FEATURES` (``headers_1``, ``headers_2``, ...).
- SINGLE: one row per (question, model): ``question_id``, ``category``, ``model``, ``score`` (NaN =
  no score), optional ``length``.

Both may have ``cluster`` (the question a row's item belongs to, when ``question_id`` is a smaller
item: a turn "81/2", a judge sample) and ``sample`` (the judge sample).

Every bootstrap resamples questions with ``numpy.random.default_rng(seed)`` and is paired: one draw
serves every model. A drawn question brings all its items (turns); with judge samples the bootstrap
is two-level, a drawn question's samples drawn in turn (:mod:`jp_bench.stats.judge_noise`). Results
are plain Python types (NaN as None), ready for ``json.dumps``.
"""

from __future__ import annotations

# Loaded on first use (PEP 562): ``jp_bench.stats.outcomes`` (the outcome rule the judging code uses)
# must not pull pandas and scipy into every command that merely judges.
_WHERE = {
    "first_slot_preference": "diagnostics", "judge_diagnostics": "diagnostics", "length_effect": "diagnostics",
    "position_consistency": "diagnostics",
    "fit_length_logistic": "length_control", "length_controlled_win_rate": "length_control",
    "pairwise_summary": "pairwise",
    "bradley_terry": "ratings", "bradley_terry_bootstrap": "ratings", "separability": "ratings",
    "single_summary": "single",
    "STYLE_FEATURES": "style_control", "style_controlled_ratings": "style_control",
    "expand_games": "tables", "orient_to_baseline": "tables", "question_outcomes": "tables",
    "validate_pairwise": "tables", "validate_single": "tables",
}


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'jp_bench.stats' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"jp_bench.stats.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "STYLE_FEATURES",
    "bradley_terry",
    "bradley_terry_bootstrap",
    "expand_games",
    "first_slot_preference",
    "fit_length_logistic",
    "judge_diagnostics",
    "length_controlled_win_rate",
    "length_effect",
    "orient_to_baseline",
    "pairwise_summary",
    "position_consistency",
    "question_outcomes",
    "separability",
    "single_summary",
    "style_controlled_ratings",
    "validate_pairwise",
    "validate_single",
]
