"""Batch API bookkeeping in the workspace store: batches, the requests in them, and intents to send one.

The tables are written before and after each vendor call so that a killed run's re-run polls the
batches already paid for (see :mod:`jp_bench.llm.batch`) instead of submitting them again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jp_bench.llm._sqlite import writes
from jp_bench.llm.leases import owner_is_gone


@dataclass(frozen=True)
class BatchRecord:
    """A batch submitted to a vendor's Batch API."""

    id: str
    provider: str
    endpoint: str | None
    purpose: str
    model: str
    submitted_at: float
    requests: int = 0


@dataclass(frozen=True)
class BatchRequest:
    """One request inside a batch; ``custom_id`` is unique across every batch of the workspace."""

    custom_id: str
    key: str
    attempt: int
    messages: list[list[str]]
    batch_id: str = ""
    state: str = "submitted"
    reply: str | None = None
    error: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    details: Any = None


@dataclass(frozen=True)
class BatchIntent:
    """A batch being sent to a vendor, recorded before the vendor is called (table ``batch_intents``)."""

    tag: str
    provider: str
    endpoint: str | None
    purpose: str
    model: str
    owner: str
    created_at: float
    requests: list[BatchRequest]
    file_id: str | None = None

    @property
    def keys(self) -> list[str]:
        return [request.key for request in self.requests]


