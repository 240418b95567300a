"""Human votes in the workspace SQLite file (beside :class:`jp_bench.store.Store`'s tables), and their export.

Table ``votes`` holds one row per ``(task_id, annotator)``; voting again on a task replaces the row.
``model_a``/``model_b`` are the models as SHOWN (回答A on the left, 回答B on the right) and ``winner``
(``model_a``, ``model_b`` or ``tie``) refers to them, which is the layout of the JSONL export that
:func:`jp_bench.agreement.read_human_votes` reads (it sorts the models and flips the winner itself).
Every vote is committed the moment it is cast (autocommit, WAL), so a crash loses nothing voted.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from jp_bench.atomic import write_text_atomic
from jp_bench.errors import JpBenchError

Winner = Literal["model_a", "model_b", "tie"]
WINNERS: tuple[Winner, ...] = ("model_a", "model_b", "tie")
MAX_ANNOTATOR_LENGTH = 64

# question_id has no declared type on purpose: SQLite then keeps an integer id an integer and a
# string id a string, exactly as the question file spells them.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS votes (
    task_id     TEXT NOT NULL,
    annotator   TEXT NOT NULL,
    question_id NOT NULL,
    model_a     TEXT NOT NULL,      -- shown as 回答A (left)
    model_b     TEXT NOT NULL,      -- shown as 回答B (right)
    winner      TEXT NOT NULL CHECK (winner IN ('model_a', 'model_b', 'tie')),
    category    TEXT,
    turn        INTEGER NOT NULL DEFAULT 1,
    tstamp      REAL NOT NULL,
    PRIMARY KEY (task_id, annotator)
);
CREATE INDEX IF NOT EXISTS votes_annotator ON votes (annotator);
"""
_COLUMNS = "task_id, annotator, question_id, model_a, model_b, winner, category, turn, tstamp"


def clean_annotator(value: str) -> str:
    """The annotator name with surrounding blanks removed; ValueError when empty, too long or odd."""
    name = unicodedata.normalize("NFC", value).strip()
    if not name:
        raise ValueError("annotator name is missing")
    if len(name) > MAX_ANNOTATOR_LENGTH:
        raise ValueError(f"annotator name is longer than {MAX_ANNOTATOR_LENGTH} characters")
    if any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in name):
        raise ValueError("annotator name contains control characters")
    return name


@dataclass(frozen=True)
class HumanVote:
    """One stored vote; ``model_a``/``model_b`` as shown, ``winner`` relative to them."""

    task_id: str
    annotator: str
    question_id: int | str
    model_a: str
    model_b: str
    winner: Winner
    category: str | None
    turn: int
    tstamp: float

    def export_row(self) -> dict[str, Any]:
        """The JSONL export row (``read_human_votes`` layout; ``task_id`` is extra and ignored there)."""
        return {
            "question_id": self.question_id, "model_a": self.model_a, "model_b": self.model_b,
            "winner": self.winner, "annotator": self.annotator, "turn": self.turn, "category": self.category,
            "tstamp": self.tstamp, "task_id": self.task_id,
        }


class VoteStore:
    """The ``votes`` table of a workspace store file; safe to share between the server's threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit, so each vote is durable as soon as it is written.
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> VoteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record(self, *, task_id: str, annotator: str, question_id: int | str, model_a: str, model_b: str,
               winner: Winner, category: str | None = None, turn: int = 1,
               tstamp: float | None = None) -> HumanVote:
        """Store a vote, replacing the annotator's earlier vote on the task; returns what was stored."""
        if winner not in WINNERS:
            raise ValueError(f"winner must be one of {', '.join(WINNERS)}, got {winner!r}")
        if model_a == model_b:
            raise ValueError(f"a vote needs two different models, got {model_a!r} twice")
        vote = HumanVote(task_id, clean_annotator(annotator), question_id, model_a, model_b, winner, category, turn,
                         time.time() if tstamp is None else tstamp)
        with self._lock:
            self._db.execute(f"INSERT OR REPLACE INTO votes ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             tuple(asdict(vote).values()))
        return vote

    def voted_tasks(self, annotator: str) -> set[str]:
        """Ids of the tasks ``annotator`` has voted on."""
        with self._lock:
            rows = self._db.execute("SELECT task_id FROM votes WHERE annotator = ?", (annotator,)).fetchall()
        return {row[0] for row in rows}

    def get(self, task_id: str, annotator: str) -> HumanVote | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM votes WHERE task_id = ? AND annotator = ?",
                                   (task_id, annotator)).fetchone()
        return None if row is None else HumanVote(*row)

    def votes(self) -> list[HumanVote]:
        """Every vote, oldest first."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM votes ORDER BY tstamp, task_id, annotator").fetchall()
        return [HumanVote(*row) for row in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM votes").fetchone()[0])


def export_jsonl(votes: Iterable[HumanVote]) -> str:
    """The JSONL export: one ``read_human_votes`` row per vote."""
    return "".join(json.dumps(vote.export_row(), ensure_ascii=False) + "\n" for vote in votes)


def export_votes(store_path: str | Path, out_path: str | Path) -> int:
    """Write every vote in ``store_path`` to ``out_path`` as JSONL (atomically); returns how many."""
    source = Path(store_path)
    if not source.is_file():
        raise JpBenchError(f"{source}: no such store file (nothing has been annotated there)")
    with VoteStore(source) as store:
        votes = store.votes()
    write_text_atomic(out_path, export_jsonl(votes))
    return len(votes)
