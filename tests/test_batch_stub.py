"""The batch stand-in (tests/support/batch_stub.py) speaks both vendors' batch wire formats: driven here by the real
`openai` and `anthropic` SDKs, whose typed objects must parse what it sends."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from anthropic.types.messages import MessageBatchIndividualResponse
from openai.types.chat import ChatCompletion

from tests.support.batch_stub import BatchStub
from tests.support.files import write_jsonl

pytestmark = pytest.mark.integration

ENDPOINT = "/v1/chat/completions"


def echo(body: dict[str, Any], custom_id: str) -> str:
    return f"answer to {custom_id}: [[A]]"


def openai_client(stub: BatchStub, key: str = "x") -> openai.OpenAI:
    return openai.OpenAI(base_url=stub.openai_base_url, api_key=key, max_retries=0)


def anthropic_client(stub: BatchStub, key: str = "x") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=stub.anthropic_base_url, api_key=key, max_retries=0)


def chat_line(custom_id: str, question: str, model: str = "gpt-4o-mini") -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT,
            "body": {"model": model, "messages": [{"role": "system", "content": "審査員"},
                                                  {"role": "user", "content": question}]}}


def submit_openai(client: openai.OpenAI, path: Path, metadata: dict[str, str] | None = None) -> str:
    with path.open("rb") as handle:
        uploaded = client.files.create(file=handle, purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h",
                                  metadata=metadata)
    assert batch.status == "validating"
    return batch.id


def poll_openai(client: openai.OpenAI, batch_id: str) -> tuple[openai.types.Batch, list[str]]:
    statuses = []
    for _ in range(20):
        batch = client.batches.retrieve(batch_id)
        statuses.append(batch.status)
        if batch.status in ("completed", "failed", "expired", "cancelled"):
            return batch, statuses
    raise AssertionError(f"batch never ended: {statuses}")


def file_lines(client: openai.OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    assert file_id is not None
    return [json.loads(line) for line in client.files.content(file_id).text.splitlines() if line.strip()]


def poll_anthropic(client: anthropic.Anthropic, batch_id: str) -> tuple[Any, list[str]]:
    statuses = []
    for _ in range(20):
        batch = client.messages.batches.retrieve(batch_id)
        statuses.append(batch.processing_status)
        if batch.processing_status == "ended":
            return batch, statuses
    raise AssertionError(f"batch never ended: {statuses}")


def anthropic_request(custom_id: str, text: str) -> dict[str, Any]:
    return {"custom_id": custom_id, "params": {"model": "claude-sonnet", "max_tokens": 64, "system": "審査員",
                                               "messages": [{"role": "user", "content": text}]}}


def test_openai_batch_round_trip_with_failure_and_resubmission(tmp_path: Path) -> None:
    questions = {"q1": "一つ目の質問", "q2": "二つ目", "q3": "三つ目の質問です"}
    with BatchStub(reply=echo, fail_custom_ids={"q2": "errored"}) as stub:
        client = openai_client(stub)
        path = write_jsonl(tmp_path / "in.jsonl", [chat_line(cid, q) for cid, q in questions.items()])
        with path.open("rb") as handle:
            uploaded = client.files.create(file=handle, purpose="batch")
        assert (uploaded.object, uploaded.purpose, uploaded.status) == ("file", "batch", "processed")
        assert uploaded.id.startswith("file-") and uploaded.bytes == path.stat().st_size
        assert uploaded.filename == "in.jsonl"
        assert client.files.content(uploaded.id).content == path.read_bytes()  # stored byte for byte
        batch = client.batches.create(input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h",
                                      metadata={"run": "r1"})
        assert batch.id.startswith("batch_") and batch.status == "validating" and batch.output_file_id is None
        assert batch.request_counts is not None and batch.request_counts.total == 3

        batch, statuses = poll_openai(client, batch.id)
        assert statuses == ["in_progress", "finalizing", "completed"]
        assert stub.polls == 3
        assert batch.metadata == {"run": "r1"} and batch.completed_at is not None
        assert batch.request_counts is not None
        assert (batch.request_counts.completed, batch.request_counts.failed) == (2, 1)

        output = file_lines(client, batch.output_file_id)
        assert [line["custom_id"] for line in output] == ["q3", "q1"]  # not input order: match by custom_id
        for line in output:
            assert line["response"]["status_code"] == 200 and line["error"] is None
            assert line["id"].startswith("batch_req_")
            completion = ChatCompletion.model_validate(line["response"]["body"])
            custom_id = line["custom_id"]
            assert completion.choices[0].message.content == f"answer to {custom_id}: [[A]]"
            assert completion.usage is not None
            assert completion.usage.prompt_tokens == len("審査員") + len(questions[custom_id])
            assert completion.usage.completion_tokens == len(f"answer to {custom_id}: [[A]]")
        errors = file_lines(client, batch.error_file_id)
        assert [(e["custom_id"], e["response"]["status_code"]) for e in errors] == [("q2", 500)]
        assert errors[0]["response"]["body"]["error"]["type"] == "server_error"
        assert stub.result_downloads == 2  # the input file's download above is not a result

        # fail_once: the resubmitted request succeeds
        retry = submit_openai(client, write_jsonl(tmp_path / "retry.jsonl", [chat_line("q2", questions["q2"])]),
                              metadata={"run": "r1-retry"})
        batch, _ = poll_openai(client, retry)
        assert batch.status == "completed" and batch.error_file_id is None
        assert [line["custom_id"] for line in file_lines(client, batch.output_file_id)] == ["q2"]
        assert stub.requests_seen == {"q1": 1, "q2": 2, "q3": 1}
        assert [s["custom_ids"] for s in stub.submissions] == [["q1", "q2", "q3"], ["q2"]]
        assert stub.files_uploaded == 2

        # the list finds batches by metadata, newest first
        listed = list(client.batches.list())
        assert [b.metadata["run"] for b in listed if b.metadata] == ["r1-retry", "r1"]


def test_openai_fail_every_time_and_expired_lines(tmp_path: Path) -> None:
    with BatchStub(fail_custom_ids={"a": "errored", "b": "expired"}, fail_once=False, polls_to_complete=1) as stub:
        client = openai_client(stub)
        for _ in range(2):
            batch_id = submit_openai(client, write_jsonl(tmp_path / "in.jsonl", [chat_line(c, c) for c in "abc"]))
            batch, statuses = poll_openai(client, batch_id)
            assert statuses == ["completed"]
            errors = {e["custom_id"]: e for e in file_lines(client, batch.error_file_id)}
            assert errors["a"]["response"]["status_code"] == 500
            assert errors["b"]["response"] is None and errors["b"]["error"]["code"] == "batch_expired"
            assert [line["custom_id"] for line in file_lines(client, batch.output_file_id)] == ["c"]


def test_openai_whole_batch_expiry(tmp_path: Path) -> None:
    with BatchStub(expire_batches=True) as stub:
        client = openai_client(stub)
        path = write_jsonl(tmp_path / "in.jsonl", [chat_line(f"r{i}", "x") for i in range(4)])
        batch_id = submit_openai(client, path)
        batch, statuses = poll_openai(client, batch_id)
        assert statuses[-1] == "expired" and batch.expired_at is not None
        assert batch.request_counts is not None
        assert (batch.request_counts.completed, batch.request_counts.failed) == (2, 2)
        assert sorted(line["custom_id"] for line in file_lines(client, batch.output_file_id)) == ["r0", "r1"]
        expired = file_lines(client, batch.error_file_id)
        assert sorted(e["custom_id"] for e in expired) == ["r2", "r3"]
        assert {e["error"]["code"] for e in expired} == {"batch_expired"}


def test_openai_invalid_file_fails_the_batch(tmp_path: Path) -> None:
    with BatchStub(fail_custom_ids={"dup": "errored"}) as stub:
        client = openai_client(stub)
        path = write_jsonl(tmp_path / "in.jsonl", [chat_line("dup", "x"), chat_line("dup", "y")])
        batch, statuses = poll_openai(client, submit_openai(client, path))
        assert statuses == ["failed"] and batch.output_file_id is None and batch.failed_at is not None
        assert batch.errors is not None and batch.errors.data is not None
        assert [(e.code, e.line) for e in batch.errors.data] == [("duplicate_custom_id", 2)]
        # a file that never ran spends no injected fault
        path = write_jsonl(tmp_path / "ok.jsonl", [chat_line("dup", "x")])
        batch, _ = poll_openai(client, submit_openai(client, path))
        assert batch.error_file_id is not None


def test_openai_cancel(tmp_path: Path) -> None:
    with BatchStub() as stub:
        client = openai_client(stub)
        batch_id = submit_openai(client, write_jsonl(tmp_path / "in.jsonl", [chat_line(c, c) for c in "ab"]))
        cancelling = client.batches.cancel(batch_id)
        assert cancelling.status == "cancelling" and cancelling.cancelling_at is not None
        batch, statuses = poll_openai(client, batch_id)
        assert statuses == ["cancelled"] and batch.output_file_id is None
        assert {e["error"]["code"] for e in file_lines(client, batch.error_file_id)} == {"batch_cancelled"}
        with pytest.raises(openai.ConflictError):
            client.batches.cancel(batch_id)
        with pytest.raises(openai.NotFoundError):
            client.batches.retrieve("batch_missing")


def test_openai_async_client_and_usage_multiplier(tmp_path: Path) -> None:
    async def run(stub: BatchStub) -> dict[str, Any]:
        client = openai.AsyncOpenAI(base_url=stub.openai_base_url, api_key="x", max_retries=0)
        path = write_jsonl(tmp_path / "in.jsonl", [chat_line("u", "質問")])
        uploaded = await client.files.create(file=path, purpose="batch")
        batch = await client.batches.create(input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h")
        while batch.status != "completed":
            batch = await client.batches.retrieve(batch.id)
        assert batch.output_file_id is not None
        content = await client.files.content(batch.output_file_id)
        await client.close()
        return json.loads(content.text.splitlines()[0])

    with BatchStub(usage_multiplier=2.0, reply=lambda body, cid: "abcd") as stub:
        line = asyncio.run(run(stub))
    usage = line["response"]["body"]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (2 * (3 + 2), 8)


def test_state_outlives_the_client_process(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [chat_line("p1", "x"), chat_line("p2", "y")])
    with BatchStub(reply=echo) as stub:
        script = textwrap.dedent(f"""
            import openai
            client = openai.OpenAI(base_url={stub.openai_base_url!r}, api_key="x", max_retries=0)
            uploaded = client.files.create(file=open({str(path)!r}, "rb"), purpose="batch")
            batch = client.batches.create(input_file_id=uploaded.id, endpoint="{ENDPOINT}", completion_window="24h",
                                          metadata={{"run": "crash"}})
            client.batches.retrieve(batch.id)
            print(batch.id)
        """)
        batch_id = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                                  timeout=60).stdout.strip()
        client = openai_client(stub)  # a fresh client finds the batch by metadata and finishes it
        [found] = [b for b in client.batches.list() if b.metadata == {"run": "crash"}]
        assert found.id == batch_id and found.status == "in_progress"
        batch, statuses = poll_openai(client, batch_id)
        assert statuses == ["finalizing", "completed"]
        assert {line["custom_id"] for line in file_lines(client, batch.output_file_id)} == {"p1", "p2"}


def test_anthropic_batch_round_trip(tmp_path: Path) -> None:
    faults = {"b": "errored", "c": "canceled", "d": "expired"}
    texts = {cid: f"質問{cid}です" for cid in "abcde"}
    with BatchStub(reply=echo, fail_custom_ids=faults) as stub:
        client = anthropic_client(stub)
        created = client.messages.batches.create(requests=[anthropic_request(cid, t) for cid, t in texts.items()])
        assert created.id.startswith("msgbatch_") and created.type == "message_batch"
        assert created.processing_status == "in_progress" and created.results_url is None
        assert created.request_counts.processing == 5 and created.ended_at is None
        assert created.expires_at > created.created_at

        batch, statuses = poll_anthropic(client, created.id)
        assert statuses == ["in_progress", "in_progress", "ended"]
        assert batch.results_url == f"{stub.anthropic_base_url}/v1/messages/batches/{created.id}/results"
        counts = batch.request_counts
        assert (counts.processing, counts.succeeded, counts.errored, counts.canceled, counts.expired) == (0, 2, 1, 1, 1)
        assert batch.ended_at is not None

        results = list(client.messages.batches.results(created.id))
        assert stub.polls == 4  # results() retrieves the batch first to learn its results_url
        assert stub.result_downloads == 1
        assert [r.custom_id for r in results] != list(texts)  # match by custom_id
        by_id = {r.custom_id: r.result for r in results}
        assert {cid: r.type for cid, r in by_id.items()} == {
            "a": "succeeded", "b": "errored", "c": "canceled", "d": "expired", "e": "succeeded"}
        for cid in ("a", "e"):
            result = by_id[cid]
            assert isinstance(result, anthropic.types.messages.MessageBatchSucceededResult)
            assert result.message.content[0].type == "text"
            assert result.message.content[0].text == f"answer to {cid}: [[A]]"
            assert result.message.stop_reason == "end_turn" and result.message.role == "assistant"
            assert result.message.usage.input_tokens == len("審査員") + len(texts[cid])
            assert result.message.usage.output_tokens == len(f"answer to {cid}: [[A]]")
        errored = by_id["b"]
        assert isinstance(errored, anthropic.types.messages.MessageBatchErroredResult)
        assert errored.error.error.type == "api_error"

        # The SDK builds results without validation; the raw lines must also pass strict validation.
        raw = client.messages.batches.with_raw_response.results(created.id)
        lines = raw.http_response.read().decode("utf-8").splitlines()  # streamed: read() before .text
        assert len(lines) == 5 and all(line.strip() for line in lines)
        for line in lines:
            MessageBatchIndividualResponse.model_validate(json.loads(line))

        # fail_once: the failed ones succeed when resubmitted; malformed params error as invalid requests
        retry = client.messages.batches.create(requests=[anthropic_request(cid, texts[cid]) for cid in faults]
                                               + [{"custom_id": "bad", "params": {"model": "m", "messages": []}}])
        poll_anthropic(client, retry.id)
        again = {r.custom_id: r.result for r in client.messages.batches.results(retry.id)}
        assert {cid: r.type for cid, r in again.items()} == {"b": "succeeded", "c": "succeeded", "d": "succeeded",
                                                             "bad": "errored"}
        bad = again["bad"]
        assert isinstance(bad, anthropic.types.messages.MessageBatchErroredResult)
        assert bad.error.error.type == "invalid_request_error"
        assert stub.requests_seen["b"] == 2 and len(stub.submissions) == 2
        assert [b.id for b in client.messages.batches.list()] == [retry.id, created.id]


def test_anthropic_expiry_cancel_and_bad_requests() -> None:
    with BatchStub(expire_batches=True, polls_to_complete=2) as stub:
        client = anthropic_client(stub)
        batch = client.messages.batches.create(requests=[anthropic_request(f"r{i}", "x") for i in range(4)])
        batch, _ = poll_anthropic(client, batch.id)
        assert (batch.request_counts.succeeded, batch.request_counts.expired) == (2, 2)
        kinds = {r.custom_id: r.result.type for r in client.messages.batches.results(batch.id)}
        assert kinds == {"r0": "succeeded", "r1": "succeeded", "r2": "expired", "r3": "expired"}

        stub.expire_batches = False
        batch = client.messages.batches.create(requests=[anthropic_request(f"c{i}", "x") for i in range(2)])
        canceling = client.messages.batches.cancel(batch.id)
        assert canceling.processing_status == "canceling" and canceling.cancel_initiated_at is not None
        batch, statuses = poll_anthropic(client, batch.id)
        assert statuses == ["ended"] and batch.request_counts.canceled == 2
        assert {r.result.type for r in client.messages.batches.results(batch.id)} == {"canceled"}

        pending = client.messages.batches.create(requests=[anthropic_request("p", "x")])
        with pytest.raises(anthropic.AnthropicError, match="results_url"):
            client.messages.batches.results(pending.id)
        with pytest.raises(anthropic.BadRequestError):  # the real API's custom_id pattern
            client.messages.batches.create(requests=[anthropic_request("has space", "x")])
        with pytest.raises(anthropic.BadRequestError):
            client.messages.batches.create(requests=[anthropic_request("same", "x"), anthropic_request("same", "y")])
        with pytest.raises(anthropic.NotFoundError):
            client.messages.batches.retrieve("msgbatch_missing")


def test_require_key_for_both_vendors(tmp_path: Path) -> None:
    with BatchStub(require_key="sk-right") as stub:
        with pytest.raises(openai.AuthenticationError) as openai_error:
            openai_client(stub, "sk-wrong").batches.list()
        assert openai_error.value.status_code == 401 and openai_error.value.code == "invalid_api_key"
        with pytest.raises(anthropic.AuthenticationError) as anthropic_error:
            anthropic_client(stub, "sk-wrong").messages.batches.list()
        assert anthropic_error.value.status_code == 401
        assert isinstance(anthropic_error.value.body, dict)
        assert anthropic_error.value.body["error"]["type"] == "authentication_error"
        # the right key passes for both
        batch_id = submit_openai(openai_client(stub, "sk-right"), write_jsonl(tmp_path / "in.jsonl",
                                                                               [chat_line("k", "x")]))
        assert openai_client(stub, "sk-right").batches.retrieve(batch_id).status == "in_progress"
        created = anthropic_client(stub, "sk-right").messages.batches.create(requests=[anthropic_request("k", "x")])
        assert created.processing_status == "in_progress"
        assert stub.submissions[-1]["vendor"] == "anthropic"
    assert stub.requests_received == 6  # the two refused ones included


@pytest.mark.parametrize(("vendor", "route"), [("openai", "upload"), ("openai", "create"), ("anthropic", "create")])
def test_hold_keeps_a_done_request_unanswered_until_released(vendor: str, route: str, tmp_path: Path) -> None:
    import threading

    answered: list[str] = []
    with BatchStub(hold=route) as stub:
        def client_side() -> None:
            if vendor == "openai":
                answered.append(submit_openai(openai_client(stub), write_jsonl(tmp_path / "in.jsonl",
                                                                               [chat_line("k", "x")])))
            else:
                answered.append(anthropic_client(stub).messages.batches.create(
                    requests=[anthropic_request("k", "x")]).id)

        thread = threading.Thread(target=client_side, daemon=True)
        thread.start()
        assert stub.held.wait(60)
        # The work is done at the server (file stored / batch created), the client has no answer yet.
        assert stub.files_uploaded == (1 if vendor == "openai" else 0)
        assert len(stub.submissions) == (1 if route == "create" else 0)
        assert thread.is_alive() and answered == []
        stub.release_held()
        thread.join(60)
        assert len(answered) == 1 and [s["id"] for s in stub.submissions] == answered
        assert stub.hold is None  # only the first such request is held: a re-run goes through
        again = submit_openai(openai_client(stub), write_jsonl(tmp_path / "again.jsonl", [chat_line("k2", "y")])) \
            if vendor == "openai" else anthropic_client(stub).messages.batches.create(
                requests=[anthropic_request("k2", "y")]).id
        assert stub.submissions[-1]["id"] == again
        # Cancelling is counted (the double-billing tests check that an orphan is cancelled, or none is).
        if vendor == "openai":
            openai_client(stub).batches.cancel(again)
        else:
            anthropic_client(stub).messages.batches.cancel(again)
        assert stub.cancelled == [again]
