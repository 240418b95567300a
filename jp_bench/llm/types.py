"""The data every model call in jp-bench passes around: what to call, what was said, what came back.

Judges, the self-instruct generator and the seed translator all speak these types, so retries,
rate limits, caching and cost accounting are written once (``jp_bench.llm.client``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class ModelSpec:
    """A model as configured (from a judge YAML or the command line). Never holds a secret.

    ``api_key_env`` names the environment variable that holds the key; the key itself is read at
    call time by the provider and never stored, logged or put in an error message.
    """

    provider: str  # "openai" | "anthropic" | "openai-compatible" | "embedded" | a plugin's name
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    temperature: float | None = 0.0  # None: not sent (reasoning models reject it)
    max_tokens: int = 2048
    timeout_s: float = 120.0
    price_input_per_mtok: float = 0.0  # USD per million input tokens
    price_output_per_mtok: float = 0.0  # USD per million output tokens
    params: dict[str, Any] = field(default_factory=dict)  # other sampling parameters (top_p, seed, ...)
    batch_discount: float = 0.0  # fraction off both prices through the vendor's Batch API (0.5 today)
    # Which of N judge samples of the same item this spec asks for (`--samples N`): 0 is the one
    # sample of an ordinary run; k > 0 is its own store key, and OpenAI-style servers get seed k.
    sample: int = 0

    def cost_usd(self, input_tokens: int, output_tokens: int, *, batch: bool = False) -> float:
        cost = (input_tokens * self.price_input_per_mtok + output_tokens * self.price_output_per_mtok) / 1_000_000
        return cost * (1.0 - self.batch_discount) if batch else cost

    def identity(self) -> dict[str, Any]:
        """What determines a reply: part of every store key (no key, no prices).

        The endpoint is part of it: a reply from a test server or a proxy is never reused as the
        vendor's.
        """
        from jp_bench.llm.endpoints import endpoint_of

        return {
            "provider": self.provider,
            "endpoint": endpoint_of(self.base_url),
            "model": self.model,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "params": dict(sorted(self.params.items())),
            # Only when asked for, so the keys of every ordinary (one-sample) run stay as they were.
            **({"sample": self.sample} if self.sample else {}),
        }


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token with its log-probability and the most likely alternatives at its position."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()  # (token, logprob), most likely first


@dataclass(frozen=True)
class Completion:
    text: str
    input_tokens: int
    output_tokens: int
    finish_reason: str | None = None
    model: str | None = None  # the model name the server reports
    # The rate-limit headers of the response (x-ratelimit-*, anthropic-ratelimit-*): the client's
    # concurrency adapts to them. Never stored.
    headers: Mapping[str, str] | None = field(default=None, compare=False, repr=False)
    # Hidden reasoning tokens, when the server reports them (already part of output_tokens, and of the cost).
    reasoning_tokens: int = field(default=0, compare=False)
    # Per-token log-probabilities of ``text`` when they were asked for (``logprobs``) and the server
    # sent them (OpenAI non-reasoning models, vLLM, llama.cpp); None otherwise.
    logprobs: tuple[TokenLogprob, ...] | None = field(default=None, compare=False, repr=False)


class Provider(Protocol):
    """One vendor's API. ``complete`` makes exactly one attempt; the client does the retrying.

    Implementations raise :class:`jp_bench.llm.errors.TransientError` for what is worth retrying
    (429, 5xx, timeouts, dropped connections, truncated or unparseable bodies) and
    :class:`jp_bench.llm.errors.PermanentError` for the rest (bad key, bad request, unknown model).
    """

    async def complete(self, messages: list[Message], spec: ModelSpec) -> Completion: ...

    async def aclose(self) -> None: ...
