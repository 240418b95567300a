"""A jury of three judges over the paper's released answers: each member through the one store, the
pooled majority, judge-judge kappa (with and without ties) and the self-preference check."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from jp_bench.votes.comparisons import cohen_kappa
from tests.support.judge_stub import JudgeStub
from tests.support.paths import BIN, SHARED

pytestmark = pytest.mark.integration

ANSWERS = SHARED / "data" / "ja-vicuna-qa-benchmark" / "jp_bench" / "model_answer"
MODEL, BASELINE = "cyberagent--calm2-7b-chat", "openai--text-davinci-003"


def verdict_by(offset: int):
    def reply(request: dict, _index: int) -> str:
        digest = int(hashlib.md5(request["messages"][-1]["content"].encode()).hexdigest(), 16)
        # Mostly the same opinion (digest), each judge wrong in its own way on some items.
        return "理由: 比較しました。\n[[" + "ABC"[(digest + (offset if digest % 4 == 0 else 0)) % 3] + "]]"
    return reply


def judge_file(folder: Path, name: str, model: str, url: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(f"name: {name}\nprovider: openai-compatible\nmodel: {model}\nbase_url: {url}\n"
                    "temperature: 0\nconcurrency: 8\n", encoding="utf-8")
    return path


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_BASE_URL"}
    return subprocess.run([str(BIN / "jp-bench"), *args], env={**env, "JP_BENCH_HOME": str(home)},
                          capture_output=True, text=True, timeout=300)


def test_a_three_judge_jury(imported_home: Path, tmp_path: Path) -> None:
    with JudgeStub(reply=verdict_by(0)) as one, JudgeStub(reply=verdict_by(1)) as two, \
            JudgeStub(reply=verdict_by(2)) as three:
        files = [judge_file(tmp_path, "gpt-mini-judge", "gpt-4o-mini", one.base_url),
                 judge_file(tmp_path, "qwen-judge", "Qwen/Qwen3-8B", two.base_url),
                 judge_file(tmp_path, "llm-jp-judge", "llm-jp-3-13b", three.base_url)]
        args = ["judge", str(ANSWERS / MODEL), str(ANSWERS / BASELINE), "--baseline", BASELINE,
                "--out", str(tmp_path / "out"), "--workspace", str(tmp_path / "ws.sqlite")]
        result = run(imported_home, *args, *[x for f in files for x in ("--judge", str(f))])
        assert result.returncode == 0, result.stderr[-3000:]
        assert (one.calls, two.calls, three.calls) == (160, 160, 160)
        # The same jury from a jury YAML: the same store keys, so nothing is paid again.
        jury_yaml = tmp_path / "jury.yaml"
        jury_yaml.write_text("name: ja-jury\njudges: [gpt-mini-judge.yaml, qwen-judge.yaml, llm-jp-judge.yaml]\n",
                             encoding="utf-8")
        again = run(imported_home, *[a if a != str(tmp_path / "out") else str(tmp_path / "out2") for a in args],
                    "--judge", str(jury_yaml))
        assert again.returncode == 0, again.stderr[-3000:]
        assert (one.calls, two.calls, three.calls) == (160, 160, 160)
    rows = [json.loads(line) for line in (tmp_path / "out" / "judgments.jsonl").read_text(encoding="utf-8")
            .splitlines()]
    assert len(rows) == 480 and {row["jury"] for row in rows} == {"jury(gpt-mini-judge+qwen-judge+llm-jp-judge)"}
    for name in ("gpt-mini-judge", "qwen-judge", "llm-jp-judge"):  # each member's own files too
        assert (tmp_path / "out" / name / "judgments.jsonl").is_file()
    assert {r["jury"] for r in map(json.loads, (tmp_path / "out2" / "judgments.jsonl").read_text().splitlines())} \
        == {"ja-jury"}

    report = run(imported_home, "report", str(tmp_path / "out"), "--format", "json")
    assert report.returncode == 0, report.stderr[-2000:]
    data = json.loads(report.stdout)
    jury = "jury(gpt-mini-judge+qwen-judge+llm-jp-judge)"
    entries = {e["judge"]: e for e in data["pairwise"]}
    assert set(entries) == {"gpt-mini-judge", "qwen-judge", "llm-jp-judge", jury}

    # By hand: per question and game, the majority of the three winners (no majority: a tie), then
    # the position swap: a win only when both games say so.
    games: dict = {}
    for row in rows:
        games.setdefault((row["question_id"], row["game"]), []).append(row["winner"])
    pooled = {}
    for (question, game), winners in games.items():
        top, count = Counter(winners).most_common(1)[0]
        pooled.setdefault(question, {})[game] = top if count >= 2 else "tie"
    outcome = {q: ("win" if g[1] == g[2] == "model_1" else "loss" if g[1] == g[2] == "model_2" else "tie")
               for q, g in pooled.items()}
    counts = Counter(outcome.values())
    assert (entries[jury]["win"], entries[jury]["loss"], entries[jury]["tie"]) == \
        (counts["win"], counts["loss"], counts["tie"])

    # Judge-judge kappa as the agreement module computes it, over the combined per-question votes.
    def votes(judge: str) -> dict:
        by_question: dict = {}
        for row in rows:
            if row["judge"] == judge:
                by_question.setdefault(row["question_id"], {})[row["game"]] = row["winner"]
        label = {"model_1": 0, "model_2": 1}
        return {q: label.get(g[1], 2) if g[1] == g[2] else 2 for q, g in by_question.items()}

    pairs = {(p["judge_1"], p["judge_2"]): p for p in data["juries"][0]["pairs"]}
    assert len(pairs) == 3
    first, second = votes("gpt-mini-judge"), votes("qwen-judge")
    import numpy as np
    a = np.array([first[q] for q in sorted(first)])
    b = np.array([second[q] for q in sorted(first)])
    assert pairs[("gpt-mini-judge", "qwen-judge")]["kappa"] == pytest.approx(cohen_kappa(a, b, 3))
    keep = (a != 2) & (b != 2)
    assert pairs[("gpt-mini-judge", "qwen-judge")]["kappa_without_ties"] == pytest.approx(
        cohen_kappa(a[keep], b[keep], 2))

    # The GPT judge judged an OpenAI model (text-davinci-003): the diagnostics say so, with numbers.
    notes = data["juries"][0]["self_preference"]
    assert [(n["judge"], n["family"], n["model"]) for n in notes] == [("gpt-mini-judge", "openai", BASELINE)]
    assert "own_judge_win_rate" in notes[0] and "other_judges_win_rate" in notes[0]
    text = run(imported_home, "report", str(tmp_path / "out"))
    assert "judge-judge agreement" in text.stdout and "self-preference check: gpt-mini-judge" in text.stdout


def test_a_jury_needs_distinct_judges(imported_home: Path, tmp_path: Path) -> None:
    result = run(imported_home, "judge", str(ANSWERS / MODEL), "--judge", "gpt-4o", "--judge", "gpt-4o",
                 "--mode", "single")
    assert result.returncode != 0 and "given twice" in result.stderr and "Traceback" not in result.stderr
    bad = tmp_path / "jury.yaml"
    bad.write_text("name: j\njudges: [gpt-4o]\n", encoding="utf-8")
    result = run(imported_home, "judge", str(ANSWERS / MODEL), "--judge", str(bad), "--mode", "single")
    assert result.returncode != 0 and f"{bad}:2" in result.stderr and "Traceback" not in result.stderr
