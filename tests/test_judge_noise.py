"""Probability-weighted verdicts (token log-probabilities at the verdict token), judge samples
(`--samples N`, each its own store key and seed) and the two-level bootstrap."""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jp_bench.judging.weighted import expected_score, verdict_distribution
from jp_bench.llm.store import Store
from jp_bench.llm.types import TokenLogprob
from jp_bench.stats import single_summary
from jp_bench.stats.judge_noise import sample_matrix, two_level_bootstrap
from tests.support.judge_stub import JudgeStub
from tests.support.paths import BIN, SHARED

ANSWERS = SHARED / "data" / "ja-vicuna-qa-benchmark" / "jp_bench" / "model_answer"
MODEL, BASELINE = "cyberagent--calm2-7b-chat", "openai--text-davinci-003"
KEY = "sk-test-NOISE-0123456789"


def judge(stub: JudgeStub, home: Path, tmp_path: Path, *extra: str, mode: str = "pairwise",
          out: str = "out") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JP_BENCH_HOME": str(home), "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": stub.base_url}
    pairwise = ["--baseline", BASELINE] if mode == "pairwise" else []
    return subprocess.run(
        [str(BIN / "jp-bench"), "judge", str(ANSWERS / MODEL), str(ANSWERS / BASELINE), "--judge", "gpt-4o",
         "--mode", mode, *pairwise, "--out", str(tmp_path / out), "--workspace", str(tmp_path / "ws.sqlite"),
         *extra],
        env=env, capture_output=True, text=True, timeout=300)


def rows_of(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "judgments.jsonl").read_text(encoding="utf-8").splitlines()]


def question_of(request: dict) -> int:
    # The stand-in's verdict depends on the prompt (question and order: the two games differ).
    return int(hashlib.md5(request["messages"][-1]["content"].encode()).hexdigest(), 16) % 5


# ------------------------------------------------------------------------------- the distribution


@pytest.mark.unit
def test_the_distribution_is_read_at_the_verdict_token() -> None:
    tokens = (TokenLogprob("理由", 0.0), TokenLogprob("[[", 0.0),
              TokenLogprob("A", math.log(0.6), (("A", math.log(0.6)), ("B", math.log(0.3)), ("C", math.log(0.05)),
                                               ("。", math.log(0.05)))),
              TokenLogprob("]]", 0.0))
    found = verdict_distribution("pairwise", "A", tokens)
    assert found == {"probs": pytest.approx({"A": 0.6 / 0.95, "B": 0.3 / 0.95, "C": 0.05 / 0.95}),
                     "mass": pytest.approx(0.95)}
    # An "A" quoted earlier is not the verdict: the last token spelling the verdict is.
    quoted = (TokenLogprob("A", 0.0, (("A", 0.0),)), *tokens)
    assert verdict_distribution("pairwise", "A", quoted)["probs"]["A"] == pytest.approx(0.6 / 0.95)
    # Alternatives written with brackets, full-width letters or "tie" still count as verdicts.
    wrapped = (TokenLogprob("[[Ａ", math.log(0.5), (("[[Ａ", math.log(0.5)), ("[[tie", math.log(0.5)))),)
    assert verdict_distribution("pairwise", "A", wrapped)["probs"] == {"A": 0.5, "C": 0.5}
    score = (TokenLogprob("8", math.log(0.5), (("8", math.log(0.5)), ("7", math.log(0.25)), ("10", math.log(0.25)))),)
    distribution = verdict_distribution("single", 8.0, score)
    assert expected_score(distribution) == pytest.approx(0.5 * 8 + 0.25 * 7 + 0.25 * 10)
    # No log-probabilities, or a verdict no token spells: no distribution, never a made-up one.
    assert verdict_distribution("pairwise", "A", None) is None
    assert verdict_distribution("single", 7.5, score) is None
    assert verdict_distribution("pairwise", "B", tokens[:2]) is None


