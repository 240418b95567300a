"""The library surface (docs/python-api.md): jp_bench.judge, report, agreement and leaderboard, in process.

Each is what its command does: the report's to_dict() is what `jp-bench report --format json` prints, the
agreement's to_list() what `jp-bench agreement --format json` prints, the leaderboard's files the command's
bytes, and a judgment made by the library is one the command finds in the store. Errors raise JpBenchError.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import jp_bench
from jp_bench.cli import main
from jp_bench.errors import JpBenchError
from tests.support.judge_stub import JudgeStub, always
from tests.support.paths import SHARED

pytestmark = pytest.mark.integration  # the judge runs against a local server stand-in

BENCHMARK = SHARED / "data" / "ja-vicuna-qa-benchmark" / "jp_bench"
PUBLISHED = BENCHMARK / "model_judgment" / "pairwise" / "gpt-4"
CALM_FILE = PUBLISHED / "pairwise:cyberagent--calm2-7b-chat_openai--text-davinci-003.jsonl"
CALM, DAVINCI = "cyberagent--calm2-7b-chat", "openai--text-davinci-003"


def _cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def _questions(tmp_path: Path, ids: set[int]) -> Path:
    """Some of the paper's questions as a question file (a chosen subset: answers to the rest are ignored)."""
    rows = [line for line in (BENCHMARK / "question.jsonl").read_text(encoding="utf-8").splitlines()
            if line and json.loads(line)["question_id"] in ids]
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_the_public_names_are_listed_and_lazy() -> None:
    assert {"judge", "report", "agreement", "leaderboard", "JpBenchError", "Report"} <= set(jp_bench.__all__)
    code = "import sys, jp_bench; print(sorted(m for m in ('pandas', 'pydantic', 'lm_eval') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_report_to_dict_is_what_the_command_prints(capsys: pytest.CaptureFixture[str]) -> None:
    report = jp_bench.report(CALM_FILE, bootstrap=200, seed=3)
    assert report.to_dict() == _cli_json(capsys, "report", str(CALM_FILE), "--format", "json", "--bootstrap",
                                         "200", "--seed", "3")
    (row,) = report.pairwise.to_dict("records")
    assert (row["model"], row["baseline"], row["n"]) == (CALM, DAVINCI, 80)
    assert row["adjusted_win_rate"] == pytest.approx(0.775)
    assert report.single.empty and "gpt-4" in report.diagnostics.index
    assert report.render("table") == main_output(capsys, "report", str(CALM_FILE), "--bootstrap", "200", "--seed",
                                                 "3")


def main_output(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_report_publishes_and_the_leaderboard_matches_the_command(tmp_path: Path) -> None:
    questions = str(BENCHMARK / "question.jsonl")
    report = jp_bench.report(PUBLISHED, benchmark=questions, bootstrap=100, publish=True,
                             results=tmp_path / "results")
    assert CALM in {path.stem for path in report.published}  # the baseline has no row of its own
    written = jp_bench.leaderboard(tmp_path / "results", out=tmp_path / "library")
    assert main(["leaderboard", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "command")]) == 0
    assert written and all(path.parent == tmp_path / "library" or tmp_path / "library" in path.parents
                           for path in written)
    for path in written:
        twin = tmp_path / "command" / path.relative_to(tmp_path / "library")
        assert path.read_bytes() == twin.read_bytes(), path.name


def test_agreement_entries_are_what_the_command_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    votes = [{"question_id": qid, "model_a": CALM, "model_b": DAVINCI, "winner": "model_a" if qid % 3 else "tie",
              "judge": "expert_1", "turn": 1} for qid in range(1, 11)]
    votes.append({"question_id": 1, "model_a": CALM, "model_b": DAVINCI, "winner": "model_b", "judge": "expert_2",
                  "turn": 1, "scope": "conversation"})
    human = tmp_path / "human.jsonl"
    human.write_text("".join(json.dumps(v) + "\n" for v in votes), encoding="utf-8")
    heard: list[str] = []
    study = jp_bench.agreement(human=human, judgments=CALM_FILE, bootstrap=100, on_note=heard.append)
    assert study.to_list() == _cli_json(capsys, "agreement", "--human", str(human), "--judgments", str(CALM_FILE),
                                      "--format", "json", "--bootstrap", "100")
    assert heard == study.notes and "1 whole-conversation vote" in heard[0]
    assert list(study.table["pair"]) == [entry["pair"] for entry in study.entries]


def test_judge_in_process_and_the_command_share_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("JP_BENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    answers = [str(BENCHMARK / "model_answer" / name) for name in (CALM, DAVINCI)]
    questions = str(_questions(tmp_path, {1, 2, 3}))
    workspace = tmp_path / "ws.sqlite"
    with JudgeStub(reply=always("理由: Aの方が良いです。\n[[A]]")) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        capsys.readouterr()
        outcome = jp_bench.judge(answers, judge="gpt-4o", mode="pairwise", baseline=DAVINCI, out=tmp_path / "out",
                                 benchmark=questions, workspace=workspace, progress=False)
        assert capsys.readouterr() == ("", "")  # not verbose, no progress bar: silent
        assert isinstance(outcome, jp_bench.JudgeOutcome) and outcome.complete
        assert outcome.report is not None and outcome.report.called == 6  # 3 questions, both orders
        (pair,) = outcome.pairs
        assert (pair.model_1, pair.model_2, pair.tie) == (CALM, DAVINCI, 3)  # "A" in both orders: a tie
        assert (tmp_path / "out" / "judgments.jsonl").exists()
        assert main(["judge", *answers, "--judge", "gpt-4o", "--baseline", DAVINCI, "--benchmark", questions,
                     "--workspace", str(workspace)]) == 0
        assert "calls made: 0, reused from the store: 6" in capsys.readouterr().out
        assert stub.calls == 6


def test_errors_raise_jp_bench_error(tmp_path: Path) -> None:
    with pytest.raises(JpBenchError, match="no-such-file"):
        jp_bench.report(tmp_path / "no-such-file")
    with pytest.raises(JpBenchError, match="nothing to compare"):
        jp_bench.agreement()
    with pytest.raises(JpBenchError, match="--concurrency"):
        jp_bench.judge(str(tmp_path), judge="gpt-4o", concurrency=0)
    with pytest.raises(JpBenchError, match="--mode"):
        jp_bench.judge(str(tmp_path), judge="gpt-4o", mode="both")  # type: ignore[arg-type]
    with pytest.raises(JpBenchError, match="--max-cost"):
        jp_bench.judge(str(tmp_path), judge="gpt-4o", max_cost=float("nan"))
    with pytest.raises(JpBenchError, match="--publish needs --benchmark"):
        jp_bench.report(CALM_FILE, bootstrap=10, publish=True, results=tmp_path)
