"""AdaptiveLimiter (AIMD concurrency with pauses), the rate-limit header reader, and the stand-in's token bucket.

The limit arithmetic runs on a fake clock; waiting and waking run on real asyncio with waits of a
few tenths of a second.
"""

from __future__ import annotations

import asyncio
import json
import random
import urllib.error
import urllib.request
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from jp_bench.llm.limiter import MAX_PAUSE_S, AdaptiveLimiter, RateLimitHint, parse_duration, rate_limit_hint
from tests.support.judge_stub import JudgeStub

PAUSE_S = 0.2
T = TypeVar("T")


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a test's coroutine; a limiter that fails to wake its waiters fails the test instead of hanging it."""
    return asyncio.run(asyncio.wait_for(coro, 10))


# --- AIMD arithmetic ----------------------------------------------------------------------------------


@pytest.mark.unit
def test_starts_at_max_and_rejects_bad_bounds() -> None:
    assert AdaptiveLimiter(16).limit == 16
    with pytest.raises(ValueError):
        AdaptiveLimiter(4, min_concurrency=0)
    with pytest.raises(ValueError):
        AdaptiveLimiter(2, min_concurrency=3)


@pytest.mark.unit
def test_a_burst_of_429s_halves_once() -> None:
    async def go() -> AdaptiveLimiter:
        limiter = AdaptiveLimiter(16, clock=FakeClock())
        tickets = [await limiter.acquire() for _ in range(16)]
        for ticket in tickets:  # all 16 were in flight when the first 429 came back
            limiter.on_rate_limited(None, None, ticket=ticket)
            limiter.release()
        assert limiter.limit == 8
        assert limiter.decreases == 1
        # A call sent after the decrease and rate limited again is a new episode: halve again.
        async with limiter.slot() as ticket:
            limiter.on_rate_limited(None, None, ticket=ticket)
        assert limiter.limit == 4
        assert limiter.decreases == 2
        return limiter

    run(go())


@pytest.mark.unit
def test_a_burst_of_429s_halves_once_without_passing_tickets() -> None:
    """Each task's own slot is found without the ticket: 16 concurrent tasks, one decrease."""

    async def go() -> AdaptiveLimiter:
        limiter = AdaptiveLimiter(16, clock=FakeClock())
        all_in = asyncio.Event()

        async def call() -> None:
            async with limiter.slot():
                if limiter.in_flight == 16:
                    all_in.set()
                await all_in.wait()
                limiter.on_rate_limited()

        await asyncio.gather(*(call() for _ in range(16)))
        return limiter

    limiter = run(go())
    assert (limiter.limit, limiter.decreases, limiter.max_in_flight) == (8, 1, 16)


@pytest.mark.unit
def test_grows_back_additively_one_per_window() -> None:
    async def go() -> None:
        limiter = AdaptiveLimiter(16, clock=FakeClock())
        async with limiter.slot():
            limiter.on_rate_limited()
        assert limiter.limit == 8
        for _ in range(8):  # +1/limit each: 8 successes at limit 8 fall just short of one more
            limiter.on_success(None)
        assert limiter.limit == 8
        limiter.on_success(None)
        assert limiter.limit == 9

    run(go())


@pytest.mark.unit
def test_never_above_max_nor_below_min() -> None:
    async def go() -> None:
        limiter = AdaptiveLimiter(8, min_concurrency=2, clock=FakeClock())
        for _ in range(1000):
            limiter.on_success({})
        assert limiter.limit == 8
        for _ in range(10):  # ten separate episodes: each call sent after the previous decrease
            async with limiter.slot():
                limiter.on_rate_limited(None, None)
        assert limiter.limit == 2
        assert limiter.decreases == 10
        for _ in range(1000):
            limiter.on_success(None)
        assert limiter.stats()["limit"] == 8

    run(go())


@pytest.mark.unit
def test_recovery_from_the_floor_starts_at_the_floor() -> None:
    """Decreases stop at min_concurrency: growth resumes from there, not from a window halved to almost 0."""
    limiter = AdaptiveLimiter(8, min_concurrency=2, clock=FakeClock())
    for _ in range(10):
        limiter.on_rate_limited(ticket=None)  # no ticket, no slot: each counts as a new episode
    assert (limiter.limit, limiter.decreases) == (2, 10)
    for _ in range(3):
        limiter.on_success(None)  # 2 -> 2.5 -> 2.9 -> 3.24
    assert limiter.limit == 3


