"""Human annotation of multi-turn questions turn by turn, and judge–human agreement per turn.

A tiny two-turn benchmark (2 questions × 2 turns, MT-Bench's layout) and two models' FastChat answer
files with both turns, written into ``tmp_path``. The real annotation server runs on 127.0.0.1 with a
free port (always shut down); two annotators vote through its forms; the judge's per-turn
``judgments.jsonl`` comes from ``jp-bench judge`` against the local judge stand-in (tests/support/judge_stub.py);
``jp-bench agreement`` then compares them per turn, against figures counted by hand here.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jp_bench.annotate import AnnotationServer, AnnotationTask, build_tasks, export_votes, serve, task_id_for
from jp_bench.judging.service import load_answers, resolve_questions
from jp_bench.votes import read_human_votes, read_judge_votes
from tests.support.cli import main_in_process, run_cli
from tests.support.files import write_jsonl
from tests.support.judge_stub import JudgeStub
from tests.support.judgment_rows import pairwise_row
from tests.support.page_client import request as _request

SEED = 3
ALPHA, BETA = "m-alpha", "m-beta"
QUESTIONS = [
    {"question_id": 101, "category": "writing",
     "turns": ["京都の紅葉について短い紹介文を書いてください。", "その紹介文を子ども向けに書き直してください。"]},
    {"question_id": 102, "category": "reasoning",
     "turns": ["りんごが3個、みかんが5個あります。果物は全部で何個？", "そのうち2個食べたら残りは何個？"]},
]
# Every answer carries a tag (`alpha-101-1`: model, question, turn) the judge stand-in finds its place by.
# Alpha's turn-1 answer to 101 is hostile markup: on the turn-2 page it is context and must stay text.
ANSWERS = {
    ALPHA: {101: ['alpha-101-1 <script>alert("x")</script> & <b>紅葉</b>', "alpha-101-2 こどもむけ"],
            102: ["alpha-102-1 8個です。", "alpha-102-2 6個です。"]},
    BETA: {101: ["beta-101-1 京都の秋は美しい。", "beta-101-2 きょうとの あきは きれい。"],
           102: ["beta-102-1 全部で8個。", "beta-102-2 残りは6個。"]},
}
ALL_TASKS = {(101, 1), (101, 2), (102, 1), (102, 2)}

# Who is better, per (question, turn): the judge stand-in's view (both orders, so its vote is this) and
# two annotators'. Different per turn, so that figures mixing the turns up would come out different.
JUDGE = {(101, 1): ALPHA, (101, 2): BETA, (102, 1): "tie", (102, 2): ALPHA}
HUMANS = {
    "alice": {(101, 1): ALPHA, (101, 2): BETA, (102, 1): ALPHA, (102, 2): BETA},
    "bob": {(101, 1): ALPHA, (101, 2): ALPHA, (102, 1): "tie", (102, 2): ALPHA},
}


@dataclass(frozen=True)
class Inputs:
    answer_files: list[Path]
    question_file: Path


@pytest.fixture
def inputs(tmp_path: Path) -> Inputs:
    folder = tmp_path / "model_answer"
    folder.mkdir()
    files = [write_jsonl(folder / f"{model}.jsonl",
                          [{"question_id": qid, "model_id": model, "choices": [{"index": 0, "turns": turns}],
                            "tstamp": 1.0} for qid, turns in answers.items()])
             for model, answers in ANSWERS.items()]
    return Inputs(files, write_jsonl(tmp_path / "question.jsonl", QUESTIONS))


def _tasks(inputs: Inputs) -> list[AnnotationTask]:
    answers, embedded = load_answers([str(path) for path in inputs.answer_files])
    return build_tasks(answers, resolve_questions(str(inputs.question_file), embedded), SEED)


@pytest.fixture
def tasks(inputs: Inputs) -> list[AnnotationTask]:
    return _tasks(inputs)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "workspace" / "store.sqlite"


@pytest.fixture
def server(tasks: list[AnnotationTask], store_path: Path) -> Iterator[AnnotationServer]:
    running = serve(tasks, store_path, port=0, seed=SEED)
    try:
        yield running
    finally:
        running.shutdown()


# --------------------------------------------------------------------------------------------- HTTP


def _next(server: AnnotationServer, annotator: str, task: str | None = None) -> str:
    query = {"annotator": annotator, **({"task": task} if task else {})}
    reply = _request(server.url + "next?" + urllib.parse.urlencode(query))
    assert reply.status == 200, reply.body
    return reply.body


@dataclass(frozen=True)
class Page:
    body: str
    task: AnnotationTask
    shown_a: str
    shown_b: str
    progress: str
    form: dict[str, str]


def _page(server: AnnotationServer, body: str) -> Page:
    """A task page as the browser got it; which model was A is read back from its signed token."""
    found = re.search(r'data-task-id="([0-9a-f]+)" data-turn="(\d+)"', body)
    assert found, f"not a task page: {body[:400]}"
    form = {name: html.unescape(value)
            for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', body)}
    assert form["task_id"] == found.group(1)
    task = server.app.by_id[form["task_id"]]
    assert int(found.group(2)) == task.turn
    shown_a, shown_b = server.app.shown_order_of(task, form["annotator"], form["order"])
    progress = re.search(r'<span id="progress">([^<]*)</span>', body)
    assert progress
    return Page(body, task, shown_a, shown_b, progress.group(1), form)


def _text(body: str, element_id: str) -> str:
    found = re.search(rf'id="{re.escape(element_id)}">([^<]*)<', body)
    assert found, f"#{element_id} not in the page"
    return html.unescape(found.group(1))


def _vote(server: AnnotationServer, page: Page, better: str) -> None:
    """Vote for ``better`` (a model, or ``tie``) the way the form does: by the side it was shown on."""
    winner = "tie" if better == "tie" else "a" if better == page.shown_a else "b"
    data = urllib.parse.urlencode({**page.form, "winner": winner}).encode("utf-8")
    reply = _request(server.url + "vote", data, {"Content-Type": "application/x-www-form-urlencoded",
                                                 "Origin": server.url.rstrip("/")})
    assert reply.status == 303, reply.body


def _rows(store_path: Path) -> list[dict[str, object]]:
    with sqlite3.connect(store_path) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM votes ORDER BY tstamp")]


# --------------------------------------------------------------------------------------------- tasks


@pytest.mark.integration
def test_one_task_per_turn_with_the_conversation_up_to_it(tasks: list[AnnotationTask]) -> None:
    assert sorted((t.question_id, t.turn) for t in tasks) == sorted(ALL_TASKS)
    for task in tasks:
        assert task.models == (ALPHA, BETA) and task.multi_turn
        question = QUESTIONS[task.question_id - 101]
        assert task.questions == tuple(question["turns"][: task.turn])
        assert task.answer_1 == tuple(ANSWERS[ALPHA][task.question_id][: task.turn])
        assert task.answer_2 == tuple(ANSWERS[BETA][task.question_id][: task.turn])
        assert task.task_id == task_id_for(task.question_id, BETA, ALPHA, task.turn)
    ids = {t.task_id for t in tasks}
    assert len(ids) == 4
    for qid in (101, 102):  # turn 2's id is not turn 1's, and neither is the old whole-conversation id
        turn_1, turn_2 = task_id_for(qid, ALPHA, BETA, 1), task_id_for(qid, ALPHA, BETA, 2)
        assert len({turn_1, turn_2, task_id_for(qid, ALPHA, BETA)}) == 3


@pytest.mark.integration
def test_task_ids_are_stable_across_builds(inputs: Inputs, tasks: list[AnnotationTask]) -> None:
    assert {t.task_id for t in _tasks(inputs)} == {t.task_id for t in tasks}


@pytest.mark.integration
def test_single_turn_task_ids_are_unchanged(tmp_path: Path) -> None:
    # The id of a single-turn task is what it was before turns existed: sha256 of [question_id, lo, hi].
    def old_id(qid: int | str, model_1: str, model_2: str) -> str:
        canonical = json.dumps([qid, *sorted((model_1, model_2))], ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:20]

    assert task_id_for(1, "m-alpha", "m-beta") == old_id(1, "m-alpha", "m-beta") == "2434de101b8600773da2"
    assert task_id_for("q-7", "モデルB", "モデルA") == old_id("q-7", "モデルA", "モデルB") == "b0bde440a04306ff2b03"

    # A mixed set: the single-turn question gives one task, turn 1, under its old id.
    questions = write_jsonl(tmp_path / "mixed.jsonl", [
        {"question_id": 1, "category": "writing", "turns": ["好きな季節は？"]}, *QUESTIONS])
    answers = []
    for model, texts in ANSWERS.items():
        rows = [{"question_id": 1, "model_id": model, "choices": [{"turns": [f"{model}: 秋"]}]},
                *({"question_id": qid, "model_id": model, "choices": [{"turns": turns}]}
                  for qid, turns in texts.items())]
        answers.append(str(write_jsonl(tmp_path / f"{model}.jsonl", rows)))
    loaded, embedded = load_answers(answers)
    tasks = build_tasks(loaded, resolve_questions(str(questions), embedded), SEED)
    single = [t for t in tasks if t.question_id == 1]
    assert len(tasks) == 5 and len(single) == 1
    assert (single[0].task_id, single[0].turn, single[0].multi_turn) == (old_id(1, ALPHA, BETA), 1, False)
    assert single[0].answer_1 == (f"{ALPHA}: 秋",)


@pytest.mark.integration
def test_a_turn_an_answer_lacks_gives_no_task(tmp_path: Path, inputs: Inputs) -> None:
    # The judge skips a turn either answer lacks, so a human vote on it would have nothing to meet.
    short = write_jsonl(tmp_path / "short.jsonl", [
        {"question_id": 101, "model_id": "m-short", "choices": [{"turns": ["short-101-1"]}]}])
    answers, embedded = load_answers([*map(str, inputs.answer_files), str(short)])
    tasks = build_tasks(answers, resolve_questions(str(inputs.question_file), embedded), SEED)
    with_short = sorted((t.question_id, t.turn) for t in tasks if "m-short" in t.models)
    assert with_short == [(101, 1), (101, 1)]  # against alpha and against beta, turn 1 only
    assert len(tasks) == 4 + 2


# --------------------------------------------------------------------------------------------- pages and votes


@pytest.mark.integration
def test_the_page_walks_through_four_tasks(server: AnnotationServer) -> None:
    seen = []
    for done in range(4):
        page = _page(server, _next(server, "alice"))
        assert page.progress == f"{done} / 4"
        seen.append((page.task.question_id, page.task.turn))
        _vote(server, page, "tie")
    assert sorted(seen) == sorted(ALL_TASKS)
    body = _next(server, "alice")
    assert "完了" in body and '<span id="progress">4 / 4</span>' in body


@pytest.mark.integration
def test_turn_2_page_shows_turn_1_as_context(server: AnnotationServer, tasks: list[AnnotationTask]) -> None:
    task = next(t for t in tasks if (t.question_id, t.turn) == (101, 2))
    page = _page(server, _next(server, "alice", task.task_id))
    body = page.body
    q1, q2 = QUESTIONS[0]["turns"]
    # Context: turn 1's question and each shown model's own turn-1 answer, inside the marked context block.
    context = body[body.index('<section class="context" id="context"'):body.index('<section class="current"')]
    assert "これまでの会話（文脈です。評価の対象ではありません）" in context
    assert _text(context, "question-1") == q1
    assert _text(context, "context-a-1") == ANSWERS[page.shown_a][101][0]
    assert _text(context, "context-b-1") == ANSWERS[page.shown_b][101][0]
    assert "answer-a-" not in context and q2 not in context
    # What is voted on: turn 2's question and the two turn-2 answers, after the context.
    current = body[body.index('<section class="current"'):body.index("</article>")]
    assert "2ターン目・評価対象" in current
    assert _text(current, "question-2") == q2
    assert _text(current, "answer-a-2") == ANSWERS[page.shown_a][101][1]
    assert _text(current, "answer-b-2") == ANSWERS[page.shown_b][101][1]
    assert 'id="answer-a-1"' not in body and 'id="turn-prompt"' in body
    # The hostile turn-1 answer is context now, and still only text.
    assert "<script>" not in body and "<b>紅葉" not in body
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;紅葉&lt;/b&gt;" in context
    for model in (ALPHA, BETA):  # the page never names the models
        assert model not in body


@pytest.mark.integration
def test_turn_1_page_shows_turn_1_alone(server: AnnotationServer, tasks: list[AnnotationTask]) -> None:
    task = next(t for t in tasks if (t.question_id, t.turn) == (102, 1))
    page = _page(server, _next(server, "alice", task.task_id))
    q1, q2 = QUESTIONS[1]["turns"]
    assert 'id="context"' not in page.body and "context-a-" not in page.body
    assert _text(page.body, "question-1") == q1 and q2 not in page.body
    assert _text(page.body, "answer-a-1") == ANSWERS[page.shown_a][102][0]
    assert _text(page.body, "answer-b-1") == ANSWERS[page.shown_b][102][0]
    assert all(ANSWERS[model][102][1] not in page.body for model in (ALPHA, BETA))


@pytest.mark.integration
def test_a_vote_on_turn_2_is_stored_with_turn_2(server: AnnotationServer, tasks: list[AnnotationTask],
                                                store_path: Path, tmp_path: Path) -> None:
    task = next(t for t in tasks if (t.question_id, t.turn) == (102, 2))
    page = _page(server, _next(server, "alice", task.task_id))
    _vote(server, page, BETA)
    (row,) = _rows(store_path)
    assert (row["task_id"], row["question_id"], row["turn"], row["category"]) == (task.task_id, 102, 2, "reasoning")
    assert row["winner"] == ("model_a" if page.shown_a == BETA else "model_b")
    out = tmp_path / "votes.jsonl"
    assert export_votes(store_path, out) == 1
    (vote,) = read_human_votes(out)
    assert (vote.key, vote.winner, vote.voter) == ((102, ALPHA, BETA, 2), "hi", "alice")


# --------------------------------------------------------------------------------------------- agreement


@pytest.mark.unit
def test_judgment_rows_map_to_their_turn(tmp_path: Path) -> None:
    rows = [pairwise_row(7, 1, "model_1", model_1=ALPHA, model_2=BETA),  # no turn: a single-turn question
            pairwise_row(7, 2, "model_1", model_1=ALPHA, model_2=BETA),
            pairwise_row(8, 1, "model_2", model_1=ALPHA, model_2=BETA, turn=1),
            pairwise_row(8, 2, "model_2", model_1=ALPHA, model_2=BETA, turn=1),
            pairwise_row(8, 1, "model_1", model_1=ALPHA, model_2=BETA, turn=2),
            pairwise_row(8, 2, "model_1", model_1=ALPHA, model_2=BETA, turn=2)]
    (votes,) = read_judge_votes(write_jsonl(tmp_path / "judgments.jsonl", rows)).values()
    assert sorted((v.key, v.winner) for v in votes.votes) == [
        ((7, ALPHA, BETA, 1), "lo"), ((8, ALPHA, BETA, 1), "hi"), ((8, ALPHA, BETA, 2), "lo")]


def _stub_reply(request: dict, _index: int) -> str:
    """The judge stand-in: finds the question, the turn judged and which model is A from the prompt."""
    prompt = request["messages"][-1]["content"]
    question = next(q for q in QUESTIONS if q["turns"][0] in prompt)
    qid = question["question_id"]
    turn = 2 if question["turns"][1] in prompt else 1
    better = JUDGE[(qid, turn)]
    if better == "tie":
        return "理由: 同程度です。\n[[C]]"
    shown_a = ALPHA if prompt.index(f"alpha-{qid}-{turn}") < prompt.index(f"beta-{qid}-{turn}") else BETA
    return f"理由: 比べました。\n[[{'A' if better == shown_a else 'B'}]]"


def _hand_count(humans: dict[str, dict[tuple[int, int], str]], judge: dict[tuple[int, int], str] | None,
                turn: int) -> tuple[float, float]:
    """FastChat's agreement on one turn, with and without ties: judge vs each human, else human vs human."""
    keys = sorted(key for key in ALL_TASKS if key[1] == turn)
    names = sorted(humans)
    if judge is not None:
        pairs = [(judge[key], humans[name][key]) for key in keys for name in names]
    else:
        pairs = [(humans[a][key], humans[b][key]) for key in keys for i, a in enumerate(names) for b in names[i + 1:]]
    untied = [(a, b) for a, b in pairs if "tie" not in (a, b)]
    return sum(a == b for a, b in pairs) / len(pairs), sum(a == b for a, b in untied) / len(untied)


