"""A local judge stand-in for Anthropic's Messages API (``POST /v1/messages``) on 127.0.0.1.

It speaks the wire format the installed ``anthropic`` SDK expects: a ``message`` object with text
content blocks and ``usage`` in input/output tokens, errors as ``{"type": "error", "error": {"type",
"message"}, "request_id"}`` with Anthropic's error types, a ``request-id`` header on every response,
and ``GET /v1/models`` (the access check). As the API version the SDK sends does, it answers 400 to a
request without ``anthropic-version``, without ``model``/``max_tokens``/``messages``, with a role other
than user/assistant in ``messages``, or with a sampling parameter. Usage is counted as one token a
character (the system prompt included), so tests can work out the cost themselves.

Every request it receives is counted (``received``), refused or not, so tests can check how many
requests left a client:

    with AnthropicStub(reply=lambda request, n: "[[A]]") as stub:
        os.environ["ANTHROPIC_BASE_URL"] = stub.base_url
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ReplyFn = Callable[[dict[str, Any], int], str]

# The API version the SDK speaks refuses any sampling parameter (see jp_bench/llm/anthropic_provider.py).
SAMPLING_PARAMS = ("temperature", "top_p", "top_k")


def always(text: str) -> ReplyFn:
    return lambda request, index: text


class _Refusal(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


@dataclass
class AnthropicStub:
    reply: ReplyFn = field(default_factory=lambda: always("理由: 同程度です。\n[[C]]"))
    latency_s: float = 0.0  # before every answer to POST /v1/messages, refusals included
    require_key: str | None = None  # answer 401 to any request that does not carry this key
    received: int = 0  # requests to POST /v1/messages, refused or answered
    answered: int = 0  # of those, answered with a message (200)
    max_in_flight: int = 0
    replies: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # (request, reply) answered
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        """The SDK's base URL (it adds ``/v1/messages`` itself), as ANTHROPIC_BASE_URL or a YAML's base_url."""
        assert self._server is not None, "start the stub first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> AnthropicStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # see tests/support/judge_stub.py: otherwise each reply waits ~40 ms

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                try:
                    self._check_headers()
                    if self.path.split("?")[0] != "/v1/models":
                        raise _Refusal(404, "not_found_error", f"Not found: GET {self.path}")
                    model = {"type": "model", "id": "claude-stub", "display_name": "Claude stub",
                             "created_at": "2025-01-01T00:00:00Z"}
                    self._send(200, {"data": [model], "has_more": False, "first_id": model["id"],
                                     "last_id": model["id"]})
                except _Refusal as refusal:
                    self._error(refusal)

            def do_POST(self) -> None:
                with stub._lock:
                    stub.received += 1
                    index = stub.received
                    stub._in_flight += 1
                    stub.max_in_flight = max(stub.max_in_flight, stub._in_flight)
                try:
                    body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    if stub.latency_s:
                        time.sleep(stub.latency_s)
                    try:
                        if self.path.split("?")[0] != "/v1/messages":
                            raise _Refusal(404, "not_found_error", f"Not found: POST {self.path}")
                        self._check_headers()
                        request = _valid_request(body)
                    except _Refusal as refusal:
                        self._error(refusal)
                        return
                    text = stub.reply(request, index)
                    with stub._lock:
                        stub.answered += 1
                        stub.replies.append((request, text))
                    self._send(200, _message(request, text))
                finally:
                    with stub._lock:
                        stub._in_flight -= 1

            def _check_headers(self) -> None:
                if stub.require_key is not None:
                    # anthropic 2.x sends its api_key as `Authorization: Bearer`; older SDKs and curl x-api-key.
                    bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    keys = {self.headers.get("x-api-key"), bearer}
                    if stub.require_key not in keys:
                        raise _Refusal(401, "authentication_error", "invalid x-api-key")
                if not self.headers.get("anthropic-version"):
                    raise _Refusal(400, "invalid_request_error", "anthropic-version: header is required")

            def _error(self, refusal: _Refusal) -> None:
                self._send(refusal.status, {"type": "error", "error": {"type": refusal.kind,
                                                                       "message": refusal.message},
                                            "request_id": _new_id("req_")})

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("request-id", _new_id("req_"))
                self.end_headers()
                self.wfile.write(data)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # see tests/support/judge_stub.py: a burst of connections must not wait for SYN retries


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def _valid_request(body: bytes) -> dict[str, Any]:
    """The request JSON, or the 400 the Messages API answers to it."""
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        raise _Refusal(400, "invalid_request_error", "The request body is not valid JSON.") from None
    if not isinstance(request, dict):
        raise _Refusal(400, "invalid_request_error", "The request body must be a JSON object.")
    for name, kind in (("model", str), ("max_tokens", int), ("messages", list)):
        if not isinstance(request.get(name), kind):
            raise _Refusal(400, "invalid_request_error", f"{name}: Field required")
    for number, message in enumerate(request["messages"]):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise _Refusal(400, "invalid_request_error",
                           f"messages.{number}.role: Input should be 'user' or 'assistant'")
    sampling = next((name for name in SAMPLING_PARAMS if name in request), None)
    if sampling is not None:
        raise _Refusal(400, "invalid_request_error", f"{sampling}: Extra inputs are not permitted")
    return request


def prompt_chars(request: dict[str, Any]) -> int:
    """The stand-in's input tokens for a request: the characters of its text, system prompt included."""
    def chars(content: Any) -> int:
        if isinstance(content, str):
            return len(content)
        if isinstance(content, list):  # content blocks: only text counts
            return sum(len(block.get("text", "")) for block in content if isinstance(block, dict))
        return 0

    return chars(request.get("system")) + sum(chars(message.get("content")) for message in request["messages"])


def _message(request: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": _new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": request["model"],
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": prompt_chars(request), "output_tokens": len(text),
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    }
