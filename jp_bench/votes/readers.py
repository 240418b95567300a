"""Reading human and judge votes: the only part of :mod:`jp_bench.votes` that touches files."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

from jp_bench.benchmarks.questions import iter_jsonl
from jp_bench.errors import InputFileError, JpBenchError
from jp_bench.fastchat_io import PairwiseJudgmentRecord, judge_model_name, read_pairwise_judgments
from jp_bench.votes.model import (
    CONVERSATION_SCOPE,
    SCOPES,
    TURN_SCOPE,
    JudgeVotes,
    QuestionId,
    Scope,
    Vote,
    VoteKey,
    combine_games,
    make_vote,
    normalize_question_id,
)


def _question_id(value: object) -> QuestionId | None:
    """A question id (see :func:`normalize_question_id`), or None when ``value`` is not one."""
    if isinstance(value, bool) or not isinstance(value, int | str) or (isinstance(value, str) and not value.strip()):
        return None
    return normalize_question_id(value)


def _turn(value: object, path: Path, line: int) -> int:
    if value is None or value == "":
        return 1
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InputFileError(path, line, f"field 'turn': expected a positive integer, got {value!r}")
    return value


def _text(row: Mapping[str, Any], field: str, path: Path, line: int) -> str | None:
    """An optional string field; empty is the same as missing."""
    value = row.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputFileError(path, line, f"field '{field}': expected a string, got {value!r}")
    return value


def _scope(row: Mapping[str, Any], path: Path, line: int) -> Scope:
    """The row's ``scope``; a row without one (FastChat's files, older exports) is a vote on its turn."""
    value = _text(row, "scope", path, line)
    if value is None:
        return TURN_SCOPE
    if value in SCOPES:
        return cast(Scope, value)
    raise InputFileError(path, line, f"field 'scope': expected {' or '.join(SCOPES)}, got {value!r}")


def _required_text(row: Mapping[str, Any], field: str, path: Path, line: int) -> str:
    value = _text(row, field, path, line)
    if value is None:
        raise InputFileError(path, line, f"field '{field}': missing or empty")
    return value


def _iter_csv(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line, row)`` with the line on which each record starts (quoted fields may span lines)."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InputFileError(path, None, "file not found") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None:
                return
            while True:
                start = reader.line_num + 1
                row = next(reader, None)
                if row is None:
                    return
                if not row:
                    continue
                if len(row) != len(header):
                    raise InputFileError(path, start, f"expected {len(header)} fields as in the header, got {len(row)}")
                yield start, dict(zip(header, row, strict=True))
        except csv.Error as exc:
            raise InputFileError(path, reader.line_num, f"not valid CSV ({exc})") from None
        except UnicodeDecodeError:
            raise InputFileError(path, None, "not UTF-8 text") from None


def _human_vote(row: Mapping[str, Any], path: Path, line: int) -> Vote:
    question_id = _question_id(row.get("question_id"))
    if question_id is None:
        raise InputFileError(path, line, "field 'question_id': expected an integer or string id")
    model_a = _required_text(row, "model_a", path, line)
    model_b = _required_text(row, "model_b", path, line)
    if model_a == model_b:
        raise InputFileError(path, line, f"model_a and model_b are the same model ({model_a!r})")
    winner = row.get("winner")
    text = winner.strip().lower() if isinstance(winner, str) else ""
    if text not in ("model_a", "model_b") and "tie" not in text:
        raise InputFileError(path, line, f"field 'winner': expected model_a, model_b or a tie, got {winner!r}")
    voter = row.get("judge") or row.get("annotator")
    if isinstance(voter, list) and voter and all(isinstance(part, str) for part in voter):
        voter = "/".join(voter)  # FastChat's gpt4_pair split: [judge_model, prompt_name]
    if not isinstance(voter, str) or not voter:
        raise InputFileError(path, line, "expected 'judge' or 'annotator' (who voted) as a non-empty string")
    category = _text(row, "category", path, line)
    side = {"model_a": "model_1", "model_b": "model_2"}.get(text, "tie")
    turn = _turn(row.get("turn"), path, line)
    return make_vote(question_id, model_a, model_b, side, turn=turn, voter=voter, category=category)


@dataclass(frozen=True)
class HumanVoteFile:
    """One human votes file: its votes on single turns, and how many whole-conversation votes it held.

    ``conversation`` counts the rows with ``scope`` ``conversation`` (votes an earlier ``jp-bench
    annotate`` cast on a whole multi-turn conversation): they are in no comparison, since every
    comparison is per turn, so whoever reads the file says how many were left out.
    """

    path: Path
    votes: tuple[Vote, ...]
    conversation: int = 0


def read_human_vote_file(path: str | Path) -> HumanVoteFile:
    """Human votes from a ``.jsonl`` or ``.csv`` file (by suffix), one vote per row, in file order.

    Rows: ``question_id``, ``model_a``, ``model_b``, ``winner`` (``model_a``, ``model_b`` or any
    ``tie...``), ``judge`` or ``annotator``, optional ``turn`` (default 1), ``scope`` (``turn``, the
    default, or ``conversation``: counted and left out) and ``category``; other fields are ignored. A
    bad row raises :class:`InputFileError` naming its line.
    """
    source = Path(path)
    suffix = source.suffix.lower()
    rows: Iterable[tuple[int, Mapping[str, Any]]]
    if suffix == ".jsonl":
        rows = iter_jsonl(source)
    elif suffix == ".csv":
        rows = _iter_csv(source)
    else:
        raise InputFileError(source, None, "expected human votes as a .jsonl or .csv file")
    votes: list[Vote] = []
    conversation = 0
    first_line: dict[tuple, int] = {}
    for line, row in rows:
        scope = _scope(row, source, line)
        vote = _human_vote(row, source, line)  # a conversation vote is checked too, then set aside
        if scope == CONVERSATION_SCOPE:
            conversation += 1
            continue
        # One person, one vote per item: a second one would pair the annotator with themself.
        seen = first_line.setdefault((vote.voter, vote.key), line)
        if seen != line:
            raise InputFileError(source, line, f"{vote.voter!r} already voted on question {vote.question_id!r} "
                                               f"({vote.key[1]} vs {vote.key[2]}, turn {vote.key[3]}) on line {seen}; "
                                               "keep one vote per person and item")
        votes.append(vote)
    if not votes and not conversation:
        raise InputFileError(source, None, "no votes found")
    return HumanVoteFile(source, tuple(votes), conversation)


def read_human_votes(path: str | Path) -> list[Vote]:
    """The per-turn votes of :func:`read_human_vote_file` (whole-conversation votes are left out)."""
    return list(read_human_vote_file(path).votes)


@dataclass(frozen=True)
class _Games:
    judge: str
    question_id: QuestionId
    model_1: str
    model_2: str
    turn: int
    g1_winner: str | None
    g2_winner: str | None
    category: str | None
    where: str


def _judge_votes(games: Iterable[_Games]) -> dict[str, JudgeVotes]:
    """Per judge: the combined vote and each game's vote per key; a judge voting twice on a key is an error."""
    out: dict[str, tuple[list[Vote], list[Vote], list[Vote]]] = {}
    seen: set[tuple[str, VoteKey]] = set()
    for g in games:
        vote = partial(make_vote, g.question_id, g.model_1, g.model_2, turn=g.turn, voter=g.judge, category=g.category)
        key = vote("tie").key
        if (g.judge, key) in seen:
            raise JpBenchError(
                f"{g.where}: judge {g.judge!r} judged question {g.question_id!r} ({key[1]} vs {key[2]}, turn {g.turn})"
                " twice"
            )
        seen.add((g.judge, key))
        combined, game1, game2 = out.setdefault(g.judge, ([], [], []))
        winner = combine_games(g.g1_winner, g.g2_winner)
        if winner is not None:
            combined.append(vote(winner))
        for game_winner, bucket in ((g.g1_winner, game1), (g.g2_winner, game2)):
            if game_winner is not None and game_winner != "error":
                bucket.append(vote(game_winner))
    return {judge: JudgeVotes(tuple(c), tuple(g1), tuple(g2)) for judge, (c, g1, g2) in out.items()}