@pytest.mark.unit
def test_a_call_that_waited_for_its_slot_is_placed_in_its_episode() -> None:
    """C gets its slot (by waiting) before B's 429 halves the limit; C's own 429 then changes nothing."""

    async def go() -> int:
        limiter = AdaptiveLimiter(2, clock=FakeClock())
        a_done, b_may_report, c_may_report = asyncio.Event(), asyncio.Event(), asyncio.Event()

        async def a() -> None:
            async with limiter.slot():
                await a_done.wait()

        async def b() -> None:
            async with limiter.slot():
                await b_may_report.wait()
                limiter.on_rate_limited()

        async def c() -> None:
            async with limiter.slot():
                await c_may_report.wait()
                limiter.on_rate_limited()

        tasks = [asyncio.create_task(a()), asyncio.create_task(b())]
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(c()))
        await asyncio.sleep(0)
        assert limiter.in_flight == 2  # c waits
        a_done.set()
        await asyncio.sleep(0.01)
        assert limiter.in_flight == 2  # c has a's slot, granted in episode 0
        b_may_report.set()
        await asyncio.sleep(0.01)
        c_may_report.set()
        await asyncio.gather(*tasks)
        return limiter.decreases

    assert run(go()) == 1


@pytest.mark.unit
def test_stats() -> None:
    async def go() -> dict[str, int | float]:
        limiter = AdaptiveLimiter(4, clock=FakeClock())
        async with limiter.slot(), limiter.slot(), limiter.slot():
            limiter.on_rate_limited(5.0, None)
        return limiter.stats()

    assert run(go()) == {"limit": 2, "decreases": 1, "pauses": 1, "max_in_flight": 3}


# --- in flight ----------------------------------------------------------------------------------------


@pytest.mark.unit
def test_in_flight_never_exceeds_the_limit_under_load() -> None:
    """80 tasks with random durations, successes only: the limit grows from 4, never overrun."""

    async def go() -> tuple[int, list[tuple[int, int]]]:
        limiter = AdaptiveLimiter(12)
        async with limiter.slot():
            limiter.on_rate_limited()  # 12 -> 6
        async with limiter.slot():
            limiter.on_rate_limited()  # 6 -> 3
        rng = random.Random(7)
        running = 0
        observed: list[tuple[int, int]] = []  # (bodies running, limit) at each entry

        async def call(delay: float) -> None:
            nonlocal running
            async with limiter.slot():
                running += 1
                observed.append((running, limiter.limit))
                await asyncio.sleep(delay)
                running -= 1
                limiter.on_success(None)

        await asyncio.gather(*(call(rng.uniform(0.001, 0.01)) for _ in range(80)))
        return limiter.max_in_flight, observed

    max_in_flight, observed = run(go())
    assert all(count <= limit for count, limit in observed)  # the limit only grew here, so this is exact
    assert observed[0] == (1, 3) and max(count for count, _ in observed) > 3  # it did grow, and it was used
    assert max_in_flight <= 12


@pytest.mark.unit
def test_a_lower_limit_holds_new_calls_until_enough_finish() -> None:
    """The limit drops to 4 while 8 calls are in flight: a new call waits until only 3 remain."""

    async def go() -> list[int]:
        limiter = AdaptiveLimiter(8)
        gates = [asyncio.Event() for _ in range(8)]
        started = asyncio.Event()
        in_flight_when_late_started: list[int] = []

        async def holder(index: int) -> None:
            async with limiter.slot() as ticket:
                if index == 0:
                    limiter.on_rate_limited(None, None, ticket=ticket)  # 8 -> 4 while 8 are in flight
                await gates[index].wait()

        async def late() -> None:
            async with limiter.slot():
                in_flight_when_late_started.append(limiter.in_flight)
                started.set()

        holders = [asyncio.create_task(holder(i)) for i in range(8)]
        await asyncio.sleep(0)
        late_task = asyncio.create_task(late())
        released = 0
        for gate in gates:
            await asyncio.sleep(0.01)
            if started.is_set():
                break
            gate.set()
            released += 1
        await asyncio.wait_for(started.wait(), 1.0)
        for gate in gates:
            gate.set()
        await asyncio.gather(*holders, late_task)
        return [released, *in_flight_when_late_started]

    released, in_flight = run(go())
    assert released == 5  # 8 in flight, limit 4: the late call waits until only 3 remain
    assert in_flight == 4


