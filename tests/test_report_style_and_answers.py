"""`jp-bench report` carries style control and the answer checks: `style_controlled` beside the raw figures,
the judge's style coefficients in its diagnostics, and per model `japanese_share`, `non_japanese_answers`
and `reasoning_removed`, from the features our judgment rows record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.cli import main_in_process
from tests.support.files import write_jsonl
from tests.support.judgment_rows import pairwise_row, single_row

pytestmark = pytest.mark.unit

QUESTIONS = 60
ENGLISH = {3, 17, 41}  # the questions m1 answered in English
REASONING = {5}  # the question whose m1 answer carried <think>…</think>


def _features(headers: int, share: float | None = 0.95, reasoning: int = 0) -> dict[str, Any]:
    return {"headers": headers, "list_items": 2, "bold": 0, "japanese_share": share, "reasoning_chars": reasoning}


def _styled_rows() -> list[dict[str, Any]]:
    """m1 and m2 against the baseline, equally good; the judge only counts markdown headers (more wins
    both games, equal is a tie), and m1 writes more of them than the baseline, m2 as many."""
    rng = np.random.default_rng(7)
    rows = []
    for model, low, high in (("m1", 1, 5), ("m2", 0, 3)):
        for question in range(1, QUESTIONS + 1):
            mine, theirs = int(rng.integers(low, high)), int(rng.integers(0, 3))
            winner = "model_1" if mine > theirs else "model_2" if mine < theirs else "tie"
            share = 0.1 if model == "m1" and question in ENGLISH else 0.95
            reasoning = 120 if model == "m1" and question in REASONING else 0
            # Lengths unrelated to the headers, so the fit can tell the two apart.
            chars = {"answer_1_chars": int(rng.integers(200, 600)), "answer_2_chars": int(rng.integers(200, 600))}
            for game in (1, 2):
                rows.append(pairwise_row(question, game, winner, model_1=model, model_2="base", **chars,
                                         answer_1_features=_features(mine, share, reasoning),
                                         answer_2_features=_features(theirs, 1.0)))
    return rows


@pytest.fixture(scope="module")
def styled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import jp_bench

    path = write_jsonl(tmp_path_factory.mktemp("styled") / "judgments.jsonl", _styled_rows())
    return jp_bench.report(path, bootstrap=200).to_dict()


def test_style_control_takes_out_a_judge_that_counts_headers(styled: dict[str, Any]) -> None:
    entries = {e["model"]: e for e in styled["pairwise"]}
    # Raw: m1 wins by writing more headers. At equal style nothing separates it from the baseline.
    assert entries["m1"]["adjusted_win_rate"] > 0.75
    controlled = entries["m1"]["style_controlled"]
    # (Equal headers are ties, so at equal style the rate is pinned near 0.5 with a narrow interval.)
    assert controlled["win_rate"] == pytest.approx(0.5, abs=0.03)
    assert controlled["ci95"][0] < 0.53 and controlled["ci95"][1] > 0.47
    assert entries["m2"]["style_controlled"]["win_rate"] == pytest.approx(0.5, abs=0.03)
    # The judge's diagnostics name headers as what moved its verdicts; the list items never differ.
    coefficients = styled["diagnostics"]["gpt-4o"]["style"]["coefficients"]
    assert coefficients["headers"]["ci95"][0] > 0
    assert coefficients["headers"]["beta"] > abs(coefficients["length"]["beta"])
    assert "list_items" not in coefficients
    # Three models: the ranking carries style-controlled ratings beside the raw ones.
    (ranking,) = styled["rankings"]
    raw = {m["model"]: m["rating"] for m in ranking["models"]}
    even = {m["model"]: m["rating"] for m in ranking["style_controlled"]["models"]}
    assert raw["m1"] - raw["base"] > 100
    assert abs(even["m1"] - even["base"]) < abs(raw["m1"] - raw["base"]) / 3


def test_answer_checks_per_model(styled: dict[str, Any]) -> None:
    m1 = next(e for e in styled["pairwise"] if e["model"] == "m1")
    expected_share = ((QUESTIONS - len(ENGLISH)) * 0.95 + len(ENGLISH) * 0.1) / QUESTIONS
    assert m1["japanese_share"] == pytest.approx(expected_share, rel=1e-12)
    assert (m1["non_japanese_answers"], m1["measured_answers"], m1["reasoning_removed"]) == (3, QUESTIONS, 1)
    m2 = next(e for e in styled["pairwise"] if e["model"] == "m2")
    assert m2["japanese_share"] == pytest.approx(0.95, rel=1e-12)
    assert (m2["non_japanese_answers"], m2["reasoning_removed"]) == (0, 0)
    notes = [note for note in styled["notes"] if "'m1'" in note]
    assert any("3 of 60 answer(s)" in note and "Japanese threshold" in note for note in notes)
    assert any("1 answer(s)" in note and "<think>" in note for note in notes)


def test_single_entries_carry_the_answer_checks(tmp_path: Path) -> None:
    import jp_bench

    rows = [single_row(q, "m1", 7.0, answer_features=_features(0, 0.0 if q == 1 else None if q == 2 else 0.9))
            for q in range(1, 5)] + [single_row(q, "m2", 6.0) for q in range(1, 5)]  # m2: rows written before
    report = jp_bench.report(write_jsonl(tmp_path / "judgments.jsonl", rows), bootstrap=50).to_dict()
    entries = {e["model"]: e for e in report["single"]}
    # Question 2 has nothing to measure (only code, say): it is neither Japanese nor flagged.
    assert entries["m1"]["japanese_share"] == pytest.approx((0.0 + 0.9 + 0.9) / 3, rel=1e-12)
    assert (entries["m1"]["non_japanese_answers"], entries["m1"]["measured_answers"]) == (1, 3)
    assert (entries["m2"]["japanese_share"], entries["m2"]["measured_answers"]) == (None, 0)


def test_the_table_shows_the_new_columns(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "judgments.jsonl", _styled_rows())
    done = main_in_process("report", str(path), "--bootstrap", "50")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    header = next(line for line in out.splitlines() if line.split()[:2] == ["judge", "model"])
    assert "SC win rate" in header and "ja share" in header and "non-ja" in header
    assert "Style bias" in out and "SC rating" in out


def test_the_threshold_the_judging_run_used(tmp_path: Path) -> None:
    import jp_bench

    path = write_jsonl(tmp_path / "judgments.jsonl", _styled_rows())
    stricter = jp_bench.report(path, bootstrap=0, japanese_threshold=0.96).to_dict()
    m1 = next(e for e in stricter["pairwise"] if e["model"] == "m1")
    assert m1["non_japanese_answers"] == QUESTIONS  # every 0.95 answer falls under 0.96 too
    done = main_in_process("report", str(path), "--japanese-threshold", "1.5")
    assert done.returncode == 2 and "--japanese-threshold" in done.stderr
