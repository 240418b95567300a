"""Japanese MT-Bench end to end: answers from the real lm-eval CLI (tiny random Llama, both turns), then
judged turn by turn as FastChat judges MT-Bench: turn 1 on turn 1 alone, turn 2 on the whole
conversation, reference-guided for math/reasoning/coding, single and pairwise (both orders), with our
prompts and with FastChat's own prompt file (byte-identical messages), reported per turn."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.support.cli import main_in_process, run_cli
from tests.support.judge_stub import JudgeStub
from tests.support.paths import BIN, SHARED

pytestmark = pytest.mark.e2e

MT_BENCH = SHARED / "data" / "stability_japanese_mt_bench"
FASTCHAT_PROMPTS = SHARED / "data" / "fastchat_llm_judge" / "judge_prompts.jsonl"
REFERENCE_CATEGORIES = {"math", "reasoning", "coding"}


@pytest.fixture(scope="module")
def mt_bench_run(tiny_chat_llama: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A JP_BENCH_HOME with ja_mt_bench imported, and the lm-eval output of one full two-turn run."""
    home = tmp_path_factory.mktemp("mt-home")
    out = tmp_path_factory.mktemp("mt-out")
    env = {"JP_BENCH_HOME": str(home)}
    imported = main_in_process("data", "import", "--benchmark", "ja_mt_bench", str(MT_BENCH), env=env)
    assert imported.returncode == 0, imported.stderr[-2000:]
    result = run_cli("jp-bench", "lm-eval", "--model", "hf", "--model_args", f"pretrained={tiny_chat_llama}",
                     "--tasks", "ja_mt_bench", "--apply_chat_template", "--output_path", str(out), "--log_samples",
                     "--gen_kwargs", "max_gen_toks=8", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return home, out


def judge(home: Path, stub: JudgeStub, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JP_BENCH_HOME": str(home), "OPENAI_API_KEY": "sk-test-mt", "OPENAI_BASE_URL": stub.base_url}
    return subprocess.run([str(BIN / "jp-bench"), "judge", *args, "--judge", "gpt-4o", "--workspace",
                           str(tmp / "ws.sqlite")], env=env, capture_output=True, text=True, timeout=600)


def rows_of(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "judgments.jsonl").read_text(encoding="utf-8").splitlines()]


def samples(out: Path) -> dict[tuple[int, int], dict]:
    found = {}
    for path in out.rglob("samples_ja_mt_bench_turn*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            found[(record["doc"]["question_id"], record["doc"]["turn"])] = record
    return found


def reply(request: dict, _index: int) -> str:
    # Turn 2 prompts ask about the 2nd turn's answer: the stand-in gives those 7 and turn 1 4.
    return "理由: 採点しました。\n[[7]]" if "2ターン目のアシスタントの回答" in request["messages"][-1]["content"] \
        else "理由: 採点しました。\n[[4]]"


def test_single_scores_per_turn_with_the_conversation_and_references(mt_bench_run, tmp_path: Path) -> None:
    home, out = mt_bench_run
    with JudgeStub(reply=reply) as stub:
        result = judge(home, stub, tmp_path, str(out), "--mode", "single", "--benchmark", "ja_mt_bench",
                       "--out", str(tmp_path / "judged"))
        assert result.returncode == 0, result.stderr[-3000:]
        requests = [request for request, _ in stub.replies]
    rows = rows_of(tmp_path / "judged")
    assert len(rows) == 160 and Counter(row["turn"] for row in rows) == {1: 80, 2: 80}
    assert all(row["status"] == "ok" for row in rows)
    by_turn = {(row["question_id"], row["turn"]): row for row in rows}
    answered = samples(out)
    questions = {json.loads(line)["question_id"]: json.loads(line)
                 for line in (MT_BENCH / "question_full.jsonl").read_text(encoding="utf-8").splitlines()}
    for (question_id, turn), row in by_turn.items():
        referenced = questions[question_id]["category"] in REFERENCE_CATEGORIES
        assert row["prompt"] == ("single_reference" if referenced else "single") + ("_multi" if turn == 2 else "")
        assert row["score"] == (7.0 if turn == 2 else 4.0)
    # The turn-2 prompt holds the conversation the model had: both questions and its own turn-1 answer;
    # the turn-1 prompt holds turn 1 alone.
    for question_id in (1, 11, 31):
        own = answered[(question_id, 1)]["filtered_resps"][0].strip()
        second = answered[(question_id, 2)]["filtered_resps"][0].strip()
        q1, q2 = questions[question_id]["turns"]
        turn_two = [r for r in requests if q2 in r["messages"][-1]["content"]]
        assert len(turn_two) == 1 and own in turn_two[0]["messages"][-1]["content"] \
            and second in turn_two[0]["messages"][-1]["content"]
        turn_one = [r for r in requests
                    if q1 in r["messages"][-1]["content"] and q2 not in r["messages"][-1]["content"]]
        assert len(turn_one) == 1
    # Reports per turn: FastChat's first/second turn means.
    report = main_in_process("report", str(tmp_path / "judged"), "--format", "json",
                     env={"JP_BENCH_HOME": str(home)})
    assert report.returncode == 0, report.stderr[-2000:]
    entry = json.loads(report.stdout)["single"][0]
    assert entry["mean"] == pytest.approx(5.5) and entry["n"] == 160
    turns = {str(k): v for k, v in entry["by_turn"].items()}
    assert turns["1"]["mean"] == pytest.approx(4.0) and turns["2"]["mean"] == pytest.approx(7.0)


def test_fastchat_prompts_send_what_fastchat_sends(mt_bench_run, tmp_path: Path) -> None:
    home, out = mt_bench_run
    prompts = {p["name"]: p for p in map(json.loads, FASTCHAT_PROMPTS.read_text(encoding="utf-8").splitlines())}
    with JudgeStub(reply=lambda _r, _i: "Rating: [[6]]") as stub:
        result = judge(home, stub, tmp_path, str(out), "--mode", "single", "--benchmark", "ja_mt_bench",
                       "--prompts", str(FASTCHAT_PROMPTS), "--out", str(tmp_path / "judged"))
        assert result.returncode == 0, result.stderr[-3000:]
        sent = {(r["messages"][0]["content"], r["messages"][1]["content"]) for r, _ in stub.replies}
    assert len(sent) == 160
    answered = samples(out)
    questions = {json.loads(line)["question_id"]: json.loads(line)
                 for line in (MT_BENCH / "question_full.jsonl").read_text(encoding="utf-8").splitlines()}
    references = {json.loads(line)["question_id"]: json.loads(line)["choices"][0]["turns"]
                  for line in (MT_BENCH / "reference_answer" / "gpt-4.jsonl").read_text(encoding="utf-8").splitlines()}
    # FastChat's gen_judgment: single-v1 (single-math-v1 for math, reasoning, coding) on turn 1,
    # the -multi-turn prompt on turn 2, each formatted with str.format.
    for question_id, question in questions.items():
        a1 = answered[(question_id, 1)]["filtered_resps"][0].strip()
        a2 = answered[(question_id, 2)]["filtered_resps"][0].strip()
        q1, q2 = question["turns"]
        math = question["category"] in REFERENCE_CATEGORIES
        ref = {"ref_answer_1": references[question_id][0], "ref_answer_2": references[question_id][1]} if math else {}
        first = prompts["single-math-v1" if math else "single-v1"]
        second = prompts["single-math-v1-multi-turn" if math else "single-v1-multi-turn"]
        assert (first["system_prompt"], first["prompt_template"].format(question=q1, answer=a1, **ref)) in sent
        assert (second["system_prompt"], second["prompt_template"].format(
            question_1=q1, question_2=q2, answer_1=a1, answer_2=a2, **ref)) in sent


def test_pairwise_per_turn_in_both_orders(mt_bench_run, tmp_path: Path) -> None:
    home, out = mt_bench_run
    with JudgeStub(reply=lambda _r, _i: "[[A]]") as stub:
        result = judge(home, stub, tmp_path, f"mine={out}", f"theirs={out}", "--baseline", "theirs",
                       "--benchmark", "ja_mt_bench", "--out", str(tmp_path / "judged"))
        assert result.returncode == 0, result.stderr[-3000:]
    rows = rows_of(tmp_path / "judged")
    assert len(rows) == 320  # 80 questions x 2 turns x 2 orders
    assert Counter((row["turn"], row["game"]) for row in rows) == {(1, 1): 80, (1, 2): 80, (2, 1): 80, (2, 2): 80}
    assert {row["prompt"] for row in rows if row["turn"] == 2} == {"pairwise_multi", "pairwise_reference_multi"}
    report = main_in_process("report", str(tmp_path / "judged"), "--format", "json",
                     env={"JP_BENCH_HOME": str(home)})
    entry = json.loads(report.stdout)["pairwise"][0]
    # "A" in both orders names a different model each time: every (question, turn) is an inconsistent tie.
    assert entry["n"] == 160 and entry["tie"] == 160 and entry["inconsistent"] == 160
