"""The gate each request passes the moment it is about to be sent: the claim (once), then the budget.

Private to the call engine (:mod:`jp_bench.llm.engine`); the engine is seen here only through
:class:`GateHost`, so this module imports nothing of the engine's.
"""

from __future__ import annotations

from typing import Protocol

from jp_bench.llm.jobs import Budget
from jp_bench.llm.store import Store, StoredCall


class ClaimedElsewhere(Exception):
    """Another process holds the claim on this key; its result will be read from the store."""


class NoReply(Exception):
    """A job got no reply at all; carries the last transport error."""


class RunStopped(Exception):
    """The run has stopped (a fatal reply, or a judge nobody answers): this request must not leave."""


class GateHost(Protocol):
    """What a gate needs of the engine whose request it lets go."""

    store: Store
    owner: str
    lease_s: float
    budget: Budget

    @property
    def stopped(self) -> bool: ...

    def done_elsewhere(self, key: str) -> StoredCall | None: ...

    def mark_answered(self) -> None: ...


class DoneElsewhere(Exception):
    """Another process stored this job's result after this run looked: use it, send nothing."""

    def __init__(self, call: StoredCall) -> None:
        super().__init__(call.key)
        self.call = call


class Gate:
    """What happens each time one request is about to be sent: the claim (once), then the budget.

    :class:`jp_bench.llm.client.LLMClient` calls :meth:`admit` inside its concurrency slot before every
    HTTP attempt, :meth:`answered` when the attempt had an HTTP answer (a reply or an error status),
    and :meth:`abandon` after an attempt that failed (nothing was paid for it).
    """

    def __init__(self, engine: GateHost, key: str, estimate_usd: float, claim: bool) -> None:
        self.engine, self.key, self.estimate_usd, self.claim = engine, key, estimate_usd, claim
        self.claimed = False
        self.reserved = False

    def admit(self) -> None:
        """Let the request go, or raise RunStopped / BudgetReached / ClaimedElsewhere / DoneElsewhere."""
        engine = self.engine
        if engine.stopped:
            raise RunStopped
        if self.claim and not self.claimed:
            state = engine.store.claim(self.key, engine.owner, engine.lease_s)
            if state == "taken":
                raise ClaimedElsewhere
            done = engine.done_elsewhere(self.key)
            if done is not None:
                engine.store.release_claims(engine.owner, [self.key])
                raise DoneElsewhere(done)
            self.claimed = True
        engine.budget.reserve(self.estimate_usd)
        self.reserved = True

    def answered(self) -> None:
        """The request had an HTTP answer, whatever its status (the client tells us)."""
        self.engine.mark_answered()

    def abandon(self) -> None:
        if self.reserved:
            self.reserved = False
            self.engine.budget.settle(self.estimate_usd, 0.0)

    def settle(self, actual_usd: float) -> None:
        if self.reserved:
            self.reserved = False
            self.engine.budget.settle(self.estimate_usd, actual_usd)
