"""The judges leaderboard on score references: human ratings of llm-jp's llm-human-eval-jp layout (a
synthetic file), candidates whose scores are a known transform, votes read off scores, human votes
references, and the cost per 1,000 judgments measured from the store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import jp_bench
from jp_bench.errors import InputFileError, JpBenchError
from jp_bench.judge_board.human_ratings import read_human_ratings
from jp_bench.llm.store import CallRecord, Store
from tests.support.files import write_jsonl
from tests.support.judge_board_files import PAPER_PAIRWISE, paper_records, write_human_ratings
from tests.support.judgment_rows import pairwise_row, single_row
from tests.support.numbers import assert_close

pytestmark = pytest.mark.unit

MODELS = ("llm_a", "llm_b", "llm_c", "llm_d")


@pytest.fixture
def ratings(tmp_path: Path) -> tuple[Path, dict[tuple[str, str, int], float]]:
    """20 prompts (every fourth with a second turn), 4 models, 3 raters; returns the file and each answer's
    raters' mean (worked out here from the ratings written)."""
    rng = np.random.default_rng(5)
    written: dict[tuple[str, str, int], list[object]] = {}
    for p in range(20):
        for turn in (1, 2) if p % 4 == 0 else (1,):
            for m, model in enumerate(MODELS):
                written[(f"src###{p}", model, turn)] = [int(v) for v in np.clip(rng.integers(1, 6, 3) + (m % 2), 1, 5)]
    written[("src###0", "llm_a", 1)] = [4, "NA", 5]  # not rated by one rater
    written[("src###1", "llm_b", 1)] = [0, 2, 2]  # a 0: no score
    means = {key: float(np.mean([v for v in scores if isinstance(v, int) and 1 <= v <= 5]))
             for key, scores in written.items()}
    return write_human_ratings(tmp_path / "ratings.jsonl", written), means


def our_single_rows(path: Path, judge: str, scores: dict[tuple[str, str, int], float]) -> Path:
    return write_jsonl(path, [single_row(q, model, score, turn=turn, judge=judge, key=f"{judge}-{q}-{model}-{turn}")
                              for (q, model, turn), score in scores.items()])


def test_human_ratings_are_the_raters_mean_per_answer(ratings: tuple[Path, dict]) -> None:
    path, means = ratings
    read = read_human_ratings(path)
    assert read.axis == "overall" and read.raters == 3 and read.missing == 2
    assert_close(read.scores, means)
    assert read.prompts["src###0"] == ["質問 src###0 の 1 番目", "質問 src###0 の 2 番目"]
    assert len(read.responses[("src###0", "llm_c")]) == 2
    assert set(read_human_ratings(path, "fluency").scores.values()) == {3.0}
    with pytest.raises(JpBenchError, match="no item has ratings on the axis 'depth'"):
        read_human_ratings(path, "depth")
    bad = path.parent / "bad.jsonl"
    bad.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n" + json.dumps(
        {"id": "x", "turns": [{"prompt": "p", "responses": {"llm_a": {"response": 3}}}]}) + "\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"bad.jsonl:2: field 'turns.0.responses.llm_a.response'"):
        read_human_ratings(bad)


