"""The two vendors' Batch APIs behind one small interface, through the official SDKs.

* OpenAI: a JSONL input file (``custom_id``, ``method``, ``url: /v1/chat/completions``, ``body``)
  uploaded with ``files.create(purpose="batch")``, ``batches.create(completion_window="24h")``,
  ``batches.retrieve`` until the batch is ``completed`` / ``failed`` / ``expired`` / ``cancelled``, then
  the output and error files, matched to requests by ``custom_id`` (never by order). At most 50,000
  requests and 200 MB per batch.
* Anthropic: ``messages.batches.create(requests=[{custom_id, params}])``, ``retrieve`` until
  ``processing_status == "ended"``, then ``results()`` streaming ``succeeded | errored | canceled |
  expired`` in no particular order. At most 100,000 requests (and 256 MB) per batch.

A request body is exactly what the live provider would send (same model, sampling parameters and
extra parameters), so a batch reply answers the same store key as a live one.

Finding a batch again whose creation was never recorded (the process died while creating it): OpenAI
batches carry our intent tag in ``metadata`` (and the uploaded input file's id), so ``find`` is exact.
Anthropic's Message Batches take no metadata: ``find`` proposes the batch created around the intent's
time with exactly its number of requests; if it is someone else's, its results carry none of our
``custom_id`` values and the requests are submitted again when it ends.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from jp_bench.llm._http import is_transient_status, sdk_errors
from jp_bench.llm.errors import PermanentError
from jp_bench.llm.store import BatchIntent
from jp_bench.llm.types import Completion, Message, ModelSpec

Outcome = Literal["succeeded", "errored", "expired", "canceled"]
INTENT_KEY = "jp_bench_intent"  # the metadata key carrying a batch's intent tag (OpenAI)
# The vendor's clock against ours, and how long a create may take (uploading up to 256 MB): a batch
# created for an intent is looked for from CLOCK_SLACK_S before it to CREATE_WINDOW_S after it.
CLOCK_SLACK_S = 600.0
CREATE_WINDOW_S = 3600.0


@dataclass(frozen=True)
class BatchLimits:
    max_requests: int
    max_bytes: int


@dataclass(frozen=True)
class BatchState:
    ended: bool
    status: str  # the vendor's word (in_progress, finalizing, completed, ended, expired, ...)
    finished: int  # requests with a result so far
    failed: int


@dataclass(frozen=True)
class BatchResult:
    custom_id: str
    outcome: Outcome
    completion: Completion | None = None
    error: str | None = None
    refused: bool = False  # the request itself was refused (HTTP 400): resending it would not help


class BatchVendor(Protocol):
    limits: BatchLimits
    exact_find: bool  # whether find() only returns batches created for the intent (else: a best guess)

    def request_line(self, custom_id: str, messages: Sequence[Message], spec: ModelSpec) -> dict[str, Any]: ...

    async def submit(self, lines: list[dict[str, Any]], metadata: dict[str, str],
                     on_file: Callable[[str], None] | None = None) -> str: ...

    async def find(self, intent: BatchIntent) -> list[str]:
        """The vendor's batches that may have been created for ``intent``, the likeliest first."""
        ...

    async def cancel(self, batch_id: str) -> None: ...

    async def discard_file(self, file_id: str) -> None: ...

    async def state(self, batch_id: str) -> BatchState: ...

    async def results(self, batch_id: str) -> list[BatchResult]: ...


def line_bytes(line: dict[str, Any]) -> int:
    return len(json.dumps(line, ensure_ascii=False).encode("utf-8")) + 1


