"""Judge-human agreement (FastChat's agreement study): votes worked out by hand, readers, the published file."""

from __future__ import annotations

import csv
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from jp_bench.errors import InputFileError, JpBenchError
from jp_bench.fastchat_io import PairwiseJudgmentRecord
from jp_bench.votes import (
    JudgeVotes,
    Vote,
    agreement_report,
    agreement_stats,
    cohen_kappa,
    combine_games,
    human_human_comparisons,
    judge_human_comparisons,
    judge_judge_comparisons,
    judge_model_name,
    judge_votes_from_records,
    make_vote,
    read_human_votes,
    read_judge_votes,
)
from tests.support.judgment_rows import pairwise_row, single_row
from tests.support.paths import UPSTREAM_CHECKOUT

pytestmark = pytest.mark.unit

PUBLISHED = (
    UPSTREAM_CHECKOUT / "jp_bench" / "model_judgment" / "pairwise" / "gpt-4"
    / "pairwise:cyberagent--calm2-7b-chat_openai--text-davinci-003.jsonl"
)

# Models sort as alpha < beta < gamma, so on key (q, alpha, beta) "lo" is alpha and "hi" is beta.
# Rows in the lmsys mt_bench_human_judgments layout. Rows marked "flipped" name the pair the other
# way round; their winner must be flipped when the pair is sorted.
HUMAN_ROWS: list[dict[str, Any]] = [
    {"question_id": 1, "model_a": "alpha", "model_b": "beta", "winner": "model_a", "judge": "expert_1", "turn": 1},
    {"question_id": 1, "model_a": "alpha", "model_b": "beta", "winner": "model_a", "judge": "expert_2", "turn": 1},
    {"question_id": 1, "model_a": "beta", "model_b": "alpha", "winner": "tie (bothbad)", "judge": "author_3",
     "turn": 1},
    {"question_id": 2, "model_a": "alpha", "model_b": "beta", "winner": "model_a", "judge": "expert_1", "turn": 1},
    {"question_id": 2, "model_a": "beta", "model_b": "alpha", "winner": "model_a", "judge": "expert_2",
     "turn": 1},  # flipped: beta won -> hi
    {"question_id": 3, "model_a": "alpha", "model_b": "beta", "winner": "tie", "judge": "expert_1", "turn": 1},
    {"question_id": 3, "model_a": "alpha", "model_b": "beta", "winner": "model_b", "judge": "expert_2", "turn": 1},
    {"question_id": 4, "model_a": "gamma", "model_b": "beta", "winner": "model_a", "judge": "expert_1",
     "turn": 1},  # flipped: gamma won -> hi on (beta, gamma)
    {"question_id": 4, "model_a": "beta", "model_b": "gamma", "winner": "model_a", "judge": "expert_2", "turn": 1},
    {"question_id": 4, "model_a": "beta", "model_b": "gamma", "winner": "model_b", "judge": "author_3", "turn": 1},
    {"question_id": 6, "model_a": "alpha", "model_b": "gamma", "winner": "model_a", "judge": "expert_1", "turn": 1},
    {"question_id": 6, "model_a": "gamma", "model_b": "alpha", "winner": "model_b", "judge": "expert_2",
     "turn": 1},  # flipped: alpha won -> lo
    # Turn 2 of question 1 is a different key: nothing else votes on it.
    {"question_id": 1, "model_a": "alpha", "model_b": "beta", "winner": "model_a", "judge": "expert_1", "turn": 2},
]

