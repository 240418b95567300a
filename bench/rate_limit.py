"""Model calls against a rate-limited judge stand-in: how close to the imposed rate, how many calls lost.

The stand-in (tests/support/judge_stub.py) admits requests through a token bucket: RPM per minute, BURST
back to back, LATENCY seconds per answer; a request that finds no token gets 429 with Retry-After
(the time until the next token) and OpenAI's x-ratelimit headers. CALLS calls go through one real
:class:`jp_bench.llm.LLMClient` (the OpenAI SDK, ``openai-compatible`` spec) at CONCURRENCY, all at
once with asyncio.gather, as a judging run issues them. No client can beat

    ideal = max(0, CALLS - BURST) / (RPM / 60) + LATENCY

so ``ratio = wall / ideal`` is how much slower than the limit allows it ran, and ``failed`` counts
calls that gave up (RetriesExhausted: MAX_ATTEMPTS 429s in a row) and so would be judgment errors.

Both clients run, one after the other, against a fresh stand-in: ``LLMClient`` as constructed by
default (adaptive concurrency: AIMD on 429, pauses on Retry-After and on spent rate-limit budgets)
and ``LLMClient(adaptive=False)`` (a fixed limit). Target: the adaptive ratio <= 1.10 with 0 failed
calls; the fixed figures show what the adaptation buys.

    python bench/rate_limit.py [--calls 160] [--rpm 1200] [--burst 20] [--latency 0.2] [--concurrency 16]

The last line holds the figures as key=value pairs (``fixed_*`` for the fixed-limit client); the
exit code is 0 when the target is met.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the stand-ins live in tests/support/
from jp_bench.llm import LLMClient, Message, ModelSpec
from jp_bench.llm.openai_provider import OpenAIProvider
from tests.support.judge_stub import JudgeStub, always


def make_client(spec: ModelSpec, *, fixed: bool, concurrency: int, max_attempts: int) -> LLMClient:
    return LLMClient(spec, OpenAIProvider(spec), concurrency=concurrency, max_attempts=max_attempts,
                     adaptive=not fixed)


async def issue(client: LLMClient, calls: int) -> tuple[float, list[BaseException]]:
    async def one(index: int) -> object:
        return await client.complete([Message("user", f"質問{index}: 日本の季節について教えてください。")])

    started = time.perf_counter()
    async with client:
        results = await asyncio.gather(*(one(i) for i in range(calls)), return_exceptions=True)
    wall = time.perf_counter() - started
    return wall, [result for result in results if isinstance(result, BaseException)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=160)
    parser.add_argument("--rpm", type=float, default=1200.0, help="the stand-in's rate limit (1200: 20 per second)")
    parser.add_argument("--burst", type=int, default=20,
                        help="requests the stand-in admits back to back: its bucket's capacity (default 20, one "
                             "second's worth at the default rate; vendors' buckets hold a minute's)")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-attempts", type=int, default=6)
    args = parser.parse_args()
    if args.rpm <= 0 or args.calls < 1:
        parser.error("--rpm must be positive and --calls at least 1")
    ideal = max(0, args.calls - args.burst) / (args.rpm / 60) + args.latency
    figures: dict[str, object] = {"calls": args.calls, "rpm": args.rpm, "burst": args.burst,
                                  "latency_s": args.latency, "concurrency": args.concurrency,
                                  "max_attempts": args.max_attempts, "ideal_s": round(ideal, 2)}
    for fixed in (False, True):
        prefix = "fixed_" if fixed else ""
        with JudgeStub(reply=always("理由: 短評。\n[[A]]"), latency_s=args.latency, rate_limit_rpm=args.rpm,
                       rate_limit_burst=args.burst) as stub:
            spec = ModelSpec(provider="openai-compatible", model="stub", timeout_s=30.0, base_url=stub.base_url)
            client = make_client(spec, fixed=fixed, concurrency=args.concurrency, max_attempts=args.max_attempts)
            wall, errors = asyncio.run(issue(client, args.calls))
            figures.update({f"{prefix}wall_s": round(wall, 2), f"{prefix}ratio": round(wall / ideal, 3),
                            f"{prefix}failed": len(errors), f"{prefix}rate_limited": stub.rate_limited,
                            f"{prefix}retries": client.retries,
                            f"{prefix}server_max_in_flight": stub.max_in_flight})
    print("\n".join(f"{key}: {value}" for key, value in figures.items()))
    print(" ".join(f"{key}={value}" for key, value in figures.items()))
    ok = figures["ratio"] <= 1.10 and figures["failed"] == 0  # type: ignore[operator]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
