"""`jp-bench judges compare`: stand-in candidate judges of known design scored against the paper's GPT-4
judgments, and the bootstrap figures checked against the figure of the resampled data itself."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import jp_bench
from jp_bench.errors import JpBenchError
from jp_bench.judge_board import metrics
from jp_bench.stats.common import question_draws
from jp_bench.stats.diagnostics import judge_diagnostics
from jp_bench.votes import cohen_kappa
from tests.support.cli import main_in_process
from tests.support.judge_board_files import (
    PAPER_PAIRWISE,
    SWAP,
    combined,
    item,
    paper_records,
    prefer_longer,
    write_candidate,
)
from tests.support.numbers import assert_close

pytestmark = pytest.mark.unit

BOOT = 200
LABEL = {"model_1": 0, "model_2": 1, "tie": 2}


def designed_kappa(pairs: list[tuple[str, str]]) -> float:
    """Cohen's kappa of (candidate, reference) verdict pairs, from their confusion counts."""
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    chance = sum(first[label] * second[label] for label in set(first) | set(second)) / n**2
    return (observed - chance) / (1 - chance)


def within(value: float, ci: list[float]) -> bool:
    return ci[0] - 1e-12 <= value <= ci[1] + 1e-12


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return paper_records()


def entries_of(board: jp_bench.JudgesBoard) -> dict[str, dict]:
    return {entry["judge"]: entry for entry in board.judges}


def test_the_copy_of_the_reference_gets_one_everywhere(tmp_path: Path, records: list[dict]) -> None:
    copy = write_candidate(tmp_path / "copy.jsonl", records, "copy", lambda r: (r["g1_winner"], r["g2_winner"]))
    board = jp_bench.compare_judges(PAPER_PAIRWISE, copy, bootstrap=BOOT)
    (entry,) = board.judges
    assert entry["coverage"] == {"items": 160, "of": 160, "share": 1.0, "low": False}
    for ties in ("with_ties", "without_ties"):
        figures = entry["agreement"][ties]
        assert (figures["agreement"], figures["kappa"], figures["ci95"], figures["kappa_ci95"]) == (
            1.0, 1.0, [1.0, 1.0], [1.0, 1.0])
    assert entry["agreement"]["with_ties"]["n"] == 160
    ranking = entry["ranking"]
    assert (ranking["spearman"], ranking["kendall"], ranking["same_top"], ranking["same_top_share"]) == (
        1.0, 1.0, True, 1.0)
    assert ranking["basis"] == "win rate" and len(ranking["models"]) == 3
    # The copy's biases are the reference's own, as jp-bench report computes them.
    reference_bias = board.reference["bias"]
    for name in ("position_consistency", "first_slot_preference", "prefer_longer"):
        assert entry["bias"][name] == reference_bias[name]
    assert board.reference["kind"] == "judge" and board.reference["pairwise_items"] == 160


@pytest.mark.parametrize("share", [0.0, 0.2, 0.4])
def test_flipping_a_known_share_of_verdicts_gives_the_designed_agreement_and_kappa(
        tmp_path: Path, records: list[dict], share: float) -> None:
    decided = [item(r) for r in records if combined(r) != "tie"]
    rng = np.random.default_rng(20240601)
    flipped = {decided[i] for i in rng.choice(len(decided), size=round(share * len(decided)), replace=False)}

    def games(record: dict) -> tuple[str, str]:
        if item(record) in flipped:  # the other model wins both games: the verdict flips
            return SWAP[record["g1_winner"]], SWAP[record["g2_winner"]]
        return record["g1_winner"], record["g2_winner"]

    path = write_candidate(tmp_path / "flip.jsonl", records, f"flip-{share}", games)
    (entry,) = jp_bench.compare_judges(PAPER_PAIRWISE, path, bootstrap=BOOT).judges
    # The design: every flipped item is a decided one, so it disagrees; the rest agree.
    pairs = [(SWAP[combined(r)] if item(r) in flipped else combined(r), combined(r)) for r in records]
    untied = [(a, b) for a, b in pairs if "tie" not in (a, b)]
    designed = {"with_ties": (1 - len(flipped) / len(records), designed_kappa(pairs)),
                "without_ties": (1 - len(flipped) / len(untied), designed_kappa(untied))}
    for ties, (agreement, kappa) in designed.items():
        figures = entry["agreement"][ties]
        assert_close(figures["agreement"], agreement)
        assert_close(figures["kappa"], kappa)
        assert within(agreement, figures["ci95"]) and within(kappa, figures["kappa_ci95"]), (ties, figures)
    if share == 0.0:
        assert entry["agreement"]["with_ties"]["kappa"] == 1.0


