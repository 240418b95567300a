"""A local batch-API stand-in: OpenAI's Batch API and Anthropic's Message Batches API on 127.0.0.1.

Both vendors' wire formats are spoken as the installed `openai` and `anthropic` SDKs expect them, so
code under test drives the real SDK clients against it:

    with BatchStub(fail_custom_ids={"q2": "errored"}) as stub:
        openai.OpenAI(base_url=stub.openai_base_url, api_key="x")        # /v1/files, /v1/batches, ...
        anthropic.Anthropic(base_url=stub.anthropic_base_url, api_key="x")  # /v1/messages/batches, ...

Nothing runs in the background: a batch moves one step per retrieve (GET of the batch), and after
`polls_to_complete` retrieves it ends. Its per-request outcomes are decided when it is submitted
(injected faults, whole-batch expiry) and its results are produced when it ends, by calling
`reply(request_body, custom_id)` for each request that succeeded. Result files list requests in an
order different from the input order, as the real services do not promise input order.

All state lives on the BatchStub instance, not in any client: a client process may be killed and a
new one may poll, download and resubmit against the same server. To kill a client at a precise point,
`hold="upload"` or `hold="create"` makes the first such request do its work (the file is stored, the
batch exists) and then wait, unanswered, until `release_held()`; `held` is set while it waits:

    with BatchStub(hold="create") as stub:
        ...start the client...; stub.held.wait(); kill it; stub.release_held()

OpenAI routes (base URL `.../v1`): POST /v1/files (multipart), GET/DELETE /v1/files/{id},
GET /v1/files/{id}/content, POST /v1/batches, GET /v1/batches (list), GET /v1/batches/{id},
POST /v1/batches/{id}/cancel.
Anthropic routes (base URL without /v1): POST /v1/messages/batches, GET /v1/messages/batches (list),
GET/DELETE /v1/messages/batches/{id}, POST /v1/messages/batches/{id}/cancel,
GET /v1/messages/batches/{id}/results (JSONL).
"""

from __future__ import annotations

import json
import math
import random
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.judge_stub import token_logprobs

ReplyFn = Callable[[dict[str, Any], str], str]

FAULTS = ("errored", "invalid", "expired", "canceled")  # values allowed in `fail_custom_ids`
OPENAI_ENDPOINT = "/v1/chat/completions"
# The real Message Batches API refuses custom_ids outside this pattern with a 400 at create.
ANTHROPIC_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
DAY_S = 24 * 3600


def always(text: str) -> ReplyFn:
    return lambda request, custom_id: text


@dataclass
class _StoredFile:
    id: str
    data: bytes
    filename: str
    purpose: str
    created_at: int
    is_result: bool = False  # an output or error file of a batch (downloads of these are counted)

    def object(self) -> dict[str, Any]:
        return {"id": self.id, "object": "file", "bytes": len(self.data), "created_at": self.created_at,
                "filename": self.filename, "purpose": self.purpose, "status": "processed",
                "status_details": None, "expires_at": self.created_at + 30 * DAY_S}


@dataclass
class _Batch:
    vendor: str  # "openai" | "anthropic"
    id: str
    created_at: float
    requests: list[tuple[str, dict[str, Any]]]  # (custom_id, request body) in input order
    planned: dict[str, str]  # custom_id -> "succeeded" or a fault, decided at submission
    expire: bool  # `expire_batches` as it was at submission
    status: str
    metadata: dict[str, Any] | None = None
    input_file_id: str = ""
    endpoint: str = OPENAI_ENDPOINT
    completion_window: str = "24h"
    errors: list[dict[str, Any]] = field(default_factory=list)  # OpenAI file validation errors
    polls: int = 0
    cancel_done: int | None = None  # requests finished before cancellation, in input order
    times: dict[str, float] = field(default_factory=dict)  # "in_progress_at", "ended_at", ...
    outcomes: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)  # (id, kind, payload)
    output_file_id: str | None = None
    error_file_id: str | None = None
    results_jsonl: bytes = b""  # Anthropic results, once ended
    usage: dict[str, int] = field(default_factory=lambda: {"input": 0, "output": 0})
    notes: dict[str, str] = field(default_factory=dict)  # custom_id -> why its params were refused


