"""The model-call layer: vendor wire formats, error mapping, retries, concurrency, cost, plugins.

Vendor APIs are simulated with httpx2.MockTransport speaking each vendor's JSON, so the official
SDKs run for real; the happy path also runs against a real llama.cpp server on 127.0.0.1.
Backoff sleeps go through a fake ``sleep`` that records the delay and returns at once.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import socket
import textwrap
import traceback
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from jp_bench.errors import JpBenchError
from jp_bench.llm import (
    Completion,
    LLMClient,
    Message,
    ModelSpec,
    PermanentError,
    RetriesExhausted,
    TransientError,
    estimate_tokens,
    get_provider,
    known_providers,
)
from jp_bench.llm._http import redact, retry_after_seconds
from jp_bench.llm.anthropic_provider import AnthropicProvider
from jp_bench.llm.embedded_provider import EmbeddedProvider
from jp_bench.llm.openai_provider import OpenAIProvider
from jp_bench.llm.tokens import estimate_messages_tokens
from jp_bench.local.server import RunningServer, llama_cpp_server

FAKE_KEY = "sk-test-SECRET123"
KEY_ENV = "JP_BENCH_TEST_API_KEY"
QUESTION = [Message("system", "あなたは公平な審査員です。"), Message("user", "日本の首都はどこですか？")]

# A scripted reply: a response, a transport exception class to raise, or a function of the request.
Reply = httpx2.Response | type[Exception] | Callable[[httpx2.Request], httpx2.Response]


# --- fakes ------------------------------------------------------------------------------------------


class Script:
    """A MockTransport handler that answers requests with scripted replies, in order; the last repeats."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, type) and issubclass(reply, Exception):
            raise reply("simulated transport failure", request=request)
        if isinstance(reply, httpx2.Response):
            return reply
        return reply(request)

    def body(self, index: int = -1) -> dict[str, Any]:
        return json.loads(self.requests[index].content)


class FakeSleep:
    """Stands in for asyncio.sleep: records each delay, waits for nothing."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def openai_reply(text: str = "東京です。", prompt_tokens: int = 21, completion_tokens: int = 4) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop", "logprobs": None}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def anthropic_reply(text: str = "東京です。", input_tokens: int = 30, output_tokens: int = 6) -> dict[str, Any]:
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


def ok(body: dict[str, Any]) -> httpx2.Response:
    return httpx2.Response(200, json=body)


def truncated(body: dict[str, Any]) -> httpx2.Response:
    """A 200 whose JSON body stops halfway, as when a proxy drops the connection mid-response."""
    text = json.dumps(body)
    return httpx2.Response(200, content=text[: len(text) // 2].encode(), headers={"content-type": "application/json"})


def openai_error(status: int, message: str, headers: dict[str, str] | None = None) -> httpx2.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
    return httpx2.Response(status, json=body, headers=headers or {})


def anthropic_error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> httpx2.Response:
    return httpx2.Response(
        status, json={"type": "error", "error": {"type": kind, "message": message}}, headers=headers or {}
    )


OPENAI_SPEC = ModelSpec(provider="openai", model="gpt-4o", api_key_env=KEY_ENV, max_tokens=512)
ANTHROPIC_SPEC = ModelSpec(provider="anthropic", model="claude-sonnet-4-5", api_key_env=KEY_ENV, max_tokens=512)


def mock_client(
    spec: ModelSpec,
    script: Script | Callable[[httpx2.Request], Awaitable[httpx2.Response]],
    sleep: FakeSleep | None = None,
    **options: Any,
) -> LLMClient:
    """An LLMClient whose provider's SDK talks to ``script`` instead of the network."""
    http_client = httpx2.AsyncClient(transport=httpx2.MockTransport(script))
    provider_class = AnthropicProvider if spec.provider == "anthropic" else OpenAIProvider
    provider = provider_class(spec, http_client=http_client)
    return LLMClient(spec, provider, sleep=sleep or FakeSleep(), rng=random.Random(1234), **options)