class OpenAIBatches:
    """OpenAI's Batch API (also offered by some OpenAI-compatible servers)."""

    limits = BatchLimits(max_requests=50_000, max_bytes=200 * 1024 * 1024)
    endpoint = "/v1/chat/completions"
    exact_find = True

    def __init__(self, provider: Any) -> None:
        self.provider = provider  # jp_bench.llm.openai_provider.OpenAIProvider: its SDK client and key

    def _label(self) -> str:
        return f"{self.provider.spec.provider} batch API"

    def request_line(self, custom_id: str, messages: Sequence[Message], spec: ModelSpec) -> dict[str, Any]:
        from jp_bench.llm.openai_provider import _request

        body = _request(list(messages), spec)
        body.pop("timeout", None)
        body.update(body.pop("extra_body", {}))
        return {"custom_id": custom_id, "method": "POST", "url": self.endpoint, "body": body}

    async def submit(self, lines: list[dict[str, Any]], metadata: dict[str, str],
                     on_file: Callable[[str], None] | None = None) -> str:
        import openai

        client = self.provider._client()
        data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode("utf-8")
        with sdk_errors(openai, self._label(), self.provider.spec.timeout_s, self.provider._secrets()):
            uploaded = await client.files.create(file=("jp-bench-batch.jsonl", data), purpose="batch")
            if on_file is not None:
                on_file(uploaded.id)
            batch = await client.batches.create(input_file_id=uploaded.id, endpoint=self.endpoint,
                                                completion_window="24h", metadata=metadata)
        return batch.id

    async def find(self, intent: BatchIntent) -> list[str]:
        import openai

        client = self.provider._client()
        found: list[str] = []
        with sdk_errors(openai, self._label(), self.provider.spec.timeout_s, self.provider._secrets()):
            async for batch in client.batches.list(limit=100):  # newest first, page after page
                if batch.created_at < intent.created_at - CLOCK_SLACK_S:
                    break
                tagged = (batch.metadata or {}).get(INTENT_KEY) == intent.tag
                if tagged or (intent.file_id is not None and batch.input_file_id == intent.file_id):
                    found.append(batch.id)
        return found[::-1]  # the first one created first

    async def cancel(self, batch_id: str) -> None:
        import openai

        client = self.provider._client()
        with sdk_errors(openai, self._label(), self.provider.spec.timeout_s, self.provider._secrets()):
            await client.batches.cancel(batch_id)

    async def discard_file(self, file_id: str) -> None:
        import openai

        client = self.provider._client()
        with contextlib.suppress(openai.APIError):  # only tidying: an input file no batch uses costs nothing
            await client.files.delete(file_id)

    async def state(self, batch_id: str) -> BatchState:
        import openai

        client = self.provider._client()
        with sdk_errors(openai, self._label(), self.provider.spec.timeout_s, self.provider._secrets()):
            batch = await client.batches.retrieve(batch_id)
        counts = batch.request_counts
        finished = (counts.completed + counts.failed) if counts is not None else 0
        ended = batch.status in ("completed", "failed", "expired", "cancelled")
        if batch.status == "failed" and batch.errors is not None and batch.errors.data:
            # The input file was refused as a whole (a malformed line): no request will ever run.
            first = batch.errors.data[0]
            raise PermanentError(f"{self._label()}: batch {batch_id} failed: {first.code}: {first.message}",
                                 status=400)
        return BatchState(ended, batch.status, finished, counts.failed if counts is not None else 0)

    async def results(self, batch_id: str) -> list[BatchResult]:
        import openai
        from openai.types.chat import ChatCompletion

        from jp_bench.llm.openai_provider import _parse

        client = self.provider._client()
        found: list[BatchResult] = []
        with sdk_errors(openai, self._label(), self.provider.spec.timeout_s, self.provider._secrets()):
            batch = await client.batches.retrieve(batch_id)
            texts = [(await client.files.content(file_id)).text
                     for file_id in (batch.output_file_id, batch.error_file_id) if file_id]
        for text in texts:
            for raw in text.splitlines():
                if not raw.strip():
                    continue
                line = json.loads(raw)
                custom_id = str(line.get("custom_id"))
                response = line.get("response") or {}
                error = line.get("error")
                if response.get("status_code") == 200 and isinstance(response.get("body"), dict):
                    completion = _parse(ChatCompletion.model_validate(response["body"]), self._label())
                    found.append(BatchResult(custom_id, "succeeded", completion))
                    continue
                if isinstance(error, dict) and error.get("code") == "batch_expired":
                    found.append(BatchResult(custom_id, "expired", error="the batch expired before this request ran"))
                    continue
                if isinstance(error, dict) and error.get("code") == "batch_cancelled":
                    found.append(BatchResult(custom_id, "canceled", error="the batch was cancelled"))
                    continue
                detail = None
                body = response.get("body")
                if isinstance(body, dict) and isinstance(body.get("error"), dict):
                    detail = body["error"].get("message")
                if detail is None and isinstance(error, dict):
                    detail = error.get("message")
                status = response.get("status_code")
                refused = isinstance(status, int) and not is_transient_status(status, {})
                found.append(BatchResult(custom_id, "errored", error=f"HTTP {status}: {detail or 'request failed'}",
                                         refused=refused))
        return found