def judge_votes_from_records(
    records: Iterable[PairwiseJudgmentRecord], where: str = "", *, by_prompt: bool = False
) -> dict[str, JudgeVotes]:
    """Votes per judge from FastChat pairwise records (see :func:`combine_games`); ``where`` names the source.

    Judges are named by :func:`judge_model_name`, or by the full ``"<model>/<prompt>"`` with ``by_prompt``.
    """
    return _judge_votes(
        _Games(r.judge if by_prompt else judge_model_name(r.judge), normalize_question_id(r.question_id), r.model_1,
               r.model_2, r.turn, r.g1_winner, r.g2_winner, None, where or "pairwise judgments")
        for r in records
    )


def _read_judgments_jsonl(path: Path) -> dict[str, JudgeVotes]:
    from jp_bench.judging.records import read_judgment_rows

    games: dict[tuple[str, QuestionId, str, str, int], dict[int, tuple[str, int]]] = {}
    categories: dict[tuple[str, QuestionId, str, str, int], str | None] = {}
    # The one reader of judgment rows validates every field and refuses a judgment given twice.
    lines = list(iter_jsonl(path))
    for (line, _), row in zip(lines, read_judgment_rows(lines, path), strict=True):
        if row["mode"] != "pairwise":
            continue
        ident = (row["judge"], normalize_question_id(row["question_id"]), row["model_1"], row["model_2"],
                 row.get("turn") or 1)
        games.setdefault(ident, {})[row["game"]] = (row["winner"], line)
        categories[ident] = categories.get(ident) or row.get("category")
    return _judge_votes(
        _Games(*ident, pair.get(1, (None, 0))[0], pair.get(2, (None, 0))[0], categories[ident],
               f"{path}:{min(line for _, line in pair.values())}")
        for ident, pair in games.items()
    )


def read_judge_votes(path: str | Path, *, by_prompt: bool = False) -> dict[str, JudgeVotes]:
    """Judge votes per judge name from our ``judgments.jsonl`` (rows with ``mode``, named by ``judge``;
    single-answer rows are skipped) or from FastChat pairwise judgment files (a file, or a folder read by
    :func:`jp_bench.fastchat_io.read_pairwise_judgments`; see :func:`judge_votes_from_records`)."""
    root = Path(path)
    if root.is_file():
        for _, first in iter_jsonl(root):
            if "mode" in first:
                return _read_judgments_jsonl(root)
            break
    return judge_votes_from_records(read_pairwise_judgments(root), str(root), by_prompt=by_prompt)
