"""Real lm-eval runs over jp_bench: the lm_eval CLI, `jp-bench lm-eval`, the Python API, and the
local-chat-completions backend against llama.cpp's OpenAI-compatible server."""

from __future__ import annotations

import json
import socket
from collections import Counter
from pathlib import Path

import pytest

from jp_bench.harness.samples import read_lm_eval_output
from jp_bench.paths import tasks_path
from tests.support.cli import run_cli
from tests.support.files import samples_by_task
from tests.support.judge_stub import JudgeStub, always

pytestmark = pytest.mark.e2e

UPSTREAM_COUNTS = {"generic": 10, "knowledge": 10, "roleplay": 10, "common-sense": 10, "fermi": 10,
                   "counterfactual": 10, "coding": 7, "math": 3, "writing": 10}


def assert_full_jp_bench(output: Path) -> list[dict]:
    records = samples_by_task(output)
    assert len(records) == 9, sorted(records)
    flat = [r for rs in records.values() for r in rs]
    assert len(flat) == 80
    assert Counter(r["doc"]["category"] for r in flat) == UPSTREAM_COUNTS
    assert sorted(r["doc"]["question_id"] for r in flat) == list(range(1, 81))
    for task, rows in records.items():
        assert {r["doc"]["category"].replace("-", "_") for r in rows} == {task.removeprefix("jp_bench_")}
    return flat


def test_lm_eval_cli_hf_base_model(tiny_llama: Path, imported_home: Path, tmp_path: Path) -> None:
    include = run_cli("jp-bench", "tasks-path").stdout.strip()
    assert Path(include) == tasks_path()
    out = tmp_path / "out"
    result = run_cli(
        "lm_eval", "--model", "hf", "--model_args", f"pretrained={tiny_llama}", "--tasks", "jp_bench",
        "--include_path", include, "--output_path", str(out), "--log_samples",
        "--gen_kwargs", "max_gen_toks=8",
        env={"JP_BENCH_HOME": str(imported_home)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    flat = assert_full_jp_bench(out)
    # No chat template: the prompt is the question itself.
    first = flat[0]
    assert first["arguments"]["gen_args_0"]["arg_0"] == first["doc"]["turns"][0]
    group_results = json.loads(next(out.rglob("results_*.json")).read_text())["results"]["jp_bench"]
    assert group_results["answer_chars,none"] > 0
    # Our reader sees the same answers, named by lm-eval's model name.
    answers = read_lm_eval_output(out)
    assert len(answers) == 80 and {a.model_id for a in answers} == {str(tiny_llama)}


def test_jp_bench_lm_eval_with_chat_template_predict_only(
    tiny_chat_llama: Path, imported_home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = run_cli(
        "jp-bench", "lm-eval", "--model", "hf", "--model_args", f"pretrained={tiny_chat_llama}",
        "--tasks", "jp_bench", "--predict_only", "--log_samples", "--output_path", str(out),
        "--apply_chat_template", "--gen_kwargs", "max_gen_toks=8",
        env={"JP_BENCH_HOME": str(imported_home)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    flat = assert_full_jp_bench(out)
    prompt = flat[0]["arguments"]["gen_args_0"]["arg_0"]
    assert prompt.startswith("<|im_start|>user\n") and prompt.endswith("<|im_start|>assistant\n")


def test_jp_bench_lm_eval_keeps_the_users_include_path(tiny_llama: Path, jp_home: Path, tmp_path: Path) -> None:
    """A user's own --include_path is kept beside ours: both task folders are visible."""
    mine = tmp_path / "my_tasks"
    mine.mkdir()
    (mine / "my_fresh_math.yaml").write_text(
        "include: " + str(tasks_path() / "jp_bench_fresh" / "_default_template_yaml") + "\n"
        "task: my_fresh_math\ndataset_kwargs:\n  benchmark: jp_bench_fresh\n  category: math\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = run_cli(
        "jp-bench", "lm-eval", "--model", "hf", "--model_args", f"pretrained={tiny_llama}",
        "--tasks", "my_fresh_math,jp_bench_fresh_fermi", "--include_path", str(mine), "--limit", "2",
        "--predict_only", "--log_samples", "--output_path", str(out), "--gen_kwargs", "max_gen_toks=4",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert {task: len(rows) for task, rows in samples_by_task(out).items()} == {"my_fresh_math": 2,
                                                                               "jp_bench_fresh_fermi": 2}


def test_python_api_simple_evaluate(tiny_llama: Path, jp_home: Path) -> None:
    import lm_eval
    from lm_eval.tasks import TaskManager

    results = lm_eval.simple_evaluate(
        model="hf",
        model_args=f"pretrained={tiny_llama}",
        tasks=["jp_bench_fresh"],
        task_manager=TaskManager(include_path=str(tasks_path())),
        limit=1,
        device="cpu",
        gen_kwargs="max_gen_toks=4",
        log_samples=True,
        predict_only=True,
    )
    samples = results["samples"]
    assert len(samples) == 9
    docs = [s["doc"] for rows in samples.values() for s in rows]
    assert all({"question_id", "category"} <= set(doc) for doc in docs)
    assert len({doc["category"] for doc in docs}) == 9


def port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_local_chat_completions_against_llama_cpp_server(packaged_gguf: Path, jp_home: Path, tmp_path: Path) -> None:
    from jp_bench.local.server import llama_cpp_server

    out = tmp_path / "out"
    # Judged in the same run by a local judge stand-in: an API backend answers, the judge scores.
    with llama_cpp_server(packaged_gguf, chat_format="gemma", model_alias="gemma-3-270m",
                          log_dir=tmp_path) as server, JudgeStub(reply=always("理由: 普通。\n[[4]]")) as judge:
        metadata = {"judge": "openai-compatible", "judge_base_url": judge.base_url,
                    "judge_workspace": str(tmp_path / "ws")}
        result = run_cli(
            "jp-bench", "lm-eval", "--model", "local-chat-completions",
            "--model_args", f"model={server.model_alias},base_url={server.chat_completions_url},"
                            "num_concurrent=2,tokenizer_backend=none",
            "--apply_chat_template", "--tasks", "jp_bench_fresh", "--limit", "1",
            "--gen_kwargs", "max_gen_toks=16", "--log_samples", "--output_path", str(out),
            "--metadata", json.dumps(metadata),
        )
        port = server.port
        assert judge.calls == 9
    assert port_is_closed(port)
    assert result.returncode == 0, result.stderr[-3000:]
    group = json.loads(next(out.rglob("results_*.json")).read_text())["results"]["jp_bench_fresh"]
    assert group["judge_score,none"] == 4.0
    answers = read_lm_eval_output(out)
    assert len(answers) == 9
    assert all(answer.turns[0].strip() for answer in answers)
    # The server really received chat requests.
    assert "/v1/chat/completions" in (tmp_path / f"llama-server-{port}.log").read_text(errors="replace")
