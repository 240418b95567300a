"""Judged scores inside lm-eval: the real `lm_eval` CLI on a tiny random Llama over jp_bench, judged by a
local OpenAI-compatible stand-in through `--metadata '{"judge": ...}'`."""

from __future__ import annotations

import json
import math
import re
import shlex
from collections import defaultdict
from pathlib import Path

import pytest

from jp_bench.harness.samples import read_lm_eval_output
from tests.support.cli import main_in_process, run_cli
from tests.support.files import samples_by_task
from tests.support.judge_stub import JudgeStub
from tests.support.paths import ROOT, SHARED

pytestmark = pytest.mark.e2e

KEY = "sk-test-judge-0123456789"
SUBTASKS = ["generic", "knowledge", "roleplay", "common_sense", "fermi", "counterfactual", "coding", "math",
            "writing"]
BASELINE_FILE = (SHARED / "data" / "ja-vicuna-qa-benchmark" / "jp_bench" / "model_answer"
                 / "openai--text-davinci-003" / "results.jsonl")


def score_for(request: dict, index: int) -> str:
    """A 1-10 score that depends on the prompt, so every subtask gets its own mean."""
    user = request["messages"][-1]["content"]
    return f"理由: 採点しました。\n[[{1 + len(user) % 10}]]"


def between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


def question_of(request: dict) -> str:
    return between(request["messages"][-1]["content"], "】\n", "\n\n【")


def prefer_longer(request: dict, index: int) -> str:
    """Pairwise: the longer answer wins, except that questions with a '？' always get [[A]] (position bias)."""
    user = request["messages"][-1]["content"]
    if "？" in question_of(request):
        return "理由: Aです。\n[[A]]"
    a = between(user, "【アシスタントAの回答：ここから】", "【アシスタントAの回答：ここまで】")
    b = between(user, "【アシスタントBの回答：ここから】", "【アシスタントBの回答：ここまで】")
    return "理由: 比較しました。\n" + ("[[A]]" if len(a) > len(b) else "[[B]]" if len(b) > len(a) else "[[C]]")


def lm_eval_args(model: Path, out: Path, metadata: dict, *extra: str) -> list[str]:
    return ["--model", "hf", "--model_args", f"pretrained={model}", "--tasks", "jp_bench",
            "--output_path", str(out), "--log_samples", "--gen_kwargs", "max_gen_toks=8",
            "--metadata", json.dumps(metadata), *extra]


def results_of(out: Path) -> dict:
    newest = sorted(out.rglob("results_*.json"))[-1]
    return json.loads(newest.read_text(encoding="utf-8"))["results"]


@pytest.fixture
def env(imported_home: Path) -> dict[str, str]:
    return {"JP_BENCH_HOME": str(imported_home), "OPENAI_API_KEY": KEY}


