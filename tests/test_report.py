"""`jp-bench report`: published figures, our own judgments, formats, rankings and diagnostics."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from jp_bench.judging.service import JudgeRequest, run_judging
from tests.support.cli import main_in_process
from tests.support.judge_stub import JudgeStub
from tests.support.paths import SHARED

pytestmark = pytest.mark.unit

PUBLISHED = SHARED / "data" / "ja-vicuna-qa-benchmark" / "jp_bench" / "model_judgment" / "pairwise" / "gpt-4"
CALM_FILE = PUBLISHED / "pairwise:cyberagent--calm2-7b-chat_openai--text-davinci-003.jsonl"


def test_published_fastchat_judgments_reproduce_upstream_figures() -> None:
    result = main_in_process("report", str(CALM_FILE), "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    (entry,) = report["pairwise"]
    assert (entry["model"], entry["baseline"]) == ("cyberagent--calm2-7b-chat", "openai--text-davinci-003")
    assert entry["n"] == 80 and entry["errors"] == 0
    assert entry["win_rate"] == pytest.approx(0.70)
    assert entry["loss_rate"] == pytest.approx(0.15)
    assert entry["tie_rate"] == pytest.approx(0.15)
    assert entry["adjusted_win_rate"] == pytest.approx(0.775)
    lo, hi = entry["ci95"]
    assert lo < 0.775 < hi and lo >= 0 and hi <= 1
    assert set(report) >= {"pairwise", "single", "diagnostics"}
    assert 0 <= report["diagnostics"]["gpt-4"]["position_consistency"] <= 1


def test_published_folder_with_categories_and_ranking(imported_home: Path) -> None:
    result = main_in_process("report", str(PUBLISHED), "--benchmark", "jp_bench", "--format", "json",
                     "--bootstrap", "200", env={"JP_BENCH_HOME": str(imported_home)})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {e["model"] for e in report["pairwise"]} == {"cyberagent--calm2-7b-chat",
                                                         "rinna--japanese-gpt-neox-3.6b-instruction-ppo"}
    calm = next(e for e in report["pairwise"] if e["model"].startswith("cyberagent"))
    assert set(calm["by_category"]) == {"generic", "knowledge", "roleplay", "common-sense", "fermi",
                                        "counterfactual", "coding", "math", "writing"}
    assert sum(c["n"] for c in calm["by_category"].values()) == 80
    (ranking,) = report["rankings"]
    assert [m["model"] for m in sorted(ranking["models"], key=lambda m: m["rank"])] == [
        "cyberagent--calm2-7b-chat", "openai--text-davinci-003", "rinna--japanese-gpt-neox-3.6b-instruction-ppo"]
    assert 0 <= ranking["separability"] <= 1


def _questions(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "q.jsonl"
    categories = ["generic", "writing"]
    path.write_text("".join(json.dumps({"question_id": i, "category": categories[i % 2], "turns": [f"質問{i}"]},
                                       ensure_ascii=False) + "\n" for i in range(1, n + 1)), encoding="utf-8")
    return path


def _answers(tmp_path: Path, model: str, n: int, length: int) -> Path:
    path = tmp_path / f"{model}.jsonl"
    path.write_text("".join(json.dumps({"question_id": i, "model_id": model,
                                        "choices": [{"turns": ["あ" * (length + i % 3)]}]}) + "\n"
                            for i in range(1, n + 1)), encoding="utf-8")
    return path


def test_report_on_our_judgments_length_bias_and_formats(tmp_path: Path, jp_home: Path) -> None:
    """A judge that prefers the longer answer: the report shows it, and LC removes most of it."""
    n = 40
    questions = _questions(tmp_path, n)
    answers = [_answers(tmp_path, "long", n, 300), _answers(tmp_path, "short", n, 30)]

    def prefer_longer(request: dict, index: int) -> str:
        text = request["messages"][-1]["content"]
        a = text.split("アシスタントAの回答：ここから】")[1].split("【アシスタントAの回答：ここまで】")[0]
        b = text.split("アシスタントBの回答：ここから】")[1].split("【アシスタントBの回答：ここまで】")[0]
        return "[[A]]" if len(a) > len(b) else "[[B]]"

    with JudgeStub(reply=prefer_longer) as stub:
        run_judging(JudgeRequest(answers=[str(p) for p in answers], judge="openai-compatible", baseline="short",
                                 out=tmp_path / "judged", benchmark=str(questions), base_url=stub.base_url,
                                 workspace=tmp_path / "ws.sqlite"))
    result = main_in_process("report", str(tmp_path / "judged"), "--format", "json", "--bootstrap", "300")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    (entry,) = report["pairwise"]
    assert (entry["model"], entry["baseline"], entry["win"], entry["n"]) == ("long", "short", n, n)
    assert entry["adjusted_win_rate"] == 1.0
    assert set(entry["by_category"]) == {"generic", "writing"}
    diagnostics = report["diagnostics"]["openai-compatible"]
    assert diagnostics["position_consistency"] == 1.0
    assert diagnostics["first_slot_preference"] == pytest.approx(0.5)
    assert diagnostics["length"]["longer_win_rate"] == 1.0
    assert entry["length_controlled_win_rate"] < entry["adjusted_win_rate"]

    table = main_in_process("report", str(tmp_path / "judged"), "--bootstrap", "100").stdout
    assert "adj. win rate" in table and "long" in table and "Judge diagnostics" in table
    markdown = main_in_process("report", str(tmp_path / "judged"), "--format", "md", "--bootstrap", "100").stdout
    assert "| judge | model | baseline |" in markdown
    rows = list(csv.DictReader(io.StringIO(main_in_process("report", str(tmp_path / "judged"), "--format",
                                                   "csv", "--bootstrap", "100").stdout)))
    overall = next(r for r in rows if r["category"] == "all")
    assert (overall["model"], overall["win"], float(overall["adjusted_win_rate"])) == ("long", str(n), 1.0)
    assert {r["category"] for r in rows} == {"all", "generic", "writing"}


def test_errors_are_excluded_and_counted(tmp_path: Path, jp_home: Path) -> None:
    questions = _questions(tmp_path, 6)
    answers = [_answers(tmp_path, "m", 6, 10), _answers(tmp_path, "base", 6, 10)]

    def sometimes_silent(request: dict, index: int) -> str:
        first_user_message = next(m["content"] for m in request["messages"] if m["role"] == "user")
        return "わかりません" if "質問1\n" in first_user_message else "[[A]]"

    with JudgeStub(reply=sometimes_silent) as stub:
        run_judging(JudgeRequest(answers=[str(p) for p in answers], judge="openai-compatible", baseline="base",
                                 out=tmp_path / "judged", benchmark=str(questions), base_url=stub.base_url,
                                 workspace=tmp_path / "ws.sqlite"))
    report = json.loads(main_in_process("report", str(tmp_path / "judged"), "--format", "json").stdout)
    (entry,) = report["pairwise"]
    assert entry["errors"] == 1 and entry["n"] == 5 and entry["tie"] == 5 and entry["inconsistent"] == 5


def test_report_bad_source_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "x.jsonl").write_text('{"hello": 1}\n', encoding="utf-8")
    result = main_in_process("report", str(tmp_path / "x.jsonl"))
    assert result.returncode == 1 and result.stderr.startswith("jp-bench: error: ") and "Traceback" not in result.stderr


def test_publish_then_leaderboard(tmp_path: Path, imported_home: Path) -> None:
    results, site = tmp_path / "results", tmp_path / "site"
    published = main_in_process("report", str(PUBLISHED), "--benchmark", "jp_bench", "--publish",
                        "--results", str(results), "--bootstrap", "200", env={"JP_BENCH_HOME": str(imported_home)})
    assert published.returncode == 0, published.stderr
    files = sorted(p.relative_to(results).as_posix() for p in results.rglob("*.json"))
    assert files == ["jp_bench/gpt-4/cyberagent--calm2-7b-chat.json",
                     "jp_bench/gpt-4/rinna--japanese-gpt-neox-3.6b-instruction-ppo.json"]
    calm = json.loads((results / files[0]).read_text(encoding="utf-8"))
    assert calm["pairwise"]["adjusted_win_rate"] == pytest.approx(0.775)
    assert calm["judge"]["name"] == "gpt-4" and calm["errors"] == 0
    assert oct((results / files[0]).stat().st_mode & 0o777) != oct(0o600)  # readable by a web server
    built = main_in_process("leaderboard", "--results", str(results), "--out", str(site))
    assert built.returncode == 0, built.stderr
    board = (site / "LEADERBOARD.md").read_text(encoding="utf-8")
    assert board.index("cyberagent--calm2-7b-chat") < board.index("rinna--japanese-gpt-neox-3.6b-instruction-ppo")
    assert "0.775" in board and (site / "leaderboard.html").is_file()


def test_publish_needs_a_benchmark(tmp_path: Path) -> None:
    result = main_in_process("report", str(CALM_FILE), "--publish", "--results", str(tmp_path / "r"))
    assert result.returncode == 1 and "--publish needs --benchmark" in result.stderr
    assert not (tmp_path / "r").exists()


def test_length_diagnostics_for_fastchat_files_that_copy_the_answers() -> None:
    """The paper's judgment files carry answer_1/answer_2: the length-bias figures use them."""
    result = main_in_process("report", str(CALM_FILE), "--format", "json")
    assert result.returncode == 0, result.stderr[-2000:]
    length = json.loads(result.stdout)["diagnostics"]["gpt-4"]["length"]
    rows = [json.loads(line) for line in CALM_FILE.read_text(encoding="utf-8").splitlines() if line]
    longer_first = sum(len(r["answer_1"]) > len(r["answer_2"]) for r in rows)
    assert length["n"] == 80 and length["n_longer"] == sum(len(r["answer_1"]) != len(r["answer_2"]) for r in rows)
    assert 0 < longer_first < 80 and 0 <= length["longer_win_rate"] <= 1
