"""Votes an earlier jp-bench cast on whole multi-turn conversations are never counted as turn-1 votes.

Before annotation went turn by turn, ``jp-bench annotate`` showed a multi-turn question once, as the
whole conversation, and stored the vote under the turn-less task id ``task_id_for(question, m1, m2)``
with ``turn`` 1 (the column's default). Such a vote judged no one turn. Here a workspace store holds
such votes, written the way the old code wrote them, beside an old single-turn vote (whose turn-less id
is exactly today's id) and new per-turn votes cast through the real page; then the export, the page's
progress, ``jp-bench annotate`` start and ``jp-bench agreement`` (the real CLI) are checked.

Data: the two-turn questions and answers of ``test_annotate_turns`` plus one single-turn question.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from jp_bench.annotate import AnnotationServer, AnnotationTask, build_tasks, serve, task_id_for, vote_scope
from jp_bench.annotate import server as server_module
from jp_bench.annotate.app import run_annotation
from jp_bench.annotate.votes import HumanVote, VoteStore, export_votes
from jp_bench.errors import InputFileError
from jp_bench.judging.service import load_answers, resolve_questions
from jp_bench.votes import agreement_report, read_human_vote_file, read_judge_votes
from tests.support.cli import main_in_process
from tests.support.files import write_jsonl
from tests.support.judgment_rows import pairwise_row
from tests.support.numbers import assert_close
from tests.support.page_client import request as _request
from tests.test_annotate_turns import (
    ALPHA,
    ANSWERS,
    BETA,
    JUDGE,
    QUESTIONS,
    SEED,
    _next,
    _page,
    _vote,
)

SINGLE = {"question_id": 1, "category": "writing", "turns": ["好きな季節は？"]}
SINGLE_ANSWERS = {ALPHA: "alpha-1 秋です。", BETA: "beta-1 春です。"}
MULTI_TASKS = {(101, 1), (101, 2), (102, 1), (102, 2)}

# The votes table exactly as the first jp-bench annotate created it (`git show e307df0:jp_bench/annotate/votes.py`).
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS votes (
    task_id     TEXT NOT NULL,
    annotator   TEXT NOT NULL,
    question_id NOT NULL,
    model_a     TEXT NOT NULL,
    model_b     TEXT NOT NULL,
    winner      TEXT NOT NULL CHECK (winner IN ('model_a', 'model_b', 'tie')),
    category    TEXT,
    turn        INTEGER NOT NULL DEFAULT 1,
    tstamp      REAL NOT NULL,
    PRIMARY KEY (task_id, annotator)
);
CREATE INDEX IF NOT EXISTS votes_annotator ON votes (annotator);
"""
# (annotator, question, shown A, shown B, winner): carol and alice judged 101 and 102 as whole conversations;
# alice's vote on the single-turn question 1 is an old vote too, and still a valid one. Carol prefers beta on
# 101, where the judge's turn-1 verdict is alpha: taken for a turn-1 vote, it would move the figures.
OLD_VOTES = [("carol", 101, BETA, ALPHA, "model_a"), ("alice", 102, ALPHA, BETA, "model_a"),
             ("alice", 1, ALPHA, BETA, "model_a")]
OLD_CONVERSATION = {("carol", 101), ("alice", 102)}
# New per-turn votes through the page: who is better per (question, turn); turn None is question 1.
NEW_VOTES = {
    "alice": {(101, 1): ALPHA, (101, 2): BETA, (102, 1): ALPHA, (102, 2): BETA},
    "bob": {(1, None): BETA, (101, 1): ALPHA, (101, 2): ALPHA, (102, 1): "tie", (102, 2): ALPHA},
}


def _old_id(question_id: int, model_a: str, model_b: str) -> str:
    """The id the old code gave every task: turn-less, for a multi-turn question too."""
    return task_id_for(question_id, model_a, model_b)


@pytest.fixture
def question_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "question.jsonl", [SINGLE, *QUESTIONS])