@pytest.mark.unit
def test_waiters_are_served_in_arrival_order_and_a_cancelled_one_leaks_nothing() -> None:
    async def go() -> tuple[list[int], int]:
        limiter = AdaptiveLimiter(1)
        order: list[int] = []
        gate = asyncio.Event()

        async def first() -> None:
            async with limiter.slot():
                await gate.wait()

        async def call(index: int) -> None:
            async with limiter.slot():
                order.append(index)
                await asyncio.sleep(0.001)

        holder = asyncio.create_task(first())
        await asyncio.sleep(0)
        tasks = []
        for index in range(6):
            tasks.append(asyncio.create_task(call(index)))
            await asyncio.sleep(0)  # arrive one after the other
        tasks[2].cancel()
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(holder, *tasks, return_exceptions=True)
        return order, limiter.in_flight

    order, in_flight = run(go())
    assert order == [0, 1, 3, 4, 5]
    assert in_flight == 0


@pytest.mark.unit
def test_no_newcomer_overtakes_the_queue_when_a_pause_ends() -> None:
    async def go() -> list[str]:
        clock = FakeClock()
        limiter = AdaptiveLimiter(2, clock=clock)
        limiter.pause(10)
        granted: list[str] = []

        async def call(name: str) -> None:
            await limiter.acquire()
            granted.append(name)

        waiters = [asyncio.create_task(call(f"w{i}")) for i in range(3)]
        await asyncio.sleep(0)
        clock.now += 11  # the pause is over (on the clock) before its timer has fired
        newcomer = asyncio.create_task(call("new"))
        await asyncio.sleep(0.01)
        for task in [*waiters, newcomer]:
            task.cancel()
        await asyncio.gather(*waiters, newcomer, return_exceptions=True)
        return granted

    assert run(go()) == ["w0", "w1"]


@pytest.mark.unit
def test_a_slot_granted_to_a_task_cancelled_before_it_ran_is_given_back() -> None:
    async def go() -> tuple[int, bool]:
        limiter = AdaptiveLimiter(1)
        await limiter.acquire()
        waiter = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)
        limiter.release()  # hands the slot to the waiter...
        waiter.cancel()  # ...which is cancelled before it runs
        results = await asyncio.gather(waiter, return_exceptions=True)
        return limiter.in_flight, isinstance(results[0], asyncio.CancelledError)

    assert run(go()) == (0, True)


@pytest.mark.unit
def test_growth_wakes_a_waiter_while_the_slots_are_still_held() -> None:
    async def go() -> list[str]:
        limiter = AdaptiveLimiter(2)
        async with limiter.slot():
            limiter.on_rate_limited()  # 2 -> 1
        events: list[str] = []
        waiter_in = asyncio.Event()

        async def waiter() -> None:
            async with limiter.slot():
                events.append("waiter in")
                waiter_in.set()

        async with limiter.slot():
            task = asyncio.create_task(waiter())
            await asyncio.sleep(0.01)
            assert not events  # limit 1, held
            limiter.on_success(None)  # 1 -> 2
            await asyncio.wait_for(waiter_in.wait(), 1.0)
            events.append("holder out")
        await task
        return events

    assert run(go()) == ["waiter in", "holder out"]


@pytest.mark.unit
def test_release_without_acquire_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        AdaptiveLimiter(2).release()


# --- pauses -------------------------------------------------------------------------------------------


