"""What a caller hands the call engine and what it gets back: jobs, the reply policy, the budget, the report.

Kept apart from :mod:`jp_bench.llm.engine` so that the Batch API path (:mod:`jp_bench.llm.batch`) and the
engine share these types without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from jp_bench.llm.store import StoredCall
from jp_bench.llm.types import Message, ModelSpec


class UnreadableReply(Exception):
    """Raised by a :class:`ReplyPolicy` reader: the reply lacks what was asked for (the message says what)."""


@dataclass(frozen=True)
class CallJob:
    """One stored call to make: its store key, the messages, and what the caller's reader needs."""

    key: str
    messages: tuple[Message, ...]
    context: Any = None
    # The request's own spec when it differs from the engine's in what is sent, not in price or
    # endpoint (judge sample k of --samples N); None: the engine's.
    spec: ModelSpec | None = None


def _read_anything(job: CallJob, reply: str) -> Any:  # noqa: ARG001 (a ReplyPolicy reader's signature)
    """The default reader: every reply is kept as it is; the caller reads it later (the generator)."""
    return None


@dataclass(frozen=True)
class ReplyPolicy:
    """What belongs to the caller: reading a reply and asking again.

    ``read`` returns the parsed value stored with the reply, or raises :class:`UnreadableReply`.
    ``attempts`` is how many replies one job may ask for in all; after ``n`` unreadable replies the
    next request is ``follow_up(job, last_reply, n)`` (None: the same messages again).
    ``final_error`` turns the last problem into the stored error text.
    ``describe(job, completion, parsed)`` keeps what else a readable reply carries (the judge's
    verdict probabilities from the token log-probabilities), stored as the call's ``details``.
    """

    read: Callable[[CallJob, str], Any] = _read_anything
    attempts: int = 1
    follow_up: Callable[[CallJob, str, int], Sequence[Message]] | None = None
    final_error: Callable[[str], str] = str
    describe: Callable[[CallJob, Any, Any], Any] | None = None

    def next_messages(self, job: CallJob, reply: str, unreadable: int) -> list[Message]:
        if self.follow_up is None:
            return list(job.messages)
        return list(self.follow_up(job, reply, unreadable))


class BudgetReached(Exception):
    """The next request would take spend plus the in-flight estimate past the limit: it is not sent."""



@dataclass
class Budget:
    """Spend so far plus the estimated cost of the requests in flight, against a limit."""

    limit_usd: float | None
    spent_usd: float = 0.0
    in_flight_usd: float = 0.0

    @property
    def exhausted(self) -> bool:
        return self.limit_usd is not None and self.spent_usd + self.in_flight_usd >= self.limit_usd

    def reserve(self, estimate_usd: float) -> None:
        """Count a request about to be sent, or raise BudgetReached once spend plus the in-flight
        estimate has reached the limit. (Refusing a request whose own estimate would pass the limit
        would stop runs whose estimates are far above what the judge really uses, before the first call.)"""
        if self.exhausted:
            raise BudgetReached
        self.in_flight_usd += estimate_usd

    def settle(self, estimate_usd: float, actual_usd: float) -> None:
        self.in_flight_usd = max(0.0, self.in_flight_usd - estimate_usd)
        self.spent_usd += actual_usd


@dataclass
class EngineReport:
    """What a run did. ``results`` holds every job's stored call (reused or new) by key."""

    reused: int = 0
    called: int = 0
    errors: int = 0
    spent_usd: float = 0.0
    in_flight_usd: float = 0.0
    stopped_at_cost_limit: bool = False
    # Calls that never got a reply (connection refused, DNS, timeouts, retries exhausted): not
    # verdicts, so nothing is stored and the next run asks again.
    unreachable: int = 0
    last_unreachable: str | None = None
    by_other_process: int = 0  # results another process on the same workspace produced meanwhile
    batch: Any = None  # jp_bench.llm.batch.BatchReport when the run went through a Batch API
    results: dict[str, StoredCall] = field(default_factory=dict)


ProgressHook = Callable[[EngineReport, int], None]