@pytest.fixture
def answer_files(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "model_answer"
    folder.mkdir()
    return [write_jsonl(folder / f"{model}.jsonl",
                         [{"question_id": qid, "model_id": model, "choices": [{"index": 0, "turns": turns}]}
                          for qid, turns in {1: [SINGLE_ANSWERS[model]], **answers}.items()])
            for model, answers in ANSWERS.items()]


@pytest.fixture
def tasks(answer_files: list[Path], question_file: Path) -> list[AnnotationTask]:
    answers, embedded = load_answers([str(path) for path in answer_files])
    return build_tasks(answers, resolve_questions(str(question_file), embedded), SEED)


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    """A workspace store written by the earlier jp-bench: its votes table, its three votes, nothing else."""
    path = tmp_path / "workspace" / "store.sqlite"
    path.parent.mkdir()
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
        for number, (annotator, qid, model_a, model_b, winner) in enumerate(OLD_VOTES):
            category = next(q["category"] for q in [SINGLE, *QUESTIONS] if q["question_id"] == qid)
            db.execute("INSERT INTO votes (task_id, annotator, question_id, model_a, model_b, winner, category, "
                       "tstamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # no turn: the column's default, 1
                       (_old_id(qid, model_a, model_b), annotator, qid, model_a, model_b, winner, category,
                        1000.0 + number))
    db.close()
    return path


@pytest.fixture
def server(tasks: list[AnnotationTask], old_store: Path) -> Iterator[AnnotationServer]:
    running = serve(tasks, old_store, port=0, seed=SEED)
    try:
        yield running
    finally:
        running.shutdown()


def _cast_new_votes(server: AnnotationServer, tasks: list[AnnotationTask]) -> None:
    for name, taste in NEW_VOTES.items():
        for (qid, turn), better in taste.items():
            task = next(t for t in tasks if t.question_id == qid and (turn is None or t.turn == turn))
            _vote(server, _page(server, _next(server, name, task.task_id)), better)


def _old_rows(store: Path) -> list[tuple]:
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT task_id, annotator, question_id, model_a, model_b, winner, turn FROM votes "
                          "WHERE tstamp < 2000 ORDER BY tstamp").fetchall()
    db.close()
    return rows


def _judgments(tmp_path: Path) -> Path:
    """The judge's per-turn verdicts, both orders (alpha is model_1); question 1 is single-turn (no turn)."""
    verdicts = {(1, None): ALPHA, **JUDGE}
    rows = []
    for (qid, turn), better in verdicts.items():
        winner = "tie" if better == "tie" else "model_1" if better == ALPHA else "model_2"
        extra = {} if turn is None else {"turn": turn}
        rows += [pairwise_row(qid, game, winner, model_1=ALPHA, model_2=BETA, **extra) for game in (1, 2)]
    return write_jsonl(tmp_path / "judgments.jsonl", rows)


# --------------------------------------------------------------------------------------------- recognising them


@pytest.mark.integration
def test_the_scope_rule(tasks: list[AnnotationTask]) -> None:
    turns = {1: 1, 101: 2}

    def vote(task_id: str, qid: int, turn: int = 1) -> HumanVote:
        return HumanVote(task_id, "alice", qid, BETA, ALPHA, "tie", None, turn, 0.0)

    assert vote_scope(vote(_old_id(101, ALPHA, BETA), 101), turns) == "conversation"
    assert vote_scope(vote(task_id_for(101, ALPHA, BETA, 1), 101), turns) == "turn"
    assert vote_scope(vote(task_id_for(101, ALPHA, BETA, 2), 101, 2), turns) == "turn"
    # A single-turn question's id is turn-less today as it was then: its old votes are turn votes.
    single = next(t for t in tasks if t.question_id == 1)
    assert single.task_id == _old_id(1, ALPHA, BETA)
    assert vote_scope(vote(single.task_id, 1), turns) == "turn"
    assert vote_scope(vote(_old_id(7, ALPHA, BETA), 7), turns) == "turn"  # unknown question: as before turns


# --------------------------------------------------------------------------------------------- the page