def test_single_scores_in_lm_eval_results_and_a_rerun_makes_no_call(tiny_llama, env, tmp_path: Path) -> None:
    out, workspace = tmp_path / "out", tmp_path / "ws"
    with JudgeStub(reply=score_for, require_key=KEY) as stub:
        metadata = {"judge": "openai-compatible", "judge_base_url": stub.base_url,
                    "judge_workspace": str(workspace)}
        include = ["--include_path", run_cli("jp-bench", "tasks-path").stdout.strip()]
        first = run_cli("lm_eval", *lm_eval_args(tiny_llama, out, metadata), *include, env=env)
        assert first.returncode == 0, first.stderr[-3000:]
        assert stub.calls == 80
        # question text -> the score the stand-in gave
        scores = {question_of(request): int(re.findall(r"\[\[(\d+)\]\]", reply)[-1])
                  for request, reply in stub.replies}
        assert len(scores) == 80

        results = results_of(out)
        samples = samples_by_task(out)
        assert sorted(samples) == [f"jp_bench_{s}" for s in sorted(SUBTASKS)]
        everything = []
        for task, rows in samples.items():
            expected = [scores[row["doc"]["turns"][0]] for row in rows]
            everything += expected
            assert results[task]["judge_score,none"] == pytest.approx(sum(expected) / len(expected))
            assert isinstance(results[task]["judge_score_stderr,none"], float)
            assert results[task]["judge_errors,none"] == 0 and results[task]["judge_missing,none"] == 0
            for row in rows:  # each sample carries its judgment
                judgment = row["doc"]["judgment"]
                assert judgment["status"] == "ok" and len(judgment["key"]) == 64
                assert judgment["score"] == scores[row["doc"]["turns"][0]]
                assert judgment["reply"].endswith(f"[[{int(judgment['score'])}]]")
        assert len(everything) == 80
        assert results["jp_bench"]["judge_score,none"] == pytest.approx(sum(everything) / 80)
        assert "judge_score" in first.stdout and "judging jp_bench" in first.stderr

        # The same command again: the answers are generated again, every judgment comes from the store.
        second = run_cli("lm_eval", *lm_eval_args(tiny_llama, out, metadata), *include, env=env)
        assert second.returncode == 0, second.stderr[-3000:]
        assert stub.calls == 80
        assert results_of(out)["jp_bench"]["judge_score,none"] == pytest.approx(sum(everything) / 80)

    # `jp-bench report` reads the judged lm-eval output directly.
    report = main_in_process("report", str(out), "--format", "json", env=env)
    assert report.returncode == 0, report.stderr[-2000:]
    single = json.loads(report.stdout)["single"]
    assert len(single) == 1 and single[0]["n"] == 80
    assert single[0]["mean"] == pytest.approx(sum(everything) / 80)
    assert single[0]["ci95"][0] <= single[0]["mean"] <= single[0]["ci95"][1]
    # The answers were saved to the workspace before judging, readable as lm-eval output.
    saved = read_lm_eval_output(workspace / "answers")
    assert len(saved) == 80 and {a.model_id for a in saved} == {str(tiny_llama)}


