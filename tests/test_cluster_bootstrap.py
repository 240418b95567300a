"""The resampling unit of every interval is the question: the turns of a multi-turn question are drawn
together (a cluster bootstrap), and with judge samples a drawn question then draws its samples (the
two-level bootstrap), Bradley–Terry rankings included. With one turn and one sample nothing changes."""

from __future__ import annotations

import importlib
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from jp_bench.reporting.report import build_report
from jp_bench.reporting.sources import load_judgments
from jp_bench.stats import bradley_terry, bradley_terry_bootstrap, pairwise_summary, single_summary
from jp_bench.stats.common import bootstrap_counts
from jp_bench.stats.judge_noise import sample_draws, two_level_bootstrap, two_level_counts
from tests.support.cli import main_in_process
from tests.support.files import write_jsonl
from tests.support.judgment_rows import pairwise_row
from tests.support.numbers import assert_close

pytestmark = pytest.mark.unit

CODES = {"1": "model_1", "2": "model_2", "3": "tie", "0": "error"}
SCORE = {"model_1": 1.0, "model_2": 0.0, "tie": 0.5}


# ----------------------------------------------------------------------------------------- tables


def one_turn_pairwise() -> pd.DataFrame:
    """12 questions, models a and b against base; two games are errors."""
    games = {"a": ("121312133212", "131122323211"), "b": ("212113321121", "212103312210")}
    return pd.DataFrame([{"question_id": q, "category": "x" if q % 2 else "y", "model_1": model, "model_2": "base",
                          "g1_winner": CODES[g1[q - 1]], "g2_winner": CODES[g2[q - 1]]}
                         for model, (g1, g2) in games.items() for q in range(1, 13)])


def one_turn_all_pairs() -> pd.DataFrame:
    winners = ("model_1", "model_2", "tie")
    return pd.DataFrame([{"question_id": q, "category": "c", "model_1": m1, "model_2": m2,
                          "g1_winner": winners[(q * q + p) % 3], "g2_winner": winners[(q * (p + 2)) % 3]}
                         for q in range(1, 21) for p, (m1, m2) in enumerate(itertools.combinations("xyz", 2))])


def judged_rows(pairs: list[tuple[str, str]], n_questions: int, *, turns: tuple = (None,), samples: tuple = (None,),
                weighted: bool = False, same_turns: bool = False) -> list[dict]:
    """judgments.jsonl pairwise rows with a deterministic winner per (question, pair, turn, sample, game);
    ``same_turns``: every turn of a question gets turn 1's winners."""
    rows = []
    for number, (q, (m1, m2), turn, sample, game) in enumerate(itertools.product(
            range(1, n_questions + 1), pairs, turns, samples, (1, 2))):
        turn_term = 3 * ((1 if same_turns else turn) or 1)
        code = (q * q + turn_term + 2 * (sample or 0) + (game if q % 3 == 0 else 0)
                + len(m1 + m2) * pairs.index((m1, m2))) % 5
        extra: dict = {"key": f"{number:064x}"}
        if turn is not None:
            extra["turn"] = turn
        if sample is not None:
            extra["sample"] = sample
        if weighted:
            a = 0.1 + 0.15 * code
            extra.update(verdict_probs={"A": a, "B": 0.9 - a, "C": 0.1}, probability_mass=1.0)
        rows.append(pairwise_row(q, game, ("model_1", "model_2", "tie", "model_1", "model_2")[code],
                                 model_1=m1, model_2=m2, **extra))
    return rows


def two_turn_pairwise(turn_1: str, turn_2: str) -> pd.DataFrame:
    """One pair (m vs base); question q's turn t is item "q/t" of cluster q; both games name the code's
    winner, so an item's outcome is 1, 0 or 0.5 (code 0: an error)."""
    rows = []
    for t, codes in ((1, turn_1), (2, turn_2)):
        for q, code in enumerate(codes):
            rows.append({"question_id": f"{q}/{t}", "cluster": q, "category": "x" if q < 5 else "y",
                         "model_1": "m", "model_2": "base", "g1_winner": CODES[code], "g2_winner": CODES[code]})
    return pd.DataFrame(rows)


