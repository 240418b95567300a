"""The workspace store: one SQLite file (WAL) holding every finished model call.

A call's key is a hash of everything that determines its reply: the model's identity (provider,
model, sampling parameters) and the exact messages sent. Re-running a command looks calls up by key,
so nothing finished is paid for twice; changing the judge or the rendered prompt changes the key.
Each call is committed the moment it finishes, so a crash loses at most the calls in flight.

The same file holds the Batch API bookkeeping (:mod:`jp_bench.llm.batch_records`) and the claims that
keep two processes off each other's calls (:mod:`jp_bench.llm.leases`); :class:`Store` is all three.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jp_bench.errors import JpBenchError
from jp_bench.llm._sqlite import (
    SCHEMA,
    SCHEMA_VERSION,
    StoreOpenError,
    StoreWriteError,
    check_not_cut_short,
    check_schema,
    migrate,
    writes,
)
from jp_bench.llm.batch_records import BatchBookkeeping, BatchIntent, BatchRecord, BatchRequest
from jp_bench.llm.leases import Leases, new_claim_owner, owner_is_gone
from jp_bench.llm.types import Message, ModelSpec

__all__ = [
    "SCHEMA_VERSION",
    "BatchIntent",
    "BatchRecord",
    "BatchRequest",
    "CallRecord",
    "Store",
    "StoreOpenError",
    "StoreWriteError",
    "StoredCall",
    "call_key",
    "new_claim_owner",
    "owner_is_gone",
]


def call_key(spec: ModelSpec, messages: Sequence[Message]) -> str:
    payload = {"model": spec.identity(), "messages": [[m.role, m.content] for m in messages]}
    canonical = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CallRecord:
    """A finished model call as it is stored: what was asked (``request``) and what came back."""

    key: str
    purpose: str
    model: str
    request: dict[str, Any]
    reply: str | None
    parsed: Any
    status: str
    error: str | None = None
    prompt_version: str | None = None
    attempts: int = 1
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    started_at: float | None = None
    details: Any = None

    @staticmethod
    def request_of(spec: ModelSpec, messages: Sequence[Message]) -> dict[str, Any]:
        """The stored form of a request: the model's identity and the exact messages (as in the key)."""
        return {"model": spec.identity(), "messages": [[m.role, m.content] for m in messages]}


@dataclass(frozen=True)
class StoredCall:
    key: str
    purpose: str
    prompt_version: str | None
    model: str
    reply: str | None
    parsed: Any
    status: str
    error: str | None
    attempts: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    finished_at: float
    details: Any = None  # e.g. the judge's verdict probabilities (weighted judges)
    started_at: float | None = None  # when the call was sent (None: not recorded, e.g. a batch call)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class Store(BatchBookkeeping, Leases):
    """A thin, synchronous wrapper; used from one thread (the event loop's). Several processes may
    share one file: SQLite serialises their writes, and :meth:`claim` keeps them off each other's calls."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            check_not_cut_short(self.path)  # before connecting: see cut_short
            # isolation_level=None: autocommit, so every finished call is durable immediately.
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        except (OSError, sqlite3.Error) as exc:
            raise StoreOpenError(self.path, exc) from None
        try:
            # Before anything is written (WAL mode too): a file not ours stays as it was.
            check_schema(self._db, self.path)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            migrate(self._db)
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        except (OSError, sqlite3.Error) as exc:
            self._db.close()
            raise StoreOpenError(self.path, exc) from None
        except JpBenchError:
            self._db.close()
            raise

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, key: str) -> StoredCall | None:
        row = self._db.execute(
            "SELECT key, purpose, prompt_version, model, reply, parsed, status, error, attempts, input_tokens,"
            " output_tokens, cost_usd, finished_at, details, started_at FROM calls WHERE key = ?",
            (key,),
        ).fetchone()
        return None if row is None else _row_to_call(row)

    def get_many(self, keys: Iterable[str]) -> dict[str, StoredCall]:
        found: dict[str, StoredCall] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):  # stay under SQLite's host-parameter limit
            chunk = unique[start : start + 500]
            rows = self._db.execute(
                "SELECT key, purpose, prompt_version, model, reply, parsed, status, error, attempts, input_tokens,"
                " output_tokens, cost_usd, finished_at, details, started_at FROM calls"
                f" WHERE key IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            found.update({row[0]: _row_to_call(row) for row in rows})
        return found

    @writes
    def put(self, record: CallRecord) -> None:
        """Record a finished call (replacing an earlier error for the same key, if any)."""
        self._db.execute(
            "INSERT OR REPLACE INTO calls (key, purpose, prompt_version, model, request, reply, parsed, status, error,"
            " attempts, input_tokens, output_tokens, cost_usd, started_at, finished_at, details)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.key, record.purpose, record.prompt_version, record.model,
                json.dumps(record.request, ensure_ascii=False), record.reply,
                json.dumps(record.parsed, ensure_ascii=False), record.status, record.error, record.attempts,
                record.input_tokens, record.output_tokens, record.cost_usd, record.started_at, time.time(),
                None if record.details is None else json.dumps(record.details, ensure_ascii=False),
            ),
        )

    def count(self, purpose: str | None = None) -> int:
        if purpose is None:
            return self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
        return self._db.execute("SELECT COUNT(*) FROM calls WHERE purpose = ?", (purpose,)).fetchone()[0]


def _row_to_call(row: Sequence[Any]) -> StoredCall:
    return StoredCall(
        key=row[0], purpose=row[1], prompt_version=row[2], model=row[3], reply=row[4],
        parsed=json.loads(row[5]) if row[5] is not None else None, status=row[6], error=row[7],
        attempts=row[8], input_tokens=row[9], output_tokens=row[10], cost_usd=row[11], finished_at=row[12],
        details=json.loads(row[13]) if len(row) > 13 and row[13] is not None else None,
        started_at=row[14] if len(row) > 14 else None,
    )

