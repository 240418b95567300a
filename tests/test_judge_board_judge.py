"""`jp-bench judges compare --judge`: a candidate judge run on the reference's own items through the engine
and the store (a local stand-in server answers), then scored; a second comparison sends no request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import jp_bench
from tests.support.cli import main_in_process
from tests.support.files import write_jsonl
from tests.support.judge_board_files import PAPER_PAIRWISE
from tests.support.judge_stub import JudgeStub, always

pytestmark = pytest.mark.integration  # a local server stand-in


def small_reference(folder: Path) -> Path:
    """The paper's GPT-4 judgments of 5 questions of each of its two pairs (answers and questions copied in)."""
    for path in sorted(PAPER_PAIRWISE.glob("*.jsonl")):
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[:5]]
        write_jsonl(folder / path.name, lines)
    return folder


def test_a_judge_run_on_the_references_items_and_never_paid_twice(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JP_BENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    reference = small_reference(tmp_path / "reference")
    workspace = tmp_path / "ws.sqlite"
    with JudgeStub(reply=always("理由: Aの方が良いです。\n[[A]]")) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        board = jp_bench.compare_judges(reference, judge="gpt-4o", workspace=workspace, out=tmp_path / "page",
                                        bootstrap=100)
        assert stub.calls == 20  # 10 items of the reference, both orders
        (entry,) = board.judges
        assert entry["judge"] == "gpt-4o" and entry["coverage"]["items"] == entry["coverage"]["of"] == 10
        # "A" in both orders: never the same winner twice, always the first slot, a tie once combined.
        assert entry["bias"]["position_consistency"] == 0.0 and entry["bias"]["first_slot_preference"] == 1.0
        assert entry["cost"]["source"] == "store" and entry["cost"]["judgments"] == 20
        assert entry["cost"]["usd_per_1000"] > 0 and entry["cost"]["wall_s_per_1000"] is not None
        judged = tmp_path / "page" / "judged" / "gpt-4o" / "judgments.jsonl"
        rows = [json.loads(line) for line in judged.read_text(encoding="utf-8").splitlines()]
        assert {(r["model_1"], r["model_2"]) for r in rows} == {
            ("cyberagent--calm2-7b-chat", "openai--text-davinci-003"),
            ("openai--text-davinci-003", "rinna--japanese-gpt-neox-3.6b-instruction-ppo")}  # as the reference
        assert (tmp_path / "page" / "JUDGES.md").is_file()

        again = main_in_process("judges", "compare", "--reference", str(reference), "--judge", "gpt-4o",
                                "--workspace", str(workspace), "--bootstrap", "100", "--format", "json")
        assert again.returncode == 0, again.stderr
        assert stub.calls == 20  # every judgment came from the store
        # One run per pair of the reference, each saying so on stderr (stdout holds the JSON alone).
        assert again.stderr.count("calls made: 0, reused from the store: 10") == 2
        (second,) = json.loads(again.stdout)["judges"]
        assert second["agreement"] == entry["agreement"] and second["cost"] == entry["cost"]


def test_a_judge_scores_the_answers_human_raters_rated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Single scores on a human ratings reference: the prompts and responses come from the ratings file,
    every turn judged as the raters saw it (turn 2 on the conversation so far)."""
    from tests.support.judge_board_files import write_human_ratings

    monkeypatch.setenv("JP_BENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    ratings = {("p1", "llm_a", 1): [5, 5, 4], ("p1", "llm_b", 1): [2, 1, 2], ("p2", "llm_a", 1): [4, 4, 4],
               ("p2", "llm_b", 1): [3, 3, 2], ("p2", "llm_a", 2): [5, 4, 5], ("p2", "llm_b", 2): [1, 2, 1]}
    reference = write_human_ratings(tmp_path / "ratings.jsonl", ratings)

    def score(request: dict, _index: int) -> str:  # a judge that likes llm_a's answers
        return "理由: 評価しました。\n[[9]]" if "llm_a の回答" in request["messages"][-1]["content"] else "[[2]]"

    with JudgeStub(reply=score) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        board = jp_bench.compare_judges(reference, judge="gpt-4o", workspace=tmp_path / "ws.sqlite", bootstrap=50)
        assert stub.calls == len(ratings)
    (entry,) = board.judges
    assert entry["coverage"] == {"items": 6, "of": 6, "share": 1.0, "low": False}
    assert entry["scores"]["n"] == 6 and entry["ranking"]["same_top"] is True
    # Scores 9 and 2 on 1-10 are 1 + 8·4/9 and 1 + 1·4/9 on the raters' 1-5.
    means = {key: sum(v) / 3 for key, v in ratings.items()}
    mine = {key: 1 + (9 - 1) * 4 / 9 if key[1] == "llm_a" else 1 + (2 - 1) * 4 / 9 for key in ratings}
    expected = sum(abs(mine[k] - means[k]) for k in ratings) / len(ratings)
    assert entry["scores"]["mae"] == pytest.approx(expected, rel=1e-9)


def test_a_judge_on_human_votes_takes_the_answers_and_questions_given(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Human votes carry no texts: --answers and --benchmark give them; only the voted items are judged."""
    monkeypatch.setenv("JP_BENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    benchmark = PAPER_PAIRWISE.parents[2]
    calm, davinci = "cyberagent--calm2-7b-chat", "openai--text-davinci-003"
    votes = write_jsonl(tmp_path / "votes.jsonl", [
        {"question_id": q, "model_a": davinci, "model_b": calm, "winner": "model_b", "judge": "expert_1"}
        for q in (3, 5, 8)])
    with JudgeStub(reply=always("理由: Aの方が良いです。\n[[A]]")) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        result = main_in_process(
            "judges", "compare", "--reference", str(votes), "--judge", "gpt-4o", "--answers",
            str(benchmark / "model_answer" / calm), "--answers", str(benchmark / "model_answer" / davinci),
            "--benchmark", str(benchmark / "question.jsonl"), "--workspace", str(tmp_path / "ws.sqlite"),
            "--bootstrap", "50", "--format", "json")
        assert result.returncode == 0, result.stderr
        assert stub.calls == 6  # 3 voted questions, both orders
    (entry,) = json.loads(result.stdout)["judges"]
    # Every combined verdict is a tie ("A" in both orders) and every vote names calm2: no agreement.
    assert entry["agreement"]["with_ties"]["agreement"] == 0.0 and entry["coverage"]["items"] == 3
    assert entry["ranking"]["same_top"] is False