def question_bootstrap(values: dict[int, list[float]], n_boot: int, seed: int) -> tuple[list[float], float]:
    """By hand: draw the questions (positions 0..Q-1 in sorted order) as numpy's default_rng(seed) does
    and average every value the drawn questions bring (none usable: no replicate); the percentile
    interval and the SD of the replicates."""
    questions = sorted(values)
    drawn = np.random.default_rng(seed).integers(0, len(questions), size=(n_boot, len(questions)))
    replicates = []
    for row in drawn:
        brought = [v for position in row for v in values[questions[position]] if not np.isnan(v)]
        if brought:
            replicates.append(sum(brought) / len(brought))
    lo, hi = np.quantile(replicates, [0.025, 0.975])
    return [float(lo), float(hi)], float(np.std(replicates, ddof=1))


def item_values(table: pd.DataFrame, questions: range) -> dict[int, list[float]]:
    """Per question (cluster), the outcomes of its items."""
    found: dict[int, list[float]] = {q: [] for q in questions}
    for row in table.itertuples(index=False):
        found[row.cluster].append(SCORE.get(row.g1_winner, np.nan))
    return found


# ------------------------------------------------------------------ one turn, one sample: unchanged


@pytest.fixture
def resampled(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any, Any]]:
    """What every bootstrap of a call resamples, recorded where it is decided: ``("units", question ids
    of the table's rows, each row's position among the units)`` from every ``resampling_units`` and
    ``("draws", (n_questions, n_boot, seed), drawn positions)`` from every ``question_draws``.

    A figure computed through numpy/scipy/BLAS can differ in its last bits between CPUs, so "the same
    as before" is checked on these inputs, exactly, and on the figures within 1e-9 relative."""
    common = importlib.import_module("jp_bench.stats.common")
    seen: list[tuple[str, Any, Any]] = []
    real_units, real_draws = common.resampling_units, common.question_draws

    def units(table: pd.DataFrame) -> tuple[list[Any], np.ndarray]:
        order, position = real_units(table)
        seen.append(("units", list(table["question_id"]), [order[i] for i in position]))
        return order, position

    def draws(n_questions: int, n_boot: int, seed: int | None) -> np.ndarray:
        drawn = real_draws(n_questions, n_boot, seed)
        seen.append(("draws", (n_questions, n_boot, seed), drawn.copy()))
        return drawn

    for name in ("jp_bench.stats.pairwise", "jp_bench.stats.single", "jp_bench.stats.ratings",
                 "jp_bench.reporting.judge_noise"):
        monkeypatch.setattr(importlib.import_module(name), "resampling_units", units)
    for name in ("jp_bench.stats.common", "jp_bench.stats.judge_noise"):  # bootstrap_counts looks it up in _common
        monkeypatch.setattr(importlib.import_module(name), "question_draws", draws)
    return seen


def assert_item_bootstrap(seen: list[tuple[str, Any, Any]], n_questions: int, n_boot: int, seed: int,
                          ranking_boot: int | None = None) -> None:
    """Every bootstrap recorded by ``resampled`` resampled as the item bootstrap did before the cluster
    bootstrap existed: each row is a unit of its own question id, and the draw is
    ``default_rng(seed).integers(0, Q, size=(n_boot, Q))`` over the Q question ids, sorted.
    ``ranking_boot``: the report's rankings draw their own number of replicates."""
    assert {kind for kind, _, _ in seen} == {"units", "draws"}
    for kind, what, found in seen:
        if kind == "units":
            assert found == what  # a row's unit is its own question id
            assert len(set(what)) == n_questions
        else:
            assert what in {(n_questions, n_boot, seed), (n_questions, ranking_boot, seed)}
            replicates = what[1]
            np.testing.assert_array_equal(
                found, np.random.default_rng(seed).integers(0, n_questions, size=(replicates, n_questions)))


def test_one_turn_one_sample_figures_are_those_of_before(resampled: list) -> None:
    """Figures computed by the item bootstrap before the cluster bootstrap existed: the same draws,
    exactly, and the same figures within 1e-9 relative."""
    a, b = pairwise_summary(one_turn_pairwise(), baseline="base", n_boot=400, seed=7)
    assert_item_bootstrap(resampled, 12, 400, 7)
    assert_close((a["ci95"], a["stderr"]), ([0.3333333333333333, 0.7083333333333334], 0.09312132568317787))
    assert_close((b["ci95"], b["stderr"]), ([0.3333333333333333, 0.7], 0.09562565932536787))
    assert_close({c: f["ci95"] for c, f in a["by_category"].items()}, {"x": [0.5, 1.0], "y": [0.125, 0.5]})
    resampled.clear()
    ranking = bradley_terry_bootstrap(one_turn_all_pairs(), n_boot=60, seed=3)
    assert_item_bootstrap(resampled, 20, 60, 3)
    assert_close([(m["model"], m["ci95"], m["stderr"]) for m in ranking["models"]], [
        ("y", [1025.6959059924975, 1110.6622671471525], 24.105829655428042),
        ("x", [987.213849537061, 1051.373461076461], 19.121632570450377),
        ("z", [904.9782149880837, 929.4572572620469], 6.905716503848759)])
    assert_close(ranking["position_bias_ci95"], [-0.5487766927433397, -0.14104674084125976])