@pytest.mark.unit
def test_retry_after_pauses_everyone() -> None:
    """One 429 with Retry-After 0.2 s: calls already waiting and calls arriving later all wait it out.

    The limiter runs on a fake clock, so "during the pause" is decided by the test, not by how fast the
    machine is: nobody is sent while the clock stands still (a slot freed and real time passing change
    nothing), and once it has moved past the pause everyone is sent without another slot being freed."""

    async def go() -> tuple[list[float], list[float], float, int]:
        clock = FakeClock()
        limiter = AdaptiveLimiter(2, clock=clock)
        granted: list[float] = []
        blocker_in = asyncio.Event()
        release_blocker = asyncio.Event()

        async def blocker() -> None:
            async with limiter.slot():
                blocker_in.set()
                await release_blocker.wait()

        async def call() -> None:
            async with limiter.slot():
                granted.append(clock())

        blocker_task = asyncio.create_task(blocker())
        await blocker_in.wait()
        waiting_early = [asyncio.create_task(call()) for _ in range(3)]  # one slot free: these start now
        await asyncio.sleep(0.01)
        granted.clear()
        async with limiter.slot() as ticket:
            limiter.on_rate_limited(PAUSE_S, None, ticket=ticket)  # limit 2 -> 1, and the pause
            paused_at = clock()
            queued = [asyncio.create_task(call()) for _ in range(3)]
            await asyncio.sleep(0)
        release_blocker.set()  # a slot frees during the pause
        await asyncio.sleep(0.05)
        arrived_later = [asyncio.create_task(call()) for _ in range(2)]
        # Longer than the pause in real time: the pause timer fires, finds the clock still in the pause,
        # and sends nobody.
        await asyncio.sleep(PAUSE_S + 0.1)
        during = list(granted)
        clock.now += PAUSE_S  # the pause is over; no slot is freed from here on
        await asyncio.gather(blocker_task, *waiting_early, *queued, *arrived_later)
        return during, [at - paused_at for at in granted], limiter.paused_for(), limiter.limit

    during, waits, left, limit = run(go())
    assert during == []  # nobody was sent during the pause
    assert waits == [pytest.approx(PAUSE_S)] * 5  # and the end of the pause woke every one of them
    assert left == 0 and limit == 1


@pytest.mark.unit
def test_the_end_of_a_pause_wakes_waiters_with_no_slot_freed() -> None:
    async def go() -> tuple[bool, float, int]:
        clock = FakeClock()
        limiter = AdaptiveLimiter(4, clock=clock)
        limiter.pause(PAUSE_S)
        waiter = asyncio.create_task(_take_a_slot(limiter))
        await asyncio.sleep(PAUSE_S + 0.1)  # the timer fires on real time and finds the fake clock in the pause
        held = not waiter.done()
        paused_for = limiter.paused_for()
        clock.now += PAUSE_S
        await waiter  # woken by the pause's end alone: nothing was released
        return held, paused_for, limiter.in_flight

    assert run(go()) == (True, pytest.approx(PAUSE_S), 0)


async def _take_a_slot(limiter: AdaptiveLimiter) -> None:
    async with limiter.slot():
        pass


@pytest.mark.unit
def test_pause_extends_never_shortens_and_is_capped() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(4, clock=clock)
    limiter.pause(10)
    limiter.pause(3)
    assert limiter.paused_for() == 10
    limiter.pause(12)
    assert limiter.paused_for() == 12
    assert limiter.pauses == 1  # one pause, extended
    clock.now += 20
    assert limiter.paused_for() == 0
    limiter.pause(1e9)
    assert limiter.paused_for() == MAX_PAUSE_S
    assert limiter.pauses == 2
    for bad in (float("nan"), float("inf"), -1.0, 0.0):
        limiter.pause(bad)
    assert limiter.paused_for() == MAX_PAUSE_S


@pytest.mark.unit
def test_rate_limited_reads_the_wait_from_headers_when_not_given() -> None:
    async def go() -> list[float]:
        clock = FakeClock()
        limiter = AdaptiveLimiter(8, clock=clock)
        waits = []
        async with limiter.slot():
            limiter.on_rate_limited(None, {"Retry-After": "7"})
        waits.append(limiter.paused_for())
        clock.now += 100
        async with limiter.slot():
            limiter.on_rate_limited(None, {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "3s"})
        waits.append(limiter.paused_for())
        clock.now += 100
        async with limiter.slot():
            limiter.on_rate_limited(None, {"x-ratelimit-remaining-requests": "5"})  # nothing says how long
        waits.append(limiter.paused_for())
        return waits

    assert run(go()) == [7.0, 3.0, 0.0]


@pytest.mark.unit
def test_success_with_nothing_remaining_pauses_until_the_reset() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(8, clock=clock)
    limiter.on_success({"x-ratelimit-remaining-requests": "3", "x-ratelimit-reset-requests": "20s"})
    assert limiter.paused_for() == 0  # budget left: keep going
    limiter.on_success({"X-RateLimit-Remaining-Requests": "0", "X-RateLimit-Reset-Requests": "1.5s"})
    assert limiter.paused_for() == 1.5
    clock.now += 2
    limiter.on_success({"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "0",
                        "x-ratelimit-reset-requests": "1m0s"})
    assert limiter.paused_for() == 1.0  # 60 a minute, refilled continuously: the next one in a second
    clock.now += 2
    limiter.on_success({"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "6m0s",
                        "x-ratelimit-remaining-requests": "99", "x-ratelimit-reset-requests": "1s"})
    assert limiter.paused_for() == 360  # the exhausted budget's reset, not the soonest one
    reset = (datetime.now(UTC) + timedelta(seconds=30)).isoformat().replace("+00:00", "Z")
    clock.now += 1000
    limiter.on_success({"anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-reset": reset})
    assert 28 <= limiter.paused_for() <= 30
    assert limiter.limit == 8


