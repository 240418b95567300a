"""jp_bench.stats.style_control: style-controlled Bradley–Terry on simulated battles with a style-biased judge."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import expit
from scipy.stats import spearmanr

from jp_bench.stats import STYLE_FEATURES, bradley_terry_bootstrap, style_controlled_ratings
from tests.support.numbers import assert_close
from tests.support.style_battles import SKILLS, simulate_battles

pytestmark = pytest.mark.unit

HEADER_BONUS = 0.3  # log-odds the simulated judge adds per header more
SWAP = {"model_1": "model_2", "model_2": "model_1", "tie": "tie", "error": "error"}


def _spearman_with_truth(result: dict) -> float:
    models = result["models"]
    return float(spearmanr([SKILLS[m["model"]] for m in models], [m["rating"] for m in models])[0])


def _rank_of(result: dict, model: str) -> int:
    return next(m["rank"] for m in result["models"] if m["model"] == model)


@pytest.fixture(scope="module")
def biased() -> pd.DataFrame:
    return simulate_battles(seed=0, n_questions=100, header_bonus=HEADER_BONUS)


def test_style_control_takes_out_a_header_bonus(biased):
    raw = bradley_terry_bootstrap(biased, n_boot=100)
    controlled = style_controlled_ratings(biased, n_boot=100)
    # The judge's bonus lifts the weakest model, which writes the most headers, above stronger ones.
    assert _rank_of(raw, "m0") <= 3
    assert _spearman_with_truth(raw) < 0.7
    # Controlled, the true order comes back: m0 last, and a rank correlation with the skills of 1.
    assert _rank_of(controlled, "m0") == 6
    assert _spearman_with_truth(controlled) == pytest.approx(1.0)
    headers = controlled["coefficients"]["headers"]
    assert headers["ci95"][0] > 0
    # beta is per root-mean-square header difference: per header it is beta / scale, the judge's bonus.
    assert headers["beta"] / headers["scale"] == pytest.approx(HEADER_BONUS, abs=0.06)
    assert headers["win_prob_plus_1sd"] > 0.65
    for name in ("length", "list_items", "bold"):
        assert abs(controlled["coefficients"][name]["beta"]) < headers["beta"] / 5, name
    assert controlled["features"] == list(STYLE_FEATURES)
    assert controlled["n_games"] == int((biased[["g1_winner", "g2_winner"]] != "error").to_numpy().sum())
    assert controlled["n_games_left_out"] == 0
    assert controlled["n_questions"] == raw["n_questions"] == 100
    assert controlled["bootstrap_converged"] == 1.0
    assert controlled["win_rates"] is None


def test_a_judge_without_style_bias_gives_coefficients_near_zero_and_the_raw_ratings():
    table = simulate_battles(seed=0, n_questions=60, header_bonus=0.0)
    raw = {m["model"]: m for m in bradley_terry_bootstrap(table, n_boot=100)["models"]}
    controlled = style_controlled_ratings(table, n_boot=100)
    for name, coefficient in controlled["coefficients"].items():
        low, high = coefficient["ci95"]
        assert low < 0 < high, name
    # Nothing to take out: the two fits differ by less than the controlled rating's own bootstrap error.
    for entry in controlled["models"]:
        assert abs(entry["rating"] - raw[entry["model"]]["rating"]) < entry["stderr"], entry["model"]
    assert [m["model"] for m in controlled["models"]] == list(raw)


def _swapped(table: pd.DataFrame) -> pd.DataFrame:
    """The same judgments with model_1 and model_2 exchanged in every row (game 1 becomes game 2)."""
    out = table.copy()
    out["model_1"], out["model_2"] = table["model_2"], table["model_1"]
    out["g1_winner"], out["g2_winner"] = table["g2_winner"].map(SWAP), table["g1_winner"].map(SWAP)
    for one, two in STYLE_FEATURES.values():
        out[one], out[two] = table[two], table[one]
    return out


def test_ratings_do_not_depend_on_which_model_a_row_names_first(biased):
    table = biased.iloc[:600]
    assert_close(style_controlled_ratings(_swapped(table), n_boot=50, baseline="m2"),
                 style_controlled_ratings(table, n_boot=50, baseline="m2"), rel=1e-6, abs_tol=1e-9)


def test_full_fit_is_the_documented_penalised_maximum_likelihood(biased):
    """An independent fit of the model the module documents, by scipy's BFGS on the games built here."""
    table = biased[biased["model_1"].isin(["m0", "m3", "m5"]) & biased["model_2"].isin(["m0", "m3", "m5"])]
    table = table.iloc[:150]
    l2 = 0.01
    models = ["m0", "m3", "m5"]
    rows = []
    for _, r in table.iterrows():
        for game, a, b, side_a, side_b in ((1, "model_1", "model_2", "1", "2"), (2, "model_2", "model_1", "2", "1")):
            winner = r[f"g{game}_winner"]
            if winner == "error":
                continue
            y = 0.5 if winner == "tie" else float(winner == a)
            la, lb = r[f"len_{side_a}"], r[f"len_{side_b}"]
            counts = [r[f"{f}_{side_a}"] - r[f"{f}_{side_b}"] for f in ("headers", "list_items", "bold")]
            rows.append((models.index(r[a]), models.index(r[b]), y, (la - lb) / (la + lb + 1), *counts))
    games = np.array(rows)
    z = games[:, 3:] / np.sqrt(np.mean(games[:, 3:] ** 2, axis=0))
    x = np.zeros((len(games), 3 + 1 + 4))
    x[np.arange(len(games)), games[:, 0].astype(int)] += 1.0
    x[np.arange(len(games)), games[:, 1].astype(int)] -= 1.0
    x[:, 3] = 1.0
    x[:, 4:] = z
    y = games[:, 2]

    def objective(phi: np.ndarray) -> tuple[float, np.ndarray]:
        eta = x @ phi
        value = np.sum(y * eta - np.logaddexp(0.0, eta)) - 0.5 * l2 * phi @ phi
        return -value, -((y - expit(eta)) @ x - l2 * phi)

    phi = minimize(objective, np.zeros(x.shape[1]), jac=True, method="BFGS", options={"gtol": 1e-10}).x
    theta = phi[:3] - phi[:3].mean()
    result = style_controlled_ratings(table, n_boot=0, l2=l2)
    ratings = {m["model"]: m["rating"] for m in result["models"]}
    assert_close([ratings[m] for m in models], list(1000 + 400 / np.log(10) * theta), rel=1e-6)
    assert_close(result["position_bias"], float(phi[3]), rel=1e-5)
    assert_close([result["coefficients"][f]["beta"] for f in STYLE_FEATURES], list(phi[4:]), rel=1e-5)
    assert result["n_boot"] == 0 and result["models"][0]["ci95"] is None