def test_one_turn_one_sample_report_is_that_of_before(tmp_path: Path, resampled: list) -> None:
    one = write_jsonl(tmp_path / "one.jsonl", judged_rows([("g", "b")], 14, weighted=True))
    entry = build_report(load_judgments([one]), n_boot=300, seed=0)["pairwise"][0]
    assert_item_bootstrap(resampled, 14, 300, 0, ranking_boot=200)
    assert sum(kind == "draws" for kind, _, _ in resampled) >= 2  # the hard and the weighted interval
    assert_close((entry["ci95"], entry["stderr"]), ([0.25, 0.6071428571428571], 0.0890504944292628))
    assert_close((entry["weighted_ci95"], entry["weighted_stderr"]),
                 ([0.46249999999999997, 0.4946428571428571], 0.00842588752040104))
    every = write_jsonl(tmp_path / "all.jsonl", judged_rows([("x", "y"), ("x", "z"), ("y", "z")], 14))
    resampled.clear()
    ranking = build_report(load_judgments([every]), n_boot=300, seed=0)["rankings"][0]
    assert_item_bootstrap(resampled, 14, 300, 0, ranking_boot=200)
    assert (14, 200, 0) in [what for kind, what, _ in resampled if kind == "draws"]
    assert_close([(m["model"], m["ci95"]) for m in ranking["models"]], [
        ("z", [966.2791014812591, 1110.212700455451]), ("y", [957.4886940686121, 1118.583088889784]),
        ("x", [850.7419440399594, 1029.387926387608])])


def test_one_item_per_question_is_the_plain_question_bootstrap_whatever_the_labels(resampled: list) -> None:
    """Each question its own cluster, a sample column of one sample: the same draws, exactly, and the
    same figures (within 1e-9 relative: the check is on what was drawn, not on the last bits)."""
    table = one_turn_pairwise()
    plain = pairwise_summary(table, baseline="base", n_boot=300, seed=1)
    drawn_plain = list(resampled)
    resampled.clear()
    labelled = table.assign(cluster=table["question_id"], sample=0)
    assert_close(pairwise_summary(labelled, baseline="base", n_boot=300, seed=1), plain)
    assert_close(resampled, drawn_plain)
    assert_item_bootstrap(resampled, 12, 300, 1)
    every = one_turn_all_pairs()
    resampled.clear()
    alone = bradley_terry_bootstrap(every, n_boot=40, seed=2)
    drawn_alone = list(resampled)
    resampled.clear()
    assert_close(bradley_terry_bootstrap(every.assign(cluster=every["question_id"], sample=0), n_boot=40, seed=2),
                 alone)
    assert_close(resampled, drawn_alone)
    assert_item_bootstrap(resampled, 20, 40, 2)
    values = np.random.default_rng(0).integers(0, 3, size=(15, 2)) / 2.0
    for samples in (values[:, :1], values):
        resampled.clear()
        found = two_level_bootstrap(samples, 200, 4, 0.95, clusters=np.arange(15))
        drawn_clustered = list(resampled)
        resampled.clear()
        assert_close(found, two_level_bootstrap(samples, 200, 4, 0.95))
        assert_close(drawn_clustered, resampled)
        assert [what for kind, what, _ in resampled] == [(15, 200, 4)]


# ------------------------------------------------------------------------- turns: cluster bootstrap


@pytest.mark.parametrize(("turn_1", "turn_2"), [("1213312112", "1213312112"), ("1213312112", "3221102131")],
                         ids=["turns-agree", "turns-differ"])
