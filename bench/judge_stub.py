"""A local judge stand-in: an OpenAI-compatible chat-completions server on 127.0.0.1.

It answers with a reply chosen by a function of the request, after a fixed latency, and can inject
failures (500, 429 with Retry-After, truncated bodies, replies without a verdict) on every n-th
call. Tests and benchmarks use it where a real judge would be paid for.

    with JudgeStub(reply=lambda request, n: "[[A]]", latency_s=1.0) as stub:
        os.environ["OPENAI_BASE_URL"] = stub.base_url
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ReplyFn = Callable[[dict[str, Any], int], str]


def always(text: str) -> ReplyFn:
    return lambda request, index: text


@dataclass
class JudgeStub:
    reply: ReplyFn = field(default_factory=lambda: always("理由: 同程度です。\n[[C]]"))
    latency_s: float = 0.0
    fail_every: int = 0  # every n-th call fails (0: never)
    failure: str = "500"  # "500" | "429" | "truncated" | "no-verdict" | "drop"
    retry_after_s: float = 0.0
    require_key: str | None = None  # answer 401 to any request whose bearer token is not this key
    calls: int = 0
    model_list_calls: int = 0
    replies: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # (request, reply) answered
    failures: int = 0
    max_in_flight: int = 0
    _in_flight: int = 0
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

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
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
                length = int(self.headers.get("Content-Length") or 0)
                request = json.loads(self.rfile.read(length) or b"{}")
                if self._refused():
                    return
                with stub._lock:
                    stub.calls += 1
                    index = stub.calls
                    stub._in_flight += 1
                    stub.max_in_flight = max(stub.max_in_flight, stub._in_flight)
                try:
                    if stub.latency_s:
                        time.sleep(stub.latency_s)
                    failing = stub.fail_every and index % stub.fail_every == 0
                    if failing:
                        with stub._lock:
                            stub.failures += 1
                        self._fail(request)
                        return
                    text = stub.reply(request, index)
                    with stub._lock:
                        stub.replies.append((request, text))
                    self._send(200, _completion(request, text))
                finally:
                    with stub._lock:
                        stub._in_flight -= 1

            def _fail(self, request: dict[str, Any]) -> None:
                if stub.failure == "429":
                    self._send(429, {"error": {"message": "rate limited", "type": "rate_limit_error"}},
                               {"Retry-After": str(stub.retry_after_s)})
                elif stub.failure == "truncated":
                    body = json.dumps(_completion(request, "[[A]]")).encode()
                    self._raw(200, body[: len(body) // 2], len(body) // 2)
                elif stub.failure == "no-verdict":
                    self._send(200, _completion(request, "どちらとも言えません。"))
                elif stub.failure == "drop":
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
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a burst of concurrent new connections would wait
    # for SYN retransmits (about a second) and the stand-in, not the client, would set the pace.
    request_queue_size = 256


def _completion(request: dict[str, Any], text: str) -> dict[str, Any]:
    prompt_chars = sum(len(str(m.get("content", ""))) for m in request.get("messages", []))
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "stub"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_chars, "completion_tokens": len(text),
                  "total_tokens": prompt_chars + len(text)},
    }

