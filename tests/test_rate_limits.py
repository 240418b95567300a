"""The client at a provider's rate limit: it slows down instead of burning retries (real SDK, real server)."""

from __future__ import annotations

import asyncio
import time

import pytest

from jp_bench.llm import LLMClient, Message, ModelSpec
from tests.support.judge_stub import JudgeStub, always

pytestmark = pytest.mark.integration


async def _issue(client: LLMClient, calls: int) -> list[BaseException]:
    async with client:
        results = await asyncio.gather(*(client.complete([Message("user", f"質問{i}")]) for i in range(calls)),
                                       return_exceptions=True)
    return [r for r in results if isinstance(r, BaseException)]


def test_a_run_at_the_rate_limit_loses_nothing() -> None:
    # 600 requests/min (10 per second), a bucket of 5: 40 calls cannot take less than 3.5 s. Only that
    # floor is checked (the stand-in enforces it on any machine); how far above it a run ends depends on
    # the machine's load, so the checks below count requests instead of seconds.
    with JudgeStub(reply=always("[[A]]"), latency_s=0.1, rate_limit_rpm=600, rate_limit_burst=5) as stub:
        spec = ModelSpec(provider="openai-compatible", model="m", base_url=stub.base_url)
        client = LLMClient(spec, concurrency=16)
        started = time.monotonic()
        errors = asyncio.run(_issue(client, 40))
        assert time.monotonic() - started >= 3.5 - 0.1  # the limit was in force
        assert errors == [] and stub.calls == 40
        stats = client.stats()
        # Every 429 was retried and none of them made a call fail: the retries are the 429s, no more.
        assert stats["calls_failed"] == 0 and stats["calls_succeeded"] == 40
        assert stats["retries"] == stub.rate_limited > 0
        # It read the limit from the headers and paused, instead of hammering the server.
        assert stats["concurrency_pauses"] > 0 and stats["concurrency_decreases"] > 0
        refused = stub.rate_limited
    # The same run at a fixed concurrency hammers the server, burns its retries and loses calls.
    with JudgeStub(reply=always("[[A]]"), latency_s=0.1, rate_limit_rpm=600, rate_limit_burst=5) as stub:
        spec = ModelSpec(provider="openai-compatible", model="m", base_url=stub.base_url)
        fixed = LLMClient(spec, concurrency=16, adaptive=False)
        assert len(asyncio.run(_issue(fixed, 40))) > 0
        assert stub.rate_limited > 2 * refused


def test_a_stray_429_slows_only_its_own_request() -> None:
    # Every 8th call is refused with 429 and Retry-After, without rate-limit headers: the other calls
    # keep their concurrency and nobody else waits.
    with JudgeStub(reply=always("[[A]]"), latency_s=0.2, fail_every=8, failure="429", retry_after_s=0.5) as stub:
        spec = ModelSpec(provider="openai-compatible", model="m", base_url=stub.base_url)
        client = LLMClient(spec, concurrency=8)
        errors = asyncio.run(_issue(client, 32))
        assert errors == []
        stats = client.stats()
        assert stats["concurrency_decreases"] == 0 and stats["concurrency_limit"] == 8
        assert stats["retries"] == stub.failures > 0
