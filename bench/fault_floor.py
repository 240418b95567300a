"""The fastest any client could finish the stand-in's mixed-fault run: the floor under judge_throughput's figure.

The stand-in (``tests.support.judge_stub.JudgeStub(failure="mixed")``) decides a call's fate by the order in which
calls arrive: every ``fail_every``-th call fails, in turn with a 429 (answered at once, Retry-After),
an HTTP 500 (after the latency), a reply ``slow_extra_s`` late, and a reply without a verdict. The fate
belongs to the arrival index, not to the job, so no order of the jobs changes which calls fail or how
long they take; what a client controls is only whether a free slot waits. This simulates the ideal
client: no overhead at all, a freed slot used at once, the Retry-After waited exactly and without a
slot, a 500 retried after the client's own backoff (full jitter: uniform(0, ``backoff_base_s``), as
:class:`jp_bench.llm.client.LLMClient` draws it), a reply without a verdict asked again at once. Its
makespan, averaged over the backoff draws, is the time the calls alone need; the command adds its
start-up.

    python bench/fault_floor.py [--slow-extra 2.0]
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
from dataclasses import dataclass

FATES = ("429", "500", "slow", "no-verdict")  # judge_stub's _MIXED order


@dataclass(frozen=True)
class FaultSchedule:
    jobs: int = 160
    concurrency: int = 16
    latency_s: float = 1.0
    fail_every: int = 4
    retry_after_s: float = 1.0
    slow_extra_s: float = 2.0
    backoff_base_s: float = 0.5  # LLMClient's default: the first retry waits uniform(0, 0.5) s


def makespan(schedule: FaultSchedule, rng: random.Random) -> tuple[float, int]:
    """Seconds from the first call to the last reply, and the calls made, for one draw of the backoffs."""
    ready = list(range(schedule.jobs))  # jobs waiting for a slot; which one goes first does not matter
    events: list[tuple[float, int, str, int]] = []  # (time, tie-breaker, what, job)
    order = 0
    calls = failures = in_flight = 0
    now = last = 0.0

    def later(at: float, what: str, job: int) -> None:
        nonlocal order
        order += 1
        heapq.heappush(events, (at, order, what, job))

    while True:
        while ready and in_flight < schedule.concurrency:
            job = ready.pop()
            calls += 1
            fate = "ok"
            if calls % schedule.fail_every == 0:
                fate = FATES[failures % len(FATES)]
                failures += 1
            if fate == "429":  # answered at once: the slot is free again, the job waits without one
                later(now + schedule.retry_after_s, "ready", job)
                continue
            in_flight += 1
            duration = schedule.latency_s + (schedule.slow_extra_s if fate == "slow" else 0.0)
            later(now + duration, fate, job)
        if not events:
            return last, calls
        now, _, what, job = heapq.heappop(events)
        if what == "ready":
            ready.append(job)
            continue
        in_flight -= 1
        last = max(last, now)
        if what == "500":
            later(now + rng.uniform(0, schedule.backoff_base_s), "ready", job)
        elif what == "no-verdict":
            ready.append(job)


def floor_s(schedule: FaultSchedule, draws: int = 200, seed: int = 0) -> float:
    """The ideal client's mean makespan over ``draws`` draws of the backoff jitter."""
    rng = random.Random(seed)
    return statistics.fmean(makespan(schedule, rng)[0] for _ in range(draws))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slow-extra", type=float, default=2.0, help="seconds a slow reply takes beyond the latency")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    schedule = FaultSchedule(slow_extra_s=args.slow_extra, concurrency=args.concurrency)
    calls = makespan(schedule, random.Random(0))[1]
    print(f"calls={calls} floor_s={floor_s(schedule):.2f}")


if __name__ == "__main__":
    main()
