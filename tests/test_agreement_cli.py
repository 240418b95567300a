"""`jp-bench agreement` on the paper's published GPT-4 judgments and hand-made human votes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import main_in_process
from tests.support.paths import SHARED

pytestmark = pytest.mark.unit

PUBLISHED = SHARED / "data" / "ja-vicuna-qa-benchmark" / "jp_bench" / "model_judgment" / "pairwise" / "gpt-4"
CALM_FILE = PUBLISHED / "pairwise:cyberagent--calm2-7b-chat_openai--text-davinci-003.jsonl"
CALM, DAVINCI = "cyberagent--calm2-7b-chat", "openai--text-davinci-003"


def test_judge_human_agreement_matches_a_hand_count(tmp_path: Path) -> None:
    records = {r["question_id"]: r for r in map(json.loads, CALM_FILE.read_text(encoding="utf-8").splitlines())}
    ids = [1, 2, 3, 4, 5, 6]
    # Two annotators; the pair is written in both orders to exercise the flip.
    votes = []
    for qid in ids:
        votes.append({"question_id": qid, "model_a": CALM, "model_b": DAVINCI, "winner": "model_a",
                      "judge": "expert_1", "turn": 1})
        votes.append({"question_id": qid, "model_a": DAVINCI, "model_b": CALM,
                      "winner": "tie" if qid % 2 else "model_b", "judge": "expert_2", "turn": 1})
    human = tmp_path / "human.jsonl"
    human.write_text("".join(json.dumps(v) + "\n" for v in votes), encoding="utf-8")

    def judge_vote(qid: int) -> str:  # the judge's combined vote: the winner when both games agree, else tie
        record = records[qid]
        return record["g1_winner"] if record["g1_winner"] == record["g2_winner"] else "tie"

    # By hand: expert_1 always says CALM (= model_1); expert_2 says tie on odd ids, CALM on even ids.
    expert_1 = {qid: "model_1" for qid in ids}
    expert_2 = {qid: "tie" if qid % 2 else "model_1" for qid in ids}
    pairs = [(judge_vote(q), h[q]) for q in ids for h in (expert_1, expert_2)]
    with_ties = sum(a == b for a, b in pairs) / len(pairs)
    untied = [(a, b) for a, b in pairs if "tie" not in (a, b)]
    without_ties = sum(a == b for a, b in untied) / len(untied)

    result = main_in_process("agreement", "--human", str(human), "--judgments", str(CALM_FILE), "--format",
                     "json", "--bootstrap", "100")
    assert result.returncode == 0, result.stderr
    entries = {e["pair"]: e for e in json.loads(result.stdout)}
    judge_human = next(e for pair, e in entries.items() if "human" in pair and "gpt-4" in pair)
    assert judge_human["with_ties"]["agreement"] == pytest.approx(with_ties)
    assert judge_human["with_ties"]["n"] == len(pairs)
    assert judge_human["without_ties"]["agreement"] == pytest.approx(without_ties)
    human_human = next(e for pair, e in entries.items() if pair.count("human") == 2)
    # expert_1 and expert_2 agree on the even ids only: 3 of 6 (with ties), 3 of 3 (without).
    assert human_human["with_ties"]["agreement"] == pytest.approx(3 / 6)
    assert human_human["without_ties"]["agreement"] == pytest.approx(1.0)

    table = main_in_process("agreement", "--human", str(human), "--judgments", str(CALM_FILE))
    assert table.returncode == 0 and "agree (w/ ties)" in table.stdout


def test_agreement_needs_inputs() -> None:
    result = main_in_process("agreement")
    assert result.returncode == 1 and "nothing to compare" in result.stderr