# The same votes, normalised (question, lo, hi, turn, winner, voter).
EXPECTED_HUMAN = [
    Vote(1, "alpha", "beta", 1, "lo", "expert_1"),
    Vote(1, "alpha", "beta", 1, "lo", "expert_2"),
    Vote(1, "alpha", "beta", 1, "tie", "author_3"),
    Vote(2, "alpha", "beta", 1, "lo", "expert_1"),
    Vote(2, "alpha", "beta", 1, "hi", "expert_2"),
    Vote(3, "alpha", "beta", 1, "tie", "expert_1"),
    Vote(3, "alpha", "beta", 1, "hi", "expert_2"),
    Vote(4, "beta", "gamma", 1, "hi", "expert_1"),
    Vote(4, "beta", "gamma", 1, "lo", "expert_2"),
    Vote(4, "beta", "gamma", 1, "hi", "author_3"),
    Vote(6, "alpha", "gamma", 1, "lo", "expert_1"),
    Vote(6, "alpha", "gamma", 1, "lo", "expert_2"),
    Vote(1, "alpha", "beta", 2, "lo", "expert_1"),
]


def _record(question_id: int, model_1: str, model_2: str, g1: str, g2: str, judge: str = "gpt-4/pair-v2"
            ) -> PairwiseJudgmentRecord:
    return PairwiseJudgmentRecord(question_id, model_1, model_2, g1, g2, "...", "...", judge)  # type: ignore[arg-type]


# gpt-4's judgments (game 1 shows model_1 as A, game 2 as B; winners in model terms):
#   q1 alpha/beta:  model_1, model_1 -> alpha both times      -> lo   (games lo, lo)
#   q2 beta/alpha:  model_1, model_1 -> beta both times       -> hi   (games hi, hi)
#   q3 alpha/beta:  model_1, model_2 -> orders disagree       -> tie  (games lo, hi)
#   q4 gamma/beta:  model_1, model_1 -> gamma both times      -> hi   (games hi, hi)
#   q5 alpha/beta:  model_1, error   -> no combined vote            (game 1 lo only)
GPT4_RECORDS = [
    _record(1, "alpha", "beta", "model_1", "model_1"),
    _record(2, "beta", "alpha", "model_1", "model_1"),
    _record(3, "alpha", "beta", "model_1", "model_2"),
    _record(4, "gamma", "beta", "model_1", "model_1"),
    _record(5, "alpha", "beta", "model_1", "error"),
]

CLAUDE = [
    Vote(1, "alpha", "beta", 1, "lo", "claude"),
    Vote(2, "alpha", "beta", 1, "lo", "claude"),
    Vote(3, "alpha", "beta", 1, "tie", "claude"),
    Vote(4, "beta", "gamma", 1, "hi", "claude"),
]


@pytest.fixture
def gpt4() -> JudgeVotes:
    (votes,) = judge_votes_from_records(GPT4_RECORDS).values()
    return votes


def _ratio(stats: dict[str, Any]) -> Fraction:
    assert stats["agreement"] == pytest.approx(stats["agree"] / stats["n"])
    return Fraction(stats["agree"], stats["n"])


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------
# Votes
# --------------------------------------------------------------------------------------------------


def test_make_vote_sorts_models_and_flips_the_winner() -> None:
    assert make_vote(7, "alpha", "beta", "model_1") == Vote(7, "alpha", "beta", 1, "lo")
    assert make_vote(7, "beta", "alpha", "model_1") == Vote(7, "alpha", "beta", 1, "hi")
    assert make_vote(7, "beta", "alpha", "model_2") == Vote(7, "alpha", "beta", 1, "lo")
    assert make_vote(7, "beta", "alpha", "tie (bothbad)", turn=2).winner == "tie"
    with pytest.raises(ValueError, match="two different models"):
        make_vote(7, "alpha", "alpha", "model_1")
    with pytest.raises(ValueError, match="winner"):
        make_vote(7, "alpha", "beta", "model_a")


def test_combine_games_keeps_agreement_and_makes_disagreement_a_tie() -> None:
    assert combine_games("model_1", "model_1") == "model_1"
    assert combine_games("model_2", "model_2") == "model_2"
    assert combine_games("tie", "tie") == "tie"
    assert combine_games("model_1", "model_2") == "tie"  # a judge that always says "A"
    assert combine_games("model_1", "tie") == "tie"
    assert combine_games("model_1", "error") is None
    assert combine_games(None, "model_1") is None


