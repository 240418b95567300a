"""The human annotation tool: tasks, the vote store, the HTTP server (urllib) and its pages in headless Chromium.

Answers are three small FastChat answer files (model ``m-gamma`` skipped question 3) and a question file
with categories, all written into ``tmp_path``; the server runs on a free port and is always shut down.
"""

from __future__ import annotations

import html
import json
import os
import re
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from jp_bench.annotate import (
    AnnotationServer,
    AnnotationTask,
    build_tasks,
    export_votes,
    serve,
    shown_order,
    task_id_for,
)
from jp_bench.errors import JpBenchError
from jp_bench.judging.service import load_answers, resolve_questions
from jp_bench.votes import read_human_votes
from tests.support.page_client import Reply
from tests.support.page_client import request as _request

CHROMIUM = Path(os.environ.get("JP_BENCH_CHROMIUM", "/usr/bin/chromium"))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SEED = 7
MODELS = ("m-alpha", "m-beta", "m-gamma")
QUESTIONS = [
    {"question_id": 1, "category": "writing", "turns": ["日本の四季について短い詩を書いてください。"]},
    {"question_id": 2, "category": "coding", "turns": ["Pythonで <b>タグ</b> & 記号をエスケープする方法は？"]},
    {"question_id": 3, "category": "math", "turns": ["1から10までの和を求めてください。"]},
]
ANSWERS = {
    "m-alpha": {1: "春は桜\n夏は海\n秋は紅葉\n冬は雪", 2: "html.escape を使います。\n例: html.escape(s)",
                3: "答えは55です。"},
    "m-beta": {1: "四季はめぐる。\n\n以上。", 2: '<script>alert("x")</script> & <b>危険</b>', 3: "和は五十五。"},
    "m-gamma": {1: "桜、蝉、月、雪。", 2: "markupsafe を使うと安全です。"},  # no answer to question 3
}
EXPECTED_PAIRS = {(1, "m-alpha", "m-beta"), (1, "m-alpha", "m-gamma"), (1, "m-beta", "m-gamma"),
                  (2, "m-alpha", "m-beta"), (2, "m-alpha", "m-gamma"), (2, "m-beta", "m-gamma"),
                  (3, "m-alpha", "m-beta")}


@dataclass(frozen=True)
class Inputs:
    answer_files: list[Path]
    question_file: Path


@pytest.fixture
def inputs(tmp_path: Path) -> Inputs:
    folder = tmp_path / "model_answer"
    folder.mkdir()
    files = []
    for model, answers in ANSWERS.items():
        path = folder / f"{model}.jsonl"
        path.write_text("".join(
            json.dumps({"question_id": qid, "model_id": model, "choices": [{"index": 0, "turns": [text]}],
                        "tstamp": 1.0}, ensure_ascii=False) + "\n" for qid, text in answers.items()), encoding="utf-8")
        files.append(path)
    question_file = tmp_path / "question.jsonl"
    question_file.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QUESTIONS), encoding="utf-8")
    return Inputs(files, question_file)


def _tasks(inputs: Inputs, seed: int = SEED, reverse: bool = False) -> list[AnnotationTask]:
    sources = [str(path) for path in (reversed(inputs.answer_files) if reverse else inputs.answer_files)]
    answers, embedded = load_answers(sources)
    return build_tasks(answers, resolve_questions(str(inputs.question_file), embedded), seed)


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


# --------------------------------------------------------------------------------------------- HTTP helpers


def _get(server: AnnotationServer, path: str) -> Reply:
    return _request(server.url.rstrip("/") + path)


def _post(server: AnnotationServer, fields: dict[str, str], headers: dict[str, str] | None = None) -> Reply:
    data = urllib.parse.urlencode(fields).encode("utf-8")
    return _request(server.url + "vote", data,
                    {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})


def _next(server: AnnotationServer, annotator: str, task: str | None = None) -> Reply:
    query = {"annotator": annotator, **({"task": task} if task else {})}
    return _get(server, "/next?" + urllib.parse.urlencode(query))


@dataclass(frozen=True)
class TaskPage:
    task_id: str
    shown_a: str
    shown_b: str
    progress: str
    form: dict[str, str] = field(compare=False)  # its order token is signed by the server that served it