def run_one(client: LLMClient, messages: list[Message] = QUESTION) -> Completion:
    async def go() -> Completion:
        async with client:
            return await client.complete(messages)

    return asyncio.run(go())


def failure_of(client: LLMClient, messages: list[Message] = QUESTION) -> BaseException:
    with pytest.raises(Exception) as caught:
        run_one(client, messages)
    return caught.value


def everything_said(error: BaseException) -> str:
    """An exception's message, repr and formatted traceback chain: everything a user could see."""
    return "\n".join([str(error), repr(error), "".join(traceback.format_exception(error))])


@pytest.fixture(autouse=True)
def fake_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, FAKE_KEY)
    return FAKE_KEY


# --- OpenAI wire format -------------------------------------------------------------------------


@pytest.mark.unit
def test_openai_request_and_reply() -> None:
    script = Script(ok(openai_reply()))
    completion = run_one(mock_client(OPENAI_SPEC, script))

    assert completion == Completion("東京です。", 21, 4, finish_reason="stop", model="gpt-4o-2024-08-06")
    request = script.requests[0]
    assert request.url.path.endswith("/chat/completions")
    assert request.headers["authorization"] == f"Bearer {FAKE_KEY}"  # the key is sent, only in the header
    body = script.body()
    assert body["model"] == "gpt-4o"
    assert body["messages"] == [{"role": m.role, "content": m.content} for m in QUESTION]
    assert body["temperature"] == 0.0
    assert body["max_completion_tokens"] == 512  # OpenAI's own API; compatible servers get max_tokens


@pytest.mark.unit
def test_openai_compatible_sends_max_tokens_and_extra_params() -> None:
    spec = ModelSpec(
        provider="openai-compatible",
        model="local",
        base_url="http://127.0.0.1:9/v1",
        max_tokens=64,
        params={"top_p": 0.9, "seed": 7},
    )
    script = Script(ok(openai_reply()))
    run_one(mock_client(spec, script))
    body = script.body()
    assert (body["max_tokens"], body["top_p"], body["seed"]) == (64, 0.9, 7)
    assert "max_completion_tokens" not in body
    assert str(script.requests[0].url) == "http://127.0.0.1:9/v1/chat/completions"


@pytest.mark.unit
def test_429_with_retry_after_waits_exactly_that_long() -> None:
    sleep = FakeSleep()
    script = Script(openai_error(429, "Rate limit reached", {"retry-after": "2"}), ok(openai_reply()))
    client = mock_client(OPENAI_SPEC, script, sleep)
    completion = run_one(client)
    assert completion.text == "東京です。"
    assert sleep.delays == [2.0]
    assert (client.calls_attempted, client.calls_succeeded, client.retries) == (2, 1, 1)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),  # the precise header wins
        ({"Retry-After": "0"}, 0.0),
        ({"retry-after": "3600"}, 600.0),  # an absurd wait is capped at ten minutes
    ],
)
def test_retry_after_variants(headers: dict[str, str], expected: float) -> None:
    sleep = FakeSleep()
    script = Script(openai_error(429, "slow down", headers), ok(openai_reply()))
    run_one(mock_client(OPENAI_SPEC, script, sleep))
    assert sleep.delays == [expected]


@pytest.mark.unit
def test_retry_after_parsing() -> None:
    now = 1_700_000_000.0
    http_date = email.utils.formatdate(now + 30, usegmt=True)
    assert retry_after_seconds({"Retry-After": http_date}, now=now) == pytest.approx(30.0)
    assert retry_after_seconds({"retry-after": email.utils.formatdate(now - 30, usegmt=True)}, now=now) == 0.0
    assert retry_after_seconds({"retry-after": " 2.5 "}) == 2.5
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({"retry-after-ms": "nan"}) is None
    assert retry_after_seconds({}) is None