def test_pairwise_turns_of_a_question_are_drawn_together(turn_1: str, turn_2: str) -> None:
    table = two_turn_pairwise(turn_1, turn_2)
    entry = pairwise_summary(table, n_boot=2000, seed=5)[0]
    values = item_values(table, range(10))
    usable = [v for vs in values.values() for v in vs if not np.isnan(v)]
    assert entry["adjusted_win_rate"] == pytest.approx(sum(usable) / len(usable))  # the mean over items, as before
    assert entry["n"] == len(usable)
    ci, sd = question_bootstrap(values, 2000, 5)
    assert entry["ci95"] == pytest.approx(ci, abs=1e-12) and entry["stderr"] == pytest.approx(sd, abs=1e-12)
    # Per category: the same draws, restricted to the category's questions.
    in_x = {q: v if q < 5 else [] for q, v in values.items()}
    replicates_x = question_bootstrap({q: v or [np.nan] for q, v in in_x.items()}, 2000, 5)
    assert entry["by_category"]["x"]["ci95"] == pytest.approx(replicates_x[0], abs=1e-12)
    # The item bootstrap (each (question, turn) drawn on its own) gives another interval.
    items = pairwise_summary(table.drop(columns="cluster"), n_boot=2000, seed=5)[0]
    assert items["adjusted_win_rate"] == entry["adjusted_win_rate"] and items["ci95"] != entry["ci95"]
    if turn_1 == turn_2:
        # Both turns always agree: a question is one value counted twice, so the item bootstrap, which
        # takes the turns for independent questions, is too narrow by about √2; the clustered interval is
        # the interval of the one-turn table.
        assert entry["stderr"] > 1.3 * items["stderr"]
        one_turn = table[table["question_id"].str.endswith("/1")].assign(question_id=lambda t: t["cluster"])
        alone = pairwise_summary(one_turn.drop(columns="cluster"), n_boot=2000, seed=5)[0]
        assert entry["ci95"] == pytest.approx(alone["ci95"], abs=1e-12)


def test_single_turns_of_a_question_are_drawn_together() -> None:
    rng = np.random.default_rng(8)
    first = rng.integers(1, 11, size=12).astype(float)
    second = np.where(np.arange(12) % 4 == 0, np.nan, first)  # turn 2 repeats turn 1; three unscored
    table = pd.DataFrame({"question_id": list(range(12)) * 2, "category": "c", "model": "m",
                          "score": np.concatenate([first, second]), "turn": [1] * 12 + [2] * 12})
    entry = single_summary(table, n_boot=1500, seed=2)[0]
    ci, sd = question_bootstrap({q: [first[q], second[q]] for q in range(12)}, 1500, 2)
    assert entry["ci95"] == pytest.approx(ci, abs=1e-12) and entry["stderr"] == pytest.approx(sd, abs=1e-12)
    # Per turn each question appears once: the plain question bootstrap of that turn.
    ci_2, _ = question_bootstrap({q: [second[q]] for q in range(12)}, 1500, 2)
    assert entry["by_turn"]["2"]["ci95"] == pytest.approx(ci_2, abs=1e-12)
    items = single_summary(table.assign(question_id=[f"{q}/{t}" for q, t in zip(table["question_id"], table["turn"],
                                                                               strict=True)]), n_boot=1500, seed=2)[0]
    assert entry["stderr"] > 1.2 * items["stderr"]


# -------------------------------------------------------------------------- samples: two levels


def two_level_by_hand(values: np.ndarray, clusters: list[int], n_boot: int, seed: int) -> np.ndarray:
    """Replicates of the two-level bootstrap with questions of several items: each draw of a question
    brings every item of it, each averaged over the question's draw of samples."""
    n_questions, n_samples = len(set(clusters)), values.shape[1]
    picked = np.random.default_rng(seed).integers(0, n_questions, size=(n_boot, n_questions))
    drawn = sample_draws(n_questions, n_samples, n_boot, seed)
    replicates = []
    for b in range(n_boot):
        brought = []
        for d, question in enumerate(picked[b]):
            for item in (i for i, c in enumerate(clusters) if c == question):
                chosen = [values[item, s] for s in drawn[b, d] if not np.isnan(values[item, s])]
                if chosen:
                    brought.append(sum(chosen) / len(chosen))
        replicates.append(sum(brought) / len(brought))
    return np.array(replicates)