def test_pairwise_against_the_papers_baseline(tiny_chat_llama, env, tmp_path: Path) -> None:
    out = tmp_path / "out"
    baseline = {json.loads(line)["question_id"]: json.loads(line)["choices"][0]["turns"][0]
                for line in BASELINE_FILE.read_text(encoding="utf-8").splitlines() if line}
    with JudgeStub(reply=prefer_longer, require_key=KEY) as stub:
        metadata = {"judge": "openai-compatible", "judge_base_url": stub.base_url, "judge_mode": "pairwise",
                    "baseline": "paper", "judge_workspace": str(tmp_path / "ws.sqlite"), "judge_concurrency": 8}
        result = run_cli("jp-bench", "lm-eval", *lm_eval_args(tiny_chat_llama, out, metadata),
                         "--apply_chat_template", env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        assert stub.calls == 160  # both orders of 80 questions
    results = results_of(out)
    totals: dict[str, float] = defaultdict(float)
    for task, rows in samples_by_task(out).items():
        outcomes = []
        for row in rows:
            question, answer = row["doc"]["turns"][0], row["filtered_resps"][0]
            if "？" in question:
                outcomes.append("tie-inconsistent")
            else:
                # Fencing keeps lengths; the stand-in compares the two answers' lengths.
                ours, theirs = len(answer), len(baseline[row["doc"]["question_id"]])
                outcomes.append("win" if ours > theirs else "loss" if theirs > ours else "tie")
            assert row["doc"]["judgment"]["outcome"] == outcomes[-1].split("-")[0]
            assert [g["game"] for g in row["doc"]["judgment"]["games"]] == [1, 2]
        n = len(outcomes)
        wins, losses = outcomes.count("win"), outcomes.count("loss")
        inconsistent = outcomes.count("tie-inconsistent")
        assert results[task]["win_rate,none"] == pytest.approx(wins / n)
        assert results[task]["loss_rate,none"] == pytest.approx(losses / n)
        assert results[task]["adjusted_win_rate,none"] == pytest.approx((wins + 0.5 * (n - wins - losses)) / n)
        assert results[task]["inconsistent_rate,none"] == pytest.approx(inconsistent / n)
        totals["n"] += n
        totals["adjusted"] += wins + 0.5 * (n - wins - losses)
    assert totals["n"] == 80
    assert results["jp_bench"]["adjusted_win_rate,none"] == pytest.approx(totals["adjusted"] / 80)
    assert 0 < results["jp_bench"]["inconsistent_rate,none"] < 1


def test_a_bad_key_stops_before_generation(tiny_llama, env, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with JudgeStub(require_key="sk-the-right-one") as stub:
        metadata = {"judge": "openai-compatible", "judge_base_url": stub.base_url,
                    "judge_workspace": str(tmp_path / "ws")}
        result = run_cli("jp-bench", "lm-eval", *lm_eval_args(tiny_llama, out, metadata), env=env)
        assert stub.model_list_calls == 1 and stub.calls == 0
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "jp-bench: error" in line]
    assert len(errors) == 1 and "401" in errors[0] and "judge_preflight" in errors[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr and KEY not in result.stderr
    assert not list(out.rglob("samples_*.jsonl"))


def test_a_judge_refusing_after_generation_keeps_every_answer(tiny_llama, env, tmp_path: Path) -> None:
    out, workspace = tmp_path / "out", tmp_path / "ws"
    with JudgeStub(reply=score_for, require_key="sk-the-right-one") as stub:
        metadata = {"judge": "openai-compatible", "judge_base_url": stub.base_url,
                    "judge_workspace": str(workspace), "judge_preflight": False}
        result = run_cli("jp-bench", "lm-eval", *lm_eval_args(tiny_llama, out, metadata), env=env)
        assert stub.calls == 0
        assert result.returncode == 1, result.stderr[-3000:]
        errors = [line for line in result.stderr.splitlines() if line.startswith("jp-bench: error")]
        assert len(errors) == 1 and "80 of 80 answers are not judged" in errors[0] and "401" in errors[0]
        assert "Complete them with: jp-bench judge " in errors[0] and KEY not in result.stderr
        # The printed command, run with the right key, completes the judgments from the saved answers.
        command = shlex.split(errors[0].split("Complete them with: ", 1)[1])
        assert command[:2] == ["jp-bench", "judge"]
        completed = run_cli(*command, env={**env, "OPENAI_API_KEY": "sk-the-right-one"})
        assert completed.returncode == 0, completed.stderr[-2000:]
        assert stub.calls == 80
    out_dir = Path(command[command.index("--out") + 1])
    assert len((out_dir / "judgments.jsonl").read_text(encoding="utf-8").splitlines()) == 80
    # Every answer is on disk twice: in lm-eval's samples and in the workspace.
    assert len(read_lm_eval_output(out)) == 80
    assert len(read_lm_eval_output(workspace / "answers")) == 80
    # No judged score pretends to be complete.
    results = results_of(out)
    for task in [f"jp_bench_{s}" for s in SUBTASKS]:
        assert math.isnan(results[task]["judge_score,none"])
        assert results[task]["judge_missing,none"] == results[task]["sample_len"]
    assert math.isnan(results["jp_bench"]["judge_score,none"])


@pytest.mark.parametrize(("metadata", "key"), [
    ({"judge": "openai-compatible", "judge_mode": "tournament"}, "judge_mode"),
    ({"judge": "no-such-judge"}, "judge"),
    ({"judge": "gpt-4o", "judge_concurrency": 0}, "judge_concurrency"),
    ({"judge": "gpt-4o", "judge_max_cost": "lots"}, "judge_max_cost"),
    ({"judge": "openai-compatible", "judge_mode": "pairwise"}, "baseline"),
    ({"judge": "openai-compatible", "judge_mode": "pairwise", "baseline": "/no/such/answers"}, "baseline"),
    ({"judge": "openai-compatible", "judge_mode": "pairwise", "baseline": "paper"}, "baseline"),  # fresh has none
    ({"judge": "openai-compatible", "baseline": "paper"}, "baseline"),  # single takes no baseline
    ({"judge": "openai-compatible", "judge_prompts": "/no/such/prompts.yaml"}, "judge_prompts"),
    ({"judge": "openai-compatible", "judge_moed": "single"}, "judge_moed"),
    ({"judge_mode": "single"}, "judge_mode"),
])
def test_bad_metadata_is_refused_when_the_task_is_built(metadata, key, jp_home) -> None:
    from lm_eval.tasks import TaskManager, get_task_dict

    from jp_bench.errors import JpBenchError

    manager = TaskManager(include_path=str(ROOT / "tasks"), include_defaults=False,
                          metadata={**metadata, "judge_preflight": False})
    with pytest.raises(JpBenchError, match=f"^--metadata {key}: "):
        get_task_dict(["jp_bench_fresh_math"], manager)


def test_bad_metadata_through_the_cli_is_one_line(tiny_llama, env, tmp_path: Path) -> None:
    result = run_cli("lm_eval", *lm_eval_args(tiny_llama, tmp_path / "out", {"judge": "gpt-4o", "judge_mode": "x"}),
                     "--include_path", str(ROOT / "tasks"), env=env)
    lines = [line for line in result.stderr.splitlines() if "jp-bench: error" in line]
    assert result.returncode != 0 and len(lines) == 1 and "--metadata judge_mode:" in lines[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    # A judge that needs a key that is not set is refused before generation too.
    result = run_cli("jp-bench", "lm-eval", *lm_eval_args(tiny_llama, tmp_path / "out", {"judge": "gpt-4o"}),
                     env={**env, "OPENAI_API_KEY": ""})
    assert result.returncode != 0 and "OPENAI_API_KEY, which is not set" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "out").rglob("samples_*.jsonl"))


def test_predict_only_skips_judging(tiny_llama, env, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with JudgeStub(reply=score_for, require_key=KEY) as stub:
        metadata = {"judge": "openai-compatible", "judge_base_url": stub.base_url,
                    "judge_workspace": str(tmp_path / "ws")}
        result = run_cli("jp-bench", "lm-eval", *lm_eval_args(tiny_llama, out, metadata), "--predict_only",
                         "--limit", "2", env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        assert stub.calls == 0
    assert all("judgment" not in row["doc"] for rows in samples_by_task(out).values() for row in rows)


def test_lm_evals_wandb_logger_records_the_judged_metrics(tiny_llama, jp_home, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """lm-eval's own W&B logger (what --wandb_args drives), offline: the judged metrics reach the run."""
    import lm_eval
    from lm_eval.loggers import WandbLogger
    from lm_eval.tasks import TaskManager

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with JudgeStub(reply=score_for, require_key=KEY) as stub:
        manager = TaskManager(include_path=str(ROOT / "tasks"), metadata={
            "judge": "openai-compatible", "judge_base_url": stub.base_url, "judge_workspace": str(tmp_path / "ws")})
        results = lm_eval.simple_evaluate(model="hf", model_args=f"pretrained={tiny_llama}", tasks=["jp_bench_fresh"],
                                          task_manager=manager, limit=1, device="cpu", gen_kwargs="max_gen_toks=4",
                                          log_samples=True)
        assert stub.calls == 9
    logger = WandbLogger(init_args={"project": "jp-bench-test", "mode": "offline", "dir": str(tmp_path)})
    try:
        logger.post_init(results)
        logger.log_eval_result()
        logger.log_eval_samples(results["samples"])
        summary = dict(logger.run.summary)
    finally:
        logger.run.finish()
    group = results["results"]["jp_bench_fresh"]
    assert summary["jp_bench_fresh/judge_score"] == pytest.approx(group["judge_score,none"])
    assert summary["jp_bench_fresh_math/judge_errors"] == 0
    assert 1 <= summary["jp_bench_fresh_math/judge_score"] <= 10