def _hidden(page: str) -> dict[str, str]:
    return {name: html.unescape(value)
            for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page)}


def _task_page(reply: Reply, server: AnnotationServer) -> TaskPage:
    """A task page as the browser got it; which model was A is read back from the page's signed token."""
    assert reply.status == 200, reply.body
    found = re.search(r'data-task-id="([0-9a-f]+)"', reply.body)
    assert found, f"not a task page: {reply.body[:400]}"
    progress = re.search(r'<span id="progress">([^<]*)</span>', reply.body)
    assert progress
    form = _hidden(reply.body)
    assert form["task_id"] == found.group(1) and set(form) == {"task_id", "annotator", "order"}
    task = server.app.by_id[form["task_id"]]
    shown_a, shown_b = server.app.shown_order_of(task, form["annotator"], form["order"])
    return TaskPage(found.group(1), shown_a, shown_b, progress.group(1), form)


def _vote(server: AnnotationServer, page: TaskPage, winner: str) -> Reply:
    return _post(server, {**page.form, "winner": winner})


def _rows(store_path: Path) -> list[dict[str, object]]:
    with sqlite3.connect(store_path) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM votes ORDER BY tstamp")]


# --------------------------------------------------------------------------------------------- tasks


@pytest.mark.integration
def test_build_tasks_covers_every_pair_that_both_answered(tasks: list[AnnotationTask]) -> None:
    assert {(t.question_id, t.model_1, t.model_2) for t in tasks} == EXPECTED_PAIRS
    assert len(tasks) == len(EXPECTED_PAIRS)
    for task in tasks:
        assert task.model_1 < task.model_2 and task.turn == 1
        assert task.category == QUESTIONS[int(task.question_id) - 1]["category"]
        assert task.answer_1 == (ANSWERS[task.model_1][task.question_id],)
        assert task.answer_2 == (ANSWERS[task.model_2][task.question_id],)
        assert task.task_id == task_id_for(task.question_id, task.model_2, task.model_1)
    assert len({t.task_id for t in tasks}) == len(tasks)


@pytest.mark.integration
def test_task_ids_are_stable_and_order_follows_the_seed(inputs: Inputs, tasks: list[AnnotationTask]) -> None:
    again = _tasks(inputs, reverse=True)  # other load order, same seed: same ids, same order
    assert [t.task_id for t in again] == [t.task_id for t in tasks]
    other = _tasks(inputs, seed=SEED + 1)
    assert {t.task_id for t in other} == {t.task_id for t in tasks}
    assert [t.task_id for t in other] != [t.task_id for t in tasks]
    assert task_id_for(1, "a", "b") == task_id_for(1, "b", "a") != task_id_for("1", "a", "b")


@pytest.mark.unit
def test_build_tasks_without_pairs_is_an_error(inputs: Inputs) -> None:
    answers, _ = load_answers([str(inputs.answer_files[0])])
    with pytest.raises(JpBenchError, match="nothing to annotate"):
        build_tasks(answers, resolve_questions(str(inputs.question_file), []), 0)


@pytest.mark.integration
def test_shown_order_is_fixed_per_annotator_and_task(tasks: list[AnnotationTask]) -> None:
    for task in tasks:
        order = shown_order(task, "alice", SEED)
        assert set(order) == set(task.models) and shown_order(task, "alice", SEED) == order
    orders = {shown_order(task, name, SEED) == task.models for task in tasks for name in ("alice", "bob", "carol")}
    assert orders == {True, False}, "both left/right orders should occur"


# --------------------------------------------------------------------------------------------- pages


@pytest.mark.integration
def test_name_page(server: AnnotationServer) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    reply = _get(server, "/")
    assert reply.status == 200 and reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<html lang="ja">' in reply.body and "評価者名" in reply.body
    assert '<form method="get" action="/next"' in reply.body and 'name="annotator"' in reply.body
    assert "script-src" not in reply.headers["Content-Security-Policy"]  # default-src 'none': no scripts
    for external in ("http://", "https://", "<link", "<script", "@import"):
        assert external not in reply.body


@pytest.mark.integration
def test_next_without_a_name_goes_back_to_the_name_page(server: AnnotationServer) -> None:
    for path in ("/next", "/next?annotator=", "/next?annotator=%20%20"):
        reply = _get(server, path)
        assert reply.status == 303 and reply.headers["Location"] == "/"
    assert _next(server, "x" * 65).status == 400
    assert _get(server, "/nowhere").status == 404
    assert _get(server, "/vote").status == 405


