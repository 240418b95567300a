"""jp_bench.stats: outcomes, summaries with paired bootstrap, Bradley–Terry, judge diagnostics, LC win rate."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import expit

from jp_bench.stats import (
    bradley_terry,
    bradley_terry_bootstrap,
    expand_games,
    first_slot_preference,
    judge_diagnostics,
    length_controlled_win_rate,
    length_effect,
    orient_to_baseline,
    pairwise_summary,
    position_consistency,
    question_outcomes,
    single_summary,
)
from jp_bench.stats import ratings as ratings_module
from jp_bench.stats.outcomes import combine_games
from tests.support.numbers import assert_close

pytestmark = pytest.mark.unit

SWAP = {"model_1": "model_2", "model_2": "model_1", "tie": "tie", "error": "error"}

# The hand-made table: model "M" against baseline "Z", 10 questions, two categories.
#   q1-q3: both games M          -> win ×3
#   q4-q5: both games Z          -> loss ×2
#   q6:    tie, tie              -> tie (consistent)
#   q7:    M, Z                  -> tie, inconsistent
#   q8:    M, tie                -> tie
#   q9:    error, M              -> error
#   q10:   Z, M                  -> tie, inconsistent
# n = 9, win 3, loss 2, tie 4, inconsistent 2, errors 1, adjusted (3 + 0.5·4)/9 = 5/9.
HAND = [
    (1, "writing", "model_1", "model_1"),
    (2, "writing", "model_1", "model_1"),
    (3, "writing", "model_1", "model_1"),
    (4, "writing", "model_2", "model_2"),
    (5, "writing", "model_2", "model_2"),
    (6, "math", "tie", "tie"),
    (7, "math", "model_1", "model_2"),
    (8, "math", "model_1", "tie"),
    (9, "math", "error", "model_1"),
    (10, "math", "model_2", "model_1"),
]


def pairwise(rows: list[tuple], model: str = "M", baseline: str = "Z", qid_offset: int = 0) -> pd.DataFrame:
    """A PAIRWISE table of ``model`` (as model_1) against ``baseline`` from (qid, category, g1, g2[, l1, l2])."""
    records = []
    for row in rows:
        qid, category, g1, g2 = row[:4]
        record = {"question_id": qid + qid_offset, "category": category, "model_1": model, "model_2": baseline,
                  "g1_winner": g1, "g2_winner": g2}
        if len(row) > 4:
            record.update(len_1=row[4], len_2=row[5])
        records.append(record)
    return pd.DataFrame(records)


def flipped(df: pd.DataFrame) -> pd.DataFrame:
    """The same judgments written with the other model as model_1 (its game 1 is the old game 2)."""
    out = df.copy()
    out["model_1"], out["model_2"] = df["model_2"], df["model_1"]
    out["g1_winner"], out["g2_winner"] = df["g2_winner"].map(SWAP), df["g1_winner"].map(SWAP)
    if "len_1" in df:
        out["len_1"], out["len_2"] = df["len_2"], df["len_1"]
    return out


def without_ci(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k not in ("ci95", "stderr", "by_category")}


# --- per-question outcomes -----------------------------------------------------------------------------------


def test_outcome_rule_is_the_judging_rule_for_every_combination() -> None:
    winners = ["model_1", "model_2", "tie", "error"]
    combos = list(itertools.product(winners, winners))
    table = pairwise([(i, "c", g1, g2) for i, (g1, g2) in enumerate(combos)])
    got = question_outcomes(table)
    for (g1, g2), outcome, inconsistent in zip(combos, got["outcome"], got["inconsistent"], strict=True):
        expected = combine_games(g1, g2)
        assert (outcome, bool(inconsistent)) == (expected.outcome, expected.inconsistent), (g1, g2)


def test_missing_columns_and_bad_values_are_clear_errors() -> None:
    table = pairwise(HAND)
    with pytest.raises(ValueError, match=r"missing column.*g2_winner"):
        pairwise_summary(table.drop(columns=["g2_winner"]))
    with pytest.raises(ValueError, match="unknown value"):
        pairwise_summary(table.assign(g1_winner="A"))
    with pytest.raises(ValueError, match="baseline 'nobody'"):
        pairwise_summary(table, baseline="nobody")
    with pytest.raises(ValueError, match="more than one row"):
        pairwise_summary(pd.concat([table, table]))
    with pytest.raises(ValueError, match=r"missing column.*score"):
        single_summary(pd.DataFrame({"question_id": [1], "category": ["c"], "model": ["m"]}))
    with pytest.raises(ValueError, match="-1 must be converted"):
        single_summary(pd.DataFrame({"question_id": [1], "category": ["c"], "model": ["m"], "score": [-1.0]}))


# --- pairwise summary -----------------------------------------------------------------------------------------


def test_hand_made_table_counts_and_rates() -> None:
    [entry] = pairwise_summary(pairwise(HAND), baseline="Z", n_boot=200)
    assert without_ci(entry) == {
        "model": "M", "baseline": "Z", "n": 9, "win": 3, "loss": 2, "tie": 4, "inconsistent": 2, "errors": 1,
        "win_rate": pytest.approx(3 / 9), "loss_rate": pytest.approx(2 / 9), "tie_rate": pytest.approx(4 / 9),
        "adjusted_win_rate": pytest.approx(5 / 9), "ci_level": 0.95,
    }
    json.dumps(entry, allow_nan=False)


def test_per_category_split() -> None:
    [entry] = pairwise_summary(pairwise(HAND), baseline="Z", n_boot=200)
    writing, math_ = entry["by_category"]["writing"], entry["by_category"]["math"]
    assert (writing["n"], writing["win"], writing["loss"], writing["tie"], writing["errors"]) == (5, 3, 2, 0, 0)
    assert writing["adjusted_win_rate"] == pytest.approx(3 / 5)
    assert (math_["n"], math_["win"], math_["loss"], math_["tie"], math_["inconsistent"], math_["errors"]) == (
        4, 0, 0, 4, 2, 1)
    assert math_["adjusted_win_rate"] == pytest.approx(0.5)
    assert "by_category" not in writing
    assert writing["ci95"][0] <= 0.6 <= writing["ci95"][1]


def test_baseline_orientation_gives_the_same_result() -> None:
    table = pairwise(HAND)
    reference = pairwise_summary(table, baseline="Z", n_boot=300, seed=3)
    assert_close(pairwise_summary(flipped(table), baseline="Z", n_boot=300, seed=3), reference)
    mixed = pd.concat([table.iloc[::2], flipped(table.iloc[1::2])])
    assert_close(pairwise_summary(mixed, baseline="Z", n_boot=300, seed=3), reference)
    # Without a baseline the flipped table is reported as written: Z against M, wins and losses exchanged.
    [as_written] = pairwise_summary(flipped(table), n_boot=0)
    assert (as_written["model"], as_written["baseline"], as_written["win"], as_written["loss"]) == ("Z", "M", 2, 3)
    assert as_written["adjusted_win_rate"] == pytest.approx(4 / 9)
    assert as_written["ci95"] is None and as_written["stderr"] is None
    # Orientation also swaps lengths, and the oriented table keeps "game 1 shows model_1 as A".
    with_lengths = pairwise([(1, "c", "model_1", "tie", 300, 100)])
    back = orient_to_baseline(flipped(with_lengths), "Z").iloc[0]
    assert (back["model_1"], back["g1_winner"], back["g2_winner"], back["len_1"], back["len_2"]) == (
        "M", "model_1", "tie", 300, 100)


def test_bootstrap_interval_contains_estimate_is_seeded_and_narrows() -> None:
    table = pairwise(HAND)
    [first] = pairwise_summary(table, baseline="Z", n_boot=1000, seed=0)
    lo, hi = first["ci95"]
    assert lo <= 5 / 9 <= hi and lo < hi
    assert 0 < first["stderr"] < 0.5
    assert pairwise_summary(table, baseline="Z", n_boot=1000, seed=0) == [first]
    [other] = pairwise_summary(table, baseline="Z", n_boot=1000, seed=1)
    assert (other["ci95"], other["stderr"]) != (first["ci95"], first["stderr"])
    ten_times = pd.concat([pairwise(HAND, qid_offset=100 * k) for k in range(10)])
    [big] = pairwise_summary(ten_times, baseline="Z", n_boot=1000, seed=0)
    assert big["adjusted_win_rate"] == pytest.approx(5 / 9)
    assert big["ci95"][1] - big["ci95"][0] < 0.6 * (hi - lo)
    assert big["stderr"] < 0.6 * first["stderr"]


def test_paired_bootstrap_identical_outcomes_give_identical_intervals() -> None:
    other = [(q, c, g2, g1) if q % 3 else (q, c, "model_2", "model_2") for q, c, g1, g2 in HAND]
    table = pd.concat([pairwise(HAND, model="A"), pairwise(HAND, model="B"), pairwise(other, model="C")])
    results = {r["model"]: r for r in pairwise_summary(table, baseline="Z", n_boot=500, seed=7)}
    # Within 1e-9 relative: two columns of one matrix product need not take the same path through BLAS.
    assert_close(results["A"]["ci95"], results["B"]["ci95"])
    assert_close(results["A"]["stderr"], results["B"]["stderr"])
    assert_close(results["A"]["by_category"], {k: {**v, "model": "A"} for k, v in results["B"]["by_category"].items()})
    assert results["C"]["ci95"] != results["A"]["ci95"]
    # The same draw is used whichever other models are in the table (same question set).
    [alone] = pairwise_summary(pd.concat([pairwise(HAND, model="A"), pairwise(other, model="C").iloc[:0]]),
                               baseline="Z", n_boot=500, seed=7)
    assert_close(alone["ci95"], results["A"]["ci95"])


# --- single summary -------------------------------------------------------------------------------------------


def test_single_summary_excludes_and_counts_errors() -> None:
    table = pd.DataFrame({
        "question_id": [1, 2, 3, 4] * 2,
        "category": ["a", "a", "b", "b"] * 2,
        "model": ["X"] * 4 + ["Y"] * 4,
        "score": [8, 6, np.nan, 7, 5, np.nan, 3, 4],
    })
    x, y = single_summary(table, n_boot=500, seed=0)
    assert (x["model"], x["n"], x["mean"], x["errors"]) == ("X", 3, pytest.approx(7.0), 1)
    assert (y["model"], y["n"], y["mean"], y["errors"]) == ("Y", 3, pytest.approx(4.0), 1)
    assert x["ci95"][0] <= 7.0 <= x["ci95"][1]
    assert (x["by_category"]["a"]["n"], x["by_category"]["a"]["mean"]) == (2, pytest.approx(7.0))
    assert (x["by_category"]["b"]["n"], x["by_category"]["b"]["errors"]) == (1, 1)
    assert (y["by_category"]["a"]["mean"], y["by_category"]["b"]["mean"]) == (pytest.approx(5.0), pytest.approx(3.5))
    assert single_summary(table, n_boot=500, seed=0) == [x, y]
    json.dumps([x, y], allow_nan=False)
    all_errors = single_summary(table.assign(score=np.nan), n_boot=50)
    assert all_errors[0]["mean"] is None and all_errors[0]["ci95"] is None and all_errors[0]["errors"] == 4


# --- Bradley–Terry --------------------------------------------------------------------------------------------


def simulate_all_pairs(theta: dict[str, float], gamma: float, n_questions: int, seed: int) -> pd.DataFrame:
    """Pairwise-all judgments drawn from BT with a first-position advantage ``gamma`` (no ties)."""
    rng = np.random.default_rng(seed)
    records = []
    for m1, m2 in itertools.combinations(theta, 2):
        a_wins_1 = rng.random(n_questions) < expit(theta[m1] - theta[m2] + gamma)  # game 1: A = model_1
        a_wins_2 = rng.random(n_questions) < expit(theta[m2] - theta[m1] + gamma)  # game 2: A = model_2
        for q in range(n_questions):
            records.append({"question_id": q, "category": "all", "model_1": m1, "model_2": m2,
                            "g1_winner": "model_1" if a_wins_1[q] else "model_2",
                            "g2_winner": "model_2" if a_wins_2[q] else "model_1"})
    return pd.DataFrame(records)


def test_bradley_terry_recovers_simulated_strengths_and_position_bias() -> None:
    theta = {"a": 0.8, "b": 0.2, "c": -0.3, "d": -0.7}
    table = simulate_all_pairs(theta, gamma=0.5, n_questions=300, seed=11)
    fit = bradley_terry(expand_games(table))
    assert fit["converged"] and fit["n_games"] == 2 * len(table)
    assert [m["model"] for m in fit["models"]] == ["a", "b", "c", "d"]
    assert [m["rank"] for m in fit["models"]] == [1, 2, 3, 4]
    assert sum(m["theta"] for m in fit["models"]) == pytest.approx(0.0, abs=1e-9)
    for m in fit["models"]:
        assert m["theta"] == pytest.approx(theta[m["model"]], abs=0.15)
        assert m["rating"] == pytest.approx(1000 + 400 / math.log(10) * m["theta"])
    assert fit["position_bias"] == pytest.approx(0.5, abs=0.1)
    assert fit["first_position_win_prob"] == pytest.approx(expit(fit["position_bias"]))

    boot = bradley_terry_bootstrap(table, n_boot=100, seed=0)
    assert [m["rating"] for m in boot["models"]] == pytest.approx([m["rating"] for m in fit["models"]])
    assert all(m["ci95"][0] <= m["rating"] <= m["ci95"][1] for m in boot["models"])
    assert boot["position_bias_ci95"][0] <= boot["position_bias"] <= boot["position_bias_ci95"][1]
    assert boot["bootstrap_converged"] == 1.0 and boot["n_questions"] == 300
    assert bradley_terry_bootstrap(table, n_boot=100, seed=0) == boot
    json.dumps(boot, allow_nan=False)


def test_batched_newton_matches_scipy_on_the_full_data() -> None:
    table = simulate_all_pairs({"a": 0.5, "b": 0.0, "c": -0.5}, gamma=-0.3, n_questions=50, seed=2)
    design = ratings_module._Design(expand_games(table))
    n, s = design.totals()
    bfgs = minimize(lambda phi: -ratings_module._penalised_loglik(phi, n, s, design.x, 0.01),
                    np.zeros(design.x.shape[1]), method="BFGS", options={"gtol": 1e-8})
    newton_phi, done = ratings_module._fit_batch(n[None], s[None], design.x, 0.01, np.zeros(design.x.shape[1]))
    assert done.all()
    # The common shift of theta is only held by the weak penalty: compare centred strengths.
    reference = np.append(bfgs.x[:-1] - bfgs.x[:-1].mean(), bfgs.x[-1])
    np.testing.assert_allclose(newton_phi[0], reference, atol=1e-5)
    fit = bradley_terry(expand_games(table), l2=0.01)
    assert fit["converged"]
    assert fit["position_bias"] == pytest.approx(newton_phi[0, -1], abs=1e-9)


def test_bradley_terry_all_ties_gives_equal_ratings() -> None:
    table = simulate_all_pairs({"a": 0.0, "b": 0.0, "c": 0.0}, gamma=0.0, n_questions=5, seed=0)
    table = table.assign(g1_winner="tie", g2_winner="tie")
    fit = bradley_terry(expand_games(table))
    assert [m["rating"] for m in fit["models"]] == pytest.approx([1000.0] * 3)
    assert [m["rank"] for m in fit["models"]] == [1, 1, 1]
    assert fit["position_bias"] == pytest.approx(0.0, abs=1e-9)
    assert fit["first_position_win_prob"] == pytest.approx(0.5)


def test_separability_on_clear_and_on_tied_models() -> None:
    records = []
    for q in range(60):
        xy = "model_1" if q % 10 else "model_2"  # X beats Y on 9 questions in 10
        yz = "model_1" if q % 10 != 5 else "model_2"  # Y beats Z on 9 in 10
        for m1, m2, w in (("X", "Y", xy), ("Y", "Z", yz), ("X", "Z", "model_1")):
            records.append({"question_id": q, "category": "all", "model_1": m1, "model_2": m2,
                            "g1_winner": w, "g2_winner": w})
    clear = bradley_terry_bootstrap(pd.DataFrame(records), n_boot=200, seed=0)
    assert [m["model"] for m in clear["models"]] == ["X", "Y", "Z"]
    assert clear["separability"] == 1.0
    assert clear["first_position_win_prob"] == pytest.approx(0.5)  # a position-fair judge

    # X and Y tie each other and do equally against Z: their intervals coincide, both apart from Z's.
    records = []
    for q in range(40):
        w = "model_1" if q % 5 else "model_2"
        for m1, m2, g in (("X", "Y", "tie"), ("X", "Z", w), ("Y", "Z", w)):
            records.append({"question_id": q, "category": "all", "model_1": m1, "model_2": m2,
                            "g1_winner": g, "g2_winner": g})
    tied = bradley_terry_bootstrap(pd.DataFrame(records), n_boot=200, seed=0)
    assert tied["separability"] == pytest.approx(2 / 3)
    assert [m["rank"] for m in tied["models"]] == [1, 1, 3]


# --- diagnostics ----------------------------------------------------------------------------------------------


def test_diagnostics_of_a_judge_that_always_answers_a() -> None:
    # Game 1: A = model_1 wins; game 2: A = model_2 wins.
    table = pairwise([(q, "c", "model_1", "model_2") for q in range(10)])
    assert position_consistency(table) == 0.0
    assert first_slot_preference(table) == 1.0
    [entry] = pairwise_summary(table, baseline="Z", n_boot=0)
    assert (entry["tie"], entry["inconsistent"], entry["adjusted_win_rate"]) == (10, 10, 0.5)
    fit = bradley_terry(expand_games(table))
    assert fit["first_position_win_prob"] > 0.99


def test_diagnostics_of_a_position_fair_judge() -> None:
    fair = [(q, "c", "model_1", "model_1") for q in range(6)]
    fair += [(q, "c", "model_2", "model_2") for q in range(6, 9)] + [(9, "c", "tie", "tie")]
    assert position_consistency(pairwise(fair)) == 1.0
    assert first_slot_preference(pairwise(fair)) == 0.5  # 9 of 18 decided games won by A
    # Two more questions where the judge picks A both times, and one with an error.
    biased = [*fair, (10, "c", "model_1", "model_2"), (11, "c", "model_2", "model_1"), (12, "c", "error", "model_2")]
    assert position_consistency(pairwise(biased)) == pytest.approx(10 / 12)
    # Decided games: 18 + 4 + 1; A won 9 + 2 (q10) + 0 (q11: B both times) + 1 (q12's game 2).
    assert first_slot_preference(pairwise(biased)) == pytest.approx(12 / 23)
    report = judge_diagnostics(pairwise(biased))
    assert (report["n_questions"], report["n_usable"], report["n_decided_games"]) == (13, 12, 23)
    assert report["length"] is None


def test_length_effect() -> None:
    rows = [(1, "c", "model_1", "model_1", 110, 100), (2, "c", "model_1", "model_1", 120, 100),
            (3, "c", "model_2", "model_2", 90, 100), (4, "c", "model_2", "model_2", 80, 100)]
    effect = length_effect(pairwise(rows))
    # diff = [10, 20, -10, -20], score = [1, 1, 0, 0]: the longer answer always wins.
    assert effect["n"] == effect["n_decided"] == effect["n_longer"] == 4
    assert effect["longer_win_rate"] == 1.0
    # Spearman: ranks of diff [3, 4, 2, 1], of score [3.5, 3.5, 1.5, 1.5] -> 4 / sqrt(5 * 4).
    assert effect["spearman"] == pytest.approx(4 / math.sqrt(20))
    # Point-biserial = Pearson of won [1, 1, 0, 0] and diff: 30 / sqrt(1000 * 1).
    assert effect["point_biserial"] == pytest.approx(30 / math.sqrt(1000))
    # A tie with the longer answer counts half; unknown lengths and errors are left out.
    more = [*rows, (5, "c", "tie", "tie", 100, 150), (6, "c", "model_1", "model_1", np.nan, 100),
            (7, "c", "error", "error", 500, 100)]
    effect = length_effect(pairwise(more))
    assert (effect["n"], effect["n_decided"], effect["n_longer"]) == (5, 4, 5)
    assert effect["longer_win_rate"] == pytest.approx(4.5 / 5)
    assert length_effect(pairwise(HAND)) is None


# --- length-controlled win rate -------------------------------------------------------------------------------


def test_lc_win_rate_equals_raw_rate_at_equal_lengths() -> None:
    table = pairwise([(*row, 100, 100) for row in HAND])
    [game] = length_controlled_win_rate(table, baseline="Z")
    # Games without an error: wins 6+1+1+1+1 = 10, losses 4+1+1 = 6, ties 2+1 = 3 -> (10 + 1.5) / 19.
    assert game["n"] == 19
    assert game["raw_win_rate"] == pytest.approx(11.5 / 19)
    assert game["lc_win_rate"] == pytest.approx(game["raw_win_rate"], abs=1e-3)
    assert game["beta"] == pytest.approx(0.0, abs=1e-9)
    [question] = length_controlled_win_rate(table, baseline="Z", unit="question")
    assert question["lc_win_rate"] == pytest.approx(5 / 9, abs=1e-3)  # the adjusted win rate
    assert length_controlled_win_rate(pairwise(HAND), baseline="Z")[0]["lc_win_rate"] is None


def test_lc_win_rate_moves_to_half_when_length_explains_the_wins() -> None:
    # M is longer on 20 questions (wins 18) and shorter on 10 (wins 1); both games agree on each.
    rows = [(q, "c", "model_1", "model_1", 300, 200) for q in range(18)]
    rows += [(q, "c", "model_2", "model_2", 300, 200) for q in range(18, 20)]
    rows += [(20, "c", "model_1", "model_1", 200, 300)]
    rows += [(q, "c", "model_2", "model_2", 200, 300) for q in range(21, 30)]
    table = pairwise(rows)
    [entry] = length_controlled_win_rate(table, baseline="Z")
    assert entry["raw_win_rate"] == pytest.approx(38 / 60)
    # Longer: 90% wins, shorter: 10% -> theta ± beta·t = ±logit(0.9): theta = 0.
    assert entry["lc_win_rate"] == pytest.approx(0.5, abs=0.01)
    assert entry["beta"] > 0
    # The same data from the baseline's side mirrors it.
    [mirror] = length_controlled_win_rate(flipped(table), baseline="M")
    assert mirror["lc_win_rate"] == pytest.approx(1 - entry["lc_win_rate"], abs=1e-6)


# --- the paper's published judgments --------------------------------------------------------------------------


def test_published_fastchat_judgments_reproduce_the_paper(upstream_checkout: Path) -> None:
    path = (upstream_checkout / "jp_bench" / "model_judgment" / "pairwise" / "gpt-4"
            / "pairwise:cyberagent--calm2-7b-chat_openai--text-davinci-003.jsonl")
    table = pd.read_json(path, lines=True)[["question_id", "model_1", "model_2", "g1_winner", "g2_winner"]]
    table["category"] = "all"
    [entry] = pairwise_summary(table, baseline="openai--text-davinci-003", n_boot=500)
    assert (entry["model"], entry["baseline"], entry["n"], entry["errors"]) == (
        "cyberagent--calm2-7b-chat", "openai--text-davinci-003", 80, 0)
    assert entry["win_rate"] == pytest.approx(0.70)
    assert entry["loss_rate"] == pytest.approx(0.15)
    assert entry["tie_rate"] == pytest.approx(0.15)
    assert entry["adjusted_win_rate"] == pytest.approx(0.775)
    assert entry["ci95"][0] < 0.775 < entry["ci95"][1]
    # Oriented the other way round, the baseline's view is the complement.
    [reverse] = pairwise_summary(table, baseline="cyberagent--calm2-7b-chat", n_boot=0)
    assert reverse["adjusted_win_rate"] == pytest.approx(0.225)
