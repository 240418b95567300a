"""Simulated pairwise battles with a style-biased judge, for style control (tests and bench/style_control.py).

Every model answers every question; an answer has a length (characters) and counts of markdown
headers, list items and bold spans, drawn per model (a model's ``header_rate`` is its mean header
count). A pair of answers is judged in both orders (game 1 shows model_1 as A). The judge lets A win
with ``sigmoid(skill_A - skill_B + position_bias + header_bonus · (headers_A - headers_B))``: a known
bonus per header more, whatever the answers say, which a style-controlled fit should take out. With
``relative_bonus`` the bonus is ``header_bonus · (headers_A - headers_B) / (headers_A + headers_B + 1)``
instead (the relative difference Chatbot Arena's style control assumes).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy.special import expit

SKILLS = {"m0": -1.0, "m1": -0.6, "m2": -0.2, "m3": 0.2, "m4": 0.6, "m5": 1.0}
# The weakest model writes many headers; the others few.
HEADER_RATES = {"m0": 6.0, "m1": 1.0, "m2": 0.5, "m3": 1.0, "m4": 0.5, "m5": 1.0}


def simulate_battles(seed: int, n_questions: int, header_bonus: float, skills: dict[str, float] = SKILLS,
                     header_rates: dict[str, float] = HEADER_RATES, baseline: str | None = None,
                     position_bias: float = 0.2, error_rate: float = 0.02,
                     relative_bonus: bool = False) -> pd.DataFrame:
    """A PAIRWISE table with style columns: every pair of models (or every model against ``baseline``)
    on every question, two games each; a game is an error with probability ``error_rate``."""
    rng = np.random.default_rng(seed)
    models = list(skills)
    answers = {model: {"len": rng.lognormal(6.0, 0.4, n_questions).round(),
                       "headers": rng.poisson(header_rates[model], n_questions).astype(float),
                       "list_items": rng.poisson(3.0, n_questions).astype(float),
                       "bold": rng.poisson(2.0, n_questions).astype(float)} for model in models}
    if baseline is None:
        pairs = list(itertools.combinations(models, 2))
    else:
        pairs = [(model, baseline) for model in models if model != baseline]
    rows = []
    for q in range(n_questions):
        for one, two in pairs:
            row: dict[str, object] = {"question_id": f"q{q:03d}", "category": f"c{q % 3}", "model_1": one,
                                      "model_2": two}
            for feature in ("len", "headers", "list_items", "bold"):
                row[f"{feature}_1"] = answers[one][feature][q]
                row[f"{feature}_2"] = answers[two][feature][q]
            for game, (a, b) in ((1, (one, two)), (2, (two, one))):
                h_a, h_b = answers[a]["headers"][q], answers[b]["headers"][q]
                bonus = header_bonus * (h_a - h_b) / ((h_a + h_b + 1.0) if relative_bonus else 1.0)
                p = expit(skills[a] - skills[b] + position_bias + bonus)
                a_won = rng.random() < p
                winner = "model_1" if a_won == (a == one) else "model_2"
                row[f"g{game}_winner"] = "error" if rng.random() < error_rate else winner
            rows.append(row)
    return pd.DataFrame(rows)