@pytest.mark.unit
def test_500_then_success_backs_off_with_jitter() -> None:
    sleep = FakeSleep()
    script = Script(openai_error(500, "The server had an error"), ok(openai_reply()))
    client = mock_client(OPENAI_SPEC, script, sleep, backoff_base_s=1.0)
    assert run_one(client).text == "東京です。"
    assert len(sleep.delays) == 1 and 0.0 <= sleep.delays[0] <= 1.0
    assert len(script.requests) == 2


@pytest.mark.unit
@pytest.mark.parametrize("failure", [httpx2.ReadTimeout, httpx2.ConnectError, httpx2.RemoteProtocolError])
def test_transport_failure_then_success(failure: type[Exception]) -> None:
    sleep = FakeSleep()
    script = Script(failure, ok(openai_reply()))
    assert run_one(mock_client(OPENAI_SPEC, script, sleep)).text == "東京です。"
    assert len(script.requests) == 2 and len(sleep.delays) == 1


@pytest.mark.unit
@pytest.mark.parametrize(
    "bad_reply",
    [
        truncated(openai_reply()),
        httpx2.Response(200, content=b"<html><body>Bad Gateway</body></html>", headers={"content-type": "text/html"}),
        ok({**openai_reply(), "choices": []}),
        ok({"unexpected": "shape"}),
    ],
    ids=["truncated-json", "html-body", "empty-choices", "wrong-shape"],
)
def test_unusable_200_is_retried(bad_reply: httpx2.Response) -> None:
    script = Script(bad_reply, ok(openai_reply()))
    client = mock_client(OPENAI_SPEC, script)
    assert run_one(client).text == "東京です。"
    assert client.retries == 1


@pytest.mark.unit
@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_permanent_and_not_retried(status: int) -> None:
    sleep = FakeSleep()
    script = Script(openai_error(status, "nope"), ok(openai_reply()))
    client = mock_client(OPENAI_SPEC, script, sleep)
    error = failure_of(client)
    assert isinstance(error, PermanentError) and error.status == status
    assert len(script.requests) == 1 and sleep.delays == []
    assert (client.calls_failed, client.retries) == (1, 0)


@pytest.mark.unit
def test_exhausted_retries() -> None:
    sleep = FakeSleep()
    script = Script(openai_error(503, "Service Unavailable"))
    client = mock_client(OPENAI_SPEC, script, sleep, max_attempts=4, backoff_base_s=1.0, backoff_max_s=3.0)
    error = failure_of(client)
    assert isinstance(error, RetriesExhausted)
    assert "4 attempts" in str(error) and "503" in str(error)
    assert isinstance(error.__cause__, TransientError)
    assert len(script.requests) == 4 and client.retries == 3
    # Full jitter under an exponential ceiling: attempt n waits in [0, min(max, base * 2**n)].
    assert len(sleep.delays) == 3
    assert all(0.0 <= delay <= ceiling for delay, ceiling in zip(sleep.delays, [1.0, 2.0, 3.0], strict=True))


@pytest.mark.unit
def test_missing_key_variable_is_permanent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV)
    script = Script(ok(openai_reply()))
    error = failure_of(mock_client(OPENAI_SPEC, script))
    assert isinstance(error, PermanentError) and KEY_ENV in str(error)
    assert script.requests == []


@pytest.mark.unit
def test_api_key_never_in_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # the SDKs' and httpx2's debug logs included
    # Servers echo keys back more often than one would like: OpenAI's 401 names the key it got.
    echo_key = f"Incorrect API key provided: {FAKE_KEY}. You can find your API key at ..."
    scenarios = [
        (OPENAI_SPEC, Script(openai_error(401, echo_key))),
        (OPENAI_SPEC, Script(openai_error(429, echo_key, {"retry-after": "1"}))),
        (OPENAI_SPEC, Script(httpx2.ConnectError)),
        (OPENAI_SPEC, Script(truncated(openai_reply()))),
        (ANTHROPIC_SPEC, Script(anthropic_error(401, "authentication_error", echo_key))),
        (ANTHROPIC_SPEC, Script(anthropic_error(529, "overloaded_error", echo_key))),
    ]
    errors = [failure_of(mock_client(spec, script, max_attempts=2)) for spec, script in scenarios]
    for error in errors:
        assert isinstance(error, PermanentError | RetriesExhausted)
        said = everything_said(error)
        assert FAKE_KEY not in said and "SECRET123" not in said, said
    assert "Incorrect API key provided: ***." in str(errors[0])  # redacted, the rest of the message kept
    assert caplog.records, "expected the retries to be logged"
    assert FAKE_KEY not in caplog.text