def test_one_model_against_a_baseline_gets_a_style_controlled_win_rate():
    skills, rates = {"m0": 0.0, "base": 0.5}, {"m0": 5.0, "base": 1.0}
    table = simulate_battles(seed=0, n_questions=150, header_bonus=HEADER_BONUS, skills=skills,
                             header_rates=rates, baseline="base")
    result = style_controlled_ratings(table, baseline="base", n_boot=100)
    [entry] = result["win_rates"]
    assert (entry["model"], entry["baseline"]) == ("m0", "base")
    # At equal style m0 wins sigmoid(-0.5 ± 0.2) in the two positions (the simulation's skills and position bias).
    truth = 0.5 * (expit(-0.5 + 0.2) + expit(-0.5 - 0.2))
    low, high = entry["ci95"]
    assert low < truth < high
    games = np.concatenate([table["g1_winner"], table["g2_winner"]])
    raw_win_rate = np.mean(games[games != "error"] == "model_1")  # model_1 is m0 in every row
    assert raw_win_rate > high  # its headers win it games the style-controlled rate does not count
    assert entry["n_games"] == result["n_games"] == int(np.sum(games != "error"))
    assert [m["model"] for m in result["models"]] == ["base", "m0"]


def test_games_with_an_unknown_feature_are_left_out_and_counted(biased):
    table = biased.iloc[:300].copy()
    table.loc[table.index[:20], "headers_2"] = np.nan
    table.loc[table.index[10:30], "bold_1"] = np.nan
    result = style_controlled_ratings(table, n_boot=0)
    usable = (table[["g1_winner", "g2_winner"]] != "error").to_numpy()
    unknown = table[["headers_2", "bold_1"]].isna().any(axis=1).to_numpy()
    assert result["n_games_left_out"] == int(usable[unknown].sum())
    assert result["n_games"] == int(usable[~unknown].sum())
    # A feature unknown everywhere is not fitted, and costs no game.
    table["list_items_1"] = np.nan
    result = style_controlled_ratings(table, n_boot=0)
    assert result["features"] == ["length", "headers", "bold"]
    assert result["n_games_left_out"] == int(usable[unknown].sum())


def test_without_usable_style_features_there_is_no_style_control(biased):
    table = biased.iloc[:100]
    assert style_controlled_ratings(table.drop(columns=[c for pair in STYLE_FEATURES.values() for c in pair])) is None
    equal = table.assign(**{two: table[one] for one, two in STYLE_FEATURES.values()})
    assert style_controlled_ratings(equal) is None
    unknown = table.assign(**{c: np.nan for pair in STYLE_FEATURES.values() for c in pair})
    assert style_controlled_ratings(unknown) is None
    # One feature varying is enough; the constant ones are not fitted.
    only_length = equal.assign(len_2=table["len_2"])
    assert style_controlled_ratings(only_length, n_boot=0)["features"] == ["length"]


def test_a_sample_column_of_one_sample_changes_nothing(biased):
    table = biased.iloc[:300]
    assert_close(style_controlled_ratings(table.assign(sample=0), n_boot=30),
                 style_controlled_ratings(table, n_boot=30))


def test_the_bootstrap_draws_whole_questions_of_several_items(biased):
    table = biased.iloc[:300]
    turns = pd.concat([table.assign(question_id=table["question_id"] + f"/{turn}", cluster=table["question_id"])
                       for turn in (1, 2)], ignore_index=True)
    result = style_controlled_ratings(turns, n_boot=20)
    assert result["n_questions"] == table["question_id"].nunique()
    assert result["n_games"] == 2 * style_controlled_ratings(table, n_boot=0)["n_games"]


def test_bad_style_input_is_refused(biased):
    table = biased.iloc[:50].copy()
    with pytest.raises(ValueError, match="baseline 'nobody'"):
        style_controlled_ratings(table, baseline="nobody")
    negative = table.assign(headers_1=table["headers_1"].where(table.index != 3, -1.0))
    with pytest.raises(ValueError, match=r"headers_1 must hold counts >= 0.*row 3"):
        style_controlled_ratings(negative)
    text = table.assign(bold_2=table["bold_2"].astype(object).where(table.index != 5, "many"))
    with pytest.raises(ValueError, match=r"bold_2 must hold counts.*'many'"):
        style_controlled_ratings(text)
    with pytest.raises(ValueError, match="l2"):
        style_controlled_ratings(table, l2=0.0)