def test_judge_votes_from_fastchat_records(gpt4: JudgeVotes) -> None:
    assert [(v.question_id, v.model_lo, v.model_hi, v.winner) for v in gpt4.votes] == [
        (1, "alpha", "beta", "lo"), (2, "alpha", "beta", "hi"), (3, "alpha", "beta", "tie"), (4, "beta", "gamma", "hi"),
    ]  # q5 has an error in game 2: no combined vote
    assert [(v.question_id, v.winner) for v in gpt4.game1] == [(1, "lo"), (2, "hi"), (3, "lo"), (4, "hi"), (5, "lo")]
    assert [(v.question_id, v.winner) for v in gpt4.game2] == [(1, "lo"), (2, "hi"), (3, "hi"), (4, "hi")]
    assert {v.voter for v in gpt4.votes} == {"gpt-4"}  # the prompt name is not part of the judge
    assert list(judge_votes_from_records(GPT4_RECORDS, by_prompt=True)) == ["gpt-4/pair-v2"]


def test_judge_model_name_drops_fastchat_prompt_names() -> None:
    assert judge_model_name("gpt-4/pair-v2") == "gpt-4"
    assert judge_model_name("gpt-4/pair-math-v1-multi-turn") == "gpt-4"
    assert judge_model_name("openai/gpt-4o/pair") == "openai/gpt-4o"
    assert judge_model_name("openai/gpt-4o") == "openai/gpt-4o"
    assert judge_model_name("gpt-4o") == "gpt-4o"


def test_a_judge_voting_twice_on_a_key_is_an_error() -> None:
    # (q1, alpha, beta) and (q1, beta, alpha) are the same key once sorted.
    records = [_record(1, "alpha", "beta", "model_1", "model_1"), _record(1, "beta", "alpha", "tie", "tie")]
    with pytest.raises(JpBenchError, match=r"judged question 1 \(alpha vs beta, turn 1\) twice"):
        judge_votes_from_records(records, "somewhere.jsonl")
    with pytest.raises(ValueError, match="votes once per key"):
        judge_human_comparisons([CLAUDE[0], CLAUDE[0]], EXPECTED_HUMAN)


# --------------------------------------------------------------------------------------------------
# Agreement worked out by hand
# --------------------------------------------------------------------------------------------------


def test_judge_vs_human_by_hand(gpt4: JudgeVotes) -> None:
    comparisons = judge_human_comparisons(gpt4.votes, EXPECTED_HUMAN)
    with_ties = agreement_stats(comparisons, ties=True, n_boot=0)
    without_ties = agreement_stats(comparisons, ties=False, n_boot=0)
    # Judge vote vs EACH human vote on the key (q5: no judge vote; q6 and q1 turn 2: no judge vote):
    #   q1: lo  vs lo, lo, tie   -> 2 of 3
    #   q2: hi  vs lo, hi        -> 1 of 2
    #   q3: tie vs tie, hi       -> 1 of 2   (two ties agree)
    #   q4: hi  vs hi, lo, hi    -> 2 of 3
    # with ties: (2 + 1 + 1 + 2) / (3 + 2 + 2 + 3) = 6/10 = 3/5
    assert (with_ties["agree"], with_ties["n"], with_ties["n_keys"]) == (6, 10, 4)
    assert _ratio(with_ties) == Fraction(3, 5)
    # without ties, every comparison with a tie on either side goes:
    #   q1: lo vs lo, lo -> 2 of 2;  q2: 1 of 2;  q3: judge says tie -> nothing;  q4: 2 of 3
    #   (2 + 1 + 2) / (2 + 2 + 3) = 5/7
    assert (without_ties["agree"], without_ties["n"], without_ties["n_keys"]) == (5, 7, 3)
    assert _ratio(without_ties) == Fraction(5, 7)


