"""The one place model calls are retried, throttled and counted, whatever the provider.

Providers make exactly one attempt per ``complete``; :class:`LLMClient` wraps one with

* bounded, adaptive concurrency (:class:`jp_bench.llm.limiter.AdaptiveLimiter`): a slot is held only
  while a request is in flight, never while waiting to retry, so a rate-limited call does not block
  others; a 429 halves the limit once per congestion episode and pauses every call for the server's
  ``Retry-After``, successes grow it back by one per window, and a response saying a rate-limit
  budget is spent (``x-ratelimit-remaining-*``, ``anthropic-ratelimit-*``) pauses sending until it
  refills, so a run at a provider's limit slows down instead of burning retries;
* retries of :class:`TransientError` with exponential backoff and full jitter, or exactly the
  server's ``Retry-After`` when it sent one; :class:`PermanentError` propagates at once;
* counters of calls, retries, tokens and cost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import random
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Protocol

from jp_bench.llm._http import redact, redact_known
from jp_bench.llm.errors import PermanentError, RetriesExhausted, TransientError
from jp_bench.llm.limiter import AdaptiveLimiter, rate_limit_hint
from jp_bench.llm.types import Completion, Message, ModelSpec, Provider

logger = logging.getLogger("jp_bench.llm")

# A server asking for longer than this is misconfigured or telling us to stop; we wait at most this.
MAX_RETRY_AFTER_S = 600.0

# Refusals at a recognised rate limit a request may wait through before they count as failures.
MAX_THROTTLED_RETRIES = 30


class RequestGate(Protocol):
    """Decides, the moment a request is about to be sent, whether it may go (see :meth:`LLMClient.complete`)."""

    def admit(self) -> None: ...

    def answered(self) -> None: ...

    def abandon(self) -> None: ...


class LLMClient:
    """Calls one model through one provider, with retries, a concurrency limit and usage counters.

    ``provider`` defaults to :func:`jp_bench.llm.registry.get_provider(spec)`. The client owns the
    provider: :meth:`aclose` (or leaving ``async with``) closes it. ``sleep`` and ``rng`` are
    there so tests can observe the backoff without waiting.
    """

    def __init__(
        self,
        spec: ModelSpec,
        provider: Provider | None = None,
        *,
        concurrency: int = 8,
        max_attempts: int = 6,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 60.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: random.Random | None = None,
        adaptive: bool = True,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {max_attempts}")
        from jp_bench.llm.registry import describe, get_provider

        if provider is None:
            provider = get_provider(spec)
        # The variable the vendor SDK reads its key from when the spec names none: kept out of every message.
        description = describe(spec.provider) if spec.provider else None
        self._default_key_env = description.key_env if description is not None else None
        self.spec = spec
        self.provider = provider
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        # adaptive=False: a fixed limit, no pauses, every 429 a failed attempt (the comparison in bench/rate_limit.py).
        # Pauses run on the real clock; a caller that substitutes ``sleep`` (a test observing the
        # backoff) gets the retry waits through its own sleep and no real-time pause.
        self.adaptive = adaptive
        # Whether each recent attempt was refused at a rate limit (the window _congested looks at).
        self._recent: deque[bool] = deque(maxlen=max(16, concurrency))
        self._limiter = AdaptiveLimiter(concurrency, min_concurrency=1 if adaptive else concurrency,
                                        max_pause_s=MAX_RETRY_AFTER_S if adaptive and sleep is asyncio.sleep else 0.0)
        self.calls_attempted = 0  # HTTP requests made, retries included
        self.calls_succeeded = 0
        self.calls_failed = 0  # complete() calls that raised
        self.retries = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost_usd = 0.0

    async def complete(self, messages: list[Message], *, gate: RequestGate | None = None,
                       spec: ModelSpec | None = None) -> Completion:
        """One reply to ``messages``; raises PermanentError or RetriesExhausted when there is none.

        ``gate.admit()`` runs inside the concurrency slot just before every HTTP attempt (the call
        engine checks its budget and claims there, and may raise to stop the request);
        ``gate.answered()`` when the attempt had an HTTP answer (a reply or an error status: the host
        is there); ``gate.abandon()`` runs after an attempt that failed.
        """
        last_error: TransientError | None = None
        attempt = 0  # failed attempts that count against max_attempts
        throttled = 0  # refusals at a rate limit the client has recognised (they do not count)
        while attempt < self.max_attempts:
            if last_error is not None:
                self.retries += 1
                await self._sleep(self._delay(attempt - 1, last_error))
            try:
                completion = await self._attempt(messages, gate, spec or self.spec)
            except TransientError as exc:
                last_error = exc
                if exc.throttled and throttled < MAX_THROTTLED_RETRIES:
                    # The provider's rate limit, and the limiter has slowed everyone down: waiting for
                    # it is the plan, not a failure of this request.
                    throttled += 1
                    attempt = max(attempt, 1)  # backoff from the first step, as after one failure
                    continue
                self._log_failure(attempt, exc)
                attempt += 1
                continue
            except PermanentError:
                self.calls_failed += 1
                raise
            self._record(completion)
            # A proxy may echo request headers into the reply: the key never reaches the store or a file.
            return dataclasses.replace(completion, text=redact_known(completion.text, self._secrets()))
        self.calls_failed += 1
        assert last_error is not None  # max_attempts >= 1, and every failed attempt set it
        raise RetriesExhausted(
            self._safe(f"{self._label()}: gave up after {self.max_attempts} attempts; last error: {last_error}")
        ) from last_error

    async def _attempt(self, messages: list[Message], gate: RequestGate | None, spec: ModelSpec) -> Completion:
        async with self._limiter.slot() as ticket:  # released before any backoff sleep
            if gate is not None:
                gate.admit()
            self.calls_attempted += 1
            try:
                completion = await self.provider.complete(messages, spec)
            except TransientError as exc:
                if gate is not None:
                    if exc.status is not None:  # the server answered, even if with an error
                        gate.answered()
                    gate.abandon()
                # Reported inside the slot: the next waiter must already see the lower limit or the pause.
                if self.adaptive and self._congested(exc):
                    self._limiter.on_rate_limited(exc.retry_after, exc.headers, ticket=ticket)
                    exc.throttled = True
                raise
            except PermanentError as exc:
                if gate is not None:
                    if exc.status is not None:
                        gate.answered()
                    gate.abandon()
                raise
            except BaseException:
                if gate is not None:
                    gate.abandon()
                raise
            if gate is not None:
                gate.answered()
            self._recent.append(False)
            self._limiter.on_success(completion.headers, ticket=ticket)
            return completion

    def _congested(self, error: TransientError) -> bool:
        """Whether a failed attempt says the provider's limit is reached (so everyone slows down).

        A 429 (or Anthropic's 529 "overloaded") counts when its rate-limit headers say a budget is
        spent (both vendors send them), or, without such headers, when a quarter of the last
        ``max(16, concurrency)`` attempts were refused so. A stray 429 only delays its own request (its retry
        waits the ``Retry-After``): halving everyone's concurrency and pausing every call for it
        would cost more than it saves.
        """
        limited = error.status in (429, 529)
        self._recent.append(limited)
        if not limited:
            return False
        hint = rate_limit_hint(error.headers) if error.headers else None
        return (hint is not None and hint.exhausted) or sum(self._recent) >= self._recent.maxlen // 4

    def _delay(self, attempt: int, error: TransientError) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0-based)."""
        if error.retry_after is not None:
            # The server knows when it will take us back; guessing shorter only earns another 429.
            return min(max(error.retry_after, 0.0), MAX_RETRY_AFTER_S)
        # Full jitter: spreads the retries of many concurrent calls instead of synchronising them.
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2 ** min(attempt, 62))
        return self._rng.uniform(0, ceiling)

    def _record(self, completion: Completion) -> None:
        self.calls_succeeded += 1
        self.input_tokens += completion.input_tokens
        self.output_tokens += completion.output_tokens
        self.cost_usd += self.spec.cost_usd(completion.input_tokens, completion.output_tokens)

    def _log_failure(self, attempt: int, error: TransientError) -> None:
        if attempt + 1 < self.max_attempts:
            logger.info(
                "%s: attempt %d/%d failed, will retry: %s",
                self._label(),
                attempt + 1,
                self.max_attempts,
                self._safe(str(error)),
            )

    def _label(self) -> str:
        return f"{self.spec.provider} model {self.spec.model!r}"

    def _secrets(self) -> list[str | None]:
        """The keys this client may send: its own variable's, and the vendor default the SDK falls back to."""
        names = {self.spec.api_key_env, self._default_key_env}
        return [os.environ.get(name) for name in names if name]

    def _safe(self, text: str) -> str:
        # Providers already keep keys out of their messages; this covers plugins that might not.
        return redact(text, self._secrets())

    def stats(self) -> dict[str, int | float]:
        """The counters, e.g. for a run's summary."""
        return {
            "calls_attempted": self.calls_attempted,
            "calls_succeeded": self.calls_succeeded,
            "calls_failed": self.calls_failed,
            "retries": self.retries,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost_usd,
            **{f"concurrency_{key}": value for key, value in self._limiter.stats().items()},
        }

    async def aclose(self) -> None:
        await self.provider.aclose()

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()