@pytest.mark.unit
def test_a_pause_from_a_success_counts_from_when_the_request_was_sent() -> None:
    async def go() -> tuple[float, float, int]:
        clock = FakeClock()
        limiter = AdaptiveLimiter(4, clock=clock)
        spent = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1s"}
        async with limiter.slot():
            clock.now += 0.8  # the reply took 0.8 s: 0.2 s of the budget's wait are left
            limiter.on_success(spent)
        first = limiter.paused_for()
        clock.now += 5
        async with limiter.slot() as ticket:
            clock.now += 1.5  # slower than the wait: nothing left to wait for
            limiter.on_success(spent, ticket=ticket)
        return first, limiter.paused_for(), limiter.pauses

    first, second, pauses = run(go())
    assert first == pytest.approx(0.2)
    assert (second, pauses) == (0, 1)


@pytest.mark.unit
def test_success_with_nothing_remaining_holds_the_next_call() -> None:
    async def go() -> tuple[float, bool]:
        clock = FakeClock()
        limiter = AdaptiveLimiter(4, clock=clock)
        async with limiter.slot():
            limiter.on_success({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "200ms"})
        paused_for = limiter.paused_for()
        waiter = asyncio.create_task(_take_a_slot(limiter))
        await asyncio.sleep(PAUSE_S + 0.1)  # real time passes, the fake clock does not: still held
        held = not waiter.done()
        clock.now += PAUSE_S
        await waiter
        return paused_for, held

    assert run(go()) == (pytest.approx(PAUSE_S), True)


# --- headers ------------------------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(("text", "seconds"), [
    ("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("0.5s", 0.5), ("2m", 120.0),
    ("150us", 0.00015), ("7", 7.0), (" 0.25 ", 0.25), ("0s", 0.0),
])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.unit
@pytest.mark.parametrize("text", ["", "soon", "1x", "s", "1.2.3s", "-1s", "-3", "nan", "inf", "1s garbage", "m5"])
def test_garbage_durations(text: str) -> None:
    assert parse_duration(text) is None


@pytest.mark.unit
def test_openai_headers() -> None:
    headers = {"X-RateLimit-Limit-Requests": "500", "X-RateLimit-Remaining-Requests": "499",
               "x-ratelimit-remaining-tokens": "29000", "x-ratelimit-reset-requests": "120ms",
               "x-ratelimit-reset-tokens": "2s"}
    assert rate_limit_hint(headers) == RateLimitHint(remaining_requests=499, remaining_tokens=29000, reset_s=0.12)
    spent = {**headers, "x-ratelimit-remaining-tokens": "0"}
    hint = rate_limit_hint(spent)
    assert hint is not None and hint.exhausted and hint.reset_s == 2.0
    both = {**spent, "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "6m0s"}
    assert rate_limit_hint(both) == RateLimitHint(0, 0, 360.0, 2.0)  # the later of the two exhausted budgets
    requests_only = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "6m0s"}
    assert rate_limit_hint(requests_only) == RateLimitHint(0, None, 360.0, 360.0)
    # A bucket of 500 refilled in 6 minutes has room for one more request after 360 / 500 s.
    sized = {**requests_only, "x-ratelimit-limit-requests": "500"}
    assert rate_limit_hint(sized) == RateLimitHint(0, None, 360.0, 0.72)
    assert rate_limit_hint({**sized, "x-ratelimit-limit-requests": "0"}) == RateLimitHint(0, None, 360.0, 360.0)