@pytest.mark.integration
def test_agreement_per_turn_from_the_page_and_the_judge(server: AnnotationServer, inputs: Inputs, store_path: Path,
                                                        tmp_path: Path) -> None:
    # Both annotators vote on every task through the page.
    for name, taste in HUMANS.items():
        for _ in ALL_TASKS:
            page = _page(server, _next(server, name))
            _vote(server, page, taste[(page.task.question_id, page.task.turn)])
    votes = tmp_path / "human_votes.jsonl"
    assert export_votes(store_path, votes) == 8

    # The judge judges turn by turn (turn 2 on the whole conversation), both orders, through the CLI.
    home, out = tmp_path / "home", tmp_path / "judged"
    with JudgeStub(reply=_stub_reply) as stub:
        judged = run_cli("jp-bench", "judge", *map(str, inputs.answer_files), "--judge", "gpt-4o", "--mode", "pairwise",
                         "--baseline", BETA, "--benchmark", str(inputs.question_file), "--out", str(out),
                         "--workspace", str(tmp_path / "ws.sqlite"),
                         env={"JP_BENCH_HOME": str(home), "OPENAI_API_KEY": "sk-test-turns",
                              "OPENAI_BASE_URL": stub.base_url}, timeout=300)
        assert judged.returncode == 0, judged.stderr[-3000:]
        assert stub.calls == 8  # 2 questions x 2 turns x 2 orders
    rows = [json.loads(line) for line in (out / "judgments.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted((r["question_id"], r["turn"], r["game"]) for r in rows) == sorted(
        (qid, turn, game) for qid, turn in ALL_TASKS for game in (1, 2))
    assert {r["prompt"] for r in rows if r["turn"] == 2} == {"pairwise_multi"}

    result = main_in_process("agreement", "--human", str(votes), "--judgments", str(out / "judgments.jsonl"),
                     "--format", "json", "--bootstrap", "50")
    assert result.returncode == 0, result.stderr
    entries = {entry["kind"]: entry for entry in json.loads(result.stdout)}
    judge_human, human_human = entries["judge-human"], entries["human-human"]
    assert judge_human["pair"] == "gpt-4o vs human"

    expected = {turn: _hand_count(HUMANS, JUDGE, turn) for turn in (1, 2)}
    assert expected == {1: (0.75, 1.0), 2: (0.5, 0.5)}  # the hand count itself, spelled out
    for turn, (with_ties, without_ties) in expected.items():
        figures = judge_human["by_turn"][str(turn)]
        assert figures["with_ties"]["agreement"] == pytest.approx(with_ties)
        assert figures["with_ties"]["n"] == 4 and figures["with_ties"]["n_keys"] == 2
        assert figures["without_ties"]["agreement"] == pytest.approx(without_ties)
    assert judge_human["with_ties"]["agreement"] == pytest.approx(5 / 8)  # both turns: 3 + 2 of 8
    assert judge_human["without_ties"]["agreement"] == pytest.approx(4 / 6)

    expected_hh = {turn: _hand_count(HUMANS, None, turn) for turn in (1, 2)}
    assert expected_hh == {1: (0.5, 1.0), 2: (0.0, 0.0)}
    for turn, (with_ties, without_ties) in expected_hh.items():
        figures = human_human["by_turn"][str(turn)]
        assert figures["with_ties"]["agreement"] == pytest.approx(with_ties) and figures["with_ties"]["n"] == 2
        assert figures["without_ties"]["agreement"] == pytest.approx(without_ties)

    # The table shows each turn under its comparison.
    table = main_in_process("agreement", "--human", str(votes), "--judgments", str(out / "judgments.jsonl"),
                    "--bootstrap", "50")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("gpt-4o vs human"))
    assert lines[start + 1].split()[:3] == ["turn", "1", "0.750"]
    assert lines[start + 2].strip().startswith("turn 2") and " 0.500 " in lines[start + 2]
