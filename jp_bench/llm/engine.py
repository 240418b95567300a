"""The one engine for every stored model call: judging, seed translation and self-instruct generation.

A caller hands the engine :class:`CallJob` s (a store key and the messages) and a :class:`ReplyPolicy`
(how to read a reply, and how to ask again when the reply lacks what was asked for). The engine owns
everything else, once:

* **the store**: a job whose key is stored is not called (identical prompts are one call); every
  finished call is committed the moment it finishes, so an interrupted run resumes for free;
* **claims**: before a call is sent its key is claimed in the store with a lease; a second process
  working on the same workspace skips claimed keys and picks their results up from the store when
  they land (or does them itself when the lease of a killed process lapses, at once when that
  process ran on this machine), so two processes split
  the work and never pay for one call twice;
* **the budget**: checked when a call is about to be sent (after it got a concurrency slot), with
  calls in flight counted at their estimated cost; once spend + in-flight estimates reach
  ``--max-cost`` nothing more is sent, so a run stops within one concurrency window of the limit
  even when every call starts before any has finished;
* **the error policy**: a call that never got a reply (connection refused, retries exhausted) is not
  stored, so the next run asks again; a request the server refuses (HTTP 400, a content filter) is
  stored as an error for that job; 401/403/404 and a rejected parameter stop the whole run; a run in
  which no call reached the model is an error;
* **stopping at once**: after the first fatal reply no request that has not yet left may leave (the
  gate refuses it, and jobs waiting for a slot or a retry are cancelled), so a refused key costs at
  most the requests already in flight; until some request has had an HTTP answer, at most one
  window of jobs (the client's concurrency) is started, and once a whole window has failed to
  connect through all its retries the run stops with one line, instead of trying every job against
  a host nobody answers on;
* **accounting and progress**: calls, errors, spend and the in-flight estimate, one report.

Retries of transient HTTP failures and the adaptive concurrency limit live in
:class:`jp_bench.llm.client.LLMClient`; Batch APIs in :mod:`jp_bench.llm.batch` (an engine's ``batch``).
Jobs, the reply policy, the budget and the report are :mod:`jp_bench.llm.jobs` (importable from here).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from jp_bench.errors import JpBenchError
from jp_bench.llm._gate import ClaimedElsewhere, DoneElsewhere, Gate, NoReply, RunStopped
from jp_bench.llm.errors import LLMError, PermanentError, TransientError
from jp_bench.llm.jobs import Budget, BudgetReached, CallJob, EngineReport, ProgressHook, ReplyPolicy, UnreadableReply
from jp_bench.llm.store import CallRecord, Store, StoredCall, new_claim_owner
from jp_bench.llm.tokens import estimate_messages_tokens
from jp_bench.llm.types import Message, ModelSpec

# Statuses that mean the whole run is misconfigured (bad key, no access, unknown model): stop.
FATAL_STATUSES = frozenset({401, 403, 404})

# A claim lapses this long after its last renewal; a live process renews its claims every third of it.
DEFAULT_LEASE_S = 60.0


class BatchPath(Protocol):
    """A way to send jobs through a vendor's Batch API (:class:`jp_bench.llm.batch.BatchSettings`).

    The engine knows only this, so the batch path may use the engine without the two importing each other.
    """

    async def run(self, engine: CallEngine, todo: list[CallJob]) -> list[CallJob]:
        """Send ``todo`` as batches; returns the jobs to send live (fallback)."""
        ...


@dataclass
class CallEngine:
    """Runs jobs for one model through the store; see the module docstring for what it owns.

    ``client`` is a :class:`jp_bench.llm.LLMClient` (or anything with ``async complete(messages)``);
    without one, ``client_factory()`` builds it when the first call is needed (never when every
    job is stored) and the engine closes it at the end.
    """

    spec: ModelSpec
    store: Store
    purpose: str
    prompt_version: str | None
    policy: ReplyPolicy = field(default_factory=ReplyPolicy)
    client: Any = None
    client_factory: Callable[[], Any] | None = None
    max_cost_usd: float | None = None
    retry_errors: bool = False
    expected_output_tokens: int = 400
    on_progress: ProgressHook | None = None
    refused_what: str = "the model"  # "the judge refused the request: ..."
    lease_s: float = DEFAULT_LEASE_S
    poll_interval_s: float = 0.25  # how often to look for another process's results
    owner: str = field(default_factory=new_claim_owner)
    # Whether a stored ok call answers the job (False: ask again, e.g. written by something else).
    reusable: Callable[[CallJob, StoredCall], bool] | None = None
    batch: BatchPath | None = None  # jp_bench.llm.batch.BatchSettings: send through the vendor's Batch API
    # The state of the run in progress (reset by run()).
    budget: Budget = field(init=False, default_factory=lambda: Budget(None))
    report: EngineReport = field(init=False, default_factory=EngineReport)
    _todo_count: int = field(init=False, default=0)
    started_at: float = field(init=False, default=0.0)  # when run() began (time.time())
    # Why the run stopped (the first fatal reply, or nobody answering); once set, no request leaves.
    _stop: Exception | None = field(init=False, default=None)
    # Whether any request of this run has had an HTTP answer (a reply or an error status).
    _reached: bool = field(init=False, default=False)
    _changed: asyncio.Event = field(init=False, default_factory=asyncio.Event)

    # ------------------------------------------------------------------------------------ planning

    def pending(self, jobs: Sequence[CallJob]) -> tuple[list[CallJob], dict[str, StoredCall]]:
        """The jobs still to call (one per key) and what the store already has."""
        stored = self.store.get_many(job.key for job in jobs)
        todo: dict[str, CallJob] = {}
        for job in jobs:
            if self.answered(job, stored.get(job.key)):
                continue
            todo.setdefault(job.key, job)
        return list(todo.values()), stored

    def answered(self, job: CallJob, found: StoredCall | None) -> bool:
        """Whether the stored call ``found`` is this job's result (so it is not called again)."""
        if found is None:
            return False
        if not found.ok:
            return not self.retry_errors
        return self.reusable is None or self.reusable(job, found)

    def estimate_usd(self, messages: Sequence[Message], *, batch: bool = False) -> float:
        """The cost a request is counted at while in flight (the API reports the real usage after)."""
        return self.spec.cost_usd(estimate_messages_tokens(list(messages)), self.expected_output_tokens, batch=batch)

    # ------------------------------------------------------------------------------------- running

    async def run(self, jobs: Sequence[CallJob]) -> EngineReport:
        todo, stored = self.pending(jobs)
        keys = {job.key for job in jobs}
        self.report = EngineReport(reused=len(keys) - len(todo),
                                    results={k: v for k, v in stored.items() if k in keys})
        self.budget = Budget(self.max_cost_usd)
        self._todo_count = len(todo)
        self.started_at = time.time()
        self._stop = None
        self._reached = False
        self._changed = asyncio.Event()
        self.progress()
        if not todo:
            return self.report
        owned = self.client is None
        if owned:
            if self.client_factory is None:
                raise JpBenchError(f"a client for {self.spec.model} is needed for calls not in the store")
            self.client = self.client_factory()
        renewer = asyncio.create_task(self._renew_claims())
        try:
            if self.batch is not None:
                todo = await self._run_batches(todo)
            if todo:
                await self._run_jobs(todo)
        finally:
            renewer.cancel()
            self.store.release_claims(self.owner)
            if owned:
                close = getattr(self.client, "aclose", None)
                if close is not None:
                    await close()
                self.client = None
        return self.report

    async def _run_batches(self, todo: list[CallJob]) -> list[CallJob]:
        """Send ``todo`` through the vendor's Batch API; returns the jobs to send live (fallback)."""
        assert self.batch is not None
        try:
            return await self.batch.run(self, todo)
        except PermanentError as exc:
            raise JpBenchError(f"{self.refused_what} refused the batch: {exc}") from None

    async def _run_jobs(self, todo: list[CallJob]) -> None:
        deferred: list[CallJob] = []
        report = self.report
        window = self._probe_window()
        tasks: dict[str, asyncio.Task[None]] = {}
        gates: dict[str, Gate] = {}  # each running job's current gate (in flight while it is reserved)
        # Until something has answered, one window of jobs in all may try: a job that ends without a
        # reply uses its place up; any other ending (claimed elsewhere, the budget) gives it back.
        probe_places = window

        def stop(reason: Exception) -> None:
            """No request that has not left may leave: refuse at the gate, cancel jobs not in flight."""
            if self._stop is not None:
                return
            self._stop = reason
            self._notify()
            current = asyncio.current_task()
            for key, task in tasks.items():
                gate = gates.get(key)
                if task is not current and not task.done() and (gate is None or not gate.reserved):
                    task.cancel()

        async def one(job: CallJob) -> None:
            nonlocal probe_places
            probing = False
            if probe_places is not None:
                while not (self._reached or self._stop is not None or probe_places > 0):
                    await self._changed.wait()
                probing = not self._reached and self._stop is None
                probe_places -= probing
            if self._stop is not None:
                return
            unanswered = False
            try:
                if self.budget.exhausted:
                    report.stopped_at_cost_limit = True
                    return
                unanswered = await self._one(job, gates, deferred, stop)
            except Exception as exc:  # the store failed (disk full, read-only), a bug: nothing more leaves
                stop(exc)
                raise
            finally:
                if probing and not unanswered:
                    probe_places += 1
                if window is not None and report.unreachable >= window and not self._reached:
                    # A whole window failed to connect through all its retries, and nothing ever answered.
                    stop(self._unreachable_error())
                self._notify()

        pending = todo
        elsewhere: list[CallJob] = []  # claimed by another process: done there, or ours once the claim lapses
        while pending or elsewhere:
            deferred.clear()
            tasks.clear()
            gates.clear()
            for job in pending:
                tasks[job.key] = asyncio.ensure_future(one(job))
            # Every job ends (the ones in flight when the run stopped included) before the stop is raised.
            await asyncio.gather(*tasks.values(), return_exceptions=True)
            if self._stop is not None:
                raise self._stop
            elsewhere += deferred
            if not elsewhere or report.stopped_at_cost_limit:
                break
            pending, elsewhere = await self._wait_for_others(elsewhere)
        if report.unreachable and not report.called and not report.by_other_process:
            raise self._unreachable_error()

    async def _one(self, job: CallJob, gates: dict[str, Gate], deferred: list[CallJob],
                   stop: Callable[[Exception], None]) -> bool:
        """One job through :meth:`_call`, its outcome counted in the report (or the run stopped).

        Returns whether the job ended without any reply (the host was not reached)."""
        report = self.report
        try:
            call = await self._call(job, gates)
        except RunStopped:
            return False
        except asyncio.CancelledError:
            if self._stop is None:  # not our stop (Ctrl-C): the whole run is being cancelled
                raise
            return False
        except ClaimedElsewhere:
            deferred.append(job)
            return False
        except BudgetReached:
            report.stopped_at_cost_limit = True
            return False
        except PermanentError as exc:
            if exc.status in FATAL_STATUSES or exc.status is None or exc.param is not None:
                stop(self._refused_error(exc))
                return False
            call = self.record(job, None, None, "error", str(exc), 1, 0, 0, 0.0, time.time())
        except NoReply as exc:
            report.unreachable += 1
            report.last_unreachable = str(exc)
            self.progress()
            return True
        if call is not None:  # None: another process finished it between our look-up and our claim
            report.results[job.key] = call
            report.called += 1
            report.errors += not call.ok
            report.spent_usd = self.budget.spent_usd
            self.progress()
        return False

    def _probe_window(self) -> int | None:
        """How many jobs may run before any request has been answered: the client's concurrency.

        None (no such limit) for a duck-typed client that declares no concurrency of its own."""
        concurrency = getattr(self.client, "concurrency", None)
        return concurrency if isinstance(concurrency, int) and concurrency >= 1 else None

    def _refused_error(self, exc: PermanentError) -> JpBenchError:
        hint = ""
        if exc.param is not None:
            hint = (f" (the server rejects the parameter {exc.param!r} for model {self.spec.model!r}: "
                    "change the model's YAML settings)")
        return JpBenchError(f"{self.refused_what} refused the request: {exc}{hint}")

    def _unreachable_error(self) -> JpBenchError:
        report = self.report
        return JpBenchError(f"no call reached {self.refused_what} ({report.unreachable} tried; last error: "
                            f"{report.last_unreachable}); nothing was stored")

    @property
    def stopped(self) -> bool:
        """Whether the run has stopped (a fatal reply, nobody answering): no request may leave."""
        return self._stop is not None

    def mark_answered(self) -> None:
        """A request had an HTTP answer (a reply or an error status): the host is there."""
        if not self._reached:
            self._reached = True
            self._notify()

    def _notify(self) -> None:
        """Wake every job waiting for the run's state to change (each waits on the event of its time)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _call(self, job: CallJob, gates: dict[str, Gate] | None = None) -> StoredCall | None:
        """Ask until the reply is readable or the policy's attempts are spent; store the outcome."""
        started = time.time()
        messages = list(job.messages)
        input_tokens = output_tokens = 0
        cost = 0.0
        reply: str | None = None
        problem = ""
        claimed = False
        for attempt in range(1, self.policy.attempts + 1):
            gate = Gate(self, job.key, self.estimate_usd(messages), claim=not claimed)
            if gates is not None:
                gates[job.key] = gate
            try:
                completion = await self._send(messages, gate, job.spec)
            except DoneElsewhere as done:
                self.report.reused += 1
                self.report.by_other_process += 1
                self.report.results[job.key] = done.call
                return None
            except (PermanentError, ClaimedElsewhere, BudgetReached, RunStopped):
                raise
            except LLMError as exc:
                if reply is None:  # nothing came back and nothing was paid: not a verdict, ask next run
                    raise NoReply(str(exc)) from None
                return self.record(job, reply, None, "error", str(exc), attempt, input_tokens, output_tokens,
                                    cost, started)
            finally:
                claimed = claimed or gate.claimed
            input_tokens += completion.input_tokens
            output_tokens += completion.output_tokens
            cost += self.spec.cost_usd(completion.input_tokens, completion.output_tokens)
            reply = completion.text
            try:
                parsed = self.policy.read(job, reply)
            except UnreadableReply as exc:
                problem = str(exc)
                if attempt < self.policy.attempts:
                    messages = self.policy.next_messages(job, reply, attempt)
                continue
            details = self.policy.describe(job, completion, parsed) if self.policy.describe else None
            return self.record(job, reply, parsed, "ok", None, attempt, input_tokens, output_tokens, cost, started,
                                details=details)
        return self.record(job, reply, None, "error", self.policy.final_error(problem), self.policy.attempts,
                            input_tokens, output_tokens, cost, started)

    async def _send(self, messages: list[Message], gate: Gate, spec: ModelSpec | None = None) -> Any:
        """One reply through the client; ``gate`` runs each time a request is about to leave."""
        from jp_bench.llm.client import LLMClient

        try:
            if isinstance(self.client, LLMClient):
                completion = await self.client.complete(messages, gate=gate, spec=spec)
            else:
                # A duck-typed client (tests, plugins) has no slot of its own to gate: gate before calling.
                gate.admit()
                try:
                    completion = await self.client.complete(messages)
                except (PermanentError, TransientError) as exc:
                    if exc.status is not None:
                        gate.answered()
                    raise
                gate.answered()
        except BaseException:
            gate.abandon()
            raise
        gate.settle(self.spec.cost_usd(completion.input_tokens, completion.output_tokens))
        return completion

    def record(self, job: CallJob, reply: str | None, parsed: Any, status: str,
                error: str | None, attempts: int, input_tokens: int, output_tokens: int, cost: float,
                started: float, *, details: Any = None) -> StoredCall:
        self.store.put(CallRecord(
            job.key, purpose=self.purpose, model=self.spec.model,
            request=CallRecord.request_of(job.spec or self.spec, job.messages), reply=reply, parsed=parsed,
            status=status, error=error, prompt_version=self.prompt_version,
            attempts=attempts, input_tokens=input_tokens, output_tokens=output_tokens, cost_usd=cost,
            started_at=started, details=details))
        self.store.release_claims(self.owner, [job.key])
        stored = self.store.get(job.key)
        assert stored is not None
        return stored

    # ----------------------------------------------------------------------- two processes, one store

    def done_elsewhere(self, key: str) -> StoredCall | None:
        """The stored call another process made for ``key`` since this run looked, if any."""
        found = self.store.get(key)
        if found is None:
            return None
        if found.ok or not self.retry_errors or found.finished_at >= self.started_at:
            return found
        return None

    async def _wait_for_others(self, jobs: list[CallJob]) -> tuple[list[CallJob], list[CallJob]]:
        """Wait for the jobs another process claimed: their results land in the store, or their
        claims lapse (that process died) and they come back to be done here. Returns the lapsed jobs
        and those still claimed (claims lapse one by one: the later ones must not be forgotten)."""
        waiting = {job.key: job for job in jobs}
        while waiting:
            for key in list(waiting):
                found = self.done_elsewhere(key)
                if found is not None:
                    del waiting[key]
                    self.report.results[key] = found
                    self.report.reused += 1
                    self.report.by_other_process += 1
            if not waiting:
                break
            lapsed = set(self.store.unclaimed(list(waiting)))
            if lapsed:
                return ([job for key, job in waiting.items() if key in lapsed],
                        [job for key, job in waiting.items() if key not in lapsed])
            self.progress()
            await asyncio.sleep(self.poll_interval_s)
        return [], []

    async def _renew_claims(self) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            self.store.renew_claims(self.owner, self.lease_s)

    def progress(self) -> None:
        self.report.in_flight_usd = self.budget.in_flight_usd
        if self.on_progress:
            self.on_progress(self.report, self._todo_count)


