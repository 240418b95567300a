"""A local judge stand-in: an OpenAI-compatible chat-completions server on 127.0.0.1.

It answers with a reply chosen by a function of the request, after a fixed latency, and can inject
failures (500, 429 with Retry-After, truncated bodies, replies without a verdict) on every n-th
call. A 429 comes back at once, as a provider's rate limiter answers before any generation; every
other answer, failures included, takes the latency. Tests and benchmarks use it where a real judge would be paid for.

With ``rate_limit_rpm`` set it also enforces a rate limit, as a token bucket (capacity
``rate_limit_burst``, refilled continuously at rpm/60 per second): a chat completion that finds no
token is answered at once with 429, ``Retry-After`` (fractional seconds) and ``retry-after-ms``, and
every chat-completion response carries OpenAI's ``x-ratelimit-*-requests`` headers.

    with JudgeStub(reply=lambda request, n: "[[A]]", latency_s=1.0) as stub:
        os.environ["OPENAI_BASE_URL"] = stub.base_url
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ReplyFn = Callable[[dict[str, Any], int], str]

_MIXED = ("429", "500", "slow", "no-verdict")


def always(text: str) -> ReplyFn:
    return lambda request, index: text


@dataclass
class JudgeStub:
    reply: ReplyFn = field(default_factory=lambda: always("理由: 同程度です。\n[[C]]"))
    latency_s: float = 0.0
    fail_every: int = 0  # every n-th call fails (0: never)
    # "500" | "429" | "truncated" | "no-verdict" | "drop" | "slow" (a reply slow_extra_s later) | "mixed"
    # (the failing calls cycle through 429, 500, slow and no-verdict)
    failure: str = "500"
    retry_after_s: float = 0.0
    slow_extra_s: float = 2.0  # how much longer than the latency a "slow" failure takes
    require_key: str | None = None  # answer 401 to any request whose bearer token is not this key
    # A reasoning model's server: 400 naming any of these request parameters (as OpenAI answers
    # `temperature` / `max_tokens` for o-series and GPT-5), hidden reasoning tokens in the usage, and
    # `reasoning_content` beside the content (vLLM's reasoning parser).
    reject_params: tuple[str, ...] = ()
    reasoning_tokens: int = 0
    reasoning_content: str | None = None
    rate_limit_rpm: float = 0.0  # requests per minute the token bucket admits (0: no rate limit)
    rate_limit_burst: int = 1  # the bucket's capacity: requests admitted back to back
    clock: Callable[[], float] = time.monotonic  # the bucket's clock (a test may drive it by hand)
    # A judge with token log-probabilities: when a request asks for `logprobs`, the reply's tokens
    # come with them, and at the verdict token (the last token that is a verdict: A/B/C or 1..10) the
    # top alternatives carry this distribution, e.g. {"A": 0.7, "B": 0.2, "C": 0.1}.
    verdict_probs: Callable[[dict[str, Any], int], dict[str, float]] | None = None
    calls: int = 0
    received: int = 0  # every chat-completion request that reached the stand-in, refused ones included
    model_list_calls: int = 0
    replies: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # (request, reply) answered
    failures: int = 0
    max_in_flight: int = 0
    first_request_at: float | None = None  # time.perf_counter() of the first chat completion received
    rate_limited: int = 0  # 429s sent by the rate limit (not counted in calls; fail_every's 429s are failures)
    _in_flight: int = 0
    _bucket: float | None = None  # tokens left; None until the first request (the bucket starts full)
    _bucket_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the stub first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> JudgeStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in two writes; with Nagle on, the body waits for the client's
            # delayed ACK (about 40 ms a response), and the stand-in, not the client, sets the pace.
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                self._limit_headers: dict[str, str] = {}  # one handler serves a keep-alive connection's requests
                with stub._lock:
                    stub.model_list_calls += 1
                if self._refused():
                    return
                self._send(200, {"object": "list", "data": [{"id": "stub", "object": "model"}]})

            def _refused(self) -> bool:
                if stub.require_key is None or self.headers.get("Authorization") == f"Bearer {stub.require_key}":
                    return False
                self._send(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                           "code": "invalid_api_key"}})
                return True

            def do_POST(self) -> None:
                with stub._lock:
                    stub.received += 1
                    if stub.first_request_at is None:
                        stub.first_request_at = time.perf_counter()
                length = int(self.headers.get("Content-Length") or 0)
                request = json.loads(self.rfile.read(length) or b"{}")
                self._limit_headers = {}
                if self._refused():
                    return
                rejected = next((name for name in stub.reject_params if name in request), None)
                if rejected is not None:
                    self._send(400, {"error": {"message": f"Unsupported parameter: '{rejected}' is not supported "
                                                          "with this model.", "type": "invalid_request_error",
                                               "param": rejected, "code": "unsupported_parameter"}})
                    return
                admitted, self._limit_headers = stub._take_token()
                if not admitted:
                    self._send(429, {"error": {"message": "Rate limit reached for requests",
                                               "type": "requests", "code": "rate_limit_exceeded"}})
                    return
                with stub._lock:
                    stub.calls += 1
                    index = stub.calls
                    stub._in_flight += 1
                    stub.max_in_flight = max(stub.max_in_flight, stub._in_flight)
                try:
                    failing = stub.fail_every and index % stub.fail_every == 0
                    kind = ""
                    if failing:
                        with stub._lock:
                            stub.failures += 1
                            kind = stub.failure
                            if kind == "mixed":
                                kind = _MIXED[(stub.failures - 1) % len(_MIXED)]
                    # A rate limiter refuses before any generation starts: a 429 comes back at once.
                    # Every other answer, failures included, takes the latency.
                    if stub.latency_s and kind != "429":
                        time.sleep(stub.latency_s)
                    if failing:
                        if kind != "slow":
                            self._fail(request, kind)
                            return
                        time.sleep(stub.slow_extra_s)
                    text = stub.reply(request, index)
                    with stub._lock:
                        stub.replies.append((request, text))
                    payload = _completion(request, text, stub.reasoning_tokens, stub.reasoning_content)
                    if request.get("logprobs"):
                        distribution = stub.verdict_probs(request, index) if stub.verdict_probs else {}
                        payload["choices"][0]["logprobs"] = {
                            "content": token_logprobs(text, distribution, int(request.get("top_logprobs") or 0))}
                    self._send(200, payload)
                finally:
                    with stub._lock:
                        stub._in_flight -= 1

            def _fail(self, request: dict[str, Any], kind: str) -> None:
                if kind == "429":
                    self._send(429, {"error": {"message": "rate limited", "type": "rate_limit_error"}},
                               {"Retry-After": str(stub.retry_after_s)})
                elif kind == "truncated":
                    body = json.dumps(_completion(request, "[[A]]")).encode()
                    self._raw(200, body[: len(body) // 2], len(body) // 2)
                elif kind == "no-verdict":
                    self._send(200, _completion(request, "どちらとも言えません。"))
                elif kind == "drop":
                    self.close_connection = True
                    self.connection.close()
                else:
                    self._send(500, {"error": {"message": "internal error", "type": "server_error"}})

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                self._raw(status, body, len(body), headers)

            def _raw(self, status: int, body: bytes, length: int, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(length))
                for key, value in {**self._limit_headers, **(headers or {})}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def _take_token(self) -> tuple[bool, dict[str, str]]:
        """Whether the rate limit admits a request now, and the headers that say so (none when off)."""
        if self.rate_limit_rpm <= 0:
            return True, {}
        rate = self.rate_limit_rpm / 60  # tokens per second
        capacity = max(1, self.rate_limit_burst)
        with self._lock:
            now = self.clock()
            tokens = capacity if self._bucket is None else min(capacity, self._bucket + (now - self._bucket_at) * rate)
            admitted = tokens >= 1
            if admitted:
                tokens -= 1
            else:
                self.rate_limited += 1
            self._bucket, self._bucket_at = tokens, now
        # As OpenAI defines them: the limit is what may be sent before the budget is spent (the bucket's
        # capacity), the reset the time until it is full again.
        headers = {"x-ratelimit-limit-requests": str(capacity),
                   "x-ratelimit-remaining-requests": str(int(tokens)),
                   "x-ratelimit-reset-requests": _duration((capacity - tokens) / rate)}
        if not admitted:
            wait_ms = math.ceil((1 - tokens) / rate * 1000)  # rounded up: a retry this late finds a token
            headers.update({"Retry-After": f"{wait_ms / 1000:.3f}", "retry-after-ms": str(wait_ms)})
        return admitted, headers

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a burst of concurrent new connections would wait
    # for SYN retransmits (about a second) and the stand-in, not the client, would set the pace.
    request_queue_size = 256


_TOKEN = re.compile(r"\d+|\s+|[A-Za-z]+|.", re.DOTALL)
_VERDICT_TOKEN = re.compile(r"[ABC]|10|[1-9]")


def token_logprobs(text: str, distribution: dict[str, float], top: int) -> list[dict[str, Any]]:
    """OpenAI's ``choices[].logprobs.content`` for ``text``: digits, words, spaces and single characters
    as tokens (the text's own tokens certain), the verdict token's alternatives from ``distribution``."""
    tokens = _TOKEN.findall(text)
    verdict_at = max((i for i, t in enumerate(tokens) if _VERDICT_TOKEN.fullmatch(t)), default=-1)
    content = []
    for i, token in enumerate(tokens):
        if i == verdict_at and distribution:
            ranked = sorted(distribution.items(), key=lambda item: -item[1])[:max(top, 1)]
            alternatives = [{"token": label, "logprob": math.log(p), "bytes": list(label.encode())}
                            for label, p in ranked if p > 0]
            chosen = distribution.get(token, 0.0)
            logprob = math.log(chosen) if chosen > 0 else -30.0
        else:
            alternatives = [{"token": token, "logprob": 0.0, "bytes": list(token.encode())}][:top]
            logprob = 0.0
        content.append({"token": token, "logprob": logprob, "bytes": list(token.encode()),
                        "top_logprobs": alternatives[:top]})
    return content


def _duration(seconds: float) -> str:
    """Seconds as OpenAI writes its resets (a Go duration): "0.5s", "2s", "0s"."""
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"


def _completion(request: dict[str, Any], text: str, reasoning_tokens: int = 0,
                reasoning_content: str | None = None) -> dict[str, Any]:
    prompt_chars = sum(len(str(m.get("content", ""))) for m in request.get("messages", []))
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if reasoning_content is not None:
        message["reasoning_content"] = reasoning_content
    usage: dict[str, Any] = {"prompt_tokens": prompt_chars, "completion_tokens": len(text) + reasoning_tokens,
                             "total_tokens": prompt_chars + len(text) + reasoning_tokens}
    if reasoning_tokens:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "stub"),
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": usage,
    }

