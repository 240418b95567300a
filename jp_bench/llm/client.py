"""The one place model calls are retried, throttled and counted, whatever the provider.

Providers make exactly one attempt per ``complete``; :class:`LLMClient` wraps one with

* bounded concurrency: one semaphore shared by every call on the client, held only while a
  request is in flight, never while waiting to retry, so a rate-limited call does not block others;
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
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Protocol

from jp_bench.llm._http import redact, redact_known
from jp_bench.llm.errors import PermanentError, RetriesExhausted, TransientError
from jp_bench.llm.types import Completion, Message, ModelSpec, Provider

logger = logging.getLogger("jp_bench.llm")

# The variable each vendor SDK reads its key from when none is given.
_DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "openai-compatible": "OPENAI_API_KEY",
                    "anthropic": "ANTHROPIC_API_KEY"}

# A server asking for longer than this is misconfigured or telling us to stop; we wait at most this.
MAX_RETRY_AFTER_S = 600.0


class RequestGate(Protocol):
    """Decides, the moment a request is about to be sent, whether it may go (see :meth:`LLMClient.complete`)."""

    def admit(self) -> None: ...

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
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 60.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {max_attempts}")
        if provider is None:
            from jp_bench.llm.registry import get_provider

            provider = get_provider(spec)
        self.spec = spec
        self.provider = provider
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._slots = asyncio.Semaphore(concurrency)
        self.calls_attempted = 0  # HTTP requests made, retries included
        self.calls_succeeded = 0
        self.calls_failed = 0  # complete() calls that raised
        self.retries = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost_usd = 0.0

    async def complete(self, messages: list[Message], *, gate: RequestGate | None = None) -> Completion:
        """One reply to ``messages``; raises PermanentError or RetriesExhausted when there is none.

        ``gate.admit()`` runs inside the concurrency slot just before every HTTP attempt (the call
        engine checks its budget and claims there, and may raise to stop the request);
        ``gate.abandon()`` runs after an attempt that failed.
        """
        last_error: TransientError | None = None
        for attempt in range(self.max_attempts):
            if last_error is not None:
                self.retries += 1
                await self._sleep(self._delay(attempt - 1, last_error))
            try:
                completion = await self._attempt(messages, gate)
            except TransientError as exc:
                last_error = exc
                self._log_failure(attempt, exc)
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

    async def _attempt(self, messages: list[Message], gate: RequestGate | None) -> Completion:
        async with self._slots:  # released before any backoff sleep
            if gate is not None:
                gate.admit()
            self.calls_attempted += 1
            try:
                return await self.provider.complete(messages, self.spec)
            except BaseException:
                if gate is not None:
                    gate.abandon()
                raise

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
        names = {self.spec.api_key_env, _DEFAULT_KEY_ENV.get(self.spec.provider)}
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
        }

    async def aclose(self) -> None:
        await self.provider.aclose()

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()