@pytest.mark.integration
def test_weighted_pairwise_and_single_rows_through_the_cli(imported_home: Path, tmp_path: Path) -> None:
    distributions = [{"A": 0.7, "B": 0.2, "C": 0.1}, {"A": 0.2, "B": 0.5, "C": 0.3}, {"A": 0.1, "B": 0.1, "C": 0.8},
                     {"A": 0.4, "B": 0.4, "C": 0.2}, {"A": 0.9, "B": 0.05, "C": 0.05}]

    def reply(request: dict, _index: int) -> str:
        probs = distributions[question_of(request)]
        return f"理由: 比べました。\n[[{max(probs, key=probs.get)}]]"

    with JudgeStub(reply=reply, verdict_probs=lambda request, _i: distributions[question_of(request)]) as stub:
        result = judge(stub, imported_home, tmp_path, "--weighted")
        assert result.returncode == 0, result.stderr[-3000:]
        requests = [request for request, _ in stub.replies]
    assert all(r["logprobs"] is True and r["top_logprobs"] == 20 for r in requests)
    rows = rows_of(tmp_path / "out")
    assert len(rows) == 160
    # Each row's distribution is one the stand-in gave, and the verdict is its most likely label.
    for row in rows:
        assert row["verdict"] == max(row["verdict_probs"], key=row["verdict_probs"].get)
    for row in rows:
        assert any(row["verdict_probs"] == pytest.approx(d) for d in distributions)
    assert all(row["probability_mass"] == pytest.approx(1.0) for row in rows)

    # The report shows the weighted win rate beside the hard one.
    report = subprocess.run([str(BIN / "jp-bench"), "report", str(tmp_path / "out"), "--format", "json"],
                            env={**os.environ, "JP_BENCH_HOME": str(imported_home)}, capture_output=True, text=True)
    assert report.returncode == 0, report.stderr[-2000:]
    entry = json.loads(report.stdout)["pairwise"][0]
    # By hand: per question, the mean over its two games of P(model wins) + 0.5·P(tie).
    games: dict = {}
    for row in rows:
        probs = row["verdict_probs"]
        mine, theirs = ("A", "B") if row["game"] == 1 else ("B", "A")
        games.setdefault(row["question_id"], []).append(probs[mine] + 0.5 * probs["C"])
        assert theirs in probs
    by_hand = sum(sum(g) / 2 for g in games.values()) / len(games)
    assert entry["weighted_win_rate"] == pytest.approx(by_hand)
    assert entry["weighted_ci95"][0] < by_hand < entry["weighted_ci95"][1]
    assert entry["adjusted_win_rate"] is not None  # the hard result is still there

    # Single scores: the expected score Σ p(k)·k is in every row, and its mean in the report.
    scores = [{"8": 0.5, "7": 0.3, "9": 0.2}, {"3": 1.0}, {"5": 0.5, "6": 0.5}]

    def score_reply(request: dict, _index: int) -> str:
        probs = scores[question_of(request) % 3]
        return f"評価: [[{max(probs, key=probs.get)}]]"

    with JudgeStub(reply=score_reply, verdict_probs=lambda request, _i: scores[question_of(request) % 3]) as stub:
        result = judge(stub, imported_home, tmp_path, "--weighted", mode="single", out="single")
        assert result.returncode == 0, result.stderr[-3000:]
    rows = rows_of(tmp_path / "single")
    for row in rows:
        assert row["expected_score"] == pytest.approx(sum(int(k) * p for k, p in row["verdict_probs"].items()))
    report = subprocess.run([str(BIN / "jp-bench"), "report", str(tmp_path / "single"), "--format", "json"],
                            env={**os.environ, "JP_BENCH_HOME": str(imported_home)}, capture_output=True, text=True)
    entries = {e["model"]: e for e in json.loads(report.stdout)["single"]}
    mine = [row["expected_score"] for row in rows if row["model"] == MODEL]
    assert entries[MODEL]["weighted_mean"] == pytest.approx(sum(mine) / len(mine))
    text = subprocess.run([str(BIN / "jp-bench"), "report", str(tmp_path / "single")],
                          env={**os.environ, "JP_BENCH_HOME": str(imported_home)}, capture_output=True, text=True)
    assert "weighted" in text.stdout


@pytest.mark.integration
def test_weighted_needs_a_judge_with_log_probabilities(imported_home: Path, tmp_path: Path) -> None:
    env = {**os.environ, "JP_BENCH_HOME": str(imported_home), "ANTHROPIC_API_KEY": "sk-ant-test"}
    result = subprocess.run([str(BIN / "jp-bench"), "judge", str(ANSWERS / MODEL), str(ANSWERS / BASELINE),
                             "--judge", "claude-sonnet", "--baseline", BASELINE, "--weighted",
                             "--workspace", str(tmp_path / "ws.sqlite")], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("jp-bench: error:")]
    assert len(errors) == 1 and "log-probabilities" in errors[0] and "Traceback" not in result.stderr


