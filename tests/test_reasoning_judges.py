"""Reasoning-model judges: OpenAI reasoning parameters and reasoning tokens, Anthropic extended thinking,
think blocks and reasoning_content never read for a verdict, and a rejected parameter as one line."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
from pathlib import Path

import httpx2
import pytest

from jp_bench.judging.judges import load_judge
from jp_bench.judging.verdicts import parse_pairwise_verdict, parse_score
from jp_bench.llm import LLMClient, Message
from jp_bench.llm.anthropic_provider import AnthropicProvider
from tests.support.judge_stub import JudgeStub, always
from tests.support.paths import BIN, SHARED

ANSWERS = SHARED / "data" / "ja-vicuna-qa-benchmark" / "jp_bench" / "model_answer"
KEY = "sk-test-REASON-0123456789"


def judge(stub: JudgeStub, home: Path, tmp_path: Path, name: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JP_BENCH_HOME": str(home), "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": stub.base_url}
    return subprocess.run(
        [str(BIN / "jp-bench"), "judge", str(ANSWERS / "cyberagent--calm2-7b-chat"),
         str(ANSWERS / "openai--text-davinci-003"), "--judge", name, "--baseline", "openai--text-davinci-003",
         "--out", str(tmp_path / "out"), "--workspace", str(tmp_path / "ws.sqlite")],
        env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.unit
def test_a_think_block_is_never_the_verdict() -> None:
    assert parse_pairwise_verdict("<think>Aが良さそう [[A]] いや…</think>\n理由: Bが正確。\n[[B]]") == "B"
    assert parse_pairwise_verdict("<THINK>[[A]]</THINK>結論は出せません。") is None  # only a thought had one
    assert parse_pairwise_verdict("<think>考え中 [[A]]") is None  # cut off while thinking: no verdict
    assert parse_score("<thinking>[[2]] かな</thinking>\n評価: [[8]]") == 8


@pytest.mark.integration
def test_a_gpt5_class_judge_sends_what_reasoning_models_accept(imported_home: Path, tmp_path: Path) -> None:
    reply = "理由: Aの方が詳しい。\n[[A]]"
    # The stand-in answers as OpenAI does for o-series/GPT-5: temperature and max_tokens are refused.
    with JudgeStub(reply=always(reply), reject_params=("temperature", "max_tokens"), reasoning_tokens=500,
                   reasoning_content="考えた過程 [[B]]") as stub:
        result = judge(stub, imported_home, tmp_path, "gpt-5")
        assert result.returncode == 0, result.stderr[-3000:]
        request = stub.replies[0][0]
    assert request["reasoning_effort"] == "low" and request["max_completion_tokens"] == 16000
    assert "temperature" not in request and "max_tokens" not in request
    rows = [json.loads(line) for line in (tmp_path / "out" / "judgments.jsonl").read_text(encoding="utf-8")
            .splitlines()]
    assert {row["verdict"] for row in rows} == {"A"}  # reasoning_content's marker was never read
    # The hidden reasoning is paid for: 500 reasoning tokens on top of the visible reply, at the output price.
    spec = load_judge("gpt-5").model_spec()
    row = rows[0]
    assert row["output_tokens"] == len(reply) + 500
    assert row["cost_usd"] == pytest.approx(spec.cost_usd(row["input_tokens"], len(reply) + 500))


@pytest.mark.integration
def test_a_rejected_parameter_stops_at_the_first_call(imported_home: Path, tmp_path: Path) -> None:
    # gpt-4o's settings against a reasoning model's server: one line naming the parameter, nothing stored.
    with JudgeStub(reply=always("[[A]]"), reject_params=("temperature",)) as stub:
        result = judge(stub, imported_home, tmp_path, "gpt-4o")
        assert stub.calls == 0 and len(stub.replies) == 0
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("jp-bench: error:")]
    assert len(errors) == 1 and "HTTP 400" in errors[0] and "parameter 'temperature'" in errors[0]
    assert "Traceback" not in result.stderr
    with sqlite3.connect(tmp_path / "ws.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM calls").fetchone() == (0,)
    assert not (tmp_path / "out").exists()


@pytest.mark.unit
def test_anthropic_extended_thinking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    sent: list[dict] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(request.content))
        return httpx2.Response(200, json={
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{"type": "thinking", "thinking": "Aかな [[A]]", "signature": "sig"},
                        {"type": "text", "text": "理由: Bが正確。\n[[B]]"}],
            "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 40, "output_tokens": 900}})

    spec = load_judge("claude-sonnet-thinking").model_spec()
    provider = AnthropicProvider(spec, http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)))

    async def go():
        async with LLMClient(spec, provider) as client:
            return await client.complete([Message("system", "審査員"), Message("user", "比べて")])

    completion = asyncio.run(go())
    assert sent[0]["thinking"] == {"type": "enabled", "budget_tokens": 8000} and sent[0]["max_tokens"] == 12000
    assert completion.text == "理由: Bが正確。\n[[B]]"  # the thinking block is not part of the reply
    assert parse_pairwise_verdict(completion.text) == "B"
    assert completion.output_tokens == 900  # thinking tokens are billed as output, and counted


@pytest.mark.unit
def test_reasoning_settings_are_checked(tmp_path: Path) -> None:
    from tests.support.cli import main_in_process

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nprovider: anthropic\nmodel: m\nmax_tokens: 2000\nthinking_budget: 4000\n",
                   encoding="utf-8")
    result = main_in_process("judge", "x", "--judge", str(bad))
    assert result.returncode == 1
    assert "thinking_budget (4000) must be below max_tokens (2000)" in result.stderr