@pytest.mark.integration
def test_next_shows_the_question_and_both_answers_anonymised(server: AnnotationServer,
                                                             tasks: list[AnnotationTask]) -> None:
    reply = _next(server, "alice")
    page = _task_page(reply, server)
    task = next(t for t in tasks if t.task_id == page.task_id)
    assert page.task_id == tasks[0].task_id  # the shared order: first task first
    assert (page.shown_a, page.shown_b) == shown_order(task, "alice", SEED)
    assert page.progress == f"0 / {len(tasks)}"
    body = reply.body
    assert html.escape(task.question.text, quote=False) in body
    answer_a = re.search(r'id="answer-a-1">([^<]*)<', body)
    answer_b = re.search(r'id="answer-b-1">([^<]*)<', body)
    assert answer_a and answer_b
    assert html.unescape(answer_a.group(1)) == task.answer_of(page.shown_a)[0]
    assert html.unescape(answer_b.group(1)) == task.answer_of(page.shown_b)[0]
    assert "回答A" in body and "回答B" in body and "同等" in body and "white-space: pre-wrap" in body
    for model in MODELS:  # not on the page, not in its source (hidden fields included)
        assert model not in body, f"model name {model} in the page"


@pytest.mark.integration
def test_text_is_escaped(server: AnnotationServer, tasks: list[AnnotationTask]) -> None:
    task = next(t for t in tasks if t.models == ("m-alpha", "m-beta") and t.question_id == 2)
    body = _next(server, "alice", task.task_id).body
    assert "<script>" not in body and "<b>" not in body
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;危険&lt;/b&gt;" in body
    assert "Pythonで &lt;b&gt;タグ&lt;/b&gt; &amp; 記号" in body
    assert _next(server, "alice", "0" * 20).status == 404


# --------------------------------------------------------------------------------------------- votes


@pytest.mark.integration
def test_vote_is_stored_at_once(server: AnnotationServer, store_path: Path, tasks: list[AnnotationTask]) -> None:
    page = _task_page(_next(server, "alice"), server)
    reply = _vote(server, page, "a")
    assert reply.status == 303 and reply.headers["Location"] == "/next?annotator=alice"
    rows = _rows(store_path)  # a separate connection sees the vote: it was committed
    task = next(t for t in tasks if t.task_id == page.task_id)
    assert rows == [{
        "task_id": page.task_id, "annotator": "alice", "question_id": task.question_id, "model_a": page.shown_a,
        "model_b": page.shown_b, "winner": "model_a", "category": task.category, "turn": 1,
        "tstamp": rows[0]["tstamp"],
    }]
    assert isinstance(rows[0]["question_id"], int)
    with sqlite3.connect(store_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.integration
def test_revote_replaces(server: AnnotationServer, store_path: Path) -> None:
    page = _task_page(_next(server, "alice"), server)
    assert _vote(server, page, "a").status == 303
    again = _task_page(_next(server, "alice", page.task_id), server)
    assert (again.shown_a, again.shown_b) == (page.shown_a, page.shown_b)
    assert 'id="already-voted"' in _next(server, "alice", page.task_id).body
    assert _vote(server, again, "tie").status == 303
    assert _vote(server, again, "b").status == 303
    rows = _rows(store_path)
    assert len(rows) == 1 and rows[0]["winner"] == "model_b"


@pytest.mark.integration
def test_resume_shows_a_new_task_and_keeps_the_order(server: AnnotationServer, tasks: list[AnnotationTask],
                                                     store_path: Path) -> None:
    first = _task_page(_next(server, "alice"), server)
    assert _vote(server, first, "a").status == 303
    second = _task_page(_next(server, "alice"), server)
    assert second.task_id != first.task_id and second.progress == f"1 / {len(tasks)}"
    assert _vote(server, second, "b").status == 303
    third = _task_page(_next(server, "alice"), server)
    assert third.task_id not in (first.task_id, second.task_id)
    assert third.progress == f"2 / {len(tasks)}"
    reloaded = _task_page(_next(server, "alice"), server)
    assert reloaded == third  # same task, same A/B order on reload

    other = _task_page(_next(server, "bob"), server)  # another annotator starts from the beginning
    assert other.task_id == first.task_id and other.progress == f"0 / {len(tasks)}"

    server.shutdown()  # a restarted server on the same store resumes too
    with serve(tasks, store_path, seed=SEED) as restarted:
        assert _task_page(_next(restarted, "alice"), restarted) == third


@pytest.mark.integration
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"task_id": "0" * 20}, "unknown task_id"),
        ({"task_id": ""}, "unknown task_id"),
        ({"winner": "c"}, "bad winner"),
        ({"winner": ""}, "bad winner"),
        ({"annotator": ""}, "annotator is missing"),
        ({"annotator": "   "}, "annotator is missing"),
        ({"annotator": "a\nb"}, "評価者名が不正です"),
        ({"order": "0" * 40}, "bad order token"),
        ({"order": ""}, "bad order token"),
        ({"annotator": "bob"}, "bad order token"),  # alice's page posted under another name
    ],
)
def test_bad_votes_are_refused(server: AnnotationServer, store_path: Path, change: dict[str, str],
                               message: str) -> None:
    page = _task_page(_next(server, "alice"), server)
    reply = _post(server, {**page.form, "winner": "a", **change})
    assert reply.status in (400, 403) and message in reply.body
    assert _rows(store_path) == []


