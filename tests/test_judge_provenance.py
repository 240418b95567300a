"""Where a judgment came from: the endpoint is part of the call identity, rows and published results name
the model actually called, OPENAI_BASE_URL is honoured, and a judge nobody answers is fatal."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from jp_bench.llm.store import call_key
from jp_bench.llm.types import Message, ModelSpec
from jp_bench.local.server import free_port
from tests.support.cli import main_in_process, run_cli
from tests.support.judge_stub import JudgeStub, always
from tests.test_judge_e2e import BASELINE, CALM, DAVINCI, small_benchmark

KEY = "sk-test-provenance-0123456789"


@pytest.mark.unit
def test_the_endpoint_is_part_of_the_store_key() -> None:
    messages = [Message("user", "質問")]
    vendor = ModelSpec(provider="openai", model="gpt-4o-2024-08-06", base_url="https://api.openai.com/v1")
    proxy = ModelSpec(provider="openai", model="gpt-4o-2024-08-06", base_url="http://127.0.0.1:8080/v1")
    assert call_key(vendor, messages) != call_key(proxy, messages)
    # Only the endpoint, not how it is spelt: a trailing slash or credentials change nothing.
    spelt = ModelSpec(provider="openai", model="gpt-4o-2024-08-06", base_url="https://user:pw@api.openai.com/v1/")
    assert call_key(vendor, messages) == call_key(spelt, messages)


def judge(stub_env: dict[str, str], *args: str):
    return run_cli("jp-bench", "judge", *args, env=stub_env)


@pytest.mark.integration
def test_rows_and_published_results_name_the_model_called(imported_home: Path, tmp_path: Path) -> None:
    questions = small_benchmark(tmp_path, {1, 2})
    env = {"JP_BENCH_HOME": str(imported_home), "OPENAI_API_KEY": KEY}
    common = ("--judge", "openai-compatible", "--benchmark", str(questions), "--baseline", BASELINE,
              "--workspace", str(tmp_path / "ws.sqlite"))
    with JudgeStub(reply=always("[[A]]")) as first, JudgeStub(reply=always("[[B]]")) as second:
        # OPENAI_BASE_URL wins over the YAML's default endpoint (nothing listens on 127.0.0.1:8000).
        one = judge({**env, "OPENAI_BASE_URL": first.base_url}, str(CALM), str(DAVINCI), *common,
                    "--judge-model", "Qwen/Qwen2.5-72B-Instruct", "--out", str(tmp_path / "one"))
        assert one.returncode == 0, one.stderr[-2000:]
        assert first.calls == 4 and f"at {first.base_url}" in one.stdout
        # The same judgments from another server are asked again, never reused from the first.
        two = judge(env, str(CALM), str(DAVINCI), *common, "--judge-model", "meta/Llama-3.3-70B",
                    "--base-url", second.base_url, "--out", str(tmp_path / "two"))
        assert two.returncode == 0, two.stderr[-2000:]
        assert second.calls == 4 and first.calls == 4
    rows = [json.loads(line) for line in (tmp_path / "one" / "judgments.jsonl").read_text().splitlines()]
    assert {r["judge_model"] for r in rows} == {"Qwen/Qwen2.5-72B-Instruct"}
    assert {r["judge_endpoint"] for r in rows} == {first.base_url.split("//")[1].removesuffix("/v1")}
    assert KEY not in (tmp_path / "one" / "judgments.jsonl").read_text()

    # One judge YAML, two models behind it: the report keeps them apart.
    report = main_in_process("report", str(tmp_path / "one"), str(tmp_path / "two"), "--format", "json",
                     env=env)
    assert report.returncode == 0, report.stderr[-2000:]
    judges = {entry["judge"] for entry in json.loads(report.stdout)["pairwise"]}
    assert judges == {"openai-compatible (Qwen/Qwen2.5-72B-Instruct)", "openai-compatible (meta/Llama-3.3-70B)"}

    # Published: the model called, and no absolute local path.
    results = tmp_path / "results"
    published = main_in_process("report", str(tmp_path / "one"), "--benchmark", str(questions), "--publish",
                        "--results", str(results), env=env, cwd=tmp_path)
    assert published.returncode == 0, published.stderr[-2000:]
    record = json.loads(next(results.rglob("*.json")).read_text(encoding="utf-8"))
    assert record["judge"]["model"] == "Qwen/Qwen2.5-72B-Instruct"
    assert record["answers"]["source"] == "one" and str(tmp_path) not in json.dumps(record)


@pytest.mark.integration
def test_a_judge_nobody_answers_is_fatal_writes_nothing_and_blocks_nothing(imported_home: Path,
                                                                            tmp_path: Path) -> None:
    questions = small_benchmark(tmp_path, {1})
    env = {"JP_BENCH_HOME": str(imported_home), "OPENAI_API_KEY": KEY}
    dead = f"http://127.0.0.1:{free_port()}/v1"
    store, out = tmp_path / "ws.sqlite", tmp_path / "out"
    args = (str(CALM), str(DAVINCI), "--judge", "openai-compatible", "--benchmark", str(questions),
            "--baseline", BASELINE, "--workspace", str(store), "--out", str(out))
    result = judge(env, *args, "--base-url", dead)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "jp-bench: error" in line]
    assert len(errors) == 1 and "no call reached the judge" in errors[0] and "ConnectError" in errors[0]
    assert errors[0].startswith("jp-bench: error:")  # on a line of its own, not glued to the bar
    assert not out.exists()
    with sqlite3.connect(store) as db:
        assert db.execute("select count(*) from calls").fetchone()[0] == 0
    # The judge is back: the next run judges everything, no stored error in the way.
    with JudgeStub(reply=always("[[C]]")) as stub:
        again = judge(env, *args, "--base-url", stub.base_url)
        assert again.returncode == 0, again.stderr[-2000:]
        assert stub.calls == 2


@pytest.mark.integration
def test_a_reply_that_echoes_the_key_is_redacted_everywhere(imported_home: Path, tmp_path: Path) -> None:
    """A proxy that returns the request headers in the reply: the key (with or without its prefix) is
    never stored or written."""
    tail = KEY.removeprefix("sk-")
    questions = small_benchmark(tmp_path, {1})
    env = {"JP_BENCH_HOME": str(imported_home), "OPENAI_API_KEY": KEY}
    store, out = tmp_path / "ws.sqlite", tmp_path / "out"
    echo = always(f"Authorization: Bearer {KEY}\nx-api-key: {tail}\n理由: 同じ。\n[[C]]")
    with JudgeStub(reply=echo) as stub:
        result = judge(env, str(CALM), str(DAVINCI), "--judge", "openai-compatible", "--benchmark", str(questions),
                       "--baseline", BASELINE, "--workspace", str(store), "--out", str(out), "--base-url",
                       stub.base_url)
        assert result.returncode == 0, result.stderr[-2000:]
    written = [*tmp_path.glob("ws.sqlite*"), *out.rglob("*.jsonl")]
    assert len(written) >= 3
    for path in written:
        data = path.read_bytes()
        assert KEY.encode() not in data and tail.encode() not in data, path
    assert "***" in (out / "judgments.jsonl").read_text(encoding="utf-8")
    assert KEY not in result.stdout + result.stderr


@pytest.mark.unit
def test_leaderboard_csv_cells_are_formula_safe() -> None:
    from jp_bench._util.spreadsheet import unprotect_cell
    from jp_bench.reporting.leaderboard import csv_cell

    for text in ('=HYPERLINK("http://example.invalid")', "+1", "-cmd", "@SUM(A1)"):
        assert csv_cell(text) == "'" + text and unprotect_cell(csv_cell(text)) == text
    assert csv_cell("gpt-4o") == "gpt-4o" and csv_cell(-0.25) == "-0.25" and csv_cell(-3) == "-3"