def test_judge_vs_human_kappa_by_hand(gpt4: JudgeVotes) -> None:
    comparisons = judge_human_comparisons(gpt4.votes, EXPECTED_HUMAN)
    # Confusion (rows judge, columns human) of the 10 comparisons above:
    #              lo  hi  tie | row
    #   judge lo    2   0   1  |  3      (q1)
    #   judge hi    2   3   0  |  5      (q2: lo, hi; q4: hi, lo, hi)
    #   judge tie   0   1   1  |  2      (q3)
    #   column      4   4   2  | 10
    # p_o = (2 + 3 + 1) / 10 = 0.6;  p_e = (3*4 + 5*4 + 2*2) / 100 = 0.36
    # kappa = (0.6 - 0.36) / (1 - 0.36) = 0.24 / 0.64 = 3/8
    assert agreement_stats(comparisons, ties=True, n_boot=0)["kappa"] == pytest.approx(3 / 8)
    # Without ties (7 comparisons):  judge lo: human lo 2, hi 0 (row 2);  judge hi: lo 2, hi 3 (row 5)
    # columns lo 4, hi 3.  p_o = 5/7;  p_e = (2*4 + 5*3) / 49 = 23/49
    # kappa = (35/49 - 23/49) / (1 - 23/49) = 12/26 = 6/13
    assert agreement_stats(comparisons, ties=False, n_boot=0)["kappa"] == pytest.approx(6 / 13)


def test_cohen_kappa_edge_cases() -> None:
    same = np.array([0, 1, 2, 1])
    assert cohen_kappa(same, same) == pytest.approx(1.0)
    # Both raters always say lo: chance agreement is 1 and kappa is undefined.
    assert cohen_kappa(np.array([0, 0]), np.array([0, 0])) is None
    assert cohen_kappa(np.array([], dtype=np.int64), np.array([], dtype=np.int64)) is None
    # Always opposite on two labels: p_o = 0, p_e = (1*1 + 1*1) / 4 = 1/2 -> kappa = -1
    assert cohen_kappa(np.array([0, 1]), np.array([1, 0]), 2) == pytest.approx(-1.0)


def test_human_vs_human_pairs_by_hand() -> None:
    comparisons = human_human_comparisons(EXPECTED_HUMAN)
    # Every unordered pair of human votes on a key:
    #   q1: lo, lo, tie -> 3 pairs: (lo,lo) yes, (lo,tie) no, (lo,tie) no   -> 1 of 3
    #   q2: lo, hi      -> 1 pair                                           -> 0 of 1
    #   q3: tie, hi     -> 1 pair                                           -> 0 of 1
    #   q4: hi, lo, hi  -> 3 pairs: (hi,lo) no, (hi,hi) yes, (lo,hi) no     -> 1 of 3
    #   q6: lo, lo      -> 1 pair                                           -> 1 of 1
    #   q1 turn 2: one vote -> no pair
    # with ties: 3 / 9 = 1/3
    with_ties = agreement_stats(comparisons, ties=True, n_boot=0)
    assert (with_ties["agree"], with_ties["n"]) == (3, 9)
    assert _ratio(with_ties) == Fraction(1, 3)
    # without ties: q1 keeps (lo,lo) 1/1; q2 0/1; q3 nothing; q4 1/3; q6 1/1 -> 3 / 6 = 1/2
    without_ties = agreement_stats(comparisons, ties=False, n_boot=0)
    assert (without_ties["agree"], without_ties["n"]) == (3, 6)
    assert _ratio(without_ties) == Fraction(1, 2)


def test_judge_vs_judge_by_hand(gpt4: JudgeVotes) -> None:
    comparisons = judge_judge_comparisons(gpt4.votes, CLAUDE)
    # gpt-4: lo, hi, tie, hi;  claude: lo, lo, tie, hi  -> q1 yes, q2 no, q3 yes (ties), q4 yes -> 3/4
    assert _ratio(agreement_stats(comparisons, ties=True, n_boot=0)) == Fraction(3, 4)
    # without ties q3 goes: q1 yes, q2 no, q4 yes -> 2/3
    assert _ratio(agreement_stats(comparisons, ties=False, n_boot=0)) == Fraction(2, 3)


