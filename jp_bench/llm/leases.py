"""Claims on store keys, and whether the process holding one still runs: two processes, one store.

Before a call is sent its key is claimed with a lease; another process working on the same workspace
skips claimed keys until the result lands in the store or the lease lapses (a killed process renews
nothing). A claim of a process of this machine that no longer runs lapses at once.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from jp_bench.llm._sqlite import writes


class Leases:
    """The ``claims`` table's part of :class:`jp_bench.llm.store.Store` (which owns the connection)."""

    path: Path
    _db: sqlite3.Connection

    @writes
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

    @writes
    def renew_claims(self, owner: str, lease_s: float) -> None:
        self._db.execute("UPDATE claims SET expires_at = ? WHERE owner = ?", (time.time() + lease_s, owner))

    @writes
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

