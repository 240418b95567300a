"""Running a call engine's jobs through a vendor's Batch API, at the batch price, with the store as the truth.

The store records every batch the moment the vendor has created it (its id and the store key, attempt
and messages of each request in it), before any polling. A re-run after a crash or a SIGKILL finds
those open batches and polls them instead of submitting again, so nothing is paid for twice. Before
the vendor is called at all, the batch is recorded as an *intent* (a tag sent with it, and its
requests): a run killed between the vendor's creating the batch and the store's recording it leaves
that intent behind, and the next run finds the batch at the vendor and adopts it instead of
submitting the requests again (a second batch found under the same tag is cancelled). Results
are written to the store as they are read; each job then settles exactly as a live call would:

* a readable reply is the job's stored call (tokens and cost summed over its attempts);
* a reply without what was asked for (a verdict, the JSON) is asked again, in the next batch, with the
  caller's follow-up messages, until the policy's attempts are spent (then a stored error);
* a request the API refused (HTTP 400) is a stored error for that job, as live;
* an errored, expired or cancelled request is resubmitted (at most ``max_resubmits`` times), or sent
  live with ``fallback="live"``; one that never succeeds is not stored, so the next run tries again.

Several runs on one workspace: keys are claimed while a submission is being made, and requests already
in an open batch or in another run's intent are waited for, not resubmitted; a judgment another run
stored meanwhile is taken from the store.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from jp_bench.llm.batch_vendors import INTENT_KEY, BatchVendor, line_bytes
from jp_bench.llm.endpoints import endpoint_of
from jp_bench.llm.engine import CallEngine
from jp_bench.llm.errors import PermanentError, TransientError
from jp_bench.llm.jobs import BudgetReached, CallJob, UnreadableReply
from jp_bench.llm.registry import batch_vendor
from jp_bench.llm.store import BatchIntent, BatchRecord, BatchRequest
from jp_bench.llm.types import Message

_REFUSED = "refused: "  # prefix of a failed request's error when resending it cannot help


@dataclass(frozen=True)
class BatchSettings:
    """``--batch`` and its options."""

    poll_interval_s: float = 30.0  # the first wait; it grows by half each quiet poll, up to the maximum
    max_poll_interval_s: float = 300.0
    fallback: Literal["resubmit", "live"] = "resubmit"
    max_resubmits: int = 3
    max_requests_per_batch: int | None = None  # below the vendor's limit (tests, or smaller batches)

    async def run(self, engine: CallEngine, todo: list[CallJob]) -> list[CallJob]:
        """Send ``todo`` through the Batch API of ``engine``'s provider; returns the jobs to send live."""
        vendor: BatchVendor = batch_vendor(getattr(engine.client, "provider", engine.client))
        return await BatchRun(engine, vendor, self).run(todo)


@dataclass
class BatchProgress:
    """One batch as the progress line shows it."""

    id: str
    status: str
    requests: int
    finished: int = 0
    failed: int = 0


@dataclass
class BatchReport:
    batches: dict[str, BatchProgress] = field(default_factory=dict)
    submitted: int = 0  # requests submitted by this run
    waited_s: float = 0.0
    resubmitted: int = 0
    sent_live: int = 0
    adopted: list[str] = field(default_factory=list)  # batches an earlier run created but never recorded
    cancelled: list[str] = field(default_factory=list)  # duplicates of an adopted batch, cancelled


def _messages(rows: list[list[str]]) -> list[Message]:
    return [Message(role, content) for role, content in rows]  # type: ignore[arg-type]


def _as_rows(messages: Sequence[Message]) -> list[list[str]]:
    return [[m.role, m.content] for m in messages]


@dataclass
class _Next:
    """What a job needs now, read from its batch requests so far."""

    action: Literal["submit", "wait", "live", "settled", "give_up"]
    attempt: int = 1
    messages: list[Message] | None = None
    error: str | None = None


