"""Live Anthropic judging through `jp-bench judge`: the real `anthropic` SDK against a local Messages-API
stand-in (tests/support/anthropic_stub.py), as tests/test_judge_e2e.py does for OpenAI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from jp_bench.judging.records import JudgmentLine
from tests.support.anthropic_stub import AnthropicStub, prompt_chars
from tests.support.cli import run_cli
from tests.support.paths import ROOT, SHARED

pytestmark = pytest.mark.integration

ANSWERS = SHARED / "data" / "ja-vicuna-qa-benchmark" / "jp_bench" / "model_answer"
CALM = ANSWERS / "cyberagent--calm2-7b-chat"
DAVINCI = ANSWERS / "openai--text-davinci-003"
BASELINE = "openai--text-davinci-003"
SECRET = "sk-ant-test-SECRET-0123456789"
A_STARTS, A_ENDS = "【アシスタントAの回答：ここから】", "【アシスタントAの回答：ここまで】"


def _answer_heads(folder: Path) -> dict[int, str]:
    """question id -> the first 40 characters of the model's answer (unique per question in these files)."""
    rows = [json.loads(line) for line in (folder / "results.jsonl").read_text(encoding="utf-8").splitlines() if line]
    return {row["question_id"]: row["choices"][0]["turns"][0].strip()[:40] for row in rows}


def _prefers_calm_on_odd_questions() -> tuple[object, dict[int, str]]:
    """A judge that prefers calm2 on odd question ids and davinci on even ones, whichever side it is shown on:
    it finds the question by calm2's answer in the prompt, and calm2's side by that answer's block."""
    calm = _answer_heads(CALM)
    assert len(set(calm.values())) == len(calm) == 80

    def reply(request: dict, index: int) -> str:
        prompt = request["messages"][-1]["content"]
        question = next(q for q, head in calm.items() if head in prompt)
        calm_is_a = calm[question] in prompt.split(A_STARTS, 1)[1].split(A_ENDS, 1)[0]
        a_wins = calm_is_a == (question % 2 == 1)
        return f"理由: 比べました。\n[[{'A' if a_wins else 'B'}]]"

    return reply, calm


def _judge(stub: AnthropicStub, home: Path, *args: str, key: str = SECRET):
    return run_cli("jp-bench", "judge", *args, env={"JP_BENCH_HOME": str(home), "ANTHROPIC_API_KEY": key,
                                                    "ANTHROPIC_BASE_URL": stub.base_url})


