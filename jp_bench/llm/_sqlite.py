"""The workspace store's SQLite file: its schema, the checks before it is used, and its one-line errors.

Shared by the three parts of :class:`jp_bench.llm.store.Store` (the call cache, the batch bookkeeping in
:mod:`jp_bench.llm.batch_records`, the claims in :mod:`jp_bench.llm.leases`): one file, one schema.
"""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path
from typing import Any, TypeVar

from jp_bench.errors import JpBenchError

SCHEMA_VERSION = 2  # 2: calls.details and batch_requests.details (probability-weighted verdicts)
SCHEMA = """
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


def cut_short(path: Path) -> bool:
    """Whether the file is shorter than the page count its SQLite header states (a truncated copy), which
    SQLite itself only notices when it reads a missing page, in the middle of a run. The count is valid
    only when the header says so (bytes 92-95 equal the change counter, bytes 24-27).

    Called before this process connects, and only when no connection is open anywhere (a store in use
    has its ``-wal`` file): POSIX drops every lock a process holds on a file when it closes ANY
    descriptor of it, so reading the header beside an open connection would let another process take
    the WAL from under it (two processes then no longer see each other's claims and both pay)."""
    if Path(f"{path}-wal").exists():
        return False
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


Method = TypeVar("Method", bound=Any)


def writes(method: Method) -> Method:
    """A store method that writes: SQLite's own failure (``database or disk is full``, ``attempt to write
    a readonly database``) becomes one line naming the store, so a run ends with what happened and
    where instead of a traceback. What was committed before stays; the calls in flight are lost."""
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.OperationalError as exc:
            raise StoreWriteError(
                f"{self.path}: the workspace store could not be written ({exc}); every call stored before is "
                "kept, the calls in flight are lost: make room (or make the file writable) and run the same "
                "command again") from None
    return wrapper  # type: ignore[return-value]


def check_not_cut_short(path: Path) -> None:
    """One line for a truncated store file (see :func:`cut_short`); run before connecting to it."""
    if cut_short(path):
        raise JpBenchError(f"{path}: a damaged SQLite database (the file is shorter than its header says: "
                           "cut short by a copy or a full disk?); give another --workspace")


def check_schema(db: sqlite3.Connection, path: Path) -> None:
    """One line for a SQLite file this jp-bench cannot use: made by a newer jp-bench (never rewritten to
    this version's number), or another program's tables under our names. Other tables are left alone
    (``jp-bench annotate`` keeps its votes in the same file)."""
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "meta" in tables:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = str(row[0]) if row is not None else None
        if version is not None and not version.isdigit():
            raise JpBenchError(f"{path}: not a jp-bench store (its schema_version is {version!r})")
        if version is not None and int(version) > SCHEMA_VERSION:
            raise JpBenchError(f"{path}: made by a newer jp-bench (store schema {version}; this one reads "
                               f"up to {SCHEMA_VERSION}): upgrade jp-bench, or give another --workspace")
    # The columns each of our tables must have, read from the schema itself (older stores lack only
    # the columns migrate adds).
    expected = sqlite3.connect(":memory:")
    try:
        expected.executescript(SCHEMA)
        for table in sorted(tables & {row[0] for row in expected.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}):
            want = {row[1] for row in expected.execute(f"PRAGMA table_info({table})")} - {"details"}
            missing = want - {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            if missing:
                raise JpBenchError(f"{path}: not a jp-bench store (its table {table!r} has no column "
                                   f"{sorted(missing)[0]!r}: another program's database?); give another "
                                   "--workspace")
    finally:
        expected.close()


def migrate(db: sqlite3.Connection) -> None:
    # A store written by an older jp-bench keeps every call; the new columns start empty.
    for table in ("calls", "batch_requests"):
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if "details" not in columns:
            db.execute(f"ALTER TABLE {table} ADD COLUMN details TEXT")