@pytest.mark.integration
def test_the_page_does_not_count_them_as_turn_votes(server: AnnotationServer, tasks: list[AnnotationTask],
                                                    old_store: Path) -> None:
    # Alice's old single-turn vote is done work (1 of 5); her old vote on question 102 marks no turn done.
    seen = []
    for done in range(1, 5):
        page = _page(server, _next(server, "alice"))
        assert page.progress == f"{done} / 5"
        assert 'id="already-voted"' not in page.body
        seen.append((page.task.question_id, page.task.turn))
        _vote(server, page, "tie")
    assert sorted(seen) == sorted(MULTI_TASKS)
    assert '<span id="progress">5 / 5</span>' in _next(server, "alice")
    single = next(t for t in tasks if t.question_id == 1)
    assert 'id="already-voted"' in _next(server, "alice", single.task_id)  # hers, under today's id
    # Carol voted only on a whole conversation: every turn task is still hers to vote on.
    assert _page(server, _next(server, "carol")).progress == "0 / 5"
    assert _request(server.url + "next?annotator=carol&task=" + _old_id(101, ALPHA, BETA)).status == 404
    # Nothing of a person's work was touched.
    assert _old_rows(old_store) == [(_old_id(qid, a, b), name, qid, a, b, winner, 1)
                                    for name, qid, a, b, winner in OLD_VOTES]


