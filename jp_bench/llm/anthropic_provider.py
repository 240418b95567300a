"""Anthropic's Messages API through the official SDK.

As with OpenAI, the SDK's retries are off (``max_retries=0``): the client retries. System
messages go to the ``system`` parameter, because the Messages API accepts only user and assistant
turns in ``messages``.

``spec.temperature`` is not sent: the API version this SDK speaks (``anthropic-version:
2026-10-21``) answers 400 to any sampling parameter, and the SDK no longer has them. Anything in
``spec.params`` still goes into the request body as given.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import anthropic
import httpx2
from anthropic.types import Message as AnthropicMessage

from jp_bench.llm._http import parse_raw, rate_limit_headers, sdk_errors
from jp_bench.llm.errors import PermanentError, TransientError
from jp_bench.llm.types import Completion, Message, ModelSpec


class AnthropicProvider:
    """Provider for ``anthropic`` specs; ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL are read by the SDK.

    Connection settings come from the ``spec`` given here; the ``spec`` passed to :meth:`complete`
    decides the model and sampling parameters. ``http_client`` lets the tests supply the transport.
    """

    def __init__(self, spec: ModelSpec, *, http_client: httpx2.AsyncClient | None = None) -> None:
        self.spec = spec
        self._http_client = http_client
        self._sdk: anthropic.AsyncAnthropic | None = None

    async def complete(self, messages: list[Message], spec: ModelSpec) -> Completion:
        client = self._client()
        label = f"{spec.provider} model {spec.model!r}"
        with sdk_errors(anthropic, label, spec.timeout_s, self._secrets()):
            raw = await client.messages.with_raw_response.create(**_request(messages, spec))
            response = await parse_raw(raw)
        return dataclasses.replace(_parse(response, label), headers=rate_limit_headers(raw.headers))

    async def check_access(self) -> None:
        """One free request (the first page of the model list) that fails as a call would on a bad key."""
        client = self._client()
        with sdk_errors(anthropic, f"{self.spec.provider} at {client.base_url}", self.spec.timeout_s,
                        self._secrets()):
            await client.models.list(limit=1)

    async def aclose(self) -> None:
        if self._sdk is not None:
            await self._sdk.close()
            self._sdk = None

    def _client(self) -> anthropic.AsyncAnthropic:
        # Built on first use, so the key is read when a call is made, not when a config is loaded.
        if self._sdk is None:
            sdk = anthropic.AsyncAnthropic(
                api_key=_api_key(self.spec),
                base_url=self.spec.base_url,  # None: ANTHROPIC_BASE_URL, then the public endpoint
                max_retries=0,
                timeout=self.spec.timeout_s,
                http_client=self._http_client,
            )
            # Otherwise the SDK only notices at request time, with a TypeError.
            if sdk.api_key is None and sdk.auth_token is None and sdk.credentials is None:
                raise PermanentError(
                    f"{self.spec.provider}: no API key: set ANTHROPIC_API_KEY or the spec's api_key_env"
                )
            self._sdk = sdk
        return self._sdk

    def _secrets(self) -> list[str | None]:
        if self._sdk is None:
            return []
        return [self._sdk.api_key, self._sdk.auth_token]


def _api_key(spec: ModelSpec) -> str | None:
    """The key named by ``api_key_env``; ``None`` lets the SDK find its own (ANTHROPIC_API_KEY, profiles)."""
    if not spec.api_key_env:
        return None
    key = os.environ.get(spec.api_key_env)
    if not key:
        raise PermanentError(f"{spec.provider}: environment variable {spec.api_key_env} (the API key) is not set")
    return key


def _request(messages: list[Message], spec: ModelSpec) -> dict[str, Any]:
    system = "\n\n".join(message.content for message in messages if message.role == "system")
    request: dict[str, Any] = {
        "model": spec.model,
        "messages": [
            {"role": message.role, "content": message.content} for message in messages if message.role != "system"
        ],
        "max_tokens": spec.max_tokens,  # required by the Messages API
        "timeout": spec.timeout_s,
    }
    if system:
        request["system"] = system
    params = dict(spec.params)
    thinking = params.pop("thinking", None)
    if thinking is not None:
        # Extended thinking, as the installed SDK exposes it; its tokens are billed as output tokens.
        request["thinking"] = thinking
    if params:
        request["extra_body"] = params
    return request


def _parse(response: object, label: str) -> Completion:
    # Without strict validation the SDK returns what the server sent: a str for a non-JSON body,
    # a Message with missing fields for JSON of another shape.
    if not isinstance(response, AnthropicMessage) or not isinstance(response.content, list):
        raise TransientError(f"{label}: the response holds no message content")
    try:
        text = "".join(block.text for block in response.content if getattr(block, "type", None) == "text")
        usage = response.usage
        return Completion(
            text=text,
            input_tokens=(usage.input_tokens or 0) if usage is not None else 0,
            output_tokens=(usage.output_tokens or 0) if usage is not None else 0,
            finish_reason=response.stop_reason,
            model=response.model,
        )
    except (AttributeError, TypeError):
        raise TransientError(f"{label}: malformed message") from None
