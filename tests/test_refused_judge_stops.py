"""A refused or unreachable model stops the run at once: after the first fatal reply no request that
has not yet left may leave, so a wrong key costs at most one concurrency window of requests, on every
path that uses the one call engine (judging, in-harness judging through the same service, seed
translation, self-instruct generation). Counted at a local stand-in, not timed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from jp_bench.errors import JpBenchError
from jp_bench.judging.runner import verdict_policy
from jp_bench.llm import LLMClient
from jp_bench.llm.engine import CallEngine, CallJob
from jp_bench.llm.store import Store
from jp_bench.llm.types import Message, ModelSpec
from jp_bench.local.server import free_port
from tests.support.cli import run_cli
from tests.support.judge_stub import JudgeStub, always
from tests.support.paths import SHARED

pytestmark = pytest.mark.integration

ANSWERS = SHARED / "data" / "ja-vicuna-qa-benchmark" / "jp_bench" / "model_answer"
CALM = ANSWERS / "cyberagent--calm2-7b-chat"
DAVINCI = ANSWERS / "openai--text-davinci-003"
RIGHT_KEY = "sk-the-right-key-0123456789"
WRONG_KEY = "sk-a-wrong-key-9876543210"


def jobs(n: int) -> list[CallJob]:
    return [CallJob(f"k{i}", (Message("user", f"質問{i}"),), "pairwise") for i in range(n)]


async def no_wait(_seconds: float) -> None:
    """The client's backoff sleep, skipped: the test counts attempts, it does not time them."""


def run_engine(store: Store, spec: ModelSpec, concurrency: int, n: int, **client_kwargs) -> CallEngine:
    engine = CallEngine(spec=spec, store=store, purpose="judge:test", prompt_version="v", policy=verdict_policy(),
                        client=LLMClient(spec, concurrency=concurrency, **client_kwargs), refused_what="the judge")
    asyncio.run(engine.run(jobs(n)))
    return engine


@pytest.mark.parametrize("latency_s", [0.0, 0.2])
@pytest.mark.parametrize("concurrency", [2, 16])
@pytest.mark.parametrize("refusal", ["401", "rejected parameter"])
def test_a_refused_request_stops_every_request_not_yet_sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            refusal: str, concurrency: int, latency_s: float) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", WRONG_KEY if refusal == "401" else RIGHT_KEY)
    stub_kwargs = {"require_key": RIGHT_KEY} if refusal == "401" else {"reject_params": ("temperature",)}
    with JudgeStub(reply=always("[[A]]"), latency_s=latency_s, **stub_kwargs) as stub, \
            Store(tmp_path / "ws.sqlite") as store:
        spec = ModelSpec(provider="openai-compatible", model="m", base_url=stub.base_url, temperature=0.0)
        with pytest.raises(JpBenchError, match="the judge refused the request") as refused:
            run_engine(store, spec, concurrency, 60)
        # At most the requests already in flight when the first refusal came back: one window.
        assert 1 <= stub.received <= concurrency
        assert store.count() == 0
    if refusal == "rejected parameter":
        assert "'temperature'" in str(refused.value)
    assert WRONG_KEY not in str(refused.value) and RIGHT_KEY not in str(refused.value)


@pytest.mark.parametrize("concurrency", [2, 16])
def test_a_judge_nobody_answers_costs_one_window_of_attempts(tmp_path: Path, concurrency: int) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    spec = ModelSpec(provider="openai-compatible", model="m", base_url=dead, timeout_s=5)
    with Store(tmp_path / "ws.sqlite") as store:
        client = LLMClient(spec, concurrency=concurrency, sleep=no_wait)
        engine = CallEngine(spec=spec, store=store, purpose="judge:test", prompt_version="v",
                            policy=verdict_policy(), client=client, refused_what="the judge")
        with pytest.raises(JpBenchError, match=rf"no call reached the judge \({concurrency} tried; .*ConnectError"):
            asyncio.run(engine.run(jobs(160)))
        # One window of jobs, each through all its attempts; no other job tried at all.
        assert client.calls_attempted == concurrency * client.max_attempts
        assert store.count() == 0


