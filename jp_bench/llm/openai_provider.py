"""OpenAI chat completions, on api.openai.com or any OpenAI-compatible server, through the official SDK.

One ``complete`` call is one HTTP request: the SDK's own retries are off (``max_retries=0``)
because :class:`jp_bench.llm.client.LLMClient` does the retrying, with one budget and one set of
counters for every provider.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import httpx2
import openai
from openai.types.chat import ChatCompletion

from jp_bench.llm._http import clip, parse_raw, rate_limit_headers, redact, sdk_errors
from jp_bench.llm.errors import PermanentError, TransientError
from jp_bench.llm.types import Completion, Message, ModelSpec, TokenLogprob

# Local servers (llama.cpp, vLLM without --api-key) ignore the key, but the SDK insists on one.
PLACEHOLDER_KEY = "not-needed"


class OpenAIProvider:
    """Provider for ``openai`` and ``openai-compatible`` specs.

    Connection settings (base URL, key, timeout) come from the ``spec`` given here; the ``spec``
    passed to :meth:`complete` decides the model and the sampling parameters of each request.
    ``http_client`` lets a caller (the tests) supply the transport.
    """

    def __init__(self, spec: ModelSpec, *, http_client: httpx2.AsyncClient | None = None) -> None:
        self.spec = spec
        self._http_client = http_client
        self._sdk: openai.AsyncOpenAI | None = None

    async def complete(self, messages: list[Message], spec: ModelSpec) -> Completion:
        client = self._client()
        label = f"{spec.provider} model {spec.model!r}"
        with sdk_errors(openai, label, spec.timeout_s, self._secrets()):
            raw = await client.chat.completions.with_raw_response.create(**_request(messages, spec))
            response = await parse_raw(raw)
        return dataclasses.replace(_parse(response, label), headers=rate_limit_headers(raw.headers))

    async def check_access(self) -> None:
        """One free request (the model list) that fails as a call would on a bad key or endpoint."""
        client = self._client()
        with sdk_errors(openai, f"{self.spec.provider} at {client.base_url}", self.spec.timeout_s, self._secrets()):
            await client.models.list()

    async def aclose(self) -> None:
        if self._sdk is not None:
            await self._sdk.close()
            self._sdk = None

    def _client(self) -> openai.AsyncOpenAI:
        # Built on first use, so the key is read when a call is made, not when a config is loaded.
        if self._sdk is None:
            try:
                self._sdk = openai.AsyncOpenAI(
                    api_key=_api_key(self.spec),
                    base_url=self.spec.base_url,  # None: the SDK falls back to OPENAI_BASE_URL
                    max_retries=0,
                    timeout=self.spec.timeout_s,
                    http_client=self._http_client,
                )
            except openai.OpenAIError as exc:  # e.g. no key anywhere
                raise PermanentError(f"{self.spec.provider}: {clip(redact(str(exc)))}") from None
        return self._sdk

    def _secrets(self) -> list[str | None]:
        key = self._sdk.api_key if self._sdk is not None else None
        return [key if isinstance(key, str) else None]


def _api_key(spec: ModelSpec) -> str | None:
    """The key to send; ``None`` lets the SDK read OPENAI_API_KEY itself."""
    if spec.api_key_env:
        key = os.environ.get(spec.api_key_env)
        if key:
            return key
        if spec.provider != "openai-compatible":
            raise PermanentError(f"{spec.provider}: environment variable {spec.api_key_env} (the API key) is not set")
    if spec.provider == "openai-compatible" and not os.environ.get("OPENAI_API_KEY"):
        return PLACEHOLDER_KEY
    return None


def _request(messages: list[Message], spec: ModelSpec) -> dict[str, Any]:
    # OpenAI's own API deprecated max_tokens (reasoning models reject it); compatible servers such
    # as llama.cpp only understand max_tokens.
    limit_name = "max_completion_tokens" if spec.provider == "openai" else "max_tokens"
    request: dict[str, Any] = {
        "model": spec.model,
        "messages": [{"role": message.role, "content": message.content} for message in messages],
        limit_name: spec.max_tokens,
        "timeout": spec.timeout_s,
    }
    if spec.temperature is not None:  # reasoning models (o-series, GPT-5) reject any temperature
        request["temperature"] = spec.temperature
    params = dict(spec.params)
    if spec.sample:  # judge sample k of N: a seed of its own (servers that take seeds vary the reply by it)
        params["seed"] = int(params.get("seed", 0)) + spec.sample
    if params:
        # Merged into the JSON body as given, so any server-specific parameter passes through.
        request["extra_body"] = params
    return request


def _parse(response: object, label: str) -> Completion:
    # Without strict validation the SDK returns whatever the server sent: a str for a non-JSON
    # body, a ChatCompletion with missing fields for JSON of another shape.
    if not isinstance(response, ChatCompletion) or not response.choices:
        raise TransientError(f"{label}: the response holds no choices")
    try:
        choice = response.choices[0]
        text = choice.message.content or ""
        usage = response.usage
        details = getattr(usage, "completion_tokens_details", None) if usage is not None else None
        return Completion(
            text=text,  # `reasoning_content` (vLLM's reasoning parser, DeepSeek) is never read for a verdict
            input_tokens=(usage.prompt_tokens or 0) if usage is not None else 0,
            # completion_tokens includes the hidden reasoning tokens, so the cost covers them.
            output_tokens=(usage.completion_tokens or 0) if usage is not None else 0,
            finish_reason=choice.finish_reason,
            model=response.model,
            reasoning_tokens=(getattr(details, "reasoning_tokens", None) or 0) if details is not None else 0,
            logprobs=_token_logprobs(getattr(choice, "logprobs", None)),
        )
    except (AttributeError, TypeError, ValueError):
        raise TransientError(f"{label}: malformed chat completion") from None


def _token_logprobs(logprobs: object) -> tuple[TokenLogprob, ...] | None:
    """``choice.logprobs.content`` (OpenAI, vLLM and llama.cpp all send this shape) as our tokens."""
    content = getattr(logprobs, "content", None) if logprobs is not None else None
    if not content:
        return None
    tokens = []
    for item in content:
        top = tuple((alt.token, float(alt.logprob)) for alt in (getattr(item, "top_logprobs", None) or ()))
        tokens.append(TokenLogprob(item.token, float(item.logprob), top))
    return tuple(tokens)
