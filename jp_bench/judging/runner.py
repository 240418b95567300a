"""Running a plan: look every judgment up in the store, call the judge for the rest, record each.

A reply without a verdict is asked again (once as is, then with a short request for the verdict
alone); if it still has none, the judgment is stored as an error: never a win, loss or tie.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jp_bench.errors import JpBenchError
from jp_bench.judging.plan import JudgeTask, Plan
from jp_bench.judging.verdicts import parse_pairwise_verdict, parse_score
from jp_bench.llm.errors import LLMError, PermanentError
from jp_bench.llm.tokens import estimate_messages_tokens
from jp_bench.llm.types import Message, ModelSpec
from jp_bench.store import CallRecord, Store, StoredCall

# Statuses that mean the whole run is misconfigured (bad key, no access, unknown model): stop.
_FATAL_STATUSES = {401, 403, 404}

VERDICT_REMINDER = {
    "pairwise": "判定だけを最後の行に [[A]]、[[B]]、[[C]] のいずれか一つで書いてください。",
    "single": "点数だけを最後の行に [[1]] から [[10]] の形で書いてください。",
}


def parse_reply(kind: str, text: str) -> Any:
    return parse_pairwise_verdict(text) if kind == "pairwise" else parse_score(text)


@dataclass(frozen=True)
class CostEstimate:
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


def estimate_cost(tasks: list[JudgeTask], spec: ModelSpec, expected_output_tokens: int) -> CostEstimate:
    input_tokens = sum(estimate_messages_tokens(list(task.messages)) for task in tasks)
    output_tokens = expected_output_tokens * len(tasks)
    return CostEstimate(len(tasks), input_tokens, output_tokens, spec.cost_usd(input_tokens, output_tokens))


@dataclass
class RunReport:
    reused: int = 0
    called: int = 0
    errors: int = 0
    spent_usd: float = 0.0
    stopped_at_cost_limit: bool = False
    # Calls that never got a reply (connection refused, DNS, timeouts, retries exhausted): not
    # verdicts, so nothing is stored and the next run asks again.
    unreachable: int = 0
    last_unreachable: str | None = None
    results: dict[str, StoredCall] = field(default_factory=dict)


class _NoReply(Exception):
    """A judgment got no reply at all; carries the last transport error."""


@dataclass
class JudgeRunner:
    """Executes the tasks of a plan against one judge, through the store."""

    spec: ModelSpec
    store: Store
    client: Any  # jp_bench.llm.LLMClient (duck-typed so tests can pass a stand-in)
    purpose: str
    prompt_version: str
    verdict_attempts: int = 3
    max_cost_usd: float | None = None
    retry_errors: bool = False
    on_progress: Callable[[RunReport, int], None] | None = None

    def pending(self, plan: Plan) -> tuple[list[JudgeTask], dict[str, StoredCall]]:
        stored = self.store.get_many(task.key for task in plan.tasks)
        todo: dict[str, JudgeTask] = {}
        for task in plan.tasks:
            found = stored.get(task.key)
            if found is not None and (found.ok or not self.retry_errors):
                continue
            todo.setdefault(task.key, task)  # identical prompts are one call
        return list(todo.values()), stored

    async def run(self, plan: Plan) -> RunReport:
        todo, stored = self.pending(plan)
        report = RunReport(reused=len({t.key for t in plan.tasks}) - len(todo), results=dict(stored))
        if self.on_progress:
            self.on_progress(report, len(todo))
        fatal: list[BaseException] = []

        async def one(task: JudgeTask) -> None:
            if fatal or self._over_budget(report):
                report.stopped_at_cost_limit = report.stopped_at_cost_limit or self._over_budget(report)
                return
            try:
                call = await self._judge(task)
            except PermanentError as exc:
                if exc.status in _FATAL_STATUSES or exc.status is None:
                    fatal.append(exc)
                    return
                call = self._record(task, None, None, "error", str(exc), 1, 0, 0, 0.0, time.time())
            except _NoReply as exc:
                report.unreachable += 1
                report.last_unreachable = str(exc)
                if self.on_progress:
                    self.on_progress(report, len(todo))
                return
            report.results[task.key] = call
            report.called += 1
            report.errors += not call.ok
            report.spent_usd += call.cost_usd
            if self.on_progress:
                self.on_progress(report, len(todo))

        await asyncio.gather(*(one(task) for task in todo))
        if fatal:
            raise JpBenchError(f"the judge refused the request: {fatal[0]}")
        if report.unreachable and not report.called:
            raise JpBenchError(f"no call reached the judge ({report.unreachable} tried; last error: "
                               f"{report.last_unreachable}); nothing was stored")
        return report

    def _over_budget(self, report: RunReport) -> bool:
        return self.max_cost_usd is not None and report.spent_usd >= self.max_cost_usd

    async def _judge(self, task: JudgeTask) -> StoredCall:
        started = time.time()
        messages = list(task.messages)
        input_tokens = output_tokens = 0
        cost = 0.0
        reply: str | None = None
        for attempt in range(1, self.verdict_attempts + 1):
            try:
                completion = await self.client.complete(messages)
            except PermanentError:
                raise
            except LLMError as exc:
                if reply is None:  # nothing came back and nothing was paid: not a verdict, ask next run
                    raise _NoReply(str(exc)) from None
                return self._record(task, reply, None, "error", str(exc), attempt, input_tokens, output_tokens,
                                    cost, started)
            input_tokens += completion.input_tokens
            output_tokens += completion.output_tokens
            cost += self.spec.cost_usd(completion.input_tokens, completion.output_tokens)
            reply = completion.text
            parsed = parse_reply(task.kind, reply)
            if parsed is not None:
                return self._record(task, reply, parsed, "ok", None, attempt, input_tokens, output_tokens, cost,
                                    started)
            if attempt >= 2:
                # Ask for the verdict alone, showing the judge its own reasoning.
                messages = [*task.messages, Message("assistant", reply), Message("user", VERDICT_REMINDER[task.kind])]
        return self._record(task, reply, None, "error", "no verdict in the judge's reply", self.verdict_attempts,
                            input_tokens, output_tokens, cost, started)

    def _record(self, task: JudgeTask, reply: str | None, parsed: Any, status: str, error: str | None,
                attempts: int, input_tokens: int, output_tokens: int, cost: float, started: float) -> StoredCall:
        self.store.put(CallRecord(
            task.key, purpose=self.purpose, model=self.spec.model,
            request=CallRecord.request_of(self.spec, task.messages), reply=reply, parsed=parsed, status=status,
            error=error, prompt_version=self.prompt_version,
            attempts=attempts, input_tokens=input_tokens, output_tokens=output_tokens, cost_usd=cost,
            started_at=started))
        stored = self.store.get(task.key)
        assert stored is not None
        return stored