def test_a_judge_that_prefers_longer_answers(tmp_path: Path, records: list[dict]) -> None:
    path = write_candidate(tmp_path / "longer.jsonl", records, "longer", prefer_longer)
    copy = write_candidate(tmp_path / "copy.jsonl", records, "copy", lambda r: (r["g1_winner"], r["g2_winner"]))
    board = jp_bench.compare_judges(PAPER_PAIRWISE, [path, copy], bootstrap=BOOT)
    assert [e["judge"] for e in board.judges] == ["copy", "longer"]  # best agreement first
    bias = entries_of(board)["longer"]["bias"]
    # By design: the longer answer always wins; both orders agree; A is the longer answer in one game of two.
    assert bias["prefer_longer"] == 1.0 and within(1.0, bias["prefer_longer_ci95"])
    assert bias["position_consistency"] == 1.0 and bias["first_slot_preference"] == 0.5
    assert bias["n_longer"] == sum(len(r["answer_1"]) != len(r["answer_2"]) for r in records)
    pairs = [(prefer_longer(r)[0], combined(r)) for r in records]
    figures = entries_of(board)["longer"]["agreement"]["with_ties"]
    assert_close(figures["agreement"], sum(a == b for a, b in pairs) / len(pairs))
    assert_close(figures["kappa"], designed_kappa(pairs))
    # The reference's own P(prefer longer): the longer answer's outcome (1, 0.5, 0) over items whose lengths differ.
    outcomes = [1.0 if combined(r) == prefer_longer(r)[0] else 0.5 if combined(r) == "tie" else 0.0
                for r in records if len(r["answer_1"]) != len(r["answer_2"])]
    assert_close(board.reference["bias"]["prefer_longer"], float(np.mean(outcomes)))


def test_bias_observations_average_to_the_diagnostics(records: list[dict], tmp_path: Path) -> None:
    """The intervals resample per-observation values; their means must be judge_diagnostics' figures."""
    from jp_bench.reporting.sources import load_judgments

    path = write_candidate(tmp_path / "longer.jsonl", records[:50] + records[100:], "longer", prefer_longer)
    for source in (PAPER_PAIRWISE, path):
        table = load_judgments([source]).pairwise
        expected = judge_diagnostics(table)
        observed = {name: float(np.mean(values)) for name, (_, values) in metrics._bias_observations(table).items()}
        assert_close(observed, {"position_consistency": expected["position_consistency"],
                                "first_slot_preference": expected["first_slot_preference"],
                                "prefer_longer": expected["length"]["longer_win_rate"]})


def _resampled(questions: list, draws: np.ndarray) -> np.ndarray:
    """Row positions of one replicate: every row of each drawn question, as often as it was drawn."""
    order = sorted(set(questions))
    return np.concatenate([np.flatnonzero(np.array(questions) == order[q]) for q in draws])


