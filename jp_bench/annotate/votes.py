"""Human votes in the workspace SQLite file (beside :class:`jp_bench.llm.store.Store`'s tables), and their export.

Table ``votes`` holds one row per ``(task_id, annotator)``; voting again on a task replaces the row.
``model_a``/``model_b`` are the models as SHOWN (回答A on the left, 回答B on the right) and ``winner``
(``model_a``, ``model_b`` or ``tie``) refers to them, which is the layout of the JSONL export that
:func:`jp_bench.votes.read_human_votes` reads (it sorts the models and flips the winner itself).
Every vote is committed the moment it is cast (autocommit, WAL), so a crash loses nothing voted.

Table ``vote_questions`` remembers how many turns each question served by ``jp-bench annotate`` has:
the one thing a stored vote does not say and its export needs. An earlier jp-bench showed a multi-turn
question as one whole conversation and stored the vote under the question's turn-less task id with
``turn`` 1; today every turn is its own task, whose id hashes the turn. :func:`vote_scope` is the one
rule telling such a whole-conversation vote from a vote on turn 1; the export writes it with
``"scope": "conversation"`` and ``"turn": null``, so that ``jp-bench agreement`` never takes it for
a turn-1 vote. Such votes stay in the store as they were: they are a person's work.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from jp_bench._util.atomic import write_text_atomic
from jp_bench.annotate.tasks import QuestionId, task_id_for
from jp_bench.benchmarks.questions import Question
from jp_bench.errors import JpBenchError
from jp_bench.votes.model import CONVERSATION_SCOPE, TURN_SCOPE, Scope

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
CREATE TABLE IF NOT EXISTS vote_questions (
    question_id PRIMARY KEY,        -- as in votes.question_id
    turns       INTEGER NOT NULL    -- how many turns the question served last had
);
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

    def export_row(self, scope: Scope = TURN_SCOPE) -> dict[str, Any]:
        """The JSONL export row (``read_human_votes`` layout; ``task_id`` is extra and ignored there).

        A whole-conversation vote (see :func:`vote_scope`) has ``turn`` null: it judged no one turn.
        """
        turn = None if scope == CONVERSATION_SCOPE else self.turn
        return {
            "question_id": self.question_id, "model_a": self.model_a, "model_b": self.model_b,
            "winner": self.winner, "annotator": self.annotator, "turn": turn, "scope": scope,
            "category": self.category, "tstamp": self.tstamp, "task_id": self.task_id,
        }


def _turnless_id(vote: HumanVote) -> bool:
    """Whether the vote is stored under its question's turn-less id (single-turn, or an earlier jp-bench's)."""
    return vote.task_id == task_id_for(vote.question_id, vote.model_a, vote.model_b)


def vote_scope(vote: HumanVote, turns: Mapping[QuestionId, int]) -> Scope:
    """``conversation`` for a vote an earlier jp-bench cast on a whole multi-turn conversation, else ``turn``.

    ``turns``: the number of turns of each question (those it lacks count as single-turn, as before
    turns existed). Today a multi-turn question's tasks all hash their turn, so a vote on one under
    the turn-less id can only be such an old vote; a single-turn question's id is turn-less still.
    """
    return CONVERSATION_SCOPE if turns.get(vote.question_id, 1) > 1 and _turnless_id(vote) else TURN_SCOPE


@dataclass(frozen=True)
class ScopedVotes:
    """Stored votes, each with its :func:`vote_scope`: what the export writes and the tool reports."""

    votes: tuple[tuple[HumanVote, Scope], ...]
    unknown: int = 0  # turn-less-id votes on questions of unknown turns: exported as turn 1, maybe wrongly

    @property
    def conversation(self) -> int:
        """How many are whole-conversation votes."""
        return sum(scope == CONVERSATION_SCOPE for _, scope in self.votes)

    def jsonl(self) -> str:
        """The JSONL export: one ``read_human_votes`` row per vote."""
        return "".join(json.dumps(vote.export_row(scope), ensure_ascii=False) + "\n" for vote, scope in self.votes)

    def notices(self) -> list[str]:
        """One line per thing about these votes the user should know (none when there is nothing)."""
        lines = [conversation_notice(self.conversation)] if self.conversation else []
        if self.unknown:
            lines.append(f"{self.unknown} vote(s) are on questions this store has no turn count for (served by an "
                         "earlier jp-bench or not at all): exported as turn 1, right for single-turn questions; if "
                         "any is on a multi-turn question, export again with --benchmark NAME to mark its "
                         "whole-conversation votes")
        return lines


def conversation_notice(count: int) -> str:
    """The one line that tells the user about ``count`` whole-conversation votes of an earlier jp-bench."""
    return (f"{count} vote(s) from an earlier jp-bench judge a whole multi-turn conversation, not one turn: "
            f'kept in the store, exported with "scope": "{CONVERSATION_SCOPE}" (turn null) and counted as no '
            "turn's vote (the page asks for each turn; jp-bench agreement leaves them out)")


def scope_votes(votes: Iterable[HumanVote], turns: Mapping[QuestionId, int]) -> ScopedVotes:
    """``votes`` with their scopes under ``turns`` (see :func:`vote_scope`)."""
    scoped = tuple((vote, vote_scope(vote, turns)) for vote in votes)
    unknown = sum(vote.question_id not in turns and _turnless_id(vote) for vote, _ in scoped)
    return ScopedVotes(scoped, unknown)


def _turn_counts(questions: Iterable[Question]) -> dict[QuestionId, int]:
    return {question.question_id: len(question.turns) for question in questions}


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

    def remember_questions(self, questions: Iterable[Question]) -> None:
        """Record how many turns each question has, for :meth:`scoped` (the votes themselves do not say)."""
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO vote_questions (question_id, turns) VALUES (?, ?)",
                                 _turn_counts(questions).items())

    def question_turns(self) -> dict[QuestionId, int]:
        """The number of turns of every question recorded by :meth:`remember_questions`."""
        with self._lock:
            rows = self._db.execute("SELECT question_id, turns FROM vote_questions").fetchall()
        return {question_id: turns for question_id, turns in rows}

    def scoped(self, questions: Iterable[Question] = ()) -> ScopedVotes:
        """Every vote with its scope; ``questions`` add to (and override) the turn counts recorded here."""
        turns = {**self.question_turns(), **_turn_counts(questions)}
        return scope_votes(self.votes(), turns)

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


def export_votes(store_path: str | Path, out_path: str | Path, questions: Iterable[Question] = (),
                 echo: Callable[[str], None] | None = None) -> int:
    """Write every vote in ``store_path`` to ``out_path`` as JSONL (atomically); returns how many.

    Whole-conversation votes of an earlier jp-bench are marked (see :func:`vote_scope`), by the turn
    counts the store recorded when it served the questions, and those of ``questions`` if given.
    ``echo`` gets :meth:`ScopedVotes.notices`.
    """
    source = Path(store_path)
    if not source.is_file():
        raise JpBenchError(f"{source}: no such store file (nothing has been annotated there)")
    with VoteStore(source) as store:
        scoped = store.scoped(questions)
    write_text_atomic(out_path, scoped.jsonl())
    if echo is not None:
        for line in scoped.notices():
            echo(line)
    return len(scoped.votes)