def test_two_level_bootstrap_draws_a_question_with_all_its_items() -> None:
    rng = np.random.default_rng(1)
    values = rng.integers(0, 3, size=(9, 3)) / 2.0
    values[4, 1] = np.nan
    clusters = [0, 0, 1, 1, 2, 3, 3, 4, 4]  # question 2 has one item only
    found = two_level_bootstrap(values, 300, 6, 0.95, clusters=np.array(clusters))
    replicates = two_level_by_hand(values, clusters, 300, 6)
    assert found["ci95"] == pytest.approx(list(np.quantile(replicates, [0.025, 0.975])), abs=1e-12)
    assert found["stderr"] == pytest.approx(float(np.std(replicates, ddof=1)), abs=1e-12)
    assert found["mean"] == pytest.approx(float(np.nanmean(values, axis=1).mean()))  # over items, as before


def test_two_level_counts_are_the_draws_of_the_two_level_bootstrap() -> None:
    values = np.random.default_rng(2).normal(size=(20, 4))
    counts = two_level_counts(20, 4, 500, 9)
    assert counts.shape == (500, 20, 4) and (counts.sum(axis=(1, 2)) == 80).all()
    # With every sample present, the weighted mean of the counts is the replicate of two_level_bootstrap.
    weighted = (counts * values).sum(axis=(1, 2)) / 80
    assert two_level_bootstrap(values, 500, 9, 0.95)["stderr"] == pytest.approx(float(np.std(weighted, ddof=1)))
    np.testing.assert_array_equal(two_level_counts(20, 1, 500, 9)[:, :, 0], bootstrap_counts(20, 500, 9))


# ------------------------------------------------------------------------------- Bradley–Terry


def noisy_all_pairs(n_questions: int, n_samples: int, *, identical: bool = False) -> pd.DataFrame:
    """Three models, every pair; sample s of question q is item "q#s" of cluster q (as the report folds
    them); ``identical``: every sample says what sample 0 says."""
    winners = ("model_1", "model_2", "tie", "model_1")
    rows = []
    for q, s, (p, (m1, m2)) in itertools.product(range(n_questions), range(n_samples),
                                                 enumerate(itertools.combinations("xyz", 2))):
        noise = 0 if identical else s
        rows.append({"question_id": f"{q}#{s}", "cluster": q, "sample": s, "category": "c", "model_1": m1,
                     "model_2": m2, "g1_winner": winners[(q * q + p + noise) % 4],
                     "g2_winner": winners[(q + 2 * p + noise * noise) % 4]})
    return pd.DataFrame(rows)


def test_bradley_terry_two_level_interval_against_refits_of_drawn_games() -> None:
    """Reference: every replicate's games written out (a drawn question's drawn samples, each with all
    its games) and fitted on their own by the scipy fit."""
    table, n_boot, seed = noisy_all_pairs(8, 3), 25, 4
    found = bradley_terry_bootstrap(table, n_boot=n_boot, seed=seed)
    picked = np.random.default_rng(seed).integers(0, 8, size=(n_boot, 8))
    drawn = sample_draws(8, 3, n_boot, seed)
    by_unit = {key: rows for key, rows in table.groupby(["cluster", "sample"])}
    ratings = []
    for b in range(n_boot):
        games = pd.concat([by_unit[(q, s)] for d, q in enumerate(picked[b]) for s in drawn[b, d]])
        fit = bradley_terry(expand(games))
        ratings.append([fit["ratings"][m["model"]] for m in found["models"]])
    lo, hi = np.quantile(np.array(ratings), [0.025, 0.975], axis=0)
    for i, model in enumerate(found["models"]):
        assert model["ci95"] == pytest.approx([lo[i], hi[i]], abs=1e-5)
        assert model["stderr"] == pytest.approx(float(np.std(np.array(ratings)[:, i], ddof=1)), abs=1e-5)


def expand(games: pd.DataFrame) -> pd.DataFrame:
    from jp_bench.stats import expand_games

    # A unit drawn twice holds its rows twice: give each copy its own question id for the table check.
    return expand_games(games.assign(question_id=[f"{q}@{i}" for i, q in enumerate(games["question_id"])]))