def test_scores_of_a_known_transform_against_human_ratings(tmp_path: Path, ratings: tuple[Path, dict]) -> None:
    path, means = ratings
    linear = {key: 1 + (mean - 1) * 9 / 4 for key, mean in means.items()}  # 1-5 onto 1-10 exactly
    squared = {key: 1 + (mean - 1) ** 2 * 9 / 16 for key, mean in means.items()}  # monotone, not linear
    board = jp_bench.compare_judges(path, [our_single_rows(tmp_path / "linear.jsonl", "linear", linear),
                                           our_single_rows(tmp_path / "squared.jsonl", "squared", squared)],
                                    bootstrap=150)
    entries = {e["judge"]: e for e in board.judges}
    assert board.reference["kind"] == "human ratings" and board.reference["scale"] == [1.0, 5.0]
    exact = entries["linear"]["scores"]
    assert_close([exact["pearson"], exact["spearman"], exact["mae"]], [1.0, 1.0, 0.0], abs_tol=1e-12)
    assert exact["n"] == len(means) and exact["scale"] == [1.0, 5.0] and exact["candidate_scale"] == [1.0, 10.0]
    assert entries["linear"]["ranking"]["basis"] == "mean score" and entries["linear"]["ranking"]["spearman"] == 1.0
    keys = sorted(means, key=repr)
    mine = np.array([1 + (squared[k] - 1) * 4 / 9 for k in keys])  # the candidate's scores back on 1-5
    theirs = np.array([means[k] for k in keys])
    bent = entries["squared"]["scores"]
    assert_close(bent["pearson"], stats.pearsonr(mine, theirs)[0])
    assert_close(bent["spearman"], 1.0)
    assert_close(bent["mae"], float(np.mean(np.abs(mine - theirs))))
    assert bent["pearson"] < 1.0 and bent["pearson_ci95"][0] <= bent["pearson"] <= bent["pearson_ci95"][1]
    # Votes read off the scores on both sides: the linear judge orders every pair as the raters' means do.
    assert entries["linear"]["agreement"]["votes_from_scores"] == "both"
    assert entries["linear"]["agreement"]["with_ties"]["agreement"] == 1.0
    assert any("rescaled linearly onto the reference's 1–5" in note for note in board.notes)


def test_a_pairwise_judge_against_human_ratings(tmp_path: Path, ratings: tuple[Path, dict]) -> None:
    """The reference's votes are read off its scores on the pairs the judge compared."""
    path, means = ratings
    rows = []
    for (q, model, turn), mean in means.items():
        if model != "llm_a":
            other = means[(q, "llm_a", turn)]
            winner = "model_1" if mean > other else "model_2" if other > mean else "tie"
            rows += [pairwise_row(q, game, winner, model_1=model, model_2="llm_a", turn=turn, judge="votes",
                                  key=f"v-{q}-{model}-{turn}-{game}") for game in (1, 2)]
    board = jp_bench.compare_judges(path, write_jsonl(tmp_path / "votes.jsonl", rows), bootstrap=100)
    (entry,) = board.judges
    assert entry["agreement"]["votes_from_scores"] == "reference"
    assert entry["agreement"]["with_ties"]["agreement"] == 1.0
    assert entry["coverage"]["items"] == entry["coverage"]["of"] == len(means)  # every answer was in a pair
    assert entry["scores"] is None and entry["bias"]["position_consistency"] == 1.0


def test_a_human_votes_reference(tmp_path: Path) -> None:
    records = paper_records()[:80]  # calm2 vs davinci
    votes = []
    for record in records[:30]:
        verdict = record["g1_winner"] if record["g1_winner"] == record["g2_winner"] else "tie"
        for annotator in ("expert_1", "expert_2"):
            votes.append({"question_id": record["question_id"], "model_a": record["model_1"],
                          "model_b": record["model_2"], "winner": {"model_1": "model_a", "model_2": "model_b"}
                          .get(verdict, "tie"), "annotator": annotator})
    human = write_jsonl(tmp_path / "votes.jsonl", votes)
    board = jp_bench.compare_judges(human, PAPER_PAIRWISE, bootstrap=100)
    (entry,) = board.judges
    assert board.reference["kind"] == "human votes" and board.reference["raters"] == 2
    figures = entry["agreement"]["with_ties"]
    assert (figures["agreement"], figures["n"]) == (1.0, 60)  # each human vote compared, both agree
    assert entry["coverage"] == {"items": 30, "of": 30, "share": 1.0, "low": False}