def test_swapped_order_by_hand(gpt4: JudgeVotes) -> None:
    comparisons = judge_judge_comparisons(gpt4.game1, gpt4.game2)
    # game 1 vs game 2: q1 lo/lo yes, q2 hi/hi yes, q3 lo/hi no, q4 hi/hi yes; q5's game 2 is an error -> 3/4
    stats = agreement_stats(comparisons, ties=True, n_boot=0)
    assert (stats["agree"], stats["n"]) == (3, 4)
    assert _ratio(agreement_stats(comparisons, ties=False, n_boot=0)) == Fraction(3, 4)  # no ties to drop


def test_a_judge_that_always_says_a_never_agrees_with_itself() -> None:
    # "A" is model_1 in game 1 but model_2 in game 2 (the order is swapped): in model terms the games
    # always disagree, and the combined vote is always a tie.
    records = [_record(q, "alpha", "beta", "model_1", "model_2", judge="first-slot") for q in (1, 2, 3, 4)]
    (votes,) = judge_votes_from_records(records).values()
    assert {v.winner for v in votes.votes} == {"tie"}
    (entry,) = agreement_report([], {"first-slot": votes}, n_boot=50)
    assert entry["pair"] == "first-slot original vs swapped order"
    assert (entry["with_ties"]["agree"], entry["with_ties"]["n"]) == (0, 4)
    assert entry["without_ties"]["agreement"] == 0.0 and entry["without_ties"]["n"] == 4
    assert entry["without_ties"]["ci95"] == [0.0, 0.0]


# --------------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------------


def test_agreement_report_runs_every_comparison(gpt4: JudgeVotes) -> None:
    categories = {1: "writing", 2: "math", 3: "math", 4: "math"}  # q6 has none
    report = agreement_report(EXPECTED_HUMAN, {"gpt-4": gpt4, "claude": CLAUDE}, n_boot=200, categories=categories)
    by_pair = {entry["pair"]: entry for entry in report}
    assert list(by_pair) == [
        "gpt-4 vs human", "claude vs human", "human vs human", "gpt-4 vs claude", "gpt-4 original vs swapped order",
    ]  # claude has no per-game votes, so no swapped-order entry for it
    assert [entry["kind"] for entry in report] == [
        "judge-human", "judge-human", "human-human", "judge-judge", "swapped-order",
    ]
    judge_human = by_pair["gpt-4 vs human"]
    assert _ratio(judge_human["with_ties"]) == Fraction(3, 5)
    assert _ratio(judge_human["without_ties"]) == Fraction(5, 7)
    assert judge_human["with_ties"]["kappa"] == pytest.approx(3 / 8)
    # writing is q1 alone: 2/3 with ties, 2/2 without;
    # math is q2, q3, q4: (1 + 1 + 2) / (2 + 2 + 3) = 4/7 with ties; (1 + 2) / (2 + 3) = 3/5 without
    assert set(judge_human["by_category"]) == {"writing", "math"}
    assert _ratio(judge_human["by_category"]["writing"]["with_ties"]) == Fraction(2, 3)
    assert _ratio(judge_human["by_category"]["writing"]["without_ties"]) == Fraction(1, 1)
    assert _ratio(judge_human["by_category"]["math"]["with_ties"]) == Fraction(4, 7)
    assert _ratio(judge_human["by_category"]["math"]["without_ties"]) == Fraction(3, 5)
    # human vs human: q6 falls under "(unknown)" (1 of 1); turn 2 has no pair at all
    human_human = by_pair["human vs human"]
    assert _ratio(human_human["with_ties"]) == Fraction(1, 3)
    assert _ratio(human_human["by_category"]["(unknown)"]["with_ties"]) == Fraction(1, 1)
    assert set(human_human["by_turn"]) == {1}
    assert _ratio(by_pair["gpt-4 vs claude"]["with_ties"]) == Fraction(3, 4)
    assert _ratio(by_pair["gpt-4 original vs swapped order"]["with_ties"]) == Fraction(3, 4)
    json.dumps(report)  # plain data

    only = agreement_report(EXPECTED_HUMAN, {"gpt-4": gpt4}, n_boot=0, kinds=["human-human"])
    assert [entry["pair"] for entry in only] == ["human vs human"]
    with pytest.raises(ValueError, match="unknown comparison kinds"):
        agreement_report(EXPECTED_HUMAN, {}, kinds=["judge-robot"])


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate(gpt4: JudgeVotes) -> None:
    comparisons = judge_human_comparisons(gpt4.votes, EXPECTED_HUMAN)
    first = agreement_stats(comparisons, ties=True, n_boot=1000, seed=3)
    again = agreement_stats(comparisons, ties=True, n_boot=1000, seed=3)
    low, high = first["ci95"]
    assert first["ci95"] == again["ci95"]
    assert 0.0 <= low <= first["agreement"] <= high <= 1.0
    assert low < high  # the four keys disagree to different degrees
    # Every comparison agrees: every resample has rate 1.
    perfect = judge_judge_comparisons(CLAUDE, CLAUDE)
    assert agreement_stats(perfect, ties=True, n_boot=100)["ci95"] == [1.0, 1.0]
    empty = judge_judge_comparisons(CLAUDE, [])
    assert agreement_stats(empty, ties=True)["agreement"] is None
    assert agreement_stats(empty, ties=True)["ci95"] is None


