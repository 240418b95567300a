"""The workspace store: one SQLite file (WAL) holding every finished model call.

A call's key is a hash of everything that determines its reply: the model's identity (provider,
model, sampling parameters) and the exact messages sent. Re-running a command looks calls up by key,
so nothing finished is paid for twice; changing the judge or the rendered prompt changes the key.
Each call is committed the moment it finishes, so a crash loses at most the calls in flight.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from jp_bench.errors import JpBenchError
from jp_bench.llm.types import Message, ModelSpec

SCHEMA_VERSION = 2  # 2: calls.details and batch_requests.details (probability-weighted verdicts)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS calls (
    key            TEXT PRIMARY KEY,
    purpose        TEXT NOT NULL,          -- e.g. "judge:gpt-4o"
    prompt_version TEXT,
    model          TEXT NOT NULL,
    request        TEXT NOT NULL,          -- JSON: model identity + messages (never a secret)
    reply          TEXT,
    parsed         TEXT,                   -- the verdict or score read from the reply, JSON
    details        TEXT,                   -- what else the caller read from the reply (verdict probabilities), JSON
    status         TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    error          TEXT,
    attempts       INTEGER NOT NULL DEFAULT 1,
    input_tokens   INTEGER NOT NULL DEFAULT 0,
    output_tokens  INTEGER NOT NULL DEFAULT 0,
    cost_usd       REAL NOT NULL DEFAULT 0,
    started_at     REAL,
    finished_at    REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_purpose ON calls (purpose);
-- A call being made right now by some process: others skip it until it lands in calls or the lease
-- lapses (a killed process renews nothing).
-- Batch API submissions: recorded the moment a batch is created, before any polling, so a killed
-- process's re-run polls the same batches instead of paying again.
CREATE TABLE IF NOT EXISTS batches (
    id           TEXT PRIMARY KEY,
    provider     TEXT NOT NULL,
    endpoint     TEXT,
    purpose      TEXT NOT NULL,
    model        TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('open', 'collected')),
    requests     INTEGER NOT NULL,
    submitted_at REAL NOT NULL,
    collected_at REAL
);
CREATE TABLE IF NOT EXISTS batch_requests (
    custom_id     TEXT PRIMARY KEY,
    batch_id      TEXT NOT NULL,
    key           TEXT NOT NULL,          -- the store key the request answers
    attempt       INTEGER NOT NULL,       -- 1, or 2.. for a re-ask after a reply without what was asked
    messages      TEXT NOT NULL,          -- JSON [[role, content], ...] as sent in this attempt
    state         TEXT NOT NULL CHECK (state IN ('submitted', 'replied', 'unreadable', 'failed', 'done')),
    reply         TEXT,
    details       TEXT,                   -- JSON, read from the reply when it came (as calls.details)
    error         TEXT,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd      REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS batch_requests_key ON batch_requests (key);
CREATE INDEX IF NOT EXISTS batch_requests_batch ON batch_requests (batch_id);
-- A batch about to be sent: written before anything reaches the vendor and deleted in the transaction
-- that records the created batch. One left behind (a kill or Ctrl-C in between) is looked up at the
-- vendor by its tag on the next run, and adopted instead of submitted again.
CREATE TABLE IF NOT EXISTS batch_intents (
    tag        TEXT PRIMARY KEY,        -- sent with the batch (OpenAI: metadata jp_bench_intent)
    provider   TEXT NOT NULL,
    endpoint   TEXT,
    purpose    TEXT NOT NULL,
    model      TEXT NOT NULL,
    owner      TEXT NOT NULL,           -- the claim owner submitting it (see claims)
    created_at REAL NOT NULL,           -- just before the vendor was called
    file_id    TEXT,                    -- OpenAI: the uploaded input file, once the upload answered
    requests   TEXT NOT NULL            -- JSON [[custom_id, key, attempt, messages], ...]
);
CREATE TABLE IF NOT EXISTS claims (
    key        TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""


def _cut_short(path: Path) -> bool:
    """Whether the file is shorter than the page count its SQLite header states (a truncated copy), which
    SQLite itself only notices when it reads a missing page, in the middle of a run. The count is valid
    only when the header says so (bytes 92-95 equal the change counter, bytes 24-27)."""
    try:
        with path.open("rb") as file:
            header = file.read(100)
        size = path.stat().st_size
    except OSError:
        return False
    if len(header) < 100 or header[92:96] != header[24:28]:
        return False
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    return int.from_bytes(header[28:32], "big") * page_size > size


class StoreOpenError(JpBenchError):
    """A workspace store that cannot be opened: one line naming the file and what is wrong with it."""

    def __init__(self, path: Path, error: BaseException) -> None:
        text = str(error)
        if "not a database" in text or "malformed" in text:
            why = "not a SQLite database, or a damaged one (a store is a file jp-bench made); give another --workspace"
        elif "readonly" in text or isinstance(error, PermissionError):
            why = f"cannot be written ({text}); jp-bench records every finished call in it: make it writable"
        elif "unable to open" in text:
            why = f"cannot be opened ({text}): a folder, or a folder that is not writable?"
        else:
            why = f"cannot be used as a workspace store ({text})"
        super().__init__(f"{path}: {why}")


class StoreWriteError(JpBenchError):
    """The store could not be written during a run (disk full, a read-only file): one line, not a traceback."""


_Method = TypeVar("_Method", bound=Any)


def _writes(method: _Method) -> _Method:
    """A store method that writes: SQLite's own failure (``database or disk is full``, ``attempt to write
    a readonly database``) becomes one line naming the store, so a run ends with what happened and
    where instead of a traceback. What was committed before stays; the calls in flight are lost."""
    @functools.wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.OperationalError as exc:
            raise StoreWriteError(
                f"{self.path}: the workspace store could not be written ({exc}); every call stored before is "
                "kept, the calls in flight are lost: make room (or make the file writable) and run the same "
                "command again") from None
    return wrapper  # type: ignore[return-value]


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

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class Store:
    """A thin, synchronous wrapper; used from one thread (the event loop's). Several processes may
    share one file: SQLite serialises their writes, and :meth:`claim` keeps them off each other's calls."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: autocommit, so every finished call is durable immediately.
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        except (OSError, sqlite3.Error) as exc:
            raise StoreOpenError(self.path, exc) from None
        try:
            self._check_schema()  # before anything is written (WAL mode too): a file not ours stays as it was
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._migrate()
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        except (OSError, sqlite3.Error) as exc:
            self._db.close()
            raise StoreOpenError(self.path, exc) from None
        except JpBenchError:
            self._db.close()
            raise

    def _check_schema(self) -> None:
        """One line for a SQLite file this jp-bench cannot use: made by a newer jp-bench (never rewritten to
        this version's number), or another program's tables under our names. Other tables are left alone
        (``jp-bench annotate`` keeps its votes in the same file)."""
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if _cut_short(self.path):
            raise JpBenchError(f"{self.path}: a damaged SQLite database (the file is shorter than its header says: "
                               "cut short by a copy or a full disk?); give another --workspace")
        if "meta" in tables:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = str(row[0]) if row is not None else None
            if version is not None and not version.isdigit():
                raise JpBenchError(f"{self.path}: not a jp-bench store (its schema_version is {version!r})")
            if version is not None and int(version) > SCHEMA_VERSION:
                raise JpBenchError(f"{self.path}: made by a newer jp-bench (store schema {version}; this one reads "
                                   f"up to {SCHEMA_VERSION}): upgrade jp-bench, or give another --workspace")
        # The columns each of our tables must have, read from the schema itself (older stores lack only
        # the columns _migrate adds).
        expected = sqlite3.connect(":memory:")
        try:
            expected.executescript(_SCHEMA)
            for table in sorted(tables & {row[0] for row in expected.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")}):
                want = {row[1] for row in expected.execute(f"PRAGMA table_info({table})")} - {"details"}
                missing = want - {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
                if missing:
                    raise JpBenchError(f"{self.path}: not a jp-bench store (its table {table!r} has no column "
                                       f"{sorted(missing)[0]!r}: another program's database?); give another "
                                       "--workspace")
        finally:
            expected.close()

    def _migrate(self) -> None:
        # A store written by an older jp-bench keeps every call; the new columns start empty.
        for table in ("calls", "batch_requests"):
            columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if "details" not in columns:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN details TEXT")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, key: str) -> StoredCall | None:
        row = self._db.execute(
            "SELECT key, purpose, prompt_version, model, reply, parsed, status, error, attempts, input_tokens,"
            " output_tokens, cost_usd, finished_at, details FROM calls WHERE key = ?",
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
                " output_tokens, cost_usd, finished_at, details FROM calls"
                f" WHERE key IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            found.update({row[0]: _row_to_call(row) for row in rows})
        return found

    @_writes
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

    # ------------------------------------------------------------------------------------ batches

    @_writes
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

    @_writes
    def update_batch_request(self, custom_id: str, *, state: str, reply: str | None = None,
                             error: str | None = None, input_tokens: int = 0, output_tokens: int = 0,
                             cost_usd: float = 0.0, details: Any = None) -> None:
        self._db.execute(
            "UPDATE batch_requests SET state = ?, reply = COALESCE(?, reply), error = ?, input_tokens = ?,"
            " output_tokens = ?, cost_usd = ?, details = COALESCE(?, details) WHERE custom_id = ?",
            (state, reply, error, input_tokens, output_tokens, cost_usd,
             None if details is None else json.dumps(details, ensure_ascii=False), custom_id))

    @_writes
    def mark_batch_collected(self, batch_id: str) -> None:
        self._db.execute("UPDATE batches SET status = 'collected', collected_at = ? WHERE id = ?",
                         (time.time(), batch_id))

    def knows_batch(self, batch_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM batches WHERE id = ?", (batch_id,)).fetchone() is not None

    @_writes
    def record_intent(self, intent: BatchIntent) -> None:
        """A batch about to be sent (before the vendor is called; see the table ``batch_intents``)."""
        self._db.execute(
            "INSERT INTO batch_intents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (intent.tag, intent.provider, intent.endpoint, intent.purpose, intent.model, intent.owner,
             intent.created_at, intent.file_id,
             json.dumps([[r.custom_id, r.key, r.attempt, r.messages] for r in intent.requests], ensure_ascii=False)))

    @_writes
    def note_intent_file(self, tag: str, file_id: str) -> None:
        self._db.execute("UPDATE batch_intents SET file_id = ? WHERE tag = ?", (file_id, tag))

    @_writes
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

    @_writes
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

    # ----------------------------------------------------------------- claims (two processes, one store)

    @_writes
    def claim(self, key: str, owner: str, lease_s: float) -> str:
        """Claim ``key`` for ``owner`` for ``lease_s`` seconds: ``"mine"``, or ``"taken"`` when another
        owner holds a live claim. One write transaction, so two processes cannot both win. A claim of
        a process of this machine that no longer runs is not live, whatever its lease says."""
        now = time.time()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._db.execute("SELECT owner, expires_at FROM claims WHERE key = ?", (key,)).fetchone()
            if row is not None and row[0] != owner and row[1] > now and not owner_is_gone(row[0]):
                return "taken"
            self._db.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?)", (key, owner, now + lease_s))
            return "mine"
        finally:
            self._db.execute("COMMIT")

    @_writes
    def renew_claims(self, owner: str, lease_s: float) -> None:
        self._db.execute("UPDATE claims SET expires_at = ? WHERE owner = ?", (time.time() + lease_s, owner))

    @_writes
    def release_claims(self, owner: str, keys: Sequence[str] | None = None) -> None:
        """Drop ``owner``'s claims on ``keys`` (all of them when None)."""
        if keys is None:
            self._db.execute("DELETE FROM claims WHERE owner = ?", (owner,))
            return
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            self._db.execute(f"DELETE FROM claims WHERE owner = ? AND key IN ({','.join('?' * len(chunk))})",
                             [owner, *chunk])

    def unclaimed(self, keys: Sequence[str]) -> list[str]:
        """The keys nobody holds a live claim on (see :meth:`claim`)."""
        now = time.time()
        live: set[str] = set()
        gone: dict[str, bool] = {}  # one liveness check per owner
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            rows = self._db.execute(
                f"SELECT key, owner FROM claims WHERE expires_at > ? AND key IN ({','.join('?' * len(chunk))})",
                [now, *chunk]).fetchall()
            live.update(key for key, owner in rows if not gone.setdefault(owner, owner_is_gone(owner)))
        return [key for key in keys if key not in live]

    def count(self, purpose: str | None = None) -> int:
        if purpose is None:
            return self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
        return self._db.execute("SELECT COUNT(*) FROM calls WHERE purpose = ?", (purpose,)).fetchone()[0]



def new_claim_owner() -> str:
    """A claim owner's name: this machine, this process, and a random part (two engines of one process
    are two owners). :func:`owner_is_gone` reads the first two back."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_gone(owner: str) -> bool:
    """Whether ``owner`` names a process of this machine that no longer runs (killed, crashed).

    Its claims need not wait for their lease: a re-run right after a SIGKILL resumes at once instead
    of waiting up to a lease for claims nobody will ever release. Anything uncertain (another machine
    sharing the workspace, an owner written by an older jp-bench, a process id now reused) counts as
    alive, and its claims lapse with their lease as before.
    """
    host, _, rest = owner.partition(":")
    pid_text, _, _ = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process: it exists
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed child its parent has not reaped yet still has a process id, but runs no more (Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].startswith("Z")  # the state follows the parenthesised name


def _row_to_call(row: Sequence[Any]) -> StoredCall:
    return StoredCall(
        key=row[0], purpose=row[1], prompt_version=row[2], model=row[3], reply=row[4],
        parsed=json.loads(row[5]) if row[5] is not None else None, status=row[6], error=row[7],
        attempts=row[8], input_tokens=row[9], output_tokens=row[10], cost_usd=row[11], finished_at=row[12],
        details=json.loads(row[13]) if len(row) > 13 and row[13] is not None else None,
    )
