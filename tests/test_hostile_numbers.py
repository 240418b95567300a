"""Careless and hostile input that used to give wrong or misleading numbers, or lose data (issue 20, point 4):
the plan line of a re-run, absurd prices, jury members given twice or under one name, jury pooling with a
member's verdict missing, multi-turn answers that do not fit their questions, --turn outside the
benchmark's turns, and a store that cannot be written any more (disk full, read-only).

Every run goes through the real CLI in-process (``jp_bench.cli.main``) against a local OpenAI-compatible
stand-in (tests/support/judge_stub.py) on 127.0.0.1, with a real SQLite store in the test's folder.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from jp_bench.cli import main
from jp_bench.errors import JpBenchError
from jp_bench.judging.outputs import judgment_lines
from jp_bench.llm.store import CallRecord, Store, StoreWriteError
from jp_bench.reporting.report import build_report
from jp_bench.reporting.sources import load_judgments
from tests.support.files import write_jsonl, write_two_turn_questions
from tests.support.judge_stub import JudgeStub, always
from tests.support.judgment_rows import pairwise_row, single_row


@pytest.fixture(autouse=True)
def _isolated(jp_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("JP_BENCH_JUDGES_DIR", raising=False)


def judge_yaml(folder: Path, name: str, url: str, *, file: str | None = None, extra: str = "") -> Path:
    path = folder / f"{file or name}.yaml"
    path.write_text(f"name: {name}\nprovider: openai-compatible\nmodel: stub-judge\nbase_url: {url}\n"
                    f"temperature: 0\nconcurrency: 2\nprices: {{input_per_mtok: 1, output_per_mtok: 2}}\n{extra}",
                    encoding="utf-8")
    return path


def answers(path: Path, model: str, turns: dict[int, list[str]]) -> Path:
    """A FastChat answer file: ``{question_id: [turn texts]}``."""
    return write_jsonl(path, [{"question_id": q, "model_id": model, "choices": [{"index": 0, "turns": t}]}
                              for q, t in turns.items()])


def one_turn_questions(path: Path, count: int) -> Path:
    return write_jsonl(path, [{"question_id": q, "category": "writing", "turns": [f"質問{q}"]}
                              for q in range(1, count + 1)])


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


# ----------------------------------------------------------------------------------- the plan line
@pytest.mark.integration
def test_the_plan_line_of_a_rerun_counts_only_what_will_be_called(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    questions = one_turn_questions(tmp_path / "q.jsonl", 6)
    model = answers(tmp_path / "model.jsonl", "model", {q: [f"答え{q}"] for q in range(1, 7)})
    with JudgeStub(reply=always("理由\n[[8]]")) as stub:
        judge = judge_yaml(tmp_path, "stub", stub.base_url)
        args = ["judge", str(model), "--judge", str(judge), "--mode", "single", "--benchmark", str(questions),
                "--workspace", str(tmp_path / "ws.sqlite")]
        assert main(args) == 0
        first = capsys.readouterr().out
        assert "to call now: 6 " in first and stub.calls == 6
        assert main(args) == 0
        again = capsys.readouterr().out
        assert stub.calls == 6
        # It said 6 again before the fix (the estimate of the whole plan, not of the calls to make).
        assert "to call now: 0 " in again and "~$0.00" in again, again
        assert main([*args, "--dry-run"]) == 0
        assert "to call now: 0 " in capsys.readouterr().out


# ----------------------------------------------------------------------------------- prices
@pytest.mark.integration
def test_an_absurd_price_is_refused_at_load(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    questions = one_turn_questions(tmp_path / "q.jsonl", 2)
    model = answers(tmp_path / "model.jsonl", "model", {1: ["a"], 2: ["b"]})
    with JudgeStub(reply=always("[[8]]")) as stub:
        judge = tmp_path / "pricey.yaml"
        judge.write_text(f"name: pricey\nprovider: openai-compatible\nmodel: m\nbase_url: {stub.base_url}\n"
                         "prices: {input_per_mtok: 1e308, output_per_mtok: 1}\n", encoding="utf-8")
        code = main(["judge", str(model), "--judge", str(judge), "--mode", "single", "--benchmark", str(questions),
                     "--workspace", str(tmp_path / "ws.sqlite"), "--out", str(tmp_path / "out")])
        assert code == 1 and stub.calls == 0
    line = last_line(capsys.readouterr().err)
    assert f"{judge}:5:" in line and "prices.input_per_mtok" in line, line
    assert not (tmp_path / "out").exists()


@pytest.mark.unit
def test_judgments_files_never_hold_infinity_or_nan() -> None:
    row = single_row(7, "model", 8.0)
    assert json.loads(judgment_lines([row]))["score"] == 8.0
    for bad in (math.inf, math.nan):
        with pytest.raises(JpBenchError, match=r"question 7 .*not a finite number \(cost_usd\)"):
            judgment_lines([{**row, "cost_usd": bad}])


# ----------------------------------------------------------------------------------- juries
@pytest.mark.integration
def test_jury_members_of_one_name_are_refused_naming_both_files(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    model = answers(tmp_path / "model.jsonl", "model", {1: ["a"]})
    questions = one_turn_questions(tmp_path / "q.jsonl", 1)
    with JudgeStub(reply=always("[[8]]")) as stub:
        first = judge_yaml(tmp_path, "same", stub.base_url, file="one")
        second = judge_yaml(tmp_path, "same", stub.base_url, file="two", extra="max_tokens: 100\n")
        code = main(["judge", str(model), "--judge", str(first), "--judge", str(second), "--mode", "single",
                     "--benchmark", str(questions), "--workspace", str(tmp_path / "ws.sqlite"),
                     "--out", str(tmp_path / "out")])
        assert code == 1 and stub.calls == 0
    line = last_line(capsys.readouterr().err)
    assert str(first) in line and str(second) in line and "'same'" in line, line
    assert not (tmp_path / "out").exists()


@pytest.mark.integration
def test_one_judge_by_name_and_by_path_sits_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = answers(tmp_path / "model.jsonl", "model", {1: ["a"]})
    questions = one_turn_questions(tmp_path / "q.jsonl", 1)
    judges = tmp_path / "judges"
    judges.mkdir()
    with JudgeStub(reply=always("[[8]]")) as stub:
        path = judge_yaml(judges, "mine", stub.base_url)
        code = main(["judge", str(model), "--judges-dir", str(judges), "--judge", "mine", "--judge", str(path),
                     "--mode", "single", "--benchmark", str(questions), "--workspace", str(tmp_path / "ws.sqlite"),
                     "--out", str(tmp_path / "out")])
        assert code == 1 and stub.calls == 0
    line = last_line(capsys.readouterr().err)
    assert "--judge mine and --judge" in line and "the same judge" in line, line


@pytest.mark.unit
def test_jury_pooling_needs_every_members_verdict(tmp_path: Path) -> None:
    jury = {"jury": "jury(j1+j2)"}
    rows = []
    for judge in ("j1", "j2"):
        for question in (1, 2, 3):
            if judge == "j2" and question == 3:
                continue  # j2 never judged question 3: missing for the jury
            winner = "error" if (judge, question) == ("j2", 2) else "model_1"  # j2 has no verdict on 2
            rows += [pairwise_row(question, game, winner, judge=judge, **jury) for game in (1, 2)]
        for question in (1, 2, 3):
            if judge == "j2" and question == 3:
                continue
            rows.append(single_row(question, "gamma", None if (judge, question) == ("j2", 2) else 8.0,
                                   judge=judge, **jury))
    write_jsonl(tmp_path / "judged" / "judgments.jsonl", rows)
    report = build_report(load_judgments([tmp_path / "judged"]), n_boot=50)
    pooled = next(e for e in report["pairwise"] if e["judge"] == "jury(j1+j2)")
    # Question 1: both members say model_1 wins. Question 2: j2 has no verdict, so the jury has none
    # (before: j1 alone decided, a win). Question 3: j2 has no row: missing, neither a win nor an error.
    assert (pooled["win"], pooled["errors"], pooled["n"]) == (1, 1, 1), pooled
    single = next(e for e in report["single"] if e["judge"] == "jury(j1+j2)")
    assert (single["n"], single["errors"]) == (1, 1), single
    entry = next(j for j in report["juries"] if j["jury"] == "jury(j1+j2)")
    assert entry["missing"] == 2  # question 3, pairwise and single


# ----------------------------------------------------------------------------------- multi-turn
def mt_setup(tmp_path: Path) -> tuple[Path, Path]:
    questions = write_two_turn_questions(tmp_path / "mt.jsonl", {q: "writing" for q in range(1, 6)})
    model = answers(tmp_path / "model.jsonl", "model", {1: ["a1", "a2"], 2: ["b1", "b2"], 3: ["c1"]})
    return questions, model


@pytest.mark.integration
def test_partly_answered_questions_are_counted_apart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    questions, model = mt_setup(tmp_path)
    code = main(["judge", str(model), "--judge", "embedded", "--mode", "single", "--benchmark", str(questions),
                 "--workspace", str(tmp_path / "ws.sqlite"), "--dry-run"])
    assert code == 0
    out = capsys.readouterr().out
    # Questions 4 and 5 have no answer; question 3 has turn 1 only (before: "no answer to 3 question(s)").
    assert "model has no answer to 2 question(s) (e.g. [4, 5])" in out, out
    assert "model answered 1 question(s) only partly (e.g. ['3 (turn 2)'])" in out, out


@pytest.mark.integration
def test_answers_with_more_turns_than_the_question_are_refused_with_their_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    questions = write_two_turn_questions(tmp_path / "mt.jsonl", {1: "writing", 2: "writing"})
    model = answers(tmp_path / "model.jsonl", "model", {2: ["b1", "b2"], 1: ["a1", "a2", "a3"]})
    code = main(["judge", str(model), "--judge", "embedded", "--mode", "single", "--benchmark", str(questions),
                 "--workspace", str(tmp_path / "ws.sqlite"), "--dry-run"])
    assert code == 1
    line = last_line(capsys.readouterr().err)
    assert f"{model}:2: 3 turns answered, but question 1 of {questions} has 2" in line, line


@pytest.mark.integration
def test_answers_to_questions_the_benchmark_lacks_are_refused_with_their_line(
        imported_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("JP_BENCH_HOME", str(imported_home))
    model = answers(tmp_path / "model.jsonl", "model", {1: ["a"], 999: ["z"]})
    for benchmark in ([], ["--benchmark", "jp_bench"]):
        code = main(["judge", str(model), "--judge", "embedded", "--mode", "single", *benchmark,
                     "--workspace", str(tmp_path / "ws.sqlite"), "--dry-run"])
        assert code == 1
        line = last_line(capsys.readouterr().err)
        assert f"{model}:2: question_id 999 is not a question of jp_bench" in line, line


@pytest.mark.integration
@pytest.mark.parametrize(("two_turns", "turns", "expected"), [
    (True, ["2", "3"], "--turn 3: the questions of {q} have 2 turns (--turn 1 to 2)"),
    (False, ["2"], "--turn 2: the questions of {q} have 1 turn each"),
])
def test_a_turn_the_benchmark_lacks_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               two_turns: bool, turns: list[str], expected: str) -> None:
    if two_turns:
        questions, model = mt_setup(tmp_path)
    else:
        questions = one_turn_questions(tmp_path / "q.jsonl", 2)
        model = answers(tmp_path / "model.jsonl", "model", {1: ["a"], 2: ["b"]})
    code = main(["judge", str(model), "--judge", "embedded", "--mode", "single", "--benchmark", str(questions),
                 "--workspace", str(tmp_path / "ws.sqlite"), "--dry-run", *[x for t in turns for x in ("--turn", t)]])
    assert code == 1
    line = last_line(capsys.readouterr().err)
    assert expected.format(q=questions) in line, line


# ----------------------------------------------------------------------------------- a full disk
def record(key: str, size: int) -> CallRecord:
    return CallRecord(key=key, purpose="judge:x", model="m", request={"messages": []}, reply="x" * size,
                      parsed=8, status="ok")


@pytest.mark.unit
def test_a_full_or_read_only_store_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "ws.sqlite"
    with Store(path) as store:
        store.put(record("small", 10))
        # SQLite's own size limit stands in for a full disk: the file may not grow by a page more.
        pages = store._db.execute("PRAGMA page_count").fetchone()[0]
        store._db.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StoreWriteError) as full:
            store.put(record("large", 200_000))
        assert str(path) in str(full.value) and "database or disk is full" in str(full.value)
        assert "\n" not in str(full.value)
        assert store.get("small") is not None and store.get("large") is None
        store._db.execute("PRAGMA query_only = 1")  # as a read-only file answers a write
        with pytest.raises(StoreWriteError, match="attempt to write a readonly database"):
            store.put(record("other", 10))


@pytest.mark.integration
def test_a_disk_filling_up_during_a_run_stops_it_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    questions = one_turn_questions(tmp_path / "q.jsonl", 40)
    model = answers(tmp_path / "model.jsonl", "model", {q: [f"答え{q}"] for q in range(1, 41)})
    opened = Store.__init__

    def nearly_full(self: Store, path: str | Path) -> None:
        opened(self, path)
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        self._db.execute(f"PRAGMA max_page_count = {pages + 2}")  # room for a few calls, not for 40

    monkeypatch.setattr(Store, "__init__", nearly_full)
    with JudgeStub(reply=always("理由: " + "長い説明。" * 800 + "\n[[8]]")) as stub:
        judge = judge_yaml(tmp_path, "stub", stub.base_url)
        code = main(["judge", str(model), "--judge", str(judge), "--mode", "single", "--benchmark", str(questions),
                     "--workspace", str(tmp_path / "ws.sqlite"), "--out", str(tmp_path / "out")])
    assert code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = last_line(err)
    assert str(tmp_path / "ws.sqlite") in line and "database or disk is full" in line, line
    # The run stopped at the first call it could not store: at most the calls in flight (2) after it.
    assert stub.calls < 40, stub.calls
    assert not (tmp_path / "out").exists()