def test_bootstrap_figures_are_the_figures_of_the_resampled_questions() -> None:
    rng = np.random.default_rng(7)
    questions = [q for q in range(25) for _ in range(int(rng.integers(1, 4)))]  # 1-3 items per question
    first, second = rng.integers(0, 3, len(questions)), rng.integers(0, 3, len(questions))
    second[: len(questions) // 2] = first[: len(questions) // 2]
    keys = [(q, "a", "b", i) for i, q in enumerate(questions)]
    kappas = metrics.kappa_replicates(keys, first, second, 3, 5, seed=11)
    x = rng.normal(size=len(questions)).round(1)  # rounded: ties in the ranks
    y = (x + rng.normal(size=len(questions))).round(1)
    replicated = metrics._score_statistics(x, y, np.vstack([np.bincount(d, minlength=25)[metrics.question_units(
        questions)[1]] for d in question_draws(25, 5, 11)]).astype(float))
    for b, draws in enumerate(question_draws(25, 5, 11)):
        rows = _resampled(questions, draws)
        assert_close(kappas[b], cohen_kappa(first[rows], second[rows], 3))
        assert_close(replicated["pearson"][b], stats.pearsonr(x[rows], y[rows])[0])
        assert_close(replicated["spearman"][b], stats.spearmanr(x[rows], y[rows])[0])
        assert_close(replicated["mae"][b], float(np.mean(np.abs(x[rows] - y[rows]))))


def test_rank_correlations_are_scipys() -> None:
    rng = np.random.default_rng(3)
    first = rng.integers(0, 4, size=(6, 5)).astype(float)  # small integers: ties
    second = rng.integers(0, 4, size=(6, 5)).astype(float)
    rho, tau = metrics._rank_correlations(first, second)
    for row in range(6):
        expected_rho = stats.spearmanr(first[row], second[row])[0]
        expected_tau = stats.kendalltau(first[row], second[row])[0]
        for mine, theirs in ((rho[row], expected_rho), (tau[row], expected_tau)):
            assert (math.isnan(mine) and math.isnan(theirs)) or math.isclose(mine, theirs, rel_tol=1e-9)


def test_the_command_prints_the_librarys_board_and_writes_the_same_page_twice(tmp_path: Path,
                                                                              records: list[dict]) -> None:
    copy = write_candidate(tmp_path / "copy.jsonl", records, "copy", lambda r: (r["g1_winner"], r["g2_winner"]))
    longer = write_candidate(tmp_path / "longer.jsonl", records, "longer", prefer_longer)
    args = ["judges", "compare", "--reference", str(PAPER_PAIRWISE), str(copy), str(longer), "--bootstrap", "100"]
    result = main_in_process(*args, "--format", "json")
    assert result.returncode == 0, result.stderr
    board = jp_bench.compare_judges(PAPER_PAIRWISE, [copy, longer], bootstrap=100)
    assert json.loads(result.stdout) == json.loads(json.dumps(board.to_dict()))
    table = main_in_process(*args)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith("reference: gpt-4 (judge, pairwise): 160 pairwise items")
    judge_rows = [line.split()[0] for line in lines if line.split() and line.split()[0] in ("copy", "longer")]
    assert judge_rows == ["copy", "longer"]
    assert "no cost recorded" in table.stdout

    first = main_in_process(*args, "--out", str(tmp_path / "page"))
    assert first.returncode == 0, first.stderr
    written = {p.name: p.read_bytes() for p in (tmp_path / "page").iterdir()}
    assert set(written) == {"JUDGES.md", "judges.csv", "judges.html", "judges_agreement_cost.png"}
    assert written["judges_agreement_cost.png"].startswith(b"\x89PNG")
    assert b"copy" in written["JUDGES.md"] and b"<img src=\"data:image/png;base64," in written["judges.html"]
    header, *rows = written["judges.csv"].decode().splitlines()
    assert header.startswith("rank,judge,") and [row.split(",")[1] for row in rows] == ["copy", "longer"]
    assert main_in_process(*args, "--out", str(tmp_path / "page")).returncode == 0
    assert {p.name: p.read_bytes() for p in (tmp_path / "page").iterdir()} == written


def test_judges_without_a_subcommand_still_lists_and_list_says_the_same(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("name: mine\nprovider: openai-compatible\nmodel: m\n", encoding="utf-8")
    plain = main_in_process("judges", "--judges-dir", str(tmp_path))
    listed = main_in_process("judges", "list", "--judges-dir", str(tmp_path))
    assert plain.returncode == listed.returncode == 0
    assert plain.stdout == listed.stdout and "mine" in plain.stdout


def test_bad_requests_are_one_line(tmp_path: Path) -> None:
    assert "nothing to compare" in main_in_process("judges", "compare", "--reference", str(PAPER_PAIRWISE)).stderr
    axis = main_in_process("judges", "compare", "--reference", str(PAPER_PAIRWISE), str(PAPER_PAIRWISE),
                           "--axis", "fluency")
    assert axis.returncode == 1 and axis.stderr.count("\n") == 1 and "--axis fluency" in axis.stderr
    votes = tmp_path / "votes.jsonl"
    votes.write_text(json.dumps({"question_id": 1, "model_a": "x", "model_b": "y", "winner": "model_a",
                                 "judge": "expert_1"}) + "\n", encoding="utf-8")
    no_answers = main_in_process("judges", "compare", "--reference", str(votes), "--judge", "gpt-4o")
    assert no_answers.returncode == 1 and no_answers.stderr.count("\n") == 1
    assert "carries no answers" in no_answers.stderr and "--answers" in no_answers.stderr
    with pytest.raises(JpBenchError, match="no such file"):
        jp_bench.compare_judges(tmp_path / "missing", PAPER_PAIRWISE)
