"""Errors of the model-call layer. Messages never include API keys or request headers."""

from __future__ import annotations

from collections.abc import Mapping

from jp_bench.errors import JpBenchError


class LLMError(JpBenchError):
    """A model call failed."""


class TransientError(LLMError):
    """Worth retrying: rate limits, server errors, timeouts, dropped connections, truncated bodies.

    ``retry_after`` is the server's ``Retry-After`` in seconds when it sent one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status
        self.headers = headers  # the rate-limit headers only (see jp_bench.llm._http.rate_limit_headers)
        # Set by the client when this is a refusal at a rate limit it recognised and slowed down for.
        self.throttled = False


class PermanentError(LLMError):
    """Not worth retrying: authentication, permission, bad request, unknown model."""

    def __init__(self, message: str, *, status: int | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        # The request parameter the server rejected (HTTP 400 naming it): the settings are wrong for
        # this model, so every call would fail the same way.
        self.param = param


class RetriesExhausted(LLMError):
    """Every attempt failed with a transient error."""
