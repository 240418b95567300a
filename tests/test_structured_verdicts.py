"""Structured verdicts: a JSON-schema request, JSON replies read first, markers as the fallback, and the
output format in the prompt version and every store key."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from jp_bench.judging.runner import parse_reply
from tests.support.judge_stub import JudgeStub
from tests.support.paths import BIN, SHARED

ANSWERS = SHARED / "data" / "ja-vicuna-qa-benchmark" / "jp_bench" / "model_answer"


@pytest.mark.unit
def test_json_replies_are_read_first_and_markers_are_the_fallback() -> None:
    assert parse_reply("pairwise", '{"reason": "Aは [[B]] と書くが誤り", "verdict": "A"}') == "A"
    assert parse_reply("pairwise", '```json\n{"reason": "互角", "verdict": "c"}\n```') == "C"
    assert parse_reply("pairwise", '{"reason": "…", "verdict": "D"}\n[[B]]') == "B"  # invalid JSON verdict: markers
    assert parse_reply("single", '{"reason": "良い", "score": 8}') == 8.0
    assert parse_reply("single", '{"reason": "良い", "score": 11}') is None  # out of scale, and no marker
    assert parse_reply("single", '<think>{"score": 2}</think>{"reason": "良い", "score": 9}') == 9.0


@pytest.mark.integration
def test_a_json_judge_asks_for_the_schema(imported_home: Path, tmp_path: Path) -> None:
    judges = tmp_path / "judges"
    judges.mkdir()
    (judges / "json-judge.yaml").write_text(
        "name: json-judge\nprovider: openai-compatible\nmodel: m\nverdict_format: json\n", encoding="utf-8")

    def reply(request: dict, index: int) -> str:
        return json.dumps({"reason": "Aの方が正確です。[[B]] ではありません。", "verdict": "A"}, ensure_ascii=False)

    common = [str(BIN / "jp-bench"), "judge", str(ANSWERS / "cyberagent--calm2-7b-chat"),
              str(ANSWERS / "openai--text-davinci-003"), "--baseline", "openai--text-davinci-003",
              "--judges-dir", str(judges), "--workspace", str(tmp_path / "ws.sqlite")]
    with JudgeStub(reply=reply) as stub:
        env = {**os.environ, "JP_BENCH_HOME": str(imported_home), "OPENAI_BASE_URL": stub.base_url}
        result = subprocess.run([*common, "--judge", "json-judge", "--out", str(tmp_path / "out")], env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        request = stub.replies[0][0]
        schema = request["response_format"]["json_schema"]["schema"]
        assert request["response_format"]["type"] == "json_schema"
        assert schema["properties"]["verdict"]["enum"] == ["A", "B", "C"]
        assert '{"reason": "判定の理由", "verdict": "A"}' in request["messages"][-1]["content"]
        # The same answers with the marker format are other calls: the format is in every key.
        (judges / "marker-judge.yaml").write_text(
            "name: marker-judge\nprovider: openai-compatible\nmodel: m\n", encoding="utf-8")
        before = stub.calls
        marker = subprocess.run([*common, "--judge", "marker-judge", "--dry-run"], env=env, capture_output=True,
                                text=True, timeout=300)
        assert "to call now: 160" in marker.stdout and stub.calls == before
    rows = [json.loads(line) for line in (tmp_path / "out" / "judgments.jsonl").read_text(encoding="utf-8")
            .splitlines()]
    assert {row["verdict"] for row in rows} == {"A"}
    assert rows[0]["prompt_version"].endswith("+json")