def test_a_judge_that_answers_after_connection_failures_is_not_stopped(tmp_path: Path) -> None:
    """The probe window opens as soon as any request is answered: a flaky start is no stop."""
    with JudgeStub(reply=always("[[A]]"), fail_every=3, failure="drop") as stub, \
            Store(tmp_path / "ws.sqlite") as store:
        spec = ModelSpec(provider="openai-compatible", model="m", base_url=stub.base_url)
        engine = CallEngine(spec=spec, store=store, purpose="judge:test", prompt_version="v",
                            policy=verdict_policy(), client=LLMClient(spec, concurrency=4, sleep=no_wait))
        report = asyncio.run(engine.run(jobs(30)))
        assert report.called == 30 and report.unreachable == 0 and store.count() == 30


def judge_cli(env: dict[str, str], tmp_path: Path, *extra: str):
    return run_cli("jp-bench", "judge", str(CALM), str(DAVINCI), "--judge", "openai-compatible",
                   "--baseline", "openai--text-davinci-003", "--workspace", str(tmp_path / "ws.sqlite"),
                   "--out", str(tmp_path / "out"), *extra, env=env)


def test_jp_bench_judge_against_a_wrong_key_sends_one_window(imported_home: Path, tmp_path: Path) -> None:
    """The issue's case: the paper's calm2 vs davinci (160 pairwise calls), --concurrency 16, 200 ms latency."""
    with JudgeStub(reply=always("[[A]]"), latency_s=0.2, require_key=RIGHT_KEY) as stub:
        env = {"JP_BENCH_HOME": str(imported_home), "OPENAI_API_KEY": WRONG_KEY}
        result = judge_cli(env, tmp_path, "--base-url", stub.base_url, "--concurrency", "16")
        assert result.returncode == 1
        assert 1 <= stub.received <= 16
    errors = [line for line in result.stderr.splitlines() if "jp-bench: error" in line]
    assert len(errors) == 1 and "refused the request" in errors[0] and "401" in errors[0]
    assert WRONG_KEY not in result.stderr + result.stdout
    assert not (tmp_path / "out").exists()


def test_seed_translation_against_a_wrong_key_sends_one_window(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from jp_bench.selfinstruct.seeds import read_english_seeds
    from jp_bench.selfinstruct.seeds_translate import translate_seeds

    seeds = read_english_seeds(SHARED / "data" / "stanford_alpaca" / "seed_tasks.jsonl")[:40]
    monkeypatch.setenv("OPENAI_API_KEY", WRONG_KEY)
    with JudgeStub(latency_s=0.1, require_key=RIGHT_KEY) as stub, Store(tmp_path / "ws.sqlite") as store:
        spec = ModelSpec(provider="openai-compatible", model="translator", base_url=stub.base_url)
        with pytest.raises(JpBenchError, match="the translation model refused the request"):
            translate_seeds(seeds, spec, store, concurrency=4)
        assert 1 <= stub.received <= 4


def test_generation_against_a_wrong_key_sends_one_window(tmp_path: Path, jp_home: Path) -> None:
    with JudgeStub(latency_s=0.1, require_key=RIGHT_KEY) as stub:
        result = run_cli("jp-bench", "selfinstruct", "generate", "--generator", "openai-compatible",
                         "--base-url", stub.base_url, "--num", "200", "--out", str(tmp_path / "data"),
                         "--workspace", str(tmp_path / "ws.sqlite"), "--concurrency", "4",
                         env={"OPENAI_API_KEY": WRONG_KEY})
        assert result.returncode == 1
        assert 1 <= stub.received <= 4
    assert "the generator refused the request" in result.stderr