@pytest.mark.unit
def test_redact_knows_key_shapes() -> None:
    assert redact("key sk-proj-abcDEF123456 and Bearer abc.def-123456") == "key *** and ***"
    assert redact("token hunter2hunter2 here", ["hunter2hunter2"]) == "token *** here"


# --- Anthropic wire format ----------------------------------------------------------------------


@pytest.mark.unit
def test_anthropic_request_and_reply() -> None:
    reply = anthropic_reply()
    reply["content"] = [{"type": "text", "text": "東京"}, {"type": "text", "text": "です。"}]
    script = Script(ok(reply))
    completion = run_one(mock_client(ANTHROPIC_SPEC, script))

    assert completion == Completion("東京です。", 30, 6, finish_reason="end_turn", model="claude-sonnet-4-5")
    request = script.requests[0]
    assert request.url.path.endswith("/v1/messages")
    assert request.headers["authorization"] == f"Bearer {FAKE_KEY}"  # how SDK 2.x sends the key
    body = script.body()
    assert body["system"] == "あなたは公平な審査員です。"  # system prompt goes to the system parameter
    assert body["messages"] == [{"role": "user", "content": "日本の首都はどこですか？"}]
    assert (body["model"], body["max_tokens"]) == ("claude-sonnet-4-5", 512)
    assert "temperature" not in body  # the 2026-10-21 API version rejects sampling parameters


@pytest.mark.unit
def test_anthropic_429_with_retry_after() -> None:
    sleep = FakeSleep()
    script = Script(anthropic_error(429, "rate_limit_error", "slow down", {"retry-after": "2"}), ok(anthropic_reply()))
    client = mock_client(ANTHROPIC_SPEC, script, sleep)
    assert run_one(client).text == "東京です。"
    assert sleep.delays == [2.0] and client.retries == 1


@pytest.mark.unit
@pytest.mark.parametrize(
    "bad_reply",
    [
        anthropic_error(529, "overloaded_error", "Overloaded"),
        anthropic_error(500, "api_error", "Internal server error"),
        truncated(anthropic_reply()),
    ],
    ids=["529-overloaded", "500", "truncated-json"],
)
def test_anthropic_transient_then_success(bad_reply: httpx2.Response) -> None:
    script = Script(bad_reply, ok(anthropic_reply()))
    client = mock_client(ANTHROPIC_SPEC, script)
    assert run_one(client).output_tokens == 6
    assert len(script.requests) == 2


@pytest.mark.unit
def test_anthropic_401_is_permanent() -> None:
    script = Script(anthropic_error(401, "authentication_error", "invalid x-api-key"))
    error = failure_of(mock_client(ANTHROPIC_SPEC, script))
    assert isinstance(error, PermanentError) and error.status == 401
    assert "invalid x-api-key" in str(error)
    assert len(script.requests) == 1


# --- concurrency and accounting -------------------------------------------------------------------


@pytest.mark.unit
def test_concurrency_is_bounded() -> None:
    in_flight = 0
    peak = 0

    async def slow_server(request: httpx2.Request) -> httpx2.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)  # lets the other calls pile up behind the semaphore
        in_flight -= 1
        return ok(openai_reply())

    async def go() -> list[Completion]:
        async with mock_client(OPENAI_SPEC, slow_server, concurrency=3) as client:
            return await asyncio.gather(*(client.complete(QUESTION) for _ in range(10)))

    results = asyncio.run(go())
    assert len(results) == 10 and all(result.text == "東京です。" for result in results)
    assert peak == 3