@pytest.mark.unit
def test_annotate_start_says_so_once(answer_files: list[Path], question_file: Path, old_store: Path,
                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def stop(_self: AnnotationServer) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(server_module.AnnotationServer, "wait", stop)  # Ctrl-C at once

    def start(store: Path) -> list[str]:
        lines: list[str] = []
        run_annotation([str(path) for path in answer_files], str(question_file), store, echo=lines.append)
        return lines

    lines = start(old_store)
    (notice,) = [line for line in lines if "earlier jp-bench" in line]
    assert notice.startswith("2 vote(s) from an earlier jp-bench judge a whole multi-turn conversation")
    assert "kept in the store" in notice and '"scope": "conversation"' in notice and "no turn's vote" in notice
    assert not any("earlier jp-bench" in line for line in start(tmp_path / "fresh.sqlite"))


# --------------------------------------------------------------------------------------------- the export


@pytest.mark.integration
def test_the_export_marks_them(server: AnnotationServer, tasks: list[AnnotationTask], old_store: Path,
                               tmp_path: Path) -> None:
    _cast_new_votes(server, tasks)
    out = tmp_path / "votes.jsonl"
    result = main_in_process("annotate", "--export", str(out), "--workspace", str(old_store))
    assert result.returncode == 0, result.stderr
    assert "exported 12 votes" in result.stdout
    assert result.stderr.count("earlier jp-bench") == 1 and "2 vote(s)" in result.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    by_scope = {(r["annotator"], r["question_id"], r["turn"], r["scope"]) for r in rows}
    assert {(name, qid, None, "conversation") for name, qid in OLD_CONVERSATION} <= by_scope
    assert ("alice", 1, 1, "turn") in by_scope  # the old single-turn vote: a turn-1 vote, as it always was
    conversation = [r for r in rows if r["scope"] == "conversation"]
    assert len(conversation) == 2
    assert all(r["task_id"] == _old_id(r["question_id"], ALPHA, BETA) for r in conversation)
    turn_rows = [r for r in rows if r["scope"] == "turn"]
    assert len(turn_rows) == 10 and all(isinstance(r["turn"], int) for r in turn_rows)
    assert server.app.export() == out.read_text(encoding="utf-8")  # the page's export says the same


@pytest.mark.unit
def test_an_export_of_a_store_never_served_since(old_store: Path, question_file: Path, tmp_path: Path) -> None:
    # The old store alone does not say which questions have two turns: the export says it cannot tell...
    out = tmp_path / "votes.jsonl"
    assert export_votes(old_store, out) == 3
    result = main_in_process("annotate", "--export", str(out), "--workspace", str(old_store))
    assert result.returncode == 0, result.stderr
    assert "3 vote(s) are on questions this store has no turn count for" in result.stderr
    assert "--benchmark" in result.stderr
    # ...and --benchmark tells it.
    marked = main_in_process("annotate", "--export", str(out), "--workspace", str(old_store),
                     "--benchmark", str(question_file))
    assert marked.returncode == 0, marked.stderr
    assert "no turn count" not in marked.stderr and "2 vote(s) from an earlier jp-bench" in marked.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert {(r["annotator"], r["question_id"]) for r in rows if r["scope"] == "conversation"} == OLD_CONVERSATION
    with VoteStore(old_store) as store:  # reading it changed nothing
        assert store.count() == 3 and store.question_turns() == {}


# --------------------------------------------------------------------------------------------- agreement


def _agreement(human: Path, judgments: Path, *extra: str) -> tuple[str, str]:
    result = main_in_process("agreement", "--human", str(human), "--judgments", str(judgments),
                     "--bootstrap", "50", *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout, result.stderr


@pytest.mark.integration
def test_agreement_leaves_them_out_and_says_so(server: AnnotationServer, tasks: list[AnnotationTask],
                                               old_store: Path, tmp_path: Path) -> None:
    _cast_new_votes(server, tasks)
    export = tmp_path / "votes.jsonl"
    assert export_votes(old_store, export) == 12
    rows = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]
    per_turn = write_jsonl(tmp_path / "per_turn.jsonl", [r for r in rows if r["scope"] == "turn"])
    judgments = _judgments(tmp_path)

    out, err = _agreement(export, judgments, "--format", "json")
    notes = [line for line in err.splitlines() if "whole-conversation" in line]
    assert notes == [f"{export}: left out 2 whole-conversation vote(s) (\"scope\": \"conversation\", cast by an "
                     "earlier jp-bench annotate): they judge no one turn, and every comparison is per turn"]
    alone, alone_err = _agreement(per_turn, judgments, "--format", "json")
    assert "whole-conversation" not in alone_err
    assert_close(json.loads(out), json.loads(alone))  # every figure is the per-turn votes' own

    entries = {entry["kind"]: entry for entry in json.loads(out)}
    judge_human = entries["judge-human"]
    assert judge_human["with_ties"]["n"] == 10  # alice 5 (her old single-turn vote included) + bob 5
    assert judge_human["by_turn"]["1"]["with_ties"]["n"] == 6 and judge_human["by_turn"]["2"]["with_ties"]["n"] == 4

    table, table_err = _agreement(export, judgments)
    assert "gpt-4o vs human" in table and "left out 2 whole-conversation vote(s)" in table_err

    # What the test guards against: carol's vote taken for a turn-1 vote moves the figures.
    naive = [{**r, "turn": 1, "scope": "turn"} for r in rows if r["annotator"] == "carol"]
    as_turn_1 = read_human_vote_file(write_jsonl(tmp_path / "naive.jsonl", naive + [
        r for r in rows if r["scope"] == "turn"])).votes
    judges = read_judge_votes(judgments)
    mixed = agreement_report(list(as_turn_1), judges, n_boot=50)
    turn_1 = next(e for e in mixed if e["kind"] == "judge-human")["by_turn"][1]["with_ties"]
    assert turn_1["n"] == 7
    assert turn_1["agreement"] != judge_human["by_turn"]["1"]["with_ties"]["agreement"]


@pytest.mark.unit
def test_single_turn_files_read_as_before(tmp_path: Path) -> None:
    # FastChat's human judgments and our older exports: no scope, and no turn for a single-turn question.
    rows = [{"question_id": 1, "model_a": ALPHA, "model_b": BETA, "winner": "model_a", "judge": "expert_1"},
            {"question_id": 1, "model_a": BETA, "model_b": ALPHA, "winner": "tie", "annotator": "alice",
             "category": "writing", "tstamp": 1.0, "task_id": _old_id(1, ALPHA, BETA)},
            {"question_id": 81, "model_a": ALPHA, "model_b": BETA, "winner": "model_b", "judge": "expert_1",
             "turn": 2}]
    read = read_human_vote_file(write_jsonl(tmp_path / "fastchat.jsonl", rows))
    assert read.conversation == 0
    assert [(v.key, v.winner) for v in read.votes] == [((1, ALPHA, BETA, 1), "lo"), ((1, ALPHA, BETA, 1), "tie"),
                                                       ((81, ALPHA, BETA, 2), "hi")]
    csv = tmp_path / "votes.csv"
    csv.write_text("question_id,model_a,model_b,winner,annotator,turn,scope\n"
                   f"1,{ALPHA},{BETA},model_a,alice,1,turn\n"
                   f"101,{ALPHA},{BETA},model_b,alice,,conversation\n", encoding="utf-8")
    read = read_human_vote_file(csv)
    assert read.conversation == 1 and [v.key for v in read.votes] == [(1, ALPHA, BETA, 1)]
    bad = write_jsonl(tmp_path / "bad.jsonl", [{**rows[0], "scope": "dialogue"}])
    with pytest.raises(InputFileError, match=r"bad\.jsonl:1: field 'scope': expected turn or conversation"):
        read_human_vote_file(bad)