class BatchBookkeeping:
    """The batch tables' part of :class:`jp_bench.llm.store.Store` (which owns the connection)."""

    path: Path
    _db: sqlite3.Connection

    @writes
    def record_batch(self, batch: BatchRecord, requests: Sequence[BatchRequest], *, intent: str | None = None) -> None:
        """A batch just created at the vendor and the requests in it, in one transaction (which also
        deletes the intent ``intent`` it was sent under: from here on the batch is known by its id)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if intent is not None:
                self._db.execute("DELETE FROM batch_intents WHERE tag = ?", (intent,))
            self._db.execute(
                "INSERT INTO batches VALUES (?, ?, ?, ?, ?, 'open', ?, ?, NULL)",
                (batch.id, batch.provider, batch.endpoint, batch.purpose, batch.model, len(requests),
                 batch.submitted_at))
            self._db.executemany(
                "INSERT OR REPLACE INTO batch_requests (custom_id, batch_id, key, attempt, messages, state)"
                " VALUES (?, ?, ?, ?, ?, 'submitted')",
                [(r.custom_id, batch.id, r.key, r.attempt, json.dumps(r.messages, ensure_ascii=False))
                 for r in requests])
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def open_batches(self, purpose: str, model: str, endpoint: str | None) -> list[BatchRecord]:
        rows = self._db.execute(
            "SELECT id, provider, endpoint, purpose, model, submitted_at, requests FROM batches"
            " WHERE status = 'open' AND purpose = ? AND model = ? AND endpoint IS ? ORDER BY submitted_at",
            (purpose, model, endpoint)).fetchall()
        return [BatchRecord(*row) for row in rows]

    def batch_requests(self, *, batch_id: str | None = None, keys: Sequence[str] | None = None) -> list[BatchRequest]:
        """The requests of one batch, or every batch request made for ``keys`` (oldest first)."""
        columns = ("SELECT custom_id, batch_id, key, attempt, messages, state, reply, error, input_tokens,"
                   " output_tokens, cost_usd, details FROM batch_requests")
        if batch_id is not None:
            rows = self._db.execute(f"{columns} WHERE batch_id = ? ORDER BY rowid", (batch_id,)).fetchall()
        else:
            rows = []
            unique = list(dict.fromkeys(keys or ()))
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                rows += self._db.execute(f"{columns} WHERE key IN ({','.join('?' * len(chunk))}) ORDER BY rowid",
                                         chunk).fetchall()
        return [BatchRequest(row[0], row[2], row[3], json.loads(row[4]), batch_id=row[1], state=row[5],
                             reply=row[6], error=row[7], input_tokens=row[8], output_tokens=row[9],
                             cost_usd=row[10], details=json.loads(row[11]) if row[11] is not None else None)
                for row in rows]

    @writes
    def update_batch_request(self, custom_id: str, *, state: str, reply: str | None = None,
                             error: str | None = None, input_tokens: int = 0, output_tokens: int = 0,
                             cost_usd: float = 0.0, details: Any = None) -> None:
        self._db.execute(
            "UPDATE batch_requests SET state = ?, reply = COALESCE(?, reply), error = ?, input_tokens = ?,"
            " output_tokens = ?, cost_usd = ?, details = COALESCE(?, details) WHERE custom_id = ?",
            (state, reply, error, input_tokens, output_tokens, cost_usd,
             None if details is None else json.dumps(details, ensure_ascii=False), custom_id))

    @writes
    def mark_batch_collected(self, batch_id: str) -> None:
        self._db.execute("UPDATE batches SET status = 'collected', collected_at = ? WHERE id = ?",
                         (time.time(), batch_id))

    def knows_batch(self, batch_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM batches WHERE id = ?", (batch_id,)).fetchone() is not None

    @writes
    def record_intent(self, intent: BatchIntent) -> None:
        """A batch about to be sent (before the vendor is called; see the table ``batch_intents``)."""
        self._db.execute(
            "INSERT INTO batch_intents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (intent.tag, intent.provider, intent.endpoint, intent.purpose, intent.model, intent.owner,
             intent.created_at, intent.file_id,
             json.dumps([[r.custom_id, r.key, r.attempt, r.messages] for r in intent.requests], ensure_ascii=False)))

    @writes
    def note_intent_file(self, tag: str, file_id: str) -> None:
        self._db.execute("UPDATE batch_intents SET file_id = ? WHERE tag = ?", (file_id, tag))

    @writes
    def drop_intent(self, tag: str) -> None:
        self._db.execute("DELETE FROM batch_intents WHERE tag = ?", (tag,))

    def batch_intents(self, purpose: str | None = None, model: str | None = None,
                      endpoint: str | None = None) -> list[BatchIntent]:
        """Batches being sent (or left half-sent by a run that died), oldest first; every one without ``purpose``."""
        query = ("SELECT tag, provider, endpoint, purpose, model, owner, created_at, file_id, requests"
                 " FROM batch_intents")
        rows = (self._db.execute(f"{query} ORDER BY created_at").fetchall() if purpose is None else
                self._db.execute(f"{query} WHERE purpose = ? AND model = ? AND endpoint IS ? ORDER BY created_at",
                                 (purpose, model, endpoint)).fetchall())
        return [BatchIntent(row[0], row[1], row[2], row[3], row[4], row[5], row[6],
                            [BatchRequest(c, k, a, m) for c, k, a, m in json.loads(row[8])], file_id=row[7])
                for row in rows]

    @writes
    def take_intent(self, intent: BatchIntent, owner: str, lease_s: float) -> bool:
        """Make ``owner`` the one who settles ``intent`` (finds its batch at the vendor, or drops it) and claim
        its keys, in one transaction: False when its submitter still runs (a live claim on one of its keys)
        or another run took it first. So one run at most adopts a batch, and nobody submits its keys meanwhile."""
        now = time.time()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._db.execute("SELECT owner FROM batch_intents WHERE tag = ?", (intent.tag,)).fetchone()
            if row is None or row[0] != intent.owner:
                return False
            keys = intent.keys
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                holders = self._db.execute(
                    f"SELECT DISTINCT owner FROM claims WHERE expires_at > ? AND owner != ?"
                    f" AND key IN ({','.join('?' * len(chunk))})", [now, owner, *chunk]).fetchall()
                if any(not owner_is_gone(holder) for (holder,) in holders):
                    return False
            self._db.execute("UPDATE batch_intents SET owner = ? WHERE tag = ?", (owner, intent.tag))
            self._db.executemany("INSERT OR REPLACE INTO claims VALUES (?, ?, ?)",
                                 [(key, owner, now + lease_s) for key in dict.fromkeys(keys)])
            return True
        finally:
            self._db.execute("COMMIT")