@pytest.mark.unit
def test_backoff_does_not_hold_a_slot() -> None:
    """With one slot, a call waiting to retry must let another call through meanwhile."""
    script = Script(openai_error(429, "slow down", {"retry-after": "5"}), ok(openai_reply()))
    client = mock_client(OPENAI_SPEC, script, concurrency=1)
    other_replies: list[Completion] = []

    async def sleep_while_another_call_runs(delay: float) -> None:
        # Times out if the waiting call still held the only slot.
        other_replies.append(await asyncio.wait_for(client.complete(QUESTION), timeout=5))

    client._sleep = sleep_while_another_call_runs
    assert run_one(client).text == "東京です。"
    assert len(other_replies) == 1 and len(script.requests) == 3


@pytest.mark.unit
def test_cost_and_token_accounting() -> None:
    spec = ModelSpec(
        provider="openai", model="gpt-4o", api_key_env=KEY_ENV, price_input_per_mtok=2.5, price_output_per_mtok=10.0
    )
    script = Script(
        openai_error(500, "boom"),  # failed attempts cost nothing and add no tokens
        ok(openai_reply(prompt_tokens=1000, completion_tokens=200)),
        ok(openai_reply(prompt_tokens=3000, completion_tokens=100)),
    )

    async def go() -> LLMClient:
        async with mock_client(spec, script) as client:
            await client.complete(QUESTION)
            await client.complete(QUESTION)
            return client

    client = asyncio.run(go())
    assert (client.input_tokens, client.output_tokens) == (4000, 300)
    assert client.cost_usd == pytest.approx((4000 * 2.5 + 300 * 10.0) / 1_000_000)
    assert client.stats()["calls_attempted"] == 3 and client.stats()["calls_succeeded"] == 2


@pytest.mark.unit
def test_missing_usage_counts_zero() -> None:
    reply = openai_reply()
    del reply["usage"]
    completion = run_one(mock_client(OPENAI_SPEC, Script(ok(reply))))
    assert (completion.input_tokens, completion.output_tokens) == (0, 0)


# --- a real OpenAI-compatible server ------------------------------------------------------------


@pytest.fixture(scope="module")
def local_server(packaged_gguf: Path) -> Iterator[RunningServer]:
    with llama_cpp_server(packaged_gguf, chat_format="gemma", model_alias="gemma-judge") as server:
        yield server


SHORT_QUESTION = [Message("user", "日本の首都はどこですか？一言で答えてください。")]


@pytest.mark.e2e
def test_real_server_completion(local_server: RunningServer) -> None:
    spec = ModelSpec(
        provider="openai-compatible", model="gemma-judge", base_url=local_server.base_url, max_tokens=24, timeout_s=60
    )
    client = LLMClient(spec, OpenAIProvider(spec))
    completion = run_one(client, SHORT_QUESTION)
    assert completion.text.strip()
    assert completion.output_tokens > 0 and completion.input_tokens > 0
    assert completion.model == "gemma-judge"
    assert client.output_tokens == completion.output_tokens


