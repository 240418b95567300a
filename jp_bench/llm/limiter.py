"""A concurrency limit that finds a provider's rate limit instead of burning retries against it.

:class:`AdaptiveLimiter` is AIMD (additive increase, multiplicative decrease), the rule TCP uses
for its congestion window, applied to the number of requests in flight:

* every success adds ``1 / limit``, so the limit grows by one per window of ``limit`` successes:
  slowly, probing for room without provoking a burst of rejections;
* a 429 halves the limit (never below ``min_concurrency``), once per congestion episode: every
  call sent before the last decrease saw the old, too-high limit, so its 429 says nothing new. A
  burst of 16 simultaneous 429s halves once, not 16 times (which would collapse to the floor);
* a server that says when to come back (``Retry-After``, or a success whose rate-limit headers
  report 0 requests or tokens remaining) pauses every sender until then, so the calls already
  waiting do not each earn their own 429.

Halving converges fast after overshooting, and the slow growth keeps the average close to the
largest concurrency the provider accepts; a fixed limit is either too low (slow) or too high
(429s, retries, and calls that give up). :func:`rate_limit_hint` reads OpenAI's and Anthropic's
rate-limit headers.

This limits concurrency, not pace: requests still leave in clumps as slots free up. It keeps up
with a rate limit whose bucket holds at least rate x latency requests (the vendors' per-minute
buckets do); against a much smaller one it settles low and slower than the rate allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from jp_bench.llm._http import retry_after_seconds

# A pause longer than this is a misconfigured server; we wait at most this (as the client does).
MAX_PAUSE_S = 600.0


@dataclass(frozen=True)
class RateLimitHint:
    """What a response's rate-limit headers say; ``None`` where a header is absent or unreadable.

    ``remaining_tokens`` is the smallest of the token budgets reported (Anthropic reports total,
    input and output tokens separately). ``reset_s`` is the seconds until an exhausted budget is
    full again, as the vendors define their reset (the latest such, when several are exhausted);
    when none is exhausted, the soonest reset.

    ``wait_s`` (``None`` unless a budget is exhausted) is how long until the exhausted budgets let
    one more request through. Both vendors replenish continuously (a token bucket), so a spent request
    budget of ``limit`` requests admits the next one after ``reset_s / limit``, not after the whole
    reset: pausing for all of it would idle for up to a minute on a per-minute limit. A spent token
    budget waits for its full reset: how many tokens the next request needs is not known here.
    """

    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    reset_s: float | None = None
    wait_s: float | None = None

    @property
    def exhausted(self) -> bool:
        return self.remaining_requests == 0 or self.remaining_tokens == 0


@dataclass(frozen=True)
class Ticket:
    """One granted slot: the congestion episode (``epoch``) it was sent in, and when (limiter's clock)."""

    epoch: int
    started: float


# The ticket of the slot most recently acquired by the current task: lets on_success/on_rate_limited
# find the call's episode when the caller does not pass its ticket.
_current_ticket: contextvars.ContextVar[Ticket | None] = contextvars.ContextVar("jp_bench_limiter_ticket",
                                                                                 default=None)


class AdaptiveLimiter:
    """An asyncio concurrency limit between ``min_concurrency`` and ``max_concurrency``, adapted by AIMD.

    Waiters are served first come, first served: a freed slot is handed to the oldest waiter, never
    to a newcomer. Nothing polls: waiters wake when a slot frees, when the limit grows, or when a
    pause ends (one timer). ``clock`` must count seconds, like :func:`time.monotonic`.
    """

    def __init__(self, max_concurrency: int, *, min_concurrency: int = 1,
                 clock: Callable[[], float] = time.monotonic, max_pause_s: float = MAX_PAUSE_S) -> None:
        if min_concurrency < 1:
            raise ValueError(f"min_concurrency must be at least 1, not {min_concurrency}")
        if max_concurrency < min_concurrency:
            raise ValueError(f"max_concurrency ({max_concurrency}) is below min_concurrency ({min_concurrency})")
        self.max_concurrency = max_concurrency
        self.min_concurrency = min_concurrency
        self._clock = clock
        self.max_pause_s = max_pause_s  # 0: never pause (only the AIMD limit adapts)
        self._window = float(max_concurrency)  # the AIMD window; the limit is its integer part
        self._in_flight = 0
        self._epoch = 0  # bumped by every decrease
        self._paused_until = -math.inf
        self._waiters: deque[asyncio.Future[Ticket]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = -math.inf
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self.decreases = 0
        self.pauses = 0
        self.max_in_flight = 0

    @property
    def limit(self) -> int:
        """How many requests may be in flight now."""
        return max(self.min_concurrency, int(self._window))

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def paused_for(self) -> float:
        """Seconds until sending may resume (0 when not paused)."""
        return max(0.0, self._paused_until - self._clock())

    # --- slots ---------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[Ticket]:
        """``async with limiter.slot() as ticket:`` around exactly one request."""
        ticket = await self.acquire()
        try:
            yield ticket
        finally:
            self.release()

    async def acquire(self) -> Ticket:
        """Wait until fewer than ``limit`` requests are in flight and no pause is in effect; take a slot."""
        if not self._waiters and self._can_send():
            ticket = self._grant()
            _current_ticket.set(ticket)
            return ticket
        waiter: asyncio.Future[Ticket] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._wake()  # arms the pause timer if a pause is what we wait for
        try:
            ticket = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # granted, then cancelled before it could run
                self.release()
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise
        _current_ticket.set(ticket)
        return ticket

    def release(self) -> None:
        """Give a slot back (whatever became of the request)."""
        if self._in_flight <= 0:
            raise RuntimeError("release() without a matching acquire()")
        self._in_flight -= 1
        self._wake()

    # --- feedback ------------------------------------------------------------------------------------

    def on_success(self, headers: Mapping[str, str] | None = None, *, ticket: Ticket | None = None) -> None:
        """A request succeeded: grow the limit by ``1 / limit``; pause if its headers say a budget is spent.

        The headers describe the budget when the server admitted the request, about when it was sent
        (``ticket``, default: the last slot this task acquired), so a pause they call for counts from
        then: by the time a slow reply arrives, the wait may be over.
        """
        ticket = ticket if ticket is not None else _current_ticket.get()
        before = self.limit
        self._window = min(float(self.max_concurrency), self._window + 1.0 / max(self._window, 1.0))
        hint = rate_limit_hint(headers) if headers else None
        if hint is not None and hint.wait_s is not None:
            # The next request would only earn a 429: hold everything until the budget admits one.
            self.pause(hint.wait_s, since=ticket.started if ticket is not None else None)
        if self.limit > before:
            self._wake()

    def on_rate_limited(self, retry_after: float | None = None, headers: Mapping[str, str] | None = None, *,
                        ticket: Ticket | None = None) -> None:
        """A request got a 429 (or 529 "overloaded"): halve the limit once per episode; pause if told how long.

        ``ticket`` is the slot the request was sent in (default: the last slot this task acquired). A
        request sent before the latest decrease belongs to the episode that decrease already answered.
        The pause lasts ``retry_after`` seconds, else what ``headers`` say (``Retry-After``, or
        :attr:`RateLimitHint.wait_s` of an exhausted budget); with neither, there is no pause and the
        caller's backoff applies.
        """
        ticket = ticket if ticket is not None else _current_ticket.get()
        if ticket is None or ticket.epoch == self._epoch:
            self._window = max(float(self.min_concurrency), self._window / 2)
            self._epoch += 1
            self.decreases += 1
        wait = retry_after
        if wait is None and headers:
            wait = retry_after_seconds(headers)
            if wait is None:
                hint = rate_limit_hint(headers)
                wait = hint.wait_s if hint is not None else None
        if wait is not None:
            self.pause(wait)

    def pause(self, seconds: float, *, since: float | None = None) -> None:
        """Send nothing for ``seconds`` (at most ``max_pause_s``) from ``since`` (the limiter's clock; default now).

        Extends a pause under way, never shortens one.
        """
        if not math.isfinite(seconds) or seconds <= 0 or self.max_pause_s <= 0:
            return
        now = self._clock()
        until = (now if since is None else since) + min(seconds, self.max_pause_s)
        if until <= max(now, self._paused_until):
            return
        if self._paused_until <= now:  # a new pause, not the extension of one under way
            self.pauses += 1
        self._paused_until = until

    def stats(self) -> dict[str, int | float]:
        return {"limit": self.limit, "decreases": self.decreases, "pauses": self.pauses,
                "max_in_flight": self.max_in_flight}

    # --- internals -----------------------------------------------------------------------------------

    def _can_send(self) -> bool:
        return self._in_flight < self.limit and self._clock() >= self._paused_until

    def _grant(self) -> Ticket:
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        return Ticket(self._epoch, self._clock())

    def _wake(self) -> None:
        """Hand free slots to the oldest waiters; if a pause holds them, wake again when it ends."""
        while self._waiters and self._can_send():
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(self._grant())
        if self._waiters and self._in_flight < self.limit:  # only the pause holds them
            self._arm_timer()

    def _arm_timer(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop, so no waiters to wake
            return
        if self._timer is not None and self._timer_at == self._paused_until and self._timer_loop is loop:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at, self._timer_loop = self._paused_until, loop
        self._timer = loop.call_later(max(0.0, self._paused_until - self._clock()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = -math.inf
        self._wake()


# --- rate-limit headers ---------------------------------------------------------------------------------

# Go durations, as OpenAI writes its resets: "1s", "6m0s", "20ms", "1h2m3.5s".
_DURATION = re.compile(r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|h|m|s))+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|h|m|s)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}

# (kind, header names with {} for limit/remaining/reset, reset format) per budget a vendor reports.
_BUDGETS = (
    ("requests", "x-ratelimit-{}-requests", "duration"),
    ("tokens", "x-ratelimit-{}-tokens", "duration"),
    ("requests", "anthropic-ratelimit-requests-{}", "rfc3339"),
    ("tokens", "anthropic-ratelimit-tokens-{}", "rfc3339"),
    ("tokens", "anthropic-ratelimit-input-tokens-{}", "rfc3339"),
    ("tokens", "anthropic-ratelimit-output-tokens-{}", "rfc3339"),
)


def rate_limit_hint(headers: Mapping[str, str] | None, *, now: float | None = None) -> RateLimitHint | None:
    """The rate-limit state OpenAI (``x-ratelimit-*``) or Anthropic (``anthropic-ratelimit-*``) headers report.

    Header names are matched case-insensitively; unreadable values are ignored. ``now`` (Unix time,
    default the current time) is what Anthropic's RFC 3339 reset timestamps are measured against.
    ``None`` when no such header is readable.
    """
    if not headers:
        return None
    lowered = {str(key).lower(): value for key, value in headers.items()}
    wall = time.time() if now is None else now
    remaining: dict[str, list[int]] = {"requests": [], "tokens": []}
    resets: list[float] = []
    spent: list[tuple[float, float]] = []  # (seconds until reset, seconds until one more request) when exhausted
    for kind, name, form in _BUDGETS:
        left = _parse_count(lowered.get(name.format("remaining")))
        if left is not None:
            remaining[kind].append(left)
        raw_reset = lowered.get(name.format("reset"))
        reset = parse_duration(raw_reset) if form == "duration" else _parse_rfc3339(raw_reset, wall)
        if reset is None:
            continue
        resets.append(reset)
        if left == 0:
            size = _parse_count(lowered.get(name.format("limit"))) if kind == "requests" else None
            spent.append((reset, reset / size if size else reset))
    requests = min(remaining["requests"], default=None)
    tokens = min(remaining["tokens"], default=None)
    reset_s = max(r for r, _ in spent) if spent else min(resets, default=None)
    wait_s = max(w for _, w in spent) if spent else None
    if requests is None and tokens is None and reset_s is None:
        return None
    return RateLimitHint(remaining_requests=requests, remaining_tokens=tokens, reset_s=reset_s, wait_s=wait_s)


def parse_duration(value: str | None) -> float | None:
    """Seconds in a Go duration ("6m0s", "20ms", "1h2m3.5s") or a bare number of seconds; else ``None``."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        if not _DURATION.fullmatch(text):
            return None
        seconds = sum(float(number) * _UNIT_S[unit] for number, unit in _DURATION_PART.findall(text))
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _parse_rfc3339(value: str | None, now: float) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if when.tzinfo is None:  # RFC 3339 requires an offset; a naive time is ambiguous
        return None
    return max(0.0, when.timestamp() - now)


def _parse_count(value: str | None) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        count = int(value.strip())
    except ValueError:
        return None
    return count if count >= 0 else None