class _HTTPError(Exception):
    def __init__(self, status: int, kind: str, message: str, code: str | None = None,
                 param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.code, self.param = status, kind, message, code, param


@dataclass
class BatchStub:
    reply: ReplyFn = field(default_factory=lambda: always("理由: 同程度です。\n[[C]]"))
    polls_to_complete: int = 3  # retrieves after which a batch has ended
    fail_custom_ids: dict[str, str] = field(default_factory=dict)  # custom_id -> one of FAULTS
    fail_once: bool = True  # a listed custom_id fails only on its first submission
    expire_batches: bool = False  # batches submitted while set end expired
    expire_completed_fraction: float = 0.5  # share of requests (input order) done before a batch expires
    usage_multiplier: float = 1.0  # scales reported input/output tokens
    # OpenAI bodies asking for `logprobs` get them, with this distribution at the verdict token (as judge_stub)
    verdict_probs: Callable[[dict[str, Any]], dict[str, float]] | None = None
    require_key: str | None = None  # answer 401 to any request not carrying this key
    shuffle_seed: int = 0  # result order is a shuffle seeded by this and the batch id
    submissions: list[dict[str, Any]] = field(default_factory=list)  # {vendor, id, custom_ids, metadata}
    polls: int = 0  # retrieves of a batch (either vendor; the Anthropic SDK's results() makes one too)
    result_downloads: int = 0  # downloads of output/error files and of Anthropic results
    files_uploaded: int = 0
    live_calls: int = 0  # POST /v1/chat/completions (not through a batch)
    requests_received: int = 0  # every HTTP request, whatever its route or answer (401s included)
    requests_seen: dict[str, int] = field(default_factory=dict)  # custom_id -> times submitted
    cancelled: list[str] = field(default_factory=list)  # ids of the batches a client asked to cancel
    hold: str | None = None  # "upload" | "create": the first such request waits, done but unanswered
    held: threading.Event = field(default_factory=threading.Event)  # set while that request waits
    _release: threading.Event = field(default_factory=threading.Event)
    _files: dict[str, _StoredFile] = field(default_factory=dict)
    _batches: dict[str, _Batch] = field(default_factory=dict)
    _faults_spent: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def openai_base_url(self) -> str:
        return f"{self._origin}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self._origin  # the Anthropic SDK appends /v1/... itself

    @property
    def _origin(self) -> str:
        assert self._server is not None, "start the stub first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def release_held(self) -> None:
        """Let the held request answer (to a client that may be gone by now)."""
        self._release.set()

    def _hold(self, route: str) -> None:
        with self._lock:
            if self.hold != route:
                return
            self.hold = None  # only the first one: a re-run must go through
        self.held.set()
        self._release.wait()

    def batch_status(self, batch_id: str) -> str:
        """The batch's current status without counting as a poll (for assertions)."""
        with self._lock:
            return self._batches[batch_id].status

    def __enter__(self) -> BatchStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as two writes; with Nagle on, the body waits ~40 ms for a delayed ACK.
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def do_DELETE(self) -> None:
                self._handle()

            def _handle(self) -> None:
                with stub._lock:
                    stub.requests_received += 1
                body = self._read_body()
                split = urlsplit(self.path)
                path = split.path.rstrip("/")
                anthropic = path.startswith("/v1/messages/") or path == "/v1/messages"
                try:
                    if stub.require_key is not None and not self._authorized(anthropic):
                        raise _HTTPError(401, "authentication_error" if anthropic else "invalid_request_error",
                                         "invalid x-api-key" if anthropic else "Incorrect API key provided",
                                         code=None if anthropic else "invalid_api_key")
                    query = {k: v[-1] for k, v in parse_qs(split.query).items()}
                    if anthropic:
                        self._anthropic(self.command, path, body, query)
                    else:
                        self._openai(self.command, path, body, query)
                except _HTTPError as error:
                    self._error(anthropic, error)
                except Exception as error:  # a bug here must reach the client as a 500, not a hung socket
                    self._error(anthropic, _HTTPError(500, "api_error" if anthropic else "server_error",
                                                      f"stub error: {error!r}"))

            def _authorized(self, anthropic: bool) -> bool:
                bearer = self.headers.get("Authorization") == f"Bearer {stub.require_key}"
                # anthropic 2.x sends its api_key as `Authorization: Bearer`; older SDKs and curl use x-api-key.
                return bearer or (anthropic and self.headers.get("x-api-key") == stub.require_key)

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                        pass
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            # ---- OpenAI ----

            def _openai(self, method: str, path: str, body: bytes, query: dict[str, str]) -> None:
                parts = path.split("/")[1:]  # ["v1", "files", ...]
                if parts[:2] == ["v1", "files"]:
                    if method == "POST" and len(parts) == 2:
                        form = _multipart(body, self.headers.get("Content-Type", ""))
                        uploaded = stub._upload(form)
                        stub._hold("upload")
                        self._send(200, uploaded)
                        return
                    if len(parts) == 3 and method == "GET":
                        self._send(200, stub._file(parts[2]).object())
                        return
                    if len(parts) == 3 and method == "DELETE":
                        with stub._lock:
                            stub._file(parts[2])
                            del stub._files[parts[2]]
                        self._send(200, {"id": parts[2], "object": "file", "deleted": True})
                        return
                    if len(parts) == 4 and parts[3] == "content" and method == "GET":
                        self._raw(200, stub._download(parts[2]), "application/octet-stream")
                        return
                if parts == ["v1", "chat", "completions"] and method == "POST":
                    # The live endpoint beside the batch one (a run's live fallback goes here).
                    request = _json(body, anthropic=False)
                    with stub._lock:
                        stub.live_calls += 1
                    self._send(200, stub._openai_completion(request, stub.reply(request, "live")))
                    return
                if parts[:2] == ["v1", "batches"]:
                    if len(parts) == 2 and method == "POST":
                        created = stub._openai_create(_json(body, anthropic=False))
                        stub._hold("create")
                        self._send(200, created)
                        return
                    if len(parts) == 2 and method == "GET":
                        self._send(200, stub._list("openai", query))
                        return
                    if len(parts) == 3 and method == "GET":
                        self._send(200, stub._poll("openai", parts[2]))
                        return
                    if len(parts) == 4 and parts[3] == "cancel" and method == "POST":
                        self._send(200, stub._cancel("openai", parts[2]))
                        return
                raise _HTTPError(404, "invalid_request_error", f"Invalid URL ({method} {path})")

            # ---- Anthropic ----

            def _anthropic(self, method: str, path: str, body: bytes, query: dict[str, str]) -> None:
                parts = path.split("/")[1:]  # ["v1", "messages", "batches", ...]
                if parts[:3] == ["v1", "messages", "batches"]:
                    if len(parts) == 3 and method == "POST":
                        created = stub._anthropic_create(_json(body, anthropic=True))
                        stub._hold("create")
                        self._send(200, created)
                        return
                    if len(parts) == 3 and method == "GET":
                        self._send(200, stub._list("anthropic", query))
                        return
                    if len(parts) == 4 and method == "GET":
                        self._send(200, stub._poll("anthropic", parts[3]))
                        return
                    if len(parts) == 4 and method == "DELETE":
                        self._send(200, stub._delete_anthropic(parts[3]))
                        return
                    if len(parts) == 5 and parts[4] == "cancel" and method == "POST":
                        self._send(200, stub._cancel("anthropic", parts[3]))
                        return
                    if len(parts) == 5 and parts[4] == "results" and method == "GET":
                        # The SDK parses any content type line by line (it sends Accept: application/binary).
                        self._raw(200, stub._anthropic_results(parts[3]), "application/binary")
                        return
                raise _HTTPError(404, "not_found_error", f"Not found: {method} {path}")

            # ---- responses ----

            def _error(self, anthropic: bool, error: _HTTPError) -> None:
                if anthropic:
                    payload: dict[str, Any] = {"type": "error", "error": {"type": error.kind, "message": error.message},
                                               "request_id": _new_id("req_")}
                else:
                    payload = {"error": {"message": error.message, "type": error.kind, "param": error.param,
                                         "code": error.code}}
                self._send(error.status, payload)

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                self._raw(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json")

            def _raw(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                # Both SDKs surface these as `_request_id` on parsed objects.
                self.send_header("x-request-id", _new_id("req_"))
                self.send_header("request-id", _new_id("req_"))
                self.end_headers()
                self.wfile.write(body)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits for it, and tests start and stop a stub each.
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()  # a held request must not keep its thread (and shutdown) waiting
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # ---- state transitions (each takes the lock) ----

    def _upload(self, form: dict[str, tuple[str | None, bytes]]) -> dict[str, Any]:
        if "file" not in form:
            raise _HTTPError(400, "invalid_request_error", "Missing required parameter: 'file'.",
                             code="missing_required_parameter", param="file")
        purpose = form.get("purpose", (None, b""))[1].decode()
        if not purpose:
            raise _HTTPError(400, "invalid_request_error", "Missing required parameter: 'purpose'.",
                             code="missing_required_parameter", param="purpose")
        filename, data = form["file"]
        stored = _StoredFile(_new_id("file-"), data, filename or "upload", purpose, int(time.time()))
        with self._lock:
            self._files[stored.id] = stored
            self.files_uploaded += 1
        return stored.object()

    def _file(self, file_id: str) -> _StoredFile:
        stored = self._files.get(file_id)
        if stored is None:
            raise _HTTPError(404, "invalid_request_error", f"No such File object: {file_id}", param="id")
        return stored

    def _download(self, file_id: str) -> bytes:
        with self._lock:
            stored = self._file(file_id)
            if stored.is_result:
                self.result_downloads += 1
            return stored.data

    def _plan(self, custom_ids: list[str]) -> dict[str, str]:
        """Count the submission and decide each request's fate now, so fail_once means first *submission*."""
        planned = {}
        for custom_id in custom_ids:
            self.requests_seen[custom_id] = self.requests_seen.get(custom_id, 0) + 1
            fault = self.fail_custom_ids.get(custom_id)
            if fault is not None and fault not in FAULTS:
                raise ValueError(f"fail_custom_ids[{custom_id!r}] = {fault!r}; expected one of {FAULTS}")
            if fault is not None and not (self.fail_once and custom_id in self._faults_spent):
                self._faults_spent.add(custom_id)
                planned[custom_id] = fault
            else:
                planned[custom_id] = "succeeded"
        return planned

    def _openai_create(self, params: dict[str, Any]) -> dict[str, Any]:
        for name in ("input_file_id", "endpoint", "completion_window"):
            if not params.get(name):
                raise _HTTPError(400, "invalid_request_error", f"Missing required parameter: '{name}'.",
                                 code="missing_required_parameter", param=name)
        if params["endpoint"] != OPENAI_ENDPOINT:
            raise _HTTPError(400, "invalid_request_error", f"This stand-in only serves {OPENAI_ENDPOINT}.",
                             code="invalid_value", param="endpoint")
        if params["completion_window"] != "24h":
            raise _HTTPError(400, "invalid_request_error", "completion_window must be '24h'.",
                             code="invalid_value", param="completion_window")
        with self._lock:
            stored = self._file(params["input_file_id"])
            if stored.purpose != "batch":
                raise _HTTPError(400, "invalid_request_error", "The input file must be uploaded with purpose 'batch'.",
                                 param="input_file_id")
            requests, errors = _parse_openai_input(stored.data, params["endpoint"])
            batch = _Batch("openai", _new_id("batch_"), time.time(), requests, {}, self.expire_batches,
                           "validating", metadata=params.get("metadata"), input_file_id=stored.id,
                           endpoint=params["endpoint"], completion_window=params["completion_window"], errors=errors)
            custom_ids = [custom_id for custom_id, _ in requests]
            # A file that fails validation runs nothing, so it spends no injected fault.
            batch.planned = {} if errors else self._plan(custom_ids)
            if errors:
                for custom_id in custom_ids:
                    self.requests_seen[custom_id] = self.requests_seen.get(custom_id, 0) + 1
            self._register(batch, custom_ids)
            return self._openai_object(batch)

    def _anthropic_create(self, params: dict[str, Any]) -> dict[str, Any]:
        requests = params.get("requests")
        if not isinstance(requests, list) or not requests:
            raise _HTTPError(400, "invalid_request_error", "requests: at least one request is required")
        seen: set[str] = set()
        parsed: list[tuple[str, dict[str, Any]]] = []
        for index, request in enumerate(requests):
            custom_id = request.get("custom_id") if isinstance(request, dict) else None
            if not isinstance(custom_id, str) or not ANTHROPIC_CUSTOM_ID.match(custom_id):
                raise _HTTPError(400, "invalid_request_error",
                                 f"requests.{index}.custom_id: must match ^[a-zA-Z0-9_-]{{1,64}}$")
            if custom_id in seen:
                raise _HTTPError(400, "invalid_request_error",
                                 f"requests.{index}: custom_id {custom_id!r} is not unique within the batch")
            if not isinstance(request.get("params"), dict):
                raise _HTTPError(400, "invalid_request_error", f"requests.{index}.params: Field required")
            seen.add(custom_id)
            parsed.append((custom_id, request["params"]))
        with self._lock:
            batch = _Batch("anthropic", _new_id("msgbatch_"), time.time(), parsed, {}, self.expire_batches,
                           "in_progress")
            batch.planned = self._plan([custom_id for custom_id, _ in parsed])
            for custom_id, body in parsed:
                # Malformed params are not a 400 for the batch: that request alone ends errored.
                problem = _anthropic_params_problem(body)
                if problem is not None:
                    batch.planned[custom_id] = "invalid"
                    batch.notes[custom_id] = problem
            self._register(batch, [custom_id for custom_id, _ in parsed])
            return self._anthropic_object(batch)

    def _register(self, batch: _Batch, custom_ids: list[str]) -> None:
        self._batches[batch.id] = batch
        self.submissions.append({"vendor": batch.vendor, "id": batch.id, "custom_ids": custom_ids,
                                 "metadata": batch.metadata})
        if self.polls_to_complete <= 0 and not batch.errors:
            self._finish(batch)

    def _batch(self, vendor: str, batch_id: str) -> _Batch:
        batch = self._batches.get(batch_id)
        if batch is None or batch.vendor != vendor:
            if vendor == "anthropic":
                raise _HTTPError(404, "not_found_error", f"No message batch with id {batch_id}")
            raise _HTTPError(404, "invalid_request_error", f"No batch found with id '{batch_id}'.")
        return batch

    def _poll(self, vendor: str, batch_id: str) -> dict[str, Any]:
        with self._lock:
            batch = self._batch(vendor, batch_id)
            self.polls += 1
            self._advance(batch)
            return self._openai_object(batch) if vendor == "openai" else self._anthropic_object(batch)

    def _advance(self, batch: _Batch) -> None:
        if batch.status in ("completed", "failed", "expired", "cancelled", "ended"):
            return
        now = time.time()
        if batch.status in ("cancelling", "canceling"):
            self._finish(batch)
            return
        batch.polls += 1
        if batch.errors:  # OpenAI: the file did not validate; it fails on the first look
            batch.status = "failed"
            batch.times["failed_at"] = now
        elif batch.polls >= self.polls_to_complete:
            self._finish(batch)
        elif batch.vendor == "openai" and batch.polls == self.polls_to_complete - 1:
            batch.times.setdefault("in_progress_at", now)
            batch.status = "finalizing"
            batch.times["finalizing_at"] = now
        elif batch.vendor == "openai":
            batch.status = "in_progress"
            batch.times.setdefault("in_progress_at", now)

    def _finish(self, batch: _Batch) -> None:
        """End the batch: decide which requests ran, call `reply` for the successes, write the results."""
        now = time.time()
        total = len(batch.requests)
        if batch.cancel_done is not None:
            done, leftover = batch.cancel_done, "canceled"
        elif batch.expire:
            done, leftover = math.floor(total * self.expire_completed_fraction), "expired"
        else:
            done, leftover = total, ""
        # Built afresh: if `reply` raised on an earlier poll (a 500 to that poll), the next poll tries again.
        batch.outcomes, batch.usage = [], {"input": 0, "output": 0}
        for index, (custom_id, body) in enumerate(batch.requests):
            kind = batch.planned.get(custom_id, "succeeded") if index < done else leftover
            payload = None
            if kind == "succeeded":
                text = self.reply(body, custom_id)
                if batch.vendor == "openai":
                    payload = self._openai_completion(body, text)
                else:
                    payload = self._anthropic_message(body, text)
                usage = payload["usage"]
                batch.usage["input"] += usage.get("prompt_tokens", usage.get("input_tokens", 0))
                batch.usage["output"] += usage.get("completion_tokens", usage.get("output_tokens", 0))
            batch.outcomes.append((custom_id, kind, payload))
        batch.times["ended_at"] = now
        if batch.vendor == "anthropic":
            batch.status = "ended"
            lines = [{"custom_id": custom_id, "result": _anthropic_result(kind, payload, batch.notes.get(custom_id))}
                     for custom_id, kind, payload in batch.outcomes]
            batch.results_jsonl = _jsonl(self._out_of_order(batch.id, lines))
            return
        batch.times.setdefault("in_progress_at", now)
        if batch.cancel_done is not None:
            batch.status, stamp = "cancelled", "cancelled_at"
        elif batch.expire:
            batch.status, stamp = "expired", "expired_at"
        else:
            batch.times.setdefault("finalizing_at", now)
            batch.status, stamp = "completed", "completed_at"
        batch.times[stamp] = now
        succeeded = [_openai_line(custom_id, kind, payload) for custom_id, kind, payload in batch.outcomes
                     if kind == "succeeded"]
        failed = [_openai_line(custom_id, kind, payload) for custom_id, kind, payload in batch.outcomes
                  if kind != "succeeded"]
        # Files only exist when they have lines; the real service leaves the id null otherwise.
        for lines, attr, suffix in ((succeeded, "output_file_id", "output"), (failed, "error_file_id", "error")):
            if lines:
                stored = _StoredFile(_new_id("file-"), _jsonl(self._out_of_order(batch.id, lines)),
                                     f"{batch.id}_{suffix}.jsonl", "batch_output", int(now), is_result=True)
                self._files[stored.id] = stored
                setattr(batch, attr, stored.id)

    def _out_of_order(self, batch_id: str, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        shuffled = list(lines)
        random.Random(f"{self.shuffle_seed}:{batch_id}").shuffle(shuffled)
        if len(shuffled) > 1 and shuffled == lines:  # never hand back input order by chance
            shuffled = shuffled[1:] + shuffled[:1]
        return shuffled

    def _cancel(self, vendor: str, batch_id: str) -> dict[str, Any]:
        with self._lock:
            batch = self._batch(vendor, batch_id)
            self.cancelled.append(batch_id)
            if batch.status in ("completed", "failed", "expired", "cancelled", "ended"):
                kind = "invalid_request_error"
                raise _HTTPError(409, kind, f"Cannot cancel a batch with status '{batch.status}'.")
            if batch.cancel_done is None:
                # Requests finished so far: the share of the polls made, taken in input order.
                share = batch.polls / max(self.polls_to_complete, 1)
                batch.cancel_done = math.floor(len(batch.requests) * min(share, 1.0))
                batch.status = "cancelling" if vendor == "openai" else "canceling"
                batch.times["cancel_at"] = time.time()
            return self._openai_object(batch) if vendor == "openai" else self._anthropic_object(batch)

    def _anthropic_results(self, batch_id: str) -> bytes:
        with self._lock:
            batch = self._batch("anthropic", batch_id)
            if batch.status != "ended":
                raise _HTTPError(400, "invalid_request_error",
                                 f"Message batch {batch_id} is still {batch.status}; results are not available yet")
            self.result_downloads += 1
            return batch.results_jsonl

    def _delete_anthropic(self, batch_id: str) -> dict[str, Any]:
        with self._lock:
            batch = self._batch("anthropic", batch_id)
            if batch.status != "ended":
                raise _HTTPError(400, "invalid_request_error", "Cannot delete a batch that is still processing")
            del self._batches[batch_id]
            return {"id": batch_id, "type": "message_batch_deleted"}

    def _list(self, vendor: str, query: dict[str, str]) -> dict[str, Any]:
        """Newest first, cursor-paged like the real lists (OpenAI: after; Anthropic: after_id / before_id)."""
        limit = int(query.get("limit", 20))
        with self._lock:
            batches = [b for b in reversed(self._batches.values()) if b.vendor == vendor]
            ids = [b.id for b in batches]
            after = query.get("after") or query.get("after_id")
            before = query.get("before_id")
            if before in ids:  # the page just newer than `before`
                batches = batches[: ids.index(before)]
                page = batches[-limit:]
            else:
                if after in ids:
                    batches = batches[ids.index(after) + 1:]
                page = batches[:limit]
            has_more = len(batches) > len(page)
            to_object = self._openai_object if vendor == "openai" else self._anthropic_object
            data = [to_object(b) for b in page]
        result: dict[str, Any] = {"data": data, "has_more": has_more, "first_id": data[0]["id"] if data else None,
                                  "last_id": data[-1]["id"] if data else None}
        if vendor == "openai":
            result["object"] = "list"
        return result

    # ---- wire objects ----

    def _usage(self, chars: int) -> int:
        return round(chars * self.usage_multiplier)

    def _openai_completion(self, body: dict[str, Any], text: str) -> dict[str, Any]:
        prompt, completion = self._usage(_prompt_chars(body)), self._usage(len(text))
        return {
            "id": _new_id("chatcmpl-"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "stub"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                         "logprobs": self._logprobs(body, text), "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
            "system_fingerprint": None,
        }

    def _logprobs(self, body: dict[str, Any], text: str) -> dict[str, Any] | None:
        if not body.get("logprobs"):
            return None
        distribution = self.verdict_probs(body) if self.verdict_probs else {}
        return {"content": token_logprobs(text, distribution, int(body.get("top_logprobs") or 0))}

    def _anthropic_message(self, params: dict[str, Any], text: str) -> dict[str, Any]:
        return {
            "id": _new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": params.get("model", "stub"),
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": self._usage(_prompt_chars(params)), "output_tokens": self._usage(len(text)),
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "service_tier": "batch"},
        }

    def _openai_object(self, batch: _Batch) -> dict[str, Any]:
        def stamp(name: str) -> int | None:
            value = batch.times.get(name)
            return int(value) if value is not None else None

        ended = batch.status in ("completed", "expired", "cancelled")
        failed = sum(1 for _, kind, _ in batch.outcomes if kind != "succeeded")
        cancelling_at = stamp("cancel_at")
        return {
            "id": batch.id,
            "object": "batch",
            "endpoint": batch.endpoint,
            "model": batch.requests[0][1].get("model") if batch.requests else None,
            "errors": {"object": "list", "data": batch.errors} if batch.errors else None,
            "input_file_id": batch.input_file_id,
            "completion_window": batch.completion_window,
            "status": batch.status,
            "output_file_id": batch.output_file_id,
            "error_file_id": batch.error_file_id,
            "created_at": int(batch.created_at),
            "in_progress_at": stamp("in_progress_at"),
            "expires_at": int(batch.created_at) + DAY_S,
            "finalizing_at": stamp("finalizing_at"),
            "completed_at": stamp("completed_at"),
            "failed_at": stamp("failed_at"),
            "expired_at": stamp("expired_at"),
            "cancelling_at": cancelling_at,
            "cancelled_at": stamp("cancelled_at"),
            "request_counts": {"total": len(batch.requests),
                               "completed": len(batch.outcomes) - failed if ended else 0,
                               "failed": failed if ended else 0},
            "usage": {"input_tokens": batch.usage["input"], "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens": batch.usage["output"], "output_tokens_details": {"reasoning_tokens": 0},
                      "total_tokens": batch.usage["input"] + batch.usage["output"]} if ended else None,
            "metadata": batch.metadata,
        }

    def _anthropic_object(self, batch: _Batch) -> dict[str, Any]:
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if batch.status == "ended":
            for _, kind, _ in batch.outcomes:
                counts["errored" if kind == "invalid" else kind] += 1
        else:
            counts["processing"] = len(batch.requests)
        ended_at = batch.times.get("ended_at")
        cancel_at = batch.times.get("cancel_at")
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": batch.status,
            "request_counts": counts,
            "created_at": _rfc3339(batch.created_at),
            "expires_at": _rfc3339(batch.created_at + DAY_S),
            "ended_at": _rfc3339(ended_at) if ended_at is not None else None,
            "cancel_initiated_at": _rfc3339(cancel_at) if cancel_at is not None else None,
            "archived_at": None,
            "results_url": f"{self.anthropic_base_url}/v1/messages/batches/{batch.id}/results"
            if batch.status == "ended" else None,
        }


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a burst of concurrent new connections would wait
    # for SYN retransmits (about a second) and the stand-in, not the client, would set the pace.
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client killed while waiting for its answer (the tests do it on purpose): nothing to report.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def _rfc3339(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _jsonl(lines: list[dict[str, Any]]) -> bytes:
    # One object per line, each ending in "\n" and no blank lines: the Anthropic SDK's JSONL decoder
    # json-parses every line it sees, so an empty line would raise.
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode("utf-8")


def _json(body: bytes, anthropic: bool) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError as error:
        raise _HTTPError(400, "invalid_request_error", f"Request body is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise _HTTPError(400, "invalid_request_error", "Request body must be a JSON object")
    return value


def _multipart(body: bytes, content_type: str) -> dict[str, tuple[str | None, bytes]]:
    """Fields of a multipart/form-data body: name -> (filename, bytes). Parsed by hand to keep bytes exact."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/form-data") or match is None:
        raise _HTTPError(400, "invalid_request_error", "Expected a multipart/form-data body")
    fields: dict[str, tuple[str | None, bytes]] = {}
    for chunk in body.split(b"--" + match.group(1).encode())[1:]:
        if chunk.startswith(b"--"):  # the closing delimiter
            break
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        name = re.search(rb'\bname="([^"]*)"', head)
        filename = re.search(rb'\bfilename="([^"]*)"', head)
        if name is not None:
            fields[name.group(1).decode()] = (filename.group(1).decode() if filename else None,
                                             data.removesuffix(b"\r\n"))
    return fields


def _parse_openai_input(data: bytes, endpoint: str) -> tuple[list[tuple[str, dict[str, Any]]], list[dict[str, Any]]]:
    """The requests of a batch input file and the validation errors (BatchError objects) it would fail with."""
    requests: list[tuple[str, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    models: set[str] = set()

    def error(line: int, code: str, message: str, param: str | None = None) -> None:
        errors.append({"code": code, "line": line, "message": message, "param": param})

    lines = [(number, text) for number, text in enumerate(data.decode("utf-8", "replace").splitlines(), 1)
             if text.strip()]
    if not lines:
        error(1, "empty_file", "The batch input file is empty.")
    for number, text in lines:
        try:
            line = json.loads(text)
        except ValueError:
            error(number, "invalid_json_line", "This line is not parseable as valid JSON.")
            continue
        if not isinstance(line, dict):
            error(number, "invalid_json_line", "Each line must be a JSON object.")
            continue
        custom_id, body = line.get("custom_id"), line.get("body")
        if not isinstance(custom_id, str) or not custom_id:
            error(number, "missing_required_parameter", "Missing required parameter: 'custom_id'.", "custom_id")
            continue
        if line.get("method") != "POST":
            error(number, "invalid_method", "The method must be 'POST'.", "method")
        if line.get("url") != endpoint:
            error(number, "mismatched_endpoint", f"The url must match the batch's endpoint {endpoint}.", "url")
        if not isinstance(body, dict) or not body.get("model") or not isinstance(body.get("messages"), list):
            error(number, "missing_required_parameter", "The body must contain 'model' and 'messages'.", "body")
            body = {}
        elif body["model"] not in models and models:
            # The real service requires one model per batch file.
            error(number, "mismatched_model", "All requests in a batch must use the same model.", "body.model")
        if isinstance(body, dict) and body.get("model"):
            models.add(body["model"])
        if custom_id in seen:
            error(number, "duplicate_custom_id", "The custom_id for this request is a duplicate of another request. "
                  "The custom_id parameter must be unique for each request in a batch.", "custom_id")
        seen.add(custom_id)
        requests.append((custom_id, body))
    return requests, errors


def _anthropic_params_problem(params: dict[str, Any]) -> str | None:
    for name, kind in (("model", str), ("max_tokens", int), ("messages", list)):
        if not isinstance(params.get(name), kind):
            return f"{name}: Field required"
    return None


def _text_chars(content: Any) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):  # content blocks: only text counts
        return sum(_text_chars(part.get("text")) if isinstance(part, dict) else _text_chars(part) for part in content)
    return len(str(content))


def _prompt_chars(body: dict[str, Any]) -> int:
    messages = body.get("messages") or []
    chars = sum(_text_chars(m.get("content")) for m in messages if isinstance(m, dict))
    return chars + _text_chars(body.get("system"))  # Anthropic keeps the system prompt outside messages


def _openai_line(custom_id: str, kind: str, payload: dict[str, Any] | None) -> dict[str, Any]:
    line: dict[str, Any] = {"id": _new_id("batch_req_"), "custom_id": custom_id, "response": None, "error": None}
    if kind == "succeeded":
        line["response"] = {"status_code": 200, "request_id": _new_id("req_"), "body": payload}
    elif kind in ("errored", "invalid"):
        if kind == "errored":
            status, error_type, message = 500, "server_error", "The server had an error while processing your request."
        else:
            status, error_type, message = 400, "invalid_request_error", "Invalid request (injected by the stand-in)."
        line["response"] = {"status_code": status, "request_id": _new_id("req_"),
                            "body": {"error": {"message": message, "type": error_type, "param": None, "code": None}}}
    elif kind == "expired":
        line["error"] = {"code": "batch_expired",
                         "message": "This request could not be executed before the completion window expired."}
    else:
        line["error"] = {"code": "batch_cancelled", "message": "This request was cancelled before it was executed."}
    return line


def _anthropic_result(kind: str, payload: dict[str, Any] | None, note: str | None) -> dict[str, Any]:
    if kind == "succeeded":
        return {"type": "succeeded", "message": payload}
    if kind in ("errored", "invalid"):
        if kind == "errored":  # a server-side failure: worth retrying
            error_type, message = "api_error", "Internal server error"
        else:  # the request itself is wrong: retrying it unchanged fails again
            error_type, message = "invalid_request_error", note or "Invalid request (injected by the stand-in)"
        return {"type": "errored", "error": {"type": "error", "error": {"type": error_type, "message": message},
                                             "request_id": _new_id("req_")}}
    return {"type": kind}  # "canceled" | "expired"