@pytest.mark.integration
def test_bad_requests_are_refused(server: AnnotationServer, store_path: Path) -> None:
    page = _task_page(_next(server, "alice"), server)
    fields = urllib.parse.urlencode({**page.form, "winner": "a"}).encode()
    json_body = _request(server.url + "vote", json.dumps(page.form).encode(), {"Content-Type": "application/json"})
    assert json_body.status == 400
    assert _request(server.url + "vote", fields, {"Content-Type": "application/x-www-form-urlencoded",
                                                  "Origin": "http://evil.example"}).status == 403
    assert _request(server.url + "next?annotator=x", headers={"Host": "evil.example"}).status == 400
    assert _request(server.url + "elsewhere", fields,
                    {"Content-Type": "application/x-www-form-urlencoded"}).status == 404
    assert _rows(store_path) == []
    same_origin = server.url.rstrip("/")
    assert _request(server.url + "vote", fields, {"Content-Type": "application/x-www-form-urlencoded",
                                                  "Origin": same_origin}).status == 303


@pytest.mark.integration
def test_concurrent_votes(server: AnnotationServer, store_path: Path, tasks: list[AnnotationTask]) -> None:
    def annotate(name: str) -> None:
        for task in tasks:
            shown_a, _ = shown_order(task, name, SEED)
            reply = _post(server, {"task_id": task.task_id, "annotator": name,
                                   "order": server.app.order_token(task, name, shown_a), "winner": "tie"})
            assert reply.status == 303

    threads = [threading.Thread(target=annotate, args=(f"annotator-{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(_rows(store_path)) == 6 * len(tasks)


# --------------------------------------------------------------------------------------------- export


RANKING = {"m-gamma": 0, "m-alpha": 1, "m-beta": 2}  # the annotator's taste: gamma > alpha > beta; q3 a tie


def _preferred(task: AnnotationTask) -> str | None:
    if task.question_id == 3:
        return None
    return min(task.models, key=RANKING.__getitem__)


@pytest.mark.integration
def test_done_page_and_export_round_trip(server: AnnotationServer, tasks: list[AnnotationTask], store_path: Path,
                                         tmp_path: Path) -> None:
    swapped = 0
    for _ in tasks:
        page = _task_page(_next(server, "田中"), server)
        task = next(t for t in tasks if t.task_id == page.task_id)
        swapped += (page.shown_a, page.shown_b) != task.models
        best = _preferred(task)
        winner = "tie" if best is None else ("a" if best == page.shown_a else "b")
        assert _vote(server, page, winner).status == 303
    assert 0 < swapped < len(tasks), "the test needs both left/right orders"
    done = _next(server, "田中")
    assert done.status == 200 and "完了" in done.body and "jp-bench annotate --export" in done.body
    assert "/export.jsonl" not in done.body  # the export is the operator's, not the page's
    assert f'<span id="progress">{len(tasks)} / {len(tasks)}</span>' in done.body

    out = tmp_path / "exports" / "human_votes.jsonl"
    assert export_votes(store_path, out) == len(tasks)
    assert _get(server, "/export.jsonl").status == 403  # any local process could ask: a token is needed
    assert _get(server, "/export.jsonl?token=guess").status == 403
    served = _get(server, server.export_url.removeprefix(server.url.rstrip("/")))
    assert served.status == 200 and served.headers["Content-Type"].startswith("application/x-ndjson")
    assert served.body == out.read_text(encoding="utf-8")
    first = json.loads(served.body.splitlines()[0])
    assert set(first) >= {"question_id", "model_a", "model_b", "winner", "annotator", "turn", "category", "tstamp"}

    votes = read_human_votes(out)
    assert len(votes) == len(tasks)
    by_key = {(v.question_id, v.model_lo, v.model_hi): v for v in votes}
    for task in tasks:
        vote = by_key[(task.question_id, task.model_1, task.model_2)]
        best = _preferred(task)
        expected = "tie" if best is None else ("lo" if best == task.model_1 else "hi")
        assert vote.winner == expected, task
        assert (vote.voter, vote.turn, vote.category) == ("田中", 1, task.category)


@pytest.mark.unit
def test_export_of_a_missing_store_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(JpBenchError, match="no such store"):
        export_votes(tmp_path / "nothing.sqlite", tmp_path / "out.jsonl")


@pytest.mark.integration
def test_serve_listens_on_loopback_only(tasks: list[AnnotationTask], store_path: Path) -> None:
    for host in ("0.0.0.0", "192.168.1.10", "example.com"):
        with pytest.raises(JpBenchError, match=r"127\.0\.0\.1 only"):
            serve(tasks, store_path, host=host)


@pytest.mark.integration
def test_run_annotation_serves_until_ctrl_c(inputs: Inputs, store_path: Path) -> None:
    code = ("import sys; from jp_bench.annotate import run_annotation; "
            "run_annotation(sys.argv[3:], sys.argv[1], sys.argv[2], 0)")
    process = subprocess.Popen(
        [sys.executable, "-u", "-c", code, str(inputs.question_file), str(store_path),
         *map(str, inputs.answer_files)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline(), process.stdout.readline()]
        found = re.search(r"http://127\.0\.0\.1:\d+/", lines[1])
        assert found, lines
        assert lines[0].startswith(f"{len(EXPECTED_PAIRS)} tasks (3 models, 3 questions)")
        assert _request(found.group(0) + "next?annotator=z").status == 200
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "stopped; 0 vote(s)" in out and "Traceback" not in err


# --------------------------------------------------------------------------------------------- browser


def _chromium(tmp_path: Path, *args: str) -> str:
    if not CHROMIUM.is_file():
        pytest.fail(f"headless Chromium is needed for the annotation page test but {CHROMIUM} is missing; "
                    "install it with: apt-get update && apt-get install -y chromium")
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chromium-profile'}",
               "--no-proxy-server", "--virtual-time-budget=3000", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout


def _dom_text(dom: str, element_id: str) -> str:
    found = re.search(rf'id="{re.escape(element_id)}"[^>]*>([^<]*)<', dom)
    assert found, f"#{element_id} not in the DOM"
    return html.unescape(found.group(1))


@pytest.mark.integration
def test_task_page_in_headless_chromium(server: AnnotationServer, tasks: list[AnnotationTask],
                                        tmp_path: Path) -> None:
    url = server.url + "next?annotator=x"
    dom = _chromium(tmp_path, "--dump-dom", url)
    first = tasks[0]
    shown_a, shown_b = shown_order(first, "x", SEED)
    assert f'data-task-id="{first.task_id}"' in dom
    assert _dom_text(dom, "question-1") == first.question.text
    assert _dom_text(dom, "answer-a-1") == first.answer_of(shown_a)[0]
    assert _dom_text(dom, "answer-b-1") == first.answer_of(shown_b)[0]
    assert _dom_text(dom, "progress") == f"0 / {len(tasks)}"

    shot = tmp_path / "task.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,900", "--hide-scrollbars", url)
    data = shot.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (1280, 900)
    assert len(data) > 10_000, "screenshot looks blank"

    # Vote with what the browser's form holds (its hidden fields and the A button, sent with the page's
    # Origin), then reload in the browser: the next task, and the counter advanced.
    form = _hidden(dom)
    assert form == {"task_id": first.task_id, "annotator": "x", "order": server.app.order_token(first, "x", shown_a)}
    assert re.search(r'<button type="submit" name="winner" value="a"[^>]*>回答Aが良い</button>', dom)
    assert _post(server, {**form, "winner": "a"}, {"Origin": server.url.rstrip("/")}).status == 303
    dom = _chromium(tmp_path, "--dump-dom", url)
    assert f'data-task-id="{tasks[1].task_id}"' in dom
    assert _dom_text(dom, "question-1") == tasks[1].question.text
    assert _dom_text(dom, "progress") == f"1 / {len(tasks)}"


@pytest.mark.integration
def test_cli_serves_votes_and_exports(tmp_path: Path) -> None:
    """`jp-bench annotate --pairs ...` as a user runs it: serve, vote, Ctrl-C, export."""
    import re
    import signal
    import subprocess
    import urllib.parse
    import urllib.request

    from tests.support.paths import BIN

    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question_id": 1, "category": "generic", "turns": ["好きな季節は？"]}\n', encoding="utf-8")
    sources = []
    for model in ("m1", "m2"):
        path = tmp_path / f"{model}.jsonl"
        path.write_text(json.dumps({"question_id": 1, "model_id": model, "choices": [{"turns": [f"{model}です"]}]},
                                   ensure_ascii=False) + "\n", encoding="utf-8")
        sources.append(str(path))
    store = tmp_path / "ws.sqlite"
    process = subprocess.Popen([str(BIN / "jp-bench"), "annotate", "--pairs", *sources, "--benchmark", str(questions),
                                "--workspace", str(store)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        for _ in range(20):
            line = process.stdout.readline()
            found = re.search(r"(http://127\.0\.0\.1:\d+/?\S*)", line)
            if found:
                url = found.group(1).rstrip("/")
                break
        assert url, "the server did not print its address"
        page = urllib.request.urlopen(f"{url}/next?annotator=alice", timeout=10).read().decode()
        fields = dict(re.findall(r'name="(task_id|annotator|order)" value="([^"]*)"', page))
        data = urllib.parse.urlencode({**fields, "winner": "a"}).encode()
        urllib.request.urlopen(urllib.request.Request(f"{url}/vote", data=data, headers={"Origin": url}), timeout=10)
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "1 vote(s)" in out
    export = tmp_path / "votes.jsonl"
    result = subprocess.run([str(BIN / "jp-bench"), "annotate", "--export", str(export), "--workspace", str(store)],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "exported 1 votes" in result.stdout
    (vote,) = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]
    assert vote["annotator"] == "alice" and vote["winner"] == "model_a"


@pytest.mark.integration
def test_cross_site_fetches_are_refused(server: AnnotationServer, store_path: Path) -> None:
    page = _task_page(_next(server, "alice"), server)
    fields = {**page.form, "winner": "a"}
    for site in ("cross-site", "same-site"):
        assert _post(server, fields, {"Sec-Fetch-Site": site}).status == 403
    assert _rows(store_path) == []
    assert _post(server, fields, {"Sec-Fetch-Site": "same-origin"}).status == 303


@pytest.mark.integration
def test_slow_and_vanishing_clients_cost_nothing(tasks: list[AnnotationTask], store_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    import socket

    from jp_bench.annotate import server as server_module

    monkeypatch.setattr(server_module._Handler, "timeout", 0.5)
    with serve(tasks, store_path, seed=SEED) as running:
        slow = socket.create_connection((running.host, running.port))
        slow.sendall(b"GET /next?annotator=x HTTP/1.1\r\n")  # and never finishes the request
        slow.settimeout(5)
        assert slow.recv(1024) == b""  # the server hung up on it after its timeout
        slow.close()
        for _ in range(5):  # clients that leave before the answer
            gone = socket.create_connection((running.host, running.port))
            gone.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            gone.sendall(f"GET /next?annotator=x HTTP/1.1\r\nHost: {running.host}:{running.port}\r\n\r\n".encode())
            gone.close()
        assert _next(running, "alice").status == 200  # still serving
    assert "Traceback" not in capfd.readouterr().err