@pytest.mark.e2e
def test_openai_base_url_from_environment(local_server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", local_server.base_url)
    monkeypatch.setenv("JP_BENCH_TEST_DUMMY_KEY", "dummy-key-for-local-server")
    # max_tokens in params: llama.cpp does not know the max_completion_tokens that "openai" sends.
    spec = ModelSpec(
        provider="openai",
        model="gemma-judge",
        api_key_env="JP_BENCH_TEST_DUMMY_KEY",
        max_tokens=24,
        timeout_s=60,
        params={"max_tokens": 24},
    )
    completion = run_one(LLMClient(spec), SHORT_QUESTION)  # provider from the registry
    assert completion.text.strip() and completion.output_tokens > 0


@pytest.mark.e2e
def test_embedded_provider_starts_and_stops_its_server(packaged_gguf: Path) -> None:
    spec = ModelSpec(provider="embedded", model="jp-bench-embedded", max_tokens=16, timeout_s=60)
    provider = get_provider(spec, model_path=packaged_gguf)
    assert isinstance(provider, EmbeddedProvider)

    async def go() -> tuple[Completion, str]:
        async with LLMClient(spec, provider, concurrency=2) as client:
            # Two concurrent first calls must share one server.
            first, second = await asyncio.gather(client.complete(SHORT_QUESTION), client.complete(SHORT_QUESTION))
            assert first.model == second.model == "jp-bench-embedded"
            assert provider._delegate is not None
            return first, str(provider._delegate.spec.base_url)

    completion, base_url = asyncio.run(go())
    assert completion.output_tokens > 0
    port = httpx2.URL(base_url).port
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass  # the server is gone after aclose


# --- the registry ---------------------------------------------------------------------------------


@pytest.mark.unit
def test_builtin_providers() -> None:
    assert isinstance(get_provider(OPENAI_SPEC), OpenAIProvider)
    assert isinstance(get_provider(ModelSpec(provider="openai-compatible", model="m")), OpenAIProvider)
    assert isinstance(get_provider(ANTHROPIC_SPEC), AnthropicProvider)


@pytest.mark.integration
def test_unknown_provider_lists_known_ones() -> None:
    with pytest.raises(JpBenchError) as caught:
        get_provider(ModelSpec(provider="no-such-vendor", model="m"))
    message = str(caught.value)
    assert "no-such-vendor" in message
    assert all(name in message for name in ("openai", "openai-compatible", "anthropic", "embedded"))


@pytest.mark.unit
def test_plugin_provider_from_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A real installed distribution, as pip would leave it: a module and a dist-info folder.
    (tmp_path / "jp_bench_echo_plugin.py").write_text(
        textwrap.dedent("""
        from jp_bench.llm.types import Completion


        class EchoProvider:
            def __init__(self, spec, **options):
                self.spec, self.options, self.closed = spec, options, False

            async def complete(self, messages, spec):
                text = messages[-1].content
                return Completion(text=text, input_tokens=len(text), output_tokens=len(text), model=spec.model)

            async def aclose(self):
                self.closed = True


        def make_provider(spec, **options):
            return EchoProvider(spec, **options)
    """),
        encoding="utf-8",
    )
    dist_info = tmp_path / "jp_bench_echo_plugin-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: jp-bench-echo-plugin\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[jp_bench.judges]\necho = jp_bench_echo_plugin:make_provider\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    assert "echo" in known_providers()
    spec = ModelSpec(provider="echo", model="parrot")
    provider = get_provider(spec, greeting="hello")
    assert type(provider).__name__ == "EchoProvider" and provider.options == {"greeting": "hello"}

    client = LLMClient(spec, provider)
    assert run_one(client, [Message("user", "こだま")]) == Completion("こだま", 3, 3, model="parrot")
    assert provider.closed


# --- token estimates ------------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("こんにちは", 5),  # one token per kana
        ("日本語の文章です。", 9),  # kanji, kana and the full stop 。
        ("ＡＢＣ！", 4),  # full-width forms
        ("Hello, world!", 4),  # 13 characters / 4, rounded up
        ("GPT-4は日本語も得意です", 2 + 9),  # the Latin run "GPT-4" -> 2, then 9 Japanese characters
    ],
)
def test_estimate_tokens(text: str, expected: int) -> None:
    assert estimate_tokens(text) == expected


@pytest.mark.unit
def test_estimate_messages_tokens_adds_framing() -> None:
    messages = [Message("system", "Be fair."), Message("user", "こんにちは")]
    assert estimate_messages_tokens(messages) == (2 + 4) + (5 + 4)