def test_cost_and_time_per_thousand_judgments_come_from_the_store(tmp_path: Path) -> None:
    rows = [pairwise_row(q, game, "model_1", judge="cheap", key=f"key-{q}-{game}", cost_usd=0.001 * q)
            for q in range(1, 11) for game in (1, 2)]
    judged = write_jsonl(tmp_path / "judged" / "judgments.jsonl", rows)
    reference = write_jsonl(tmp_path / "reference.jsonl", [{**row, "judge": "ref", "key": "r" + row["key"]}
                                                         for row in rows])
    workspace = tmp_path / "ws.sqlite"
    with Store(workspace) as store:
        for row in rows:
            store.put(CallRecord(row["key"], purpose="judge:cheap", model="m", request={}, reply="[[A]]",
                                 parsed="A", status="ok", cost_usd=0.002, started_at=100.0))
    with sqlite3.connect(workspace) as db:  # when each call was answered: 0.5 s or 1.5 s after it was sent
        db.execute("UPDATE calls SET finished_at = started_at + CASE WHEN key LIKE '%-1' THEN 0.5 ELSE 1.5 END")
    from_store = jp_bench.compare_judges(reference, judged.parent, workspace=workspace, bootstrap=0).judges[0]
    assert from_store["cost"]["source"] == "store" and from_store["cost"]["judgments"] == 20
    assert_close(from_store["cost"]["usd_per_1000"], 2.0)  # 0.002 a call
    assert_close(from_store["cost"]["wall_s_per_1000"], 1000.0)  # mean latency 1 s
    elsewhere = jp_bench.compare_judges(reference, judged.parent, workspace=tmp_path / "other.sqlite",
                                        bootstrap=0).judges[0]
    assert elsewhere["cost"]["source"] == "rows" and elsewhere["cost"]["wall_s_per_1000"] is None
    assert_close(elsewhere["cost"]["usd_per_1000"], 1000 * sum(0.001 * q * 2 for q in range(1, 11)) / 20)
    assert from_store["agreement"]["with_ties"]["agreement"] == 1.0 and from_store["agreement"]["with_ties"][
        "ci95"] is None  # bootstrap 0: no intervals


def test_judge_noise_from_samples_and_sample_zero_for_the_rest(tmp_path: Path) -> None:
    reference = {(q, model, 1): float(2 + (q + m) % 7) for q in range(1, 13) for m, model in enumerate("xyz")}
    rows = [single_row(q, model, score + k, sample=k, judge="noisy", key=f"n-{q}-{model}-{k}")
            for (q, model, _), score in reference.items() for k in range(3)]  # samples s, s+1, s+2
    board = jp_bench.compare_judges(our_single_rows(tmp_path / "ref.jsonl", "ref", reference),
                                    write_jsonl(tmp_path / "noisy.jsonl", rows), bootstrap=100)
    (entry,) = board.judges
    # Per answer the three samples have variance 1 (ddof 1): the judge's SD is 1.
    assert entry["noise"]["samples"] == 3
    assert_close(entry["noise"]["judge_sd"], 1.0)
    # Sample 0 is the reference's score exactly.
    assert_close([entry["scores"]["pearson"], entry["scores"]["mae"]], [1.0, 0.0], abs_tol=1e-12)
    assert entry["errors"] == {"count": 0, "of": len(rows), "rate": 0.0}
    assert any("3 judge samples" in note for note in board.notes)


def test_two_turns_of_a_question_are_two_items_of_one_question(tmp_path: Path) -> None:
    winners = ["model_1", "model_2", "tie"]
    rows = [pairwise_row(q, game, winners[(q + turn) % 3], turn=turn, key=f"{q}-{turn}-{game}")
            for q in range(1, 9) for turn in (1, 2) for game in (1, 2)]
    reference = write_jsonl(tmp_path / "ref.jsonl", [{**row, "judge": "ref"} for row in rows])
    candidate = write_jsonl(tmp_path / "cand.jsonl", [{**row, "judge": "cand"} for row in rows])
    (entry,) = jp_bench.compare_judges(reference, candidate, bootstrap=50).judges
    figures = entry["agreement"]["with_ties"]
    assert (figures["agreement"], figures["n"], figures["n_keys"], figures["n_questions"]) == (1.0, 16, 16, 8)
    assert entry["coverage"]["items"] == 16