def test_claude_judge_end_to_end_through_the_messages_api(imported_home: Path, tmp_path: Path) -> None:
    out, workspace = tmp_path / "out", tmp_path / "ws.sqlite"
    args = (str(CALM), str(DAVINCI), "--judge", "claude-sonnet", "--baseline", BASELINE, "--out", str(out),
            "--workspace", str(workspace), "--concurrency", "8")
    reply, _ = _prefers_calm_on_odd_questions()
    with AnthropicStub(reply=reply, require_key=SECRET) as stub:
        first = _judge(stub, imported_home, *args)
        assert first.returncode == 0, first.stderr[-3000:]
        assert stub.received == stub.answered == 160
        again = _judge(stub, imported_home, *args)
        assert again.returncode == 0, again.stderr[-3000:]
        assert stub.received == 160  # the re-run sent nothing
    assert "calls made: 0, reused from the store: 160" in again.stdout

    # What went over the wire is a Messages-API request: the system prompt in `system`, only user turns
    # in `messages`, the YAML's model and max_tokens, no sampling parameter (the stand-in refuses them).
    judge = yaml.safe_load((ROOT / "judges" / "claude-sonnet.yaml").read_text(encoding="utf-8"))
    for request, _ in stub.replies:
        assert request["model"] == judge["model"] and request["max_tokens"] == judge["max_tokens"]
        assert request["system"].startswith("あなたは公平で厳格な審査員です。")
        assert [m["role"] for m in request["messages"]] == ["user"]

    rows = [json.loads(line) for line in (out / "judgments.jsonl").read_text(encoding="utf-8").splitlines()]
    for row in rows:
        JudgmentLine.model_validate({"line": row})
    assert {(r["question_id"], r["game"]) for r in rows} == {(q, g) for q in range(1, 81) for g in (1, 2)}
    # Verdicts mapped back to models through the position swap: calm2 (model_1) wins the odd questions in
    # both orders, davinci the even ones.
    for row in rows:
        assert row["model_1"] == "cyberagent--calm2-7b-chat" and row["status"] == "ok"
        assert row["winner"] == ("model_1" if row["question_id"] % 2 else "model_2"), row
        assert row["verdict"] == ("A" if (row["game"] == 1) == (row["question_id"] % 2 == 1) else "B"), row
    line = next(line for line in first.stdout.splitlines() if line.startswith("cyberagent--calm2-7b-chat"))
    assert line.split()[2:8] == ["40", "40", "0", "0", "0", "0.500"]

    # Usage as the API reported it (the stand-in: one token a character) and cost at the YAML's prices.
    sent = {request["messages"][0]["content"]: request for request, _ in stub.replies}
    price_in, price_out = judge["prices"]["input_per_mtok"], judge["prices"]["output_per_mtok"]
    with sqlite3.connect(workspace) as db:
        stored = db.execute("SELECT COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cost_usd) FROM calls "
                            "WHERE status = 'ok'").fetchone()
    total_in = sum(prompt_chars(request) for request in sent.values())
    total_out = sum(len(text) for _, text in stub.replies)
    assert stored[:3] == (160, total_in, total_out)
    assert stored[3] == pytest.approx((total_in * price_in + total_out * price_out) / 1e6, rel=1e-9)
    for row in rows:
        assert row["input_tokens"] > 0 and row["output_tokens"] == len(row["reply"])
        assert row["cost_usd"] == pytest.approx(
            (row["input_tokens"] * price_in + row["output_tokens"] * price_out) / 1e6, rel=1e-9)
    # The key is nowhere: not in outputs, not in the store, not in what was printed.
    for path in [*out.rglob("*.jsonl"), workspace]:
        assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in first.stdout + first.stderr + again.stdout + again.stderr


@pytest.mark.parametrize("latency_s", [0.0, 0.2])
@pytest.mark.parametrize("concurrency", [2, 16])
def test_a_refused_key_sends_at_most_one_window(imported_home: Path, tmp_path: Path, concurrency: int,
                                                latency_s: float) -> None:
    """Issue 20 point 1 for Anthropic: after the first 401 no request that has not left yet may leave.
    The judge YAML points at the stand-in with its own base_url (no ANTHROPIC_BASE_URL)."""
    judges = tmp_path / "judges"
    judges.mkdir()
    with AnthropicStub(require_key="sk-ant-the-right-key", latency_s=latency_s) as stub:
        (judges / "claude-local.yaml").write_text(
            "name: claude-local\nprovider: anthropic\nmodel: claude-sonnet-4-5\napi_key_env: ANTHROPIC_API_KEY\n"
            f"base_url: {stub.base_url}\nmax_tokens: 512\nprices: {{input_per_mtok: 3.0, output_per_mtok: 15.0}}\n",
            encoding="utf-8")
        result = run_cli("jp-bench", "judge", str(CALM), str(DAVINCI), "--judge", "claude-local", "--judges-dir",
                         str(judges), "--baseline", BASELINE, "--concurrency", str(concurrency),
                         "--out", str(tmp_path / "out"), "--workspace", str(tmp_path / "ws.sqlite"),
                         env={"JP_BENCH_HOME": str(imported_home), "ANTHROPIC_API_KEY": SECRET})
        received = stub.received
    assert stub.answered == 0 and 1 <= received <= concurrency, f"{received} of 160 requests sent"
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    # One line says why (above it only the progress bar, which writes to stderr too).
    errors = [line for line in result.stderr.splitlines() if not line.startswith("judging:") and line.strip()]
    assert len(errors) == 1 and errors[0].startswith("jp-bench: error: the judge refused the request"), errors
    assert "HTTP 401: authentication_error: invalid x-api-key" in errors[0]
    assert SECRET not in result.stdout + result.stderr
    assert not (tmp_path / "out" / "judgments.jsonl").exists()