class AnthropicBatches:
    """Anthropic's Message Batches API."""

    limits = BatchLimits(max_requests=100_000, max_bytes=256 * 1024 * 1024)
    exact_find = False

    def __init__(self, provider: Any) -> None:
        self.provider = provider  # jp_bench.llm.anthropic_provider.AnthropicProvider

    def _label(self) -> str:
        return f"{self.provider.spec.provider} message batches"

    def request_line(self, custom_id: str, messages: Sequence[Message], spec: ModelSpec) -> dict[str, Any]:
        from jp_bench.llm.anthropic_provider import _request

        params = _request(list(messages), spec)
        params.pop("timeout", None)
        params.update(params.pop("extra_body", {}))
        return {"custom_id": custom_id, "params": params}

    async def submit(self, lines: list[dict[str, Any]], metadata: dict[str, str],  # noqa: ARG002
                     on_file: Callable[[str], None] | None = None) -> str:  # noqa: ARG002
        import anthropic

        client = self.provider._client()
        with sdk_errors(anthropic, self._label(), self.provider.spec.timeout_s, self.provider._secrets()):
            batch = await client.messages.batches.create(requests=lines)  # type: ignore[arg-type]
        return batch.id

    async def find(self, intent: BatchIntent) -> list[str]:
        import anthropic

        client = self.provider._client()
        size = len(intent.requests)
        candidates: list[tuple[float, str]] = []
        with sdk_errors(anthropic, self._label(), self.provider.spec.timeout_s, self.provider._secrets()):
            async for batch in client.messages.batches.list(limit=100):  # newest first, page after page
                created = batch.created_at.timestamp()
                if created < intent.created_at - CLOCK_SLACK_S:
                    break
                counts = batch.request_counts
                total = counts.processing + counts.succeeded + counts.errored + counts.canceled + counts.expired
                if total == size and created <= intent.created_at + CREATE_WINDOW_S:
                    candidates.append((abs(created - intent.created_at), batch.id))
        return [batch_id for _, batch_id in sorted(candidates)]

    async def cancel(self, batch_id: str) -> None:
        import anthropic

        client = self.provider._client()
        with sdk_errors(anthropic, self._label(), self.provider.spec.timeout_s, self.provider._secrets()):
            await client.messages.batches.cancel(batch_id)

    async def discard_file(self, file_id: str) -> None:
        pass  # Message Batches upload no file

    async def state(self, batch_id: str) -> BatchState:
        import anthropic

        client = self.provider._client()
        with sdk_errors(anthropic, self._label(), self.provider.spec.timeout_s, self.provider._secrets()):
            batch = await client.messages.batches.retrieve(batch_id)
        counts = batch.request_counts
        failed = counts.errored + counts.expired + counts.canceled
        return BatchState(batch.processing_status == "ended", batch.processing_status, counts.succeeded + failed,
                          failed)

    async def results(self, batch_id: str) -> list[BatchResult]:
        import anthropic
        from anthropic.types import Message as AnthropicMessage

        from jp_bench.llm.anthropic_provider import _parse

        client = self.provider._client()
        found: list[BatchResult] = []
        with sdk_errors(anthropic, self._label(), self.provider.spec.timeout_s, self.provider._secrets()):
            decoder = await client.messages.batches.results(batch_id)
            async for item in decoder:
                result = item.result
                if result.type == "succeeded":
                    message = AnthropicMessage.model_validate(result.message.model_dump())
                    found.append(BatchResult(item.custom_id, "succeeded", _parse(message, self._label())))
                elif result.type == "errored":
                    inner = getattr(result.error, "error", None)
                    kind = getattr(inner, "type", "error")
                    detail = f"{kind}: {getattr(inner, 'message', '')}"
                    # A request the API refuses is refused again if resent; a server error may pass next time.
                    refused = kind in ("invalid_request_error", "authentication_error", "permission_error",
                                       "not_found_error", "request_too_large")
                    found.append(BatchResult(item.custom_id, "errored", error=detail, refused=refused))
                else:
                    found.append(BatchResult(item.custom_id, result.type, error=f"the request was {result.type}"))
        return found