@pytest.mark.unit
def test_anthropic_headers() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    headers = {"anthropic-ratelimit-requests-remaining": "40",
               "anthropic-ratelimit-requests-reset": "2025-01-01T12:00:05Z",
               "Anthropic-RateLimit-Input-Tokens-Remaining": "0",
               "anthropic-ratelimit-input-tokens-reset": "2025-01-01T12:00:30.500+00:00",
               "anthropic-ratelimit-output-tokens-remaining": "8000",
               "anthropic-ratelimit-output-tokens-reset": "2025-01-01T21:00:01+09:00"}
    hint = rate_limit_hint(headers, now=now.timestamp())
    assert hint == RateLimitHint(remaining_requests=40, remaining_tokens=0, reset_s=30.5, wait_s=30.5)
    past = {"anthropic-ratelimit-tokens-remaining": "0", "anthropic-ratelimit-tokens-reset": "2025-01-01T11:00:00Z"}
    assert rate_limit_hint(past, now=now.timestamp()) == RateLimitHint(None, 0, 0.0, 0.0)
    requests = {"anthropic-ratelimit-requests-limit": "50", "anthropic-ratelimit-requests-remaining": "0",
                "anthropic-ratelimit-requests-reset": "2025-01-01T12:01:00Z"}
    assert rate_limit_hint(requests, now=now.timestamp()) == RateLimitHint(0, None, 60.0, 1.2)


@pytest.mark.unit
def test_garbage_headers_are_ignored() -> None:
    assert rate_limit_hint(None) is None
    assert rate_limit_hint({}) is None
    assert rate_limit_hint({"content-type": "application/json"}) is None
    garbage = {"x-ratelimit-remaining-requests": "lots", "x-ratelimit-reset-requests": "soon",
               "x-ratelimit-remaining-tokens": "-5",
               "anthropic-ratelimit-requests-remaining": "1.5", "anthropic-ratelimit-requests-reset": "tomorrow",
               "anthropic-ratelimit-tokens-reset": "2025-01-01T12:00:00"}  # no offset: ambiguous
    assert rate_limit_hint(garbage) is None
    mixed = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "soon",
             "x-ratelimit-reset-tokens": "4s"}
    assert rate_limit_hint(mixed) == RateLimitHint(remaining_requests=0, remaining_tokens=None, reset_s=4.0)
    limiter = AdaptiveLimiter(4, clock=FakeClock())
    limiter.on_success(garbage)
    assert limiter.paused_for() == 0


# --- the stand-in's token bucket -------------------------------------------------------------------------


def _post(url: str) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(f"{url}/chat/completions", method="POST",
                                     data=json.dumps({"model": "stub", "messages": []}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}


@pytest.mark.integration
def test_stub_token_bucket() -> None:
    # The bucket runs on a fake clock: however slow the requests are, no token refills between them.
    clock = FakeClock()
    with JudgeStub(rate_limit_rpm=120, rate_limit_burst=2, clock=clock) as stub:  # 2 per second, 2 back to back
        first, second, third = (_post(stub.base_url) for _ in range(3))
        assert [first[0], second[0], third[0]] == [200, 200, 429]
        assert (stub.calls, stub.rate_limited, len(stub.replies)) == (2, 1, 2)
        assert first[1]["x-ratelimit-limit-requests"] == "2"  # what may be sent back to back
        assert first[1]["x-ratelimit-remaining-requests"] == "1"
        assert parse_duration(first[1]["x-ratelimit-reset-requests"]) == pytest.approx(0.5)  # to full
        assert second[1]["x-ratelimit-remaining-requests"] == "0"
        assert parse_duration(second[1]["x-ratelimit-reset-requests"]) == pytest.approx(1.0)
        headers = third[1]
        assert headers["retry-after"] == "0.500" and headers["retry-after-ms"] == "500"  # one token at 2 a second
        hint = rate_limit_hint(headers)
        assert hint is not None and hint.exhausted and hint.wait_s == pytest.approx(0.5)
        clock.now += 0.45
        assert _post(stub.base_url)[0] == 429  # a retry before Retry-After finds none
        clock.now += 0.06
        assert _post(stub.base_url)[0] == 200  # a retry after Retry-After finds a token
        assert (stub.calls, stub.rate_limited) == (3, 2)


@pytest.mark.integration
def test_stub_without_a_rate_limit_sends_no_rate_limit_headers() -> None:
    with JudgeStub() as stub:
        results = [_post(stub.base_url) for _ in range(5)]
        assert all(status == 200 for status, _ in results)
        assert not any(key.startswith("x-ratelimit") for _, headers in results for key in headers)
        assert stub.rate_limited == 0