class BatchRun:
    def __init__(self, engine: CallEngine, vendor: BatchVendor, settings: BatchSettings) -> None:
        self.engine, self.vendor, self.settings = engine, vendor, settings
        self.spec = engine.spec
        self.endpoint = endpoint_of(self.spec.base_url)
        self.report = BatchReport()
        engine.report.batch = self.report
        self._reserved: dict[str, float] = {}  # custom_id -> estimate counted in flight
        self._jobs: dict[str, CallJob] = {}  # key -> job of the run in progress

    # --------------------------------------------------------------------------------- per job

    def _cost(self, input_tokens: int, output_tokens: int) -> float:
        return self.spec.cost_usd(input_tokens, output_tokens, batch=True)

    def _decide(self, job: CallJob, rows: list[BatchRequest], open_ids: set[str]) -> _Next:
        """Settle what can be settled from ``rows`` (the job's batch requests, oldest first)."""
        if not rows:
            return _Next("submit", 1, list(job.messages))
        last = rows[-1]
        if last.state == "submitted":
            if last.batch_id in open_ids:
                return _Next("wait")
            # Collected without a result line for it: the vendor lost it; like an error.
            self.engine.store.update_batch_request(last.custom_id, state="failed", error="no result returned")
            last = dataclasses.replace(last, state="failed", error="no result returned")
        if last.state == "replied":
            return self._read(job, rows, last)
        if last.state == "unreadable":
            return _Next("submit", last.attempt + 1,
                         self.engine.policy.next_messages(job, last.reply or "", last.attempt))
        if last.state == "failed":
            if (last.error or "").startswith(_REFUSED):
                self._store(job, rows, None, None, "error", last.error.removeprefix(_REFUSED), last.attempt)
                return _Next("settled")
            if self.settings.fallback == "live":
                return _Next("live")
            failures = sum(1 for row in rows if row.state == "failed" and row.attempt == last.attempt)
            if failures > self.settings.max_resubmits:
                return _Next("give_up", error=f"batch request failed {failures} times; last: {last.error}")
            self.report.resubmitted += 1
            return _Next("submit", last.attempt, _messages(last.messages))
        # "done": its call is in the store, stored by this run or meanwhile by another run on the workspace,
        # which this run must count as a result (not leave out as missing).
        engine = self.engine
        found = engine.store.get(job.key)
        if found is None or (found.finished_at < engine.started_at and not engine.answered(job, found)):
            # Stored before this run and not taken as its answer (an error with --retry-errors): ask again.
            return _Next("submit", 1, list(job.messages))
        report = engine.report
        report.results[job.key] = found
        report.reused += 1
        report.by_other_process += 1
        return _Next("settled")

    def _read(self, job: CallJob, rows: list[BatchRequest], last: BatchRequest) -> _Next:
        policy = self.engine.policy
        reply = last.reply or ""
        try:
            parsed = policy.read(job, reply)
        except UnreadableReply as exc:
            if last.attempt < policy.attempts:
                self.engine.store.update_batch_request(
                    last.custom_id, state="unreadable", error=str(exc), input_tokens=last.input_tokens,
                    output_tokens=last.output_tokens, cost_usd=last.cost_usd)
                return _Next("submit", last.attempt + 1, policy.next_messages(job, reply, last.attempt))
            self._store(job, rows, reply, None, "error", policy.final_error(str(exc)), last.attempt)
            return _Next("settled")
        self._store(job, rows, reply, parsed, "ok", None, last.attempt, details=last.details)
        return _Next("settled")

    def _store(self, job: CallJob, rows: list[BatchRequest], reply: str | None, parsed: Any, status: str,
               error: str | None, attempts: int, *, details: Any = None) -> None:
        engine = self.engine
        call = engine.record(job, reply, parsed, status, error, attempts, sum(r.input_tokens for r in rows),
                              sum(r.output_tokens for r in rows), sum(r.cost_usd for r in rows), time.time(),
                              details=details)
        engine.store.update_batch_request(rows[-1].custom_id, state="done", error=error,
                                          input_tokens=rows[-1].input_tokens, output_tokens=rows[-1].output_tokens,
                                          cost_usd=rows[-1].cost_usd)
        report = engine.report
        report.results[job.key] = call
        report.called += 1
        report.errors += not call.ok

    # ---------------------------------------------------------------------------------- the run

    async def run(self, jobs: list[CallJob]) -> list[CallJob]:
        """Run ``jobs`` through batches; returns the jobs to send live (``fallback="live"``)."""
        engine, store = self.engine, self.engine.store
        by_key = {job.key: job for job in jobs}
        self._jobs = by_key
        live: list[CallJob] = []
        given_up: dict[str, str] = {}
        interval = self.settings.poll_interval_s
        while True:
            # Batches a dead run was creating are found (or known never to exist) before anything is decided.
            sending = await self._recover()
            open_batches = {b.id: b for b in store.open_batches(engine.purpose, self.spec.model, self.endpoint)}
            history: dict[str, list[BatchRequest]] = {}
            for row in store.batch_requests(keys=[k for k in by_key if k not in engine.report.results]):
                history.setdefault(row.key, []).append(row)
            to_submit: list[tuple[CallJob, int, list[Message]]] = []
            for key, job in by_key.items():
                if key in engine.report.results or key in given_up or job in live or key in sending:
                    continue
                step = self._decide(job, history.get(key, []), set(open_batches))
                if step.action == "submit":
                    to_submit.append((job, step.attempt, step.messages or list(job.messages)))
                elif step.action == "live":
                    live.append(job)
                elif step.action == "give_up":
                    given_up[key] = step.error or "batch request failed"
            engine.progress()
            submitted, elsewhere = await self._submit(to_submit)
            open_batches = {b.id: b for b in store.open_batches(engine.purpose, self.spec.model, self.endpoint)}
            unsettled = [key for key, job in by_key.items()
                         if key not in engine.report.results and key not in given_up and job not in live]
            # Read again: another run may have put some of these keys into a batch since the look above.
            mine = {row.batch_id for row in store.batch_requests(keys=unsettled)} | set(submitted)
            watched = [b for b in open_batches.values() if b.id in mine]
            # Keys another run is submitting right now are waited for: its batch shows up here next time.
            waiting = elsewhere or bool(sending.intersection(unsettled))
            if not watched and not waiting:
                break
            ended = await self._poll(watched)
            engine.progress()
            if not ended:
                started = time.monotonic()
                await asyncio.sleep(interval)
                self.report.waited_s += time.monotonic() - started
                interval = min(interval * 1.5, self.settings.max_poll_interval_s)
        for error in given_up.values():
            engine.report.unreachable += 1
            engine.report.last_unreachable = error
        return live

    async def _submit(self, items: list[tuple[CallJob, int, list[Message]]]) -> tuple[list[str], bool]:
        """Submit ``items`` in as few batches as the vendor's limits allow; record each at once. Returns
        the batches created and whether some items were left to another run submitting them now."""
        engine, store = self.engine, self.engine.store
        budget = engine.budget
        chosen: list[tuple[BatchRequest, dict[str, Any]]] = []
        elsewhere = False
        claimed: list[tuple[CallJob, int, list[Message]]] = []
        for job, attempt, messages in items:
            if store.claim(job.key, engine.owner, engine.lease_s) == "taken":
                elsewhere = True  # another run is submitting it right now; its batch will show up as open
                continue
            claimed.append((job, attempt, messages))
        # Read after claiming: keys in another run's intent (being sent, or to be adopted) are not sent again.
        intents = store.batch_intents(engine.purpose, self.spec.model, self.endpoint) if claimed else []
        sending = {key for intent in intents for key in intent.keys}
        for job, attempt, messages in claimed:
            # Between our look and our claim another run may have submitted it.
            rows = store.batch_requests(keys=[job.key])
            if (rows and rows[-1].state == "submitted") or job.key in sending:
                store.release_claims(engine.owner, [job.key])
                elsewhere = True
                continue
            estimate = engine.estimate_usd(messages, batch=True)
            try:
                budget.reserve(estimate)
            except BudgetReached:
                engine.report.stopped_at_cost_limit = True
                store.release_claims(engine.owner, [job.key])
                break
            # Deterministic and unique in the workspace: key, attempt, and how often this attempt was sent.
            round_ = sum(1 for row in rows if row.attempt == attempt)
            custom_id = f"{job.key[:40]}-{attempt}-{round_}"
            self._reserved[custom_id] = estimate
            request = BatchRequest(custom_id, job.key, attempt, _as_rows(messages))
            chosen.append((request, self.vendor.request_line(custom_id, messages, job.spec or self.spec)))
        batch_ids: list[str] = []
        limits = self.vendor.limits
        max_requests = min(limits.max_requests, self.settings.max_requests_per_batch or limits.max_requests)
        chunk: list[tuple[BatchRequest, dict[str, Any]]] = []
        size = 0
        for request, line in chosen:
            length = line_bytes(line)
            if chunk and (len(chunk) >= max_requests or size + length > limits.max_bytes):
                batch_ids.append(await self._create(chunk))
                chunk, size = [], 0
            chunk.append((request, line))
            size += length
        if chunk:
            batch_ids.append(await self._create(chunk))
        return batch_ids, elsewhere

    async def _create(self, chunk: list[tuple[BatchRequest, dict[str, Any]]]) -> str:
        engine, store = self.engine, self.engine.store
        # The intent is recorded before anything reaches the vendor: killed at any point from here to
        # record_batch, the next run finds the batch by its tag instead of paying for it again.
        intent = BatchIntent(uuid.uuid4().hex, self.spec.provider, self.endpoint, engine.purpose, self.spec.model,
                             engine.owner, time.time(), [request for request, _ in chunk])
        store.record_intent(intent)
        try:
            batch_id = await self.vendor.submit(
                [line for _, line in chunk], {"jp_bench_purpose": engine.purpose[:500], INTENT_KEY: intent.tag},
                on_file=lambda file_id: store.note_intent_file(intent.tag, file_id))
        except (PermanentError, TransientError) as exc:
            # The vendor answered with a refusal (4xx): no batch was created. Anything else (no answer, a
            # 5xx, Ctrl-C) leaves the intent for the next run to look up.
            status = getattr(exc, "status", None)
            if isinstance(exc, PermanentError) or (status is not None and 400 <= status < 500):
                store.drop_intent(intent.tag)
            raise
        # Recorded before anything else happens: from here on a re-run polls this batch.
        store.record_batch(BatchRecord(batch_id, self.spec.provider, self.endpoint, engine.purpose,
                                       self.spec.model, time.time(), len(chunk)),
                           intent.requests, intent=intent.tag)
        store.release_claims(engine.owner, [request.key for request, _ in chunk])
        self.report.submitted += len(chunk)
        self.report.batches[batch_id] = BatchProgress(batch_id, "submitted", len(chunk))
        engine.progress()
        return batch_id

    async def _recover(self) -> set[str]:
        """Settle the intents of runs that died while sending a batch (adopt the batch the vendor has, or
        drop the intent when it has none); returns the keys of intents still being sent by a live run."""
        engine, store = self.engine, self.engine.store
        sending: set[str] = set()
        for intent in store.batch_intents(engine.purpose, self.spec.model, self.endpoint):
            if intent.owner == engine.owner or not store.take_intent(intent, engine.owner, engine.lease_s):
                sending.update(intent.keys)  # its run is still sending it (or another run is settling it)
                continue
            try:
                await self._adopt(intent)
            finally:
                store.release_claims(engine.owner, intent.keys)
        return sending

    async def _adopt(self, intent: BatchIntent) -> None:
        store = self.engine.store
        found = [batch_id for batch_id in await self.vendor.find(intent) if not store.knows_batch(batch_id)]
        if not found:
            # The batch was never created (killed before or during the upload): nothing was paid for, and
            # the requests are submitted as usual.
            if intent.file_id is not None:
                await self.vendor.discard_file(intent.file_id)
            store.drop_intent(intent.tag)
            return
        adopted, duplicates = found[0], found[1:] if self.vendor.exact_find else []
        store.record_batch(BatchRecord(adopted, intent.provider, intent.endpoint, intent.purpose, intent.model,
                                       intent.created_at, len(intent.requests)), intent.requests, intent=intent.tag)
        self.report.adopted.append(adopted)
        for duplicate in duplicates:  # the same requests twice: only one batch is kept, the other cancelled
            await self.vendor.cancel(duplicate)
            self.report.cancelled.append(duplicate)
            print(f"jp-bench: batch {duplicate} repeats batch {adopted} (both sent for the same requests by a run "
                  "that was stopped); cancelled it", file=sys.stderr, flush=True)

    async def _poll(self, batches: list[BatchRecord]) -> int:
        """One look at each batch; the results of those that ended are read and stored. Returns how many ended."""
        ended = 0
        for batch in batches:
            state = await self.vendor.state(batch.id)
            progress = self.report.batches.setdefault(batch.id, BatchProgress(batch.id, state.status, batch.requests))
            progress.status, progress.finished, progress.failed = state.status, state.finished, state.failed
            if not state.ended:
                continue
            ended += 1
            await self._collect(batch.id)
        return ended

    async def _collect(self, batch_id: str) -> None:
        store = self.engine.store
        requests = {row.custom_id: row for row in store.batch_requests(batch_id=batch_id)}
        for result in await self.vendor.results(batch_id):
            row = requests.pop(result.custom_id, None)
            if row is None or row.state != "submitted":
                continue  # not ours, or read already (two runs polling one batch)
            self._settle_reservation(result.custom_id, result.completion)
            if result.outcome == "succeeded" and result.completion is not None:
                completion = result.completion
                store.update_batch_request(
                    row.custom_id, state="replied", reply=completion.text, input_tokens=completion.input_tokens,
                    output_tokens=completion.output_tokens,
                    cost_usd=self._cost(completion.input_tokens, completion.output_tokens),
                    details=self._details(row, completion))
            else:
                prefix = _REFUSED if result.refused else ""
                store.update_batch_request(row.custom_id, state="failed", error=f"{prefix}{result.error}")
        for row in requests.values():
            if row.state == "submitted":
                self._settle_reservation(row.custom_id, None)
                store.update_batch_request(row.custom_id, state="failed", error="no result returned")
        store.mark_batch_collected(batch_id)

    def _details(self, row: BatchRequest, completion: Any) -> Any:
        """What the policy keeps besides the reply, read now: the token log-probabilities are not stored."""
        policy = self.engine.policy
        job = self._jobs.get(row.key)
        if policy.describe is None or job is None:
            return None
        try:
            parsed = policy.read(job, completion.text)
        except UnreadableReply:
            return None
        return policy.describe(job, completion, parsed)

    def _settle_reservation(self, custom_id: str, completion: Any) -> None:
        actual = self._cost(completion.input_tokens, completion.output_tokens) if completion is not None else 0.0
        # Requests of an earlier run's batch were never reserved here: only their cost is added.
        self.engine.budget.settle(self._reserved.pop(custom_id, 0.0), actual)
        self.engine.report.spent_usd = self.engine.budget.spent_usd
