"""`jp-bench judge` end to end: the real OpenAI SDK against a local OpenAI-compatible judge stand-in,
the paper's released answers, position swap, resume after a kill, outputs in both formats."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from jp_bench.fastchat_io import read_pairwise_judgments, read_single_judgments
from jp_bench.judging.records import JudgmentLine
from tests.support.cli import run_cli
from tests.support.judge_stub import JudgeStub, always
from tests.support.paths import BIN, ROOT, SHARED

ANSWERS = SHARED / "data" / "ja-vicuna-qa-benchmark" / "jp_bench" / "model_answer"
CALM = ANSWERS / "cyberagent--calm2-7b-chat"
DAVINCI = ANSWERS / "openai--text-davinci-003"
RINNA = ANSWERS / "rinna--japanese-gpt-neox-3.6b-instruction-ppo"
BASELINE = "openai--text-davinci-003"
SECRET = "sk-test-SECRET-0123456789"


@pytest.fixture
def judge_env(imported_home: Path, tmp_path: Path) -> dict[str, str]:
    return {"JP_BENCH_HOME": str(imported_home), "OPENAI_API_KEY": SECRET}


def judge_cli(stub: JudgeStub, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("jp-bench", "judge", *args, env={**env, "OPENAI_BASE_URL": stub.base_url})


def small_benchmark(tmp_path: Path, ids: set[int]) -> Path:
    """A question file with some of the paper's questions, references inlined (as our own set has them)."""
    folder = SHARED / "data" / "ja-vicuna-qa-benchmark" / "jp_bench"
    references = {}
    for line in (folder / "reference_answer" / "gpt-4" / "results.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        references[record["question_id"]] = record["choices"][0]["turns"]
    rows = [json.loads(line) for line in (folder / "question.jsonl").read_text(encoding="utf-8").splitlines() if line]
    chosen = [{**row, **({"reference": references[row["question_id"]]} if row["question_id"] in references else {})}
              for row in rows if row["question_id"] in ids]
    path = tmp_path / "questions.jsonl"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in chosen), encoding="utf-8")
    return path


@pytest.mark.integration
def test_always_a_judge_makes_every_question_a_tie_and_rerun_is_free(judge_env, tmp_path: Path) -> None:
    out, workspace = tmp_path / "out", tmp_path / "ws.sqlite"
    args = (str(CALM), str(DAVINCI), "--judge", "gpt-4o", "--mode", "pairwise", "--baseline", BASELINE,
            "--out", str(out), "--workspace", str(workspace), "--concurrency", "8")
    with JudgeStub(reply=always("理由: Aの方が良いです。\n[[A]]")) as stub:
        first = judge_cli(stub, judge_env, *args)
        assert first.returncode == 0, first.stderr[-3000:]
        assert stub.calls == 160
        started = time.monotonic()
        second = judge_cli(stub, judge_env, *args)
        assert second.returncode == 0, second.stderr[-3000:]
        assert stub.calls == 160  # nothing paid twice
        assert time.monotonic() - started < 30
    assert "calls made: 0, reused from the store: 160" in second.stdout

    rows = [json.loads(line) for line in (out / "judgments.jsonl").read_text(encoding="utf-8").splitlines()]
    for row in rows:  # every line matches the documented schema
        JudgmentLine.model_validate({"line": row})
    assert len(rows) == 160 and {(r["question_id"], r["game"]) for r in rows} == {(q, g) for q in range(1, 81)
                                                                                 for g in (1, 2)}
    assert {r["winner"] for r in rows if r["game"] == 1} == {"model_1"}
    assert {r["winner"] for r in rows if r["game"] == 2} == {"model_2"}
    assert {r["prompt"] for r in rows if r["category"] in ("math", "coding")} == {"pairwise_reference"}
    # The summary: every question a tie, all of them inconsistent.
    line = next(line for line in first.stdout.splitlines() if line.startswith("cyberagent--calm2-7b-chat"))
    assert line.split()[2:8] == ["0", "0", "80", "80", "0", "0.500"]
    # FastChat format, readable by FastChat-layout readers.
    fastchat = read_pairwise_judgments(out / "model_judgment" / f"pairwise:cyberagent--calm2-7b-chat_{BASELINE}.jsonl")
    assert len(fastchat) == 80
    assert {(r.g1_winner, r.g2_winner) for r in fastchat} == {("model_1", "model_2")}
    # The API key is nowhere: not in outputs, not in the store, not in what was printed.
    for path in [*out.rglob("*.jsonl"), workspace]:
        assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in first.stdout + first.stderr + second.stdout + second.stderr


