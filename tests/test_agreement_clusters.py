"""`jp-bench agreement`'s bootstrap resamples whole questions: a drawn question brings every comparison on
it, both turns of a multi-turn question and every pair of models compared on it (a cluster bootstrap,
drawn by the report's own ``question_draws``). With one comparison per question in question order the
draws are those of the earlier bootstrap of keys, exactly, and so are the intervals (compared within 1e-9
relative: a figure computed through numpy can differ in its last bits between CPUs)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jp_bench.stats.common import question_draws, resampling_units
from jp_bench.votes import (
    Comparisons,
    Vote,
    agreement_report,
    agreement_stats,
    bootstrap_ci,
    judge_human_comparisons,
    judge_judge_comparisons,
    make_vote,
    read_judge_votes,
)
from tests.support.cli import main_in_process
from tests.support.numbers import assert_close
from tests.support.paths import UPSTREAM_CHECKOUT

pytestmark = pytest.mark.unit

ALPHA, BETA, GAMMA = "alpha", "beta", "gamma"
N_BOOT, SEED = 1000, 7
QUESTIONS = list(range(81, 93))  # 12 two-turn questions (MT-Bench's ids)
# Per question: the judge's vote and the human's, the same on both turns of the question.
JUDGE = dict(zip(QUESTIONS, "ab" "ta" "bb" "aa" "ba" "bt", strict=True))
HUMAN = dict(zip(QUESTIONS, "ab" "aa" "ab" "ab" "bt" "bb", strict=True))
WINNER = {"a": "model_1", "b": "model_2", "t": "tie"}

PUBLISHED = UPSTREAM_CHECKOUT / "jp_bench" / "model_judgment" / "pairwise" / "gpt-4"
CALM_FILE = PUBLISHED / "pairwise:cyberagent--calm2-7b-chat_openai--text-davinci-003.jsonl"


def _published(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"reference data missing: {path} (set JP_BENCH_SHARED to the shared folder)")
    return path


def _votes(taste: dict[int, str], voter: str, turns: tuple[int, ...] = (1, 2)) -> list[Vote]:
    return [make_vote(q, ALPHA, BETA, WINNER[taste[q]], turn=turn, voter=voter) for q in QUESTIONS for turn in turns]


def _interval(agree: np.ndarray, total: np.ndarray, draws: np.ndarray) -> list[float]:
    """The percentile interval of a bootstrap whose units (rows of ``draws`` index them) bring ``agree``
    agreements out of ``total`` comparisons each."""
    rates = agree[draws].sum(axis=1) / total[draws].sum(axis=1)
    return [float(x) for x in np.percentile(rates, [2.5, 97.5])]


def _by_question(comparisons: Comparisons, ties: bool) -> tuple[np.ndarray, np.ndarray]:
    """Agreements and comparisons per question (sorted ids), counted in plain Python."""
    agree: dict = {}
    total: dict = {}
    for key, a, b in zip(comparisons.keys, comparisons.first, comparisons.second, strict=True):
        if not ties and 2 in (a, b):
            continue
        agree[key[0]] = agree.get(key[0], 0) + int(a == b)
        total[key[0]] = total.get(key[0], 0) + 1
    order = sorted(total)
    return np.array([agree[q] for q in order], dtype=float), np.array([total[q] for q in order], dtype=float)


def _question_bootstrap(comparisons: Comparisons, ties: bool, n_boot: int = N_BOOT, seed: int = SEED) -> list[float]:
    """The cluster bootstrap by hand: draw question positions (the report's draw), add up what they bring."""
    agree, total = _by_question(comparisons, ties)
    return _interval(agree, total, question_draws(len(total), n_boot, seed))


def _item_bootstrap(comparisons: Comparisons, n_boot: int = N_BOOT, seed: int = SEED, ties: bool = True) -> list[float]:
    """The earlier bootstrap: every key (question, pair, turn) an independent unit, in the order of the
    comparisons (``default_rng(seed).integers(0, K, size=(n_boot, K))`` over the K keys)."""
    keep = np.ones(len(comparisons.keys), dtype=bool) if ties else (comparisons.first != 2) & (comparisons.second != 2)
    index: dict = {}
    ids = np.array([index.setdefault(key, len(index)) for key, k in zip(comparisons.keys, keep, strict=True) if k])
    match = (comparisons.first == comparisons.second)[keep].astype(float)
    agree, total = np.bincount(ids, weights=match), np.bincount(ids).astype(float)
    return _interval(agree, total, np.random.default_rng(seed).integers(0, len(index), size=(n_boot, len(index))))


def _assert_units_are_the_keys(comparisons: Comparisons) -> None:
    """The cluster bootstrap resamples what the earlier one did: one unit per key, in the keys' order
    (so the same ``default_rng(seed).integers(0, K, size=(n_boot, K))`` draw picks the same comparisons)."""
    _, unit = resampling_units(pd.DataFrame({"question_id": pd.Series([key[0] for key in comparisons.keys],
                                                                      dtype=object)}))
    index: dict = {}
    assert unit.tolist() == [index.setdefault(key, len(index)) for key in comparisons.keys]


def _width(interval: list[float]) -> float:
    return interval[1] - interval[0]


# --------------------------------------------------------------------------------------- two turns


def test_both_turns_of_a_question_are_drawn_together() -> None:
    comparisons = judge_human_comparisons(_votes(JUDGE, "gpt-4o"), _votes(HUMAN, "expert_1"))
    assert len(comparisons.keys) == 24 and len({key[0] for key in comparisons.keys}) == 12
    stats = agreement_stats(comparisons, ties=True, n_boot=N_BOOT, seed=SEED)
    # Point estimate: the judge and the human agree on 81, 82, 84, 86, 87, 89, 91 (both turns each).
    assert (stats["agree"], stats["n"], stats["n_keys"], stats["n_questions"]) == (14, 24, 24, 12)
    assert stats["agreement"] == 14 / 24

    clustered = stats["ci95"]
    assert_close(clustered, _question_bootstrap(comparisons, ties=True))
    items = _item_bootstrap(comparisons)
    assert _width(clustered) > _width(items)  # turns that always agree are one draw, not two
    assert_close((clustered, items), ([0.3333333333333333, 0.8333333333333334], [0.375, 0.7916666666666666]))
    # A second turn that repeats the first adds no information: the interval of turn 1 alone.
    turn_1 = judge_human_comparisons(_votes(JUDGE, "gpt-4o", turns=(1,)), _votes(HUMAN, "expert_1", turns=(1,)))
    assert_close(clustered, agreement_stats(turn_1, ties=True, n_boot=N_BOOT, seed=SEED)["ci95"])

    untied = agreement_stats(comparisons, ties=False, n_boot=N_BOOT, seed=SEED)
    assert (untied["agree"], untied["n"], untied["n_questions"]) == (14, 18, 9)
    assert_close(untied["ci95"], _question_bootstrap(comparisons, ties=False))


def test_each_turn_alone_is_the_plain_question_bootstrap() -> None:
    (entry,) = agreement_report(_votes(HUMAN, "expert_1"), {"gpt-4o": _votes(JUDGE, "gpt-4o")}, n_boot=N_BOOT,
                                seed=SEED, kinds=["judge-human"])
    whole = judge_human_comparisons(_votes(JUDGE, "gpt-4o"), _votes(HUMAN, "expert_1"))
    assert_close(entry["with_ties"]["ci95"], _question_bootstrap(whole, ties=True))
    for turn in (1, 2):
        one_turn = whole.subset(lambda key, turn=turn: key[3] == turn)
        figures = entry["by_turn"][turn]["with_ties"]
        # One comparison per question: the cluster and the item bootstrap are the same draw.
        _assert_units_are_the_keys(one_turn)
        assert_close(figures["ci95"], _question_bootstrap(one_turn, ties=True))
        assert_close(figures["ci95"], _item_bootstrap(one_turn))
        assert figures["n_questions"] == 12


def test_a_drawn_question_brings_every_pair_and_every_vote() -> None:
    # Two pairs of models per question, both turns, two annotators: 8 comparisons per question.
    judge, humans = [], []
    for q in QUESTIONS:
        for pair, (m1, m2) in enumerate(((ALPHA, BETA), (BETA, GAMMA))):
            for turn in (1, 2):
                code = (q + pair + turn) % 3
                judge.append(make_vote(q, m1, m2, WINNER["abt"[code]], turn=turn, voter="gpt-4o"))
                humans.append(make_vote(q, m1, m2, WINNER["abt"[(code + q % 2) % 3]], turn=turn, voter="expert_1"))
                humans.append(make_vote(q, m1, m2, WINNER["abt"[code * q % 3]], turn=turn, voter="expert_2"))
    comparisons = judge_human_comparisons(judge, humans)
    assert len(comparisons.keys) == 12 * 8
    for ties in (True, False):
        stats = agreement_stats(comparisons, ties=ties, n_boot=N_BOOT, seed=SEED)
        assert_close(stats["ci95"], _question_bootstrap(comparisons, ties=ties))
        assert stats["n_questions"] == 12
    # The order of the votes does not matter: questions are drawn in sorted order.
    backwards = judge_human_comparisons(judge[::-1], humans[::-1])
    assert_close(bootstrap_ci(backwards.keys, backwards.first == backwards.second, N_BOOT, SEED),
                 agreement_stats(comparisons, ties=True, n_boot=N_BOOT, seed=SEED)["ci95"])


# -------------------------------------------------------------------------------------- one turn


def test_one_comparison_per_question_in_order_keeps_the_earlier_figures() -> None:
    single = judge_human_comparisons(_votes(JUDGE, "gpt-4o", turns=(1,)), _votes(HUMAN, "expert_1", turns=(1,)))
    _assert_units_are_the_keys(single)
    for seed in (0, 3, SEED):
        assert_close(agreement_stats(single, ties=True, n_boot=N_BOOT, seed=seed)["ci95"],
                     _item_bootstrap(single, seed=seed))
    assert_close(agreement_stats(single, ties=True, n_boot=N_BOOT, seed=SEED)["ci95"], [1 / 3, 0.8333333333333334])
    # 60 questions, votes of every kind, so that the percentiles fall between replicates.
    codes = "abt"
    judge = [make_vote(q, ALPHA, BETA, WINNER[codes[q * q % 3]], voter="gpt-4o") for q in range(1, 61)]
    human = [make_vote(q, ALPHA, BETA, WINNER[codes[(q * q + q // 4) % 3]], voter="expert_1") for q in range(1, 61)]
    many = judge_human_comparisons(judge, human)
    _assert_units_are_the_keys(many)
    for ties in (True, False):
        for seed in (0, 3):
            figures = agreement_stats(many, ties=ties, n_boot=N_BOOT, seed=seed)["ci95"]
            assert_close(figures, _item_bootstrap(many, seed=seed, ties=ties))
    assert_close(agreement_stats(many, ties=True, n_boot=N_BOOT, seed=0)["ci95"],
                 [0.21625000000000003, 0.4666666666666667])


def test_one_comparison_per_question_in_another_order_is_drawn_in_question_order() -> None:
    # The earlier bootstrap drew keys in the order the comparisons came in (the judge's file order), so
    # the same votes in another order gave another interval; now questions are drawn sorted.
    single = judge_human_comparisons(_votes(JUDGE, "gpt-4o", turns=(1,)), _votes(HUMAN, "expert_1", turns=(1,)))
    order = list(range(len(single.keys)))
    random.Random(5).shuffle(order)
    shuffled = Comparisons(tuple(single.keys[i] for i in order), single.first[order], single.second[order])
    for seed in (0, 3):
        figures = agreement_stats(single, ties=True, n_boot=N_BOOT, seed=seed)["ci95"]
        assert_close(agreement_stats(shuffled, ties=True, n_boot=N_BOOT, seed=seed)["ci95"], figures)
        assert_close(figures, _item_bootstrap(single, seed=seed))
    assert _item_bootstrap(shuffled, seed=0) != _item_bootstrap(single, seed=0)  # what the old draw did


def test_the_published_single_pair_file_keeps_its_figures() -> None:
    # 80 single-turn questions, one pair, in question order: one comparison per question, as before.
    (entry,) = agreement_report([], {"gpt-4": read_judge_votes(_published(CALM_FILE))["gpt-4"]})
    assert entry["kind"] == "swapped-order" and entry["with_ties"]["n_questions"] == 80
    assert_close(entry["with_ties"]["ci95"], [0.7625, 0.925])
    assert_close(entry["without_ties"]["ci95"], [0.7948717948717948, 0.9487179487179487])


def test_the_published_two_pair_folder_clusters_its_pairs() -> None:
    # Two pairs per question (calm2 and another model, each against davinci): the pairs of one question
    # are drawn together now; the earlier bootstrap of 160 keys gave [0.81875, 0.925] and
    # [0.8691176470588236, 0.954248366013072].
    jv = read_judge_votes(_published(PUBLISHED))["gpt-4"]
    comparisons = judge_judge_comparisons(jv.game1, jv.game2)
    assert len(comparisons.keys) == 160
    (entry,) = agreement_report([], {"gpt-4": jv})
    assert entry["with_ties"]["n_questions"] == 80
    assert_close(entry["with_ties"]["ci95"], [0.825, 0.925])
    assert_close(entry["with_ties"]["ci95"], _question_bootstrap(comparisons, True, seed=0))
    assert_close(entry["without_ties"]["ci95"], [0.864516129032258, 0.9487179487179487])
    assert_close(_item_bootstrap(comparisons, seed=0), [0.81875, 0.925])


# --------------------------------------------------------------------------------------------- CLI


def _fastchat_record(q: int, turn: int, code: str) -> dict:
    """One FastChat MT-Bench pairwise record (both games name the same winner, or disagree for a tie)."""
    g1, g2 = (WINNER[code], WINNER[code]) if code != "t" else ("model_1", "model_2")
    return {"question_id": q, "model_1": ALPHA, "model_2": BETA, "g1_winner": g1, "g2_winner": g2,
            "judge": ["gpt-4", "pair-v2" if turn == 1 else "pair-v2-multi-turn"], "g1_user_prompt": "...",
            "g1_judgment": "[[A]]", "g2_user_prompt": "...", "g2_judgment": "[[B]]", "turn": turn, "tstamp": 1.0}


def test_cli_reports_the_clustered_interval(tmp_path: Path) -> None:
    judged = tmp_path / "model_judgment"
    judged.mkdir()
    (judged / "gpt-4_pair.jsonl").write_text(
        "".join(json.dumps(_fastchat_record(q, turn, JUDGE[q])) + "\n" for q in QUESTIONS for turn in (1, 2)),
        encoding="utf-8")
    human = tmp_path / "human.jsonl"
    human.write_text("".join(json.dumps({"question_id": q, "model_a": ALPHA, "model_b": BETA,
                                         "winner": WINNER[HUMAN[q]].replace("model_1", "model_a").replace(
                                             "model_2", "model_b"), "judge": "expert_1", "turn": turn}) + "\n"
                             for q in QUESTIONS for turn in (1, 2)), encoding="utf-8")

    result = main_in_process("agreement", "--human", str(human), "--judgments", str(judged), "--format", "json",
                     "--bootstrap", str(N_BOOT), "--seed", str(SEED))
    assert result.returncode == 0, result.stderr
    entries = {entry["kind"]: entry for entry in json.loads(result.stdout)}
    judge_human = entries["judge-human"]
    assert judge_human["pair"] == "gpt-4 vs human"
    figures = judge_human["with_ties"]
    assert (figures["agreement"], figures["n"], figures["n_keys"], figures["n_questions"]) == (14 / 24, 24, 24, 12)

    by_hand = judge_human_comparisons(_votes(JUDGE, "gpt-4"), _votes(HUMAN, "expert_1"))
    assert_close(figures["ci95"], _question_bootstrap(by_hand, ties=True))
    assert_close(figures["ci95"], [0.3333333333333333, 0.8333333333333334])
    assert _width(figures["ci95"]) > _width(_item_bootstrap(by_hand))
    assert_close(judge_human["without_ties"]["ci95"], _question_bootstrap(by_hand, ties=False))
    for turn in ("1", "2"):
        assert judge_human["by_turn"][turn]["with_ties"]["n_questions"] == 12
    # The judge's own two orders: ties where its games disagree (83 and 92, both turns).
    swapped = entries["swapped-order"]["with_ties"]
    assert (swapped["agree"], swapped["n"], swapped["n_questions"]) == (20, 24, 12)