@pytest.mark.unit
def test_an_old_store_gets_the_new_column_and_keeps_its_calls(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # the calls table as jp-bench wrote it before weighted verdicts
        db.executescript("""
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO meta VALUES ('schema_version', '1');
            CREATE TABLE calls (key TEXT PRIMARY KEY, purpose TEXT NOT NULL, prompt_version TEXT, model TEXT NOT NULL,
                request TEXT NOT NULL, reply TEXT, parsed TEXT, status TEXT NOT NULL, error TEXT,
                attempts INTEGER NOT NULL DEFAULT 1, input_tokens INTEGER NOT NULL DEFAULT 0,
                output_tokens INTEGER NOT NULL DEFAULT 0, cost_usd REAL NOT NULL DEFAULT 0, started_at REAL,
                finished_at REAL NOT NULL);
            INSERT INTO calls VALUES ('k1', 'judge:x', 'v', 'm', '{}', '[[A]]', '"A"', 'ok', NULL, 1, 5, 3, 0.1, 0, 1);
        """)
    with Store(path) as store:
        call = store.get("k1")
        assert call is not None and call.parsed == "A" and call.details is None and call.cost_usd == 0.1
    with sqlite3.connect(path) as db:
        assert "details" in {row[1] for row in db.execute("PRAGMA table_info(calls)")}
        assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("2",)


# --------------------------------------------------------------------------------- judge samples


@pytest.mark.integration
def test_samples_are_their_own_calls_with_their_own_seeds(imported_home: Path, tmp_path: Path) -> None:
    def reply(request: dict, _index: int) -> str:
        # A noisy judge: the seed moves its verdict.
        return "[[" + "ABC"[(question_of(request) + request.get("seed", 0)) % 3] + "]]"

    with JudgeStub(reply=reply) as stub:
        refused = judge(stub, imported_home, tmp_path, "--samples", "3")
        assert refused.returncode != 0 and "temperature 0" in refused.stderr and stub.calls == 0
        result = judge(stub, imported_home, tmp_path, "--samples", "3", "--temperature", "0.7")
        assert result.returncode == 0, result.stderr[-3000:]
        assert stub.calls == 3 * 160
        seeds = sorted({request.get("seed") for request, _ in stub.replies}, key=str)
        assert seeds == [1, 2, None]  # sample 0 is an ordinary request; samples 1 and 2 carry seeds
        assert {request["temperature"] for request, _ in stub.replies} == {0.7}
        again = judge(stub, imported_home, tmp_path, "--samples", "3", "--temperature", "0.7")
        assert again.returncode == 0 and stub.calls == 3 * 160  # nothing paid twice
    rows = rows_of(tmp_path / "out")
    assert sorted({row["sample"] for row in rows}) == [0, 1, 2] and len({row["key"] for row in rows}) == 480
    report = subprocess.run([str(BIN / "jp-bench"), "report", str(tmp_path / "out"), "--format", "json"],
                            env={**os.environ, "JP_BENCH_HOME": str(imported_home)}, capture_output=True, text=True)
    assert report.returncode == 0, report.stderr[-2000:]
    entry = json.loads(report.stdout)["pairwise"][0]
    assert entry["samples"] == 3 and entry["judge_sd"] > 0 and 0 < entry["judge_share"] <= 1
    assert entry["ci95"][0] <= entry["adjusted_win_rate"] <= entry["ci95"][1]


@pytest.mark.integration
def test_one_sample_changes_nothing(imported_home: Path, tmp_path: Path) -> None:
    with JudgeStub(reply=lambda request, _i: "[[A]]" if question_of(request) % 2 else "[[B]]") as stub:
        plain = judge(stub, imported_home, tmp_path, out="plain")
        one = judge(stub, imported_home, tmp_path, "--samples", "1", out="one")
        assert plain.returncode == 0 and one.returncode == 0
        assert stub.calls == 160  # the same keys: the second run is free
    assert rows_of(tmp_path / "plain") == rows_of(tmp_path / "one")
    assert all("sample" not in row for row in rows_of(tmp_path / "one"))


# ------------------------------------------------------------------------------ two-level bootstrap


@pytest.mark.unit
def test_two_level_bootstrap_on_a_hand_computed_case() -> None:
    # Two questions, two judge samples each: item means 2 and 6 (σ²_between = 4, plug-in), within-item
    # plug-in variance 1. A replicate mean is the mean of two independent draws m*_J, each with
    # Var = σ²_between + σ²_within / N = 4 + 1/2, so Var(mean*) = 4.5 / 2 = 2.25: stderr 1.5.
    # The question bootstrap alone would say Var = 4 / 2: stderr √2.
    values = np.array([[1.0, 3.0], [5.0, 7.0]])
    result = two_level_bootstrap(values, n_boot=40_000, seed=0, ci=0.95)
    assert result["mean"] == 4.0 and result["samples"] == 2
    assert result["stderr"] == pytest.approx(1.5, abs=0.02)
    assert result["judge_sd"] == pytest.approx(math.sqrt(2.0))  # ddof 1: var([1, 3]) = var([5, 7]) = 2
    assert result["judge_share"] == pytest.approx((1.0 / (2 * 2)) / result["stderr"] ** 2)
    one_level = two_level_bootstrap(values[:, :1], n_boot=40_000, seed=0, ci=0.95)
    assert one_level["stderr"] == pytest.approx(math.sqrt(2.0), abs=0.02)  # items 1 and 5: σ² = 4, Q = 2


@pytest.mark.unit
def test_one_sample_gives_the_one_level_interval_exactly() -> None:
    rng = np.random.default_rng(3)
    scores = rng.integers(1, 11, size=40).astype(float)
    scores[[4, 17]] = np.nan
    table = pd.DataFrame({"question_id": range(40), "category": "c", "model": "m", "score": scores, "length": 1.0,
                          "judge": "j", "prompt_version": "v"})
    expected = single_summary(table, n_boot=300, seed=5)[0]
    found = two_level_bootstrap(sample_matrix([(q, 0, s) for q, s in enumerate(scores)], list(range(40))),
                                n_boot=300, seed=5, ci=0.95)
    assert found["mean"] == pytest.approx(expected["mean"])
    assert found["ci95"] == pytest.approx(expected["ci95"]) and found["stderr"] == pytest.approx(expected["stderr"])


@pytest.mark.integration
def test_weighted_verdicts_through_the_openai_batch_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from jp_bench.judging.runner import verdict_policy
    from jp_bench.llm import LLMClient
    from jp_bench.llm.batch import BatchSettings
    from jp_bench.llm.engine import CallEngine, CallJob
    from jp_bench.llm.types import Message, ModelSpec
    from tests.support.batch_stub import BatchStub

    monkeypatch.setenv("JP_TEST_BATCH_KEY", "sk-test-batch")
    probs = {"A": 0.6, "B": 0.3, "C": 0.1}
    asked: list[dict] = []  # the request bodies that asked for log-probabilities

    def distribution(body: dict) -> dict[str, float]:
        asked.append(body)
        return probs

    with BatchStub(reply=lambda _request, _id: "理由: 比較。\n[[A]]", verdict_probs=distribution) as stub, \
            Store(tmp_path / "ws.sqlite") as store:
        spec = ModelSpec(provider="openai", model="judge-batch", base_url=stub.openai_base_url,
                         api_key_env="JP_TEST_BATCH_KEY", params={"logprobs": True, "top_logprobs": 20})
        engine = CallEngine(spec=spec, store=store, purpose="judge:test", prompt_version="v", policy=verdict_policy(),
                            client_factory=lambda: LLMClient(spec), batch=BatchSettings(poll_interval_s=0.01))
        jobs = [CallJob(f"k{i}", (Message("user", f"質問{i}"),), "pairwise") for i in range(3)]
        report = asyncio.run(engine.run(jobs))
        assert report.called == 3
        assert len(asked) == 3 and all(body["top_logprobs"] == 20 for body in asked)
        for i in range(3):
            call = store.get(f"k{i}")
            assert call.parsed == "A" and call.details["verdict_probs"]["probs"] == pytest.approx(probs)


@pytest.mark.unit
@pytest.mark.parametrize(("name", "family"), [
    ("gpt-4o-mini", "openai"), ("openai--gpt-4", "openai"), ("gpt-5", "openai"), ("gpt-oss-20b", "openai"),
    ("openai--text-davinci-003", "openai"), ("o3-mini", "openai"), ("claude-sonnet-4-5", "anthropic"),
    # "gpt" inside another maker's model name is no kin of an OpenAI judge.
    ("rinna--japanese-gpt-neox-3.6b-instruction-ppo", None), ("EleutherAI/gpt-neox-20b", None), ("gpt-j-6b", None),
])
def test_model_families_for_self_preference(name: str, family: str | None) -> None:
    from jp_bench.reporting.judge_noise import family_of

    assert family_of(name) == family