@pytest.mark.integration
def test_kill_and_resume_pays_each_judgment_once(judge_env, tmp_path: Path) -> None:
    out, workspace = tmp_path / "out", tmp_path / "ws.sqlite"
    args = [str(BIN / "jp-bench"), "judge", str(CALM), str(DAVINCI), "--judge", "gpt-4o", "--baseline", BASELINE,
            "--out", str(out), "--workspace", str(workspace), "--concurrency", "4"]
    with JudgeStub(reply=always("[[B]]"), latency_s=0.05) as stub:
        env = {**os.environ, **judge_env, "OPENAI_BASE_URL": stub.base_url}
        process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while stub.calls < 60 and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
        with sqlite3.connect(workspace) as db:
            stored_after_kill = db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
        calls_before = stub.calls
        assert 0 < stored_after_kill < 160
        assert not (out / "judgments.jsonl").exists()  # nothing half-written

        resumed = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert stub.calls - calls_before == 160 - stored_after_kill  # finished calls were not paid again
        assert calls_before - stored_after_kill <= 4  # at most the calls in flight were lost
    with sqlite3.connect(workspace) as db:
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM calls").fetchone() == (160, 160)
    rows = (out / "judgments.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 160


@pytest.mark.integration
def test_replies_without_verdict_are_errors_never_ties(judge_env, tmp_path: Path) -> None:
    questions = small_benchmark(tmp_path, {1, 2, 3})
    out = tmp_path / "out"
    with JudgeStub(reply=always("どちらの回答にも良い点があります。")) as stub:
        result = judge_cli(stub, judge_env, str(CALM), str(DAVINCI), "--judge", "gpt-4o", "--baseline", BASELINE,
                           "--benchmark", str(questions), "--out", str(out), "--workspace", str(tmp_path / "ws"))
        assert stub.calls == 6 * 3  # each judgment asked three times, then recorded as an error
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("cyberagent--calm2-7b-chat"))
    assert line.split()[2:8] == ["0", "0", "0", "0", "3", "-"]
    rows = [json.loads(x) for x in (out / "judgments.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {r["status"] for r in rows} == {"error"} and {r["winner"] for r in rows} == {"error"}
    assert all(r["error"] == "no verdict in the judge's reply" for r in rows)


@pytest.mark.integration
def test_verdict_after_reminder_is_used(judge_env, tmp_path: Path) -> None:
    questions = small_benchmark(tmp_path, {5})

    def reply(request: dict, index: int) -> str:
        asked_again = request["messages"][-1]["content"].startswith("判定だけを")
        return "[[A]]" if asked_again else "よく分かりません。"

    with JudgeStub(reply=reply) as stub:
        result = judge_cli(stub, judge_env, str(CALM), str(DAVINCI), "--judge", "gpt-4o", "--baseline", BASELINE,
                           "--benchmark", str(questions), "--out", str(tmp_path / "out"),
                           "--workspace", str(tmp_path / "ws"))
        assert result.returncode == 0, result.stderr[-3000:]
        assert stub.calls == 6
    rows = [json.loads(x) for x in (tmp_path / "out" / "judgments.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["verdict"] for r in rows] == ["A", "A"] and [r["attempts"] for r in rows] == [3, 3]


@pytest.mark.integration
def test_single_scores_and_pairwise_all(judge_env, tmp_path: Path) -> None:
    questions = small_benchmark(tmp_path, {1, 2, 61, 68})
    with JudgeStub(reply=always("良い回答です。\n[[7]]")) as stub:
        single = judge_cli(stub, judge_env, str(CALM), str(DAVINCI), "--judge", "gpt-4o", "--mode", "single",
                           "--benchmark", str(questions), "--out", str(tmp_path / "single"),
                           "--workspace", str(tmp_path / "ws"))
        assert single.returncode == 0, single.stderr[-3000:]
        assert stub.calls == 8
    records = read_single_judgments(tmp_path / "single" / "model_judgment")
    assert len(records) == 8 and {r.score for r in records} == {7.0}
    rows = [json.loads(x) for x in (tmp_path / "single" / "judgments.jsonl").read_text(encoding="utf-8").splitlines()]
    for row in rows:
        JudgmentLine.model_validate({"line": row})
    assert {r["prompt"] for r in rows if r["question_id"] in (61, 68)} == {"single_reference"}
    assert {r["prompt"] for r in rows if r["question_id"] in (1, 2)} == {"single"}

    with JudgeStub(reply=always("[[C]]")) as stub:
        every = judge_cli(stub, judge_env, str(CALM), str(DAVINCI), str(RINNA), "--judge", "gpt-4o",
                          "--mode", "pairwise-all", "--benchmark", str(questions), "--out", str(tmp_path / "all"),
                          "--workspace", str(tmp_path / "ws"))
        assert every.returncode == 0, every.stderr[-3000:]
        assert stub.calls == 3 * 4 * 2  # 3 pairs x 4 questions x 2 orders
    assert len(list((tmp_path / "all" / "model_judgment").glob("pairwise:*.jsonl"))) == 3


@pytest.mark.integration
def test_dry_run_and_cost_limit_call_nothing(judge_env, tmp_path: Path) -> None:
    """The figures of --dry-run and of the --max-cost refusal, worked out here from the messages the judge
    gets in a real run, the documented token estimate and the prices in the judge's YAML."""
    import yaml

    from jp_bench.llm.tokens import estimate_tokens

    args = (str(CALM), str(DAVINCI), "--judge", "gpt-4o", "--baseline", BASELINE)
    with JudgeStub() as stub:
        dry = judge_cli(stub, judge_env, *args, "--dry-run", "--workspace", str(tmp_path / "ws"))
        assert dry.returncode == 0, dry.stderr[-3000:]
        assert "160 judgments planned" in dry.stdout and stub.calls == 0
        # The same judgments, made on another workspace: the requests the estimate was about.
        made = judge_cli(stub, judge_env, *args, "--workspace", str(tmp_path / "other"))
        assert made.returncode == 0, made.stderr[-3000:]
        assert stub.calls == 160
        requests = [request for request, _ in stub.replies]
        # docs: each message's content (one token per Japanese character, ceil(len/4) per run of other
        # characters) plus 4 tokens of framing; the YAML's expected_output_tokens for every call.
        judge = yaml.safe_load((ROOT / "judges" / "gpt-4o.yaml").read_text(encoding="utf-8"))
        input_tokens = sum(estimate_tokens(m["content"]) + 4 for request in requests for m in request["messages"])
        output_tokens = judge["expected_output_tokens"] * 160
        dollars = (input_tokens * judge["prices"]["input_per_mtok"]
                   + output_tokens * judge["prices"]["output_per_mtok"]) / 1e6
        assert 0.05 < dollars < 100  # a real figure, not a rounding of zero
        assert (f"to call now: 160 (the rest are in the store); estimated ~{input_tokens:,} input + "
                f"~{output_tokens:,} output tokens, ~${dollars:.2f}") in dry.stdout, dry.stdout
        # The refusal names the same figure, and a limit a cent below it is refused.
        limit = f"{dollars - 0.01:.2f}"
        capped = judge_cli(stub, judge_env, *args, "--max-cost", limit, "--workspace", str(tmp_path / "ws"))
        assert capped.returncode == 1
        assert f"estimated cost ${dollars:.2f} for 160 calls is above --max-cost ${limit}" in capped.stderr, \
            capped.stderr
        assert stub.calls == 160  # neither the dry run nor the refused run called the judge


@pytest.mark.integration
def test_bad_inputs_are_one_line_errors(judge_env, tmp_path: Path) -> None:
    with JudgeStub() as stub:
        unknown = judge_cli(stub, judge_env, str(CALM), str(DAVINCI), "--judge", "gpt-4o", "--baseline", "nobody")
        missing = judge_cli(stub, judge_env, str(tmp_path / "none"), "--judge", "gpt-4o", "--baseline", BASELINE)
    for result in (unknown, missing):
        assert result.returncode == 1
        assert "Traceback" not in result.stderr and result.stderr.startswith("jp-bench: error: ")
    assert "baseline 'nobody' is not among the answers" in unknown.stderr


@pytest.mark.e2e
def test_embedded_judge_works_offline(imported_home: Path, tmp_path: Path, packaged_gguf: Path) -> None:
    questions = small_benchmark(tmp_path, {1, 68})
    env = {"JP_BENCH_HOME": str(packaged_gguf.parent.parent)}
    result = run_cli("jp-bench", "judge", str(CALM), str(DAVINCI), "--judge", "embedded", "--baseline", BASELINE,
                     "--benchmark", str(questions), "--out", str(tmp_path / "out"),
                     "--workspace", str(tmp_path / "ws"), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "smoke test" in result.stdout
    rows = [json.loads(x) for x in (tmp_path / "out" / "judgments.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 4 and {r["status"] for r in rows} == {"ok"}
    assert {r["verdict"] for r in rows} <= {"A", "B", "C"}


@pytest.mark.integration
def test_ctrl_c_stops_cleanly_and_the_rerun_finishes(judge_env, tmp_path: Path) -> None:
    out, workspace = tmp_path / "out", tmp_path / "ws.sqlite"
    args = [str(BIN / "jp-bench"), "judge", str(CALM), str(DAVINCI), "--judge", "gpt-4o", "--baseline", BASELINE,
            "--out", str(out), "--workspace", str(workspace), "--concurrency", "4"]
    with JudgeStub(reply=always("[[A]]"), latency_s=0.05) as stub:
        env = {**os.environ, **judge_env, "OPENAI_BASE_URL": stub.base_url}
        process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while stub.calls < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 130
        assert "interrupted: every finished judgment is stored" in stderr and "Traceback" not in stderr
        assert not (out / "judgments.jsonl").exists()
        resumed = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert stub.calls <= 160 + 4
    assert len((out / "judgments.jsonl").read_text(encoding="utf-8").splitlines()) == 160


@pytest.mark.integration
def test_paper_prompts_file_drives_the_judge(judge_env, tmp_path: Path) -> None:
    """--prompts with FastChat's judge_prompts.jsonl (the paper's own) for comparability."""
    prompts = SHARED / "data" / "ja-vicuna-qa-benchmark" / "jp_bench" / "judge_prompts.jsonl"
    questions = small_benchmark(tmp_path, {1, 61})
    seen: list[str] = []

    def reply(request: dict, index: int) -> str:
        seen.append(request["messages"][-1]["content"])
        return "[[A]]"

    with JudgeStub(reply=reply) as stub:
        result = judge_cli(stub, judge_env, str(CALM), str(DAVINCI), "--judge", "gpt-4o", "--baseline", BASELINE,
                           "--benchmark", str(questions), "--prompts", str(prompts), "--out", str(tmp_path / "out"),
                           "--workspace", str(tmp_path / "ws"))
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(x) for x in (tmp_path / "out" / "judgments.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {r["prompt_set"] for r in rows} == {"judge_prompts"}
    assert {r["prompt"] for r in rows if r["question_id"] == 61} == {"pairwise_reference"}
    templates = [json.loads(line)["prompt_template"] for line in prompts.read_text(encoding="utf-8").splitlines()]
    # The rendered user prompts follow the file's own templates (their fixed text is present).
    first_line = templates[0].split("{")[0].strip()
    assert first_line and all(first_line in text for text in seen[:2])