# --------------------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------------------


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_read_human_votes_from_jsonl_and_csv(tmp_path: Path) -> None:
    from_jsonl = read_human_votes(_write_jsonl(tmp_path / "human.jsonl", HUMAN_ROWS))
    # CSV gives every field as text ("1" for the question and the turn); ids are matched as integers.
    from_csv = read_human_votes(_write_csv(tmp_path / "human.csv", HUMAN_ROWS))
    assert from_jsonl == EXPECTED_HUMAN
    assert from_csv == EXPECTED_HUMAN


def test_read_annotation_tool_export(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "export.jsonl", [
        {"question_id": 4, "model_a": "gamma", "model_b": "beta", "winner": "model_a", "annotator": "ann-1",
         "category": "math", "tstamp": 1.5},
        {"question_id": 4, "model_a": "gamma", "model_b": "beta", "winner": "Tie", "annotator": "ann-2",
         "turn": 2, "tstamp": 2.5},
    ])
    assert read_human_votes(path) == [
        Vote(4, "beta", "gamma", 1, "hi", "ann-1", "math"),  # turn defaults to 1
        Vote(4, "beta", "gamma", 2, "tie", "ann-2", None),
    ]


def test_bad_human_rows_name_file_and_line(tmp_path: Path) -> None:
    rows = [dict(HUMAN_ROWS[0]), dict(HUMAN_ROWS[1], winner="model_c")]
    path = _write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(InputFileError, match=r"bad\.jsonl:2: field 'winner': expected model_a, model_b or a tie"):
        read_human_votes(path)
    path = _write_jsonl(tmp_path / "nojudge.jsonl", [{k: v for k, v in HUMAN_ROWS[0].items() if k != "judge"}])
    with pytest.raises(InputFileError, match=r"nojudge\.jsonl:1: expected 'judge' or 'annotator'"):
        read_human_votes(path)
    path = _write_jsonl(tmp_path / "same.jsonl", [dict(HUMAN_ROWS[0], model_b="alpha")])
    with pytest.raises(InputFileError, match=r"same\.jsonl:1: model_a and model_b are the same model"):
        read_human_votes(path)
    # In CSV, a quoted field may span lines: the error names the line on which the bad record starts.
    path = tmp_path / "bad.csv"
    path.write_text(
        "question_id,model_a,model_b,winner,judge,turn,note\n"
        '1,alpha,beta,model_a,expert_1,1,"two\nlines"\n'
        "2,alpha,beta,model_a,expert_1,zero,\n",
        encoding="utf-8",
    )
    with pytest.raises(InputFileError, match=r"bad\.csv:4: field 'turn': expected a positive integer"):
        read_human_votes(path)
    path.write_text("question_id,model_a,model_b,winner,judge\n1,alpha,beta,model_a\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"bad\.csv:2: expected 5 fields as in the header, got 4"):
        read_human_votes(path)
    with pytest.raises(InputFileError, match=r"votes\.parquet: expected human votes as a \.jsonl or \.csv"):
        read_human_votes(tmp_path / "votes.parquet")


def _judgment_row(question_id: int, game: int, winner: str, **extra: Any) -> dict[str, Any]:
    return pairwise_row(question_id, game, winner, **extra)


def test_read_judge_votes_from_judgments_jsonl(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "judgments.jsonl", [
        _judgment_row(1, 1, "model_1"), _judgment_row(1, 2, "model_1"),  # gamma twice -> hi
        _judgment_row(2, 1, "model_1"), _judgment_row(2, 2, "model_2"),  # orders disagree -> tie
        _judgment_row(3, 1, "error"), _judgment_row(3, 2, "model_2"),    # error -> no combined vote
        single_row(1, "gamma", 7),  # skipped
    ])
    votes = read_judge_votes(path)["gpt-4o"]
    assert votes.votes == (Vote(1, "beta", "gamma", 1, "hi", "gpt-4o", "math"),
                           Vote(2, "beta", "gamma", 1, "tie", "gpt-4o", "math"))
    assert [(v.question_id, v.winner) for v in votes.game1] == [(1, "hi"), (2, "hi")]
    assert [(v.question_id, v.winner) for v in votes.game2] == [(1, "hi"), (2, "lo"), (3, "lo")]
    # The category travels from the judgments into the report.
    (swapped,) = agreement_report([], {"gpt-4o": votes}, n_boot=0)
    assert set(swapped["by_category"]) == {"math"}
    assert (swapped["with_ties"]["agree"], swapped["with_ties"]["n"]) == (1, 2)

    _write_jsonl(path, [_judgment_row(1, 1, "model_1"), _judgment_row(1, 2, "tie"), _judgment_row(1, 1, "tie")])
    with pytest.raises(InputFileError, match=r"judgments\.jsonl:3: a second judgment of question 1 \(gamma vs "
                                             r"beta, game 1\) by 'gpt-4o'; the first is on line 1"):
        read_judge_votes(path)
    _write_jsonl(path, [_judgment_row(1, 1, "model_1"), _judgment_row(1, 3, "tie")])
    with pytest.raises(InputFileError, match=r"judgments\.jsonl:2: field 'game': Input should be 1 or 2"):
        read_judge_votes(path)


def test_published_fastchat_judgments_as_judge_votes() -> None:
    if not PUBLISHED.is_file():
        pytest.fail(f"reference data missing: {PUBLISHED} (set JP_BENCH_SHARED to the shared folder)")
    # The file uses two prompts (judge_prompt "pair", and "pair-math" for math questions): one judge.
    votes_by_judge = read_judge_votes(PUBLISHED)
    assert list(votes_by_judge) == ["gpt-4"]
    assert sorted(read_judge_votes(PUBLISHED, by_prompt=True)) == ["gpt-4/pair", "gpt-4/pair-math"]
    votes = votes_by_judge["gpt-4"]
    frame = pd.read_json(PUBLISHED, lines=True)
    assert len(frame) == 80 and frame["question_id"].nunique() == 80
    usable = frame[(frame["g1_winner"] != "error") & (frame["g2_winner"] != "error")]
    assert len(votes.votes) == len(usable)  # one combined vote per question without an error

    (entry,) = agreement_report([], {"gpt-4": votes}, n_boot=200)
    with_ties = entry["with_ties"]
    assert entry["kind"] == "swapped-order"
    assert with_ties["n"] == len(usable)
    assert 0.0 <= with_ties["agreement"] <= 1.0
    assert with_ties["agreement"] == pytest.approx((usable["g1_winner"] == usable["g2_winner"]).mean())
    low, high = with_ties["ci95"]
    assert low <= with_ties["agreement"] <= high