def test_bradley_terry_with_samples_that_always_agree_is_the_one_sample_ranking() -> None:
    """S identical samples are S copies of the one-sample data: with the L2 prior scaled by 1/S the fit
    and every replicate are the one-sample ones. Taken as independent questions (the old interval), the
    copies make the interval about √S too narrow."""
    many = noisy_all_pairs(30, 4, identical=True)
    one = many[many["sample"] == 0].assign(question_id=lambda t: t["cluster"]).drop(columns=["cluster", "sample"])
    found = bradley_terry_bootstrap(many, n_boot=80, seed=1)
    alone = bradley_terry_bootstrap(one, n_boot=80, seed=1, l2=0.01 / 4)
    for mine, theirs in zip(found["models"], alone["models"], strict=True):
        assert mine["model"] == theirs["model"] and mine["rating"] == pytest.approx(theirs["rating"], abs=1e-6)
        assert mine["ci95"] == pytest.approx(theirs["ci95"], abs=1e-6)
    as_questions = bradley_terry_bootstrap(many.drop(columns=["cluster", "sample"]), n_boot=80, seed=1)
    assert all(old["stderr"] < 0.7 * new["stderr"] for old, new in zip(as_questions["models"], found["models"],
                                                                         strict=True))


def test_bradley_terry_turns_of_a_question_are_drawn_together() -> None:
    one = one_turn_all_pairs()
    both = pd.concat([one.assign(question_id=[f"{q}/{t}" for q in one["question_id"]], cluster=one["question_id"])
                      for t in (1, 2)], ignore_index=True)
    found = bradley_terry_bootstrap(both, n_boot=60, seed=3)
    alone = bradley_terry_bootstrap(one, n_boot=60, seed=3, l2=0.01 / 2)  # two identical turns: data twice
    assert [m["model"] for m in found["models"]] == [m["model"] for m in alone["models"]]
    assert np.ravel([m["ci95"] for m in found["models"]]) == pytest.approx(
        np.ravel([m["ci95"] for m in alone["models"]]), abs=1e-6)


# --------------------------------------------------------------------------- through jp-bench report


def test_report_json_interval_is_the_clustered_one(tmp_path: Path) -> None:
    rows = judged_rows([("g", "b")], 9, turns=(1, 2), same_turns=True)
    path = write_jsonl(tmp_path / "judgments.jsonl", rows)
    result = main_in_process("report", str(path), "--format", "json", "--bootstrap", "1000", "--seed", "3")
    assert result.returncode == 0, result.stderr[-2000:]
    entry = json.loads(result.stdout)["pairwise"][0]
    assert entry["n"] == 18  # every (question, turn) counted, FastChat's way
    # By hand from the rows: per (question, turn) the two games' outcome (they disagree: a tie).
    games: dict[tuple, dict[int, str]] = {}
    for row in rows:
        games.setdefault((row["question_id"], row["turn"]), {})[row["game"]] = row["winner"]
    values: dict[int, list[float]] = {q: [] for q in range(1, 10)}
    for (q, _turn), both in games.items():
        values[q].append(SCORE[both[1]] if both[1] == both[2] else 0.5)
    ci, sd = question_bootstrap(values, 1000, 3)
    assert entry["ci95"] == pytest.approx(ci, abs=1e-12) and entry["stderr"] == pytest.approx(sd, abs=1e-12)
    table = load_judgments([path]).pairwise.drop(columns="cluster", errors="ignore")
    items = pairwise_summary(table, baseline="b", n_boot=1000, seed=3)[0]  # (question, turn) drawn alone
    assert entry["adjusted_win_rate"] == items["adjusted_win_rate"] and entry["stderr"] > 1.2 * items["stderr"]


def test_report_ranking_with_samples_is_two_level(tmp_path: Path) -> None:
    rows = judged_rows([("x", "y"), ("x", "z"), ("y", "z")], 12, samples=(0, 1, 2))
    path = write_jsonl(tmp_path / "judgments.jsonl", rows)
    result = main_in_process("report", str(path), "--format", "json", "--seed", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    ranking = json.loads(result.stdout)["rankings"][0]
    pairs = load_judgments([path]).pairwise
    table = pairs.assign(question_id=[f"{q}#{s}" for q, s in zip(pairs["question_id"], pairs["sample"], strict=True)],
                         cluster=pairs["question_id"])
    expected = bradley_terry_bootstrap(table, seed=2)
    assert_close([(m["model"], m["ci95"]) for m in ranking["models"]],
                 [(m["model"], m["ci95"]) for m in expected["models"]])
    as_questions = bradley_terry_bootstrap(table.drop(columns=["cluster", "sample"]), seed=2)
    assert [m["ci95"] for m in ranking["models"]] != [m["ci95"] for m in as_questions["models"]]
