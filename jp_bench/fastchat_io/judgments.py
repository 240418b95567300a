"""FastChat judgment files (``model_judgment/``): pairwise (both layouts) and single-answer, read and written."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from jp_bench._util.atomic import write_text_atomic
from jp_bench._util.names import safe_name
from jp_bench.answer_text import AnswerFeatures, answer_features
from jp_bench.benchmarks.questions import iter_jsonl
from jp_bench.errors import InputFileError, JpBenchError
from jp_bench.fastchat_io._common import PairwiseLine, SingleLine, Winner, _first_record, parse_line

# FastChat's marker for "the judge gave no usable rating".
_NO_SCORE = -1



@dataclass(frozen=True)
class PairwiseJudgmentRecord:
    """One pairwise judgment: two games, the second with the answers' order swapped.

    ``judge`` is ``"<judge_model>/<prompt_name>"`` (see the module docstring).
    """

    question_id: int | str
    model_1: str
    model_2: str
    g1_winner: Winner
    g2_winner: Winner
    g1_judgment: str
    g2_judgment: str
    judge: str
    turn: int = 1
    g1_user_prompt: str | None = None
    g2_user_prompt: str | None = None
    tstamp: float | None = None
    # Answer lengths in characters, when the file copies the answers in (``answer_1``/``answer_2``).
    answer_1_chars: int | None = None
    answer_2_chars: int | None = None
    # What those answers say about themselves (jp_bench.answer_text: markdown counts, Japanese share,
    # reasoning left in), measured from the copied texts; None when the file has no texts.
    answer_1_features: AnswerFeatures | None = None
    answer_2_features: AnswerFeatures | None = None
    # ``file:line`` it was read from (None when built in code), so a report can point at a row.
    where: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class SingleJudgmentRecord:
    """One single-answer grading. ``score`` is None when the judge gave no usable rating."""

    question_id: int | str
    model: str
    score: float | None
    judgment: str
    judge: str
    turn: int = 1
    user_prompt: str | None = None
    tstamp: float | None = None
    # ``file:line`` it was read from (None when built in code), so a report can point at a row.
    where: str | None = field(default=None, compare=False, repr=False)


def _pairwise_record(record: dict[str, Any], path: Path, line: int) -> PairwiseJudgmentRecord:
    if "model_1" not in record or "model_2" not in record or "g1_winner" not in record:
        raise InputFileError(
            path, line, "expected a pairwise judgment with model_1, model_2, g1_winner, g2_winner, g1/g2_judgment"
        )
    row = parse_line(PairwiseLine, record, path, line)
    return PairwiseJudgmentRecord(
        question_id=row.question_id, model_1=row.model_1, model_2=row.model_2,
        g1_winner=row.g1_winner, g2_winner=row.g2_winner, g1_judgment=row.g1_judgment,
        g2_judgment=row.g2_judgment, judge=row.judge, turn=row.turn,
        g1_user_prompt=row.g1_user_prompt, g2_user_prompt=row.g2_user_prompt, tstamp=row.tstamp,
        answer_1_chars=None if row.answer_1 is None else len(row.answer_1),
        answer_2_chars=None if row.answer_2 is None else len(row.answer_2),
        answer_1_features=None if row.answer_1 is None else answer_features(row.answer_1)[1],
        answer_2_features=None if row.answer_2 is None else answer_features(row.answer_2)[1],
    )


def _single_record(record: dict[str, Any], path: Path, line: int) -> SingleJudgmentRecord:
    if "model" not in record or "score" not in record:
        raise InputFileError(path, line, "expected a single-answer judgment with model, score, judgment, judge")
    row = parse_line(SingleLine, record, path, line)
    return SingleJudgmentRecord(
        question_id=row.question_id, model=row.model,
        score=None if row.score is None or row.score == _NO_SCORE else row.score,
        judgment=row.judgment, judge=row.judge, turn=row.turn, user_prompt=row.user_prompt, tstamp=row.tstamp,
    )


def _looks_pairwise(record: dict[str, Any] | None) -> bool:
    return record is not None and {"model_1", "model_2", "g1_winner"} <= record.keys()


def _looks_single(record: dict[str, Any] | None) -> bool:
    return record is not None and {"model", "score", "judgment"} <= record.keys()


_Record = TypeVar("_Record", PairwiseJudgmentRecord, SingleJudgmentRecord)
_Sniffer = Callable[[dict[str, Any] | None], bool]


def _judgment_files(root: Path, name_patterns: tuple[str, ...], looks_right: _Sniffer) -> list[Path]:
    """Files under ``root`` named like judgments of this kind, plus any other .jsonl whose first record
    has the right shape. Named files are validated strictly later; others are only picked up by shape,
    so answers or questions lying in the same tree are skipped."""
    named = {path for pattern in name_patterns for path in root.rglob(pattern) if path.is_file()}
    sniffed = {
        path
        for path in root.rglob("*.jsonl")
        if path.is_file() and path not in named and looks_right(_first_record(path))
    }
    return sorted(named | sniffed)


_PAIRWISE_NAMES = ("pairwise*.jsonl", "*_pair.jsonl")
_SINGLE_NAMES = ("single*.jsonl", "*_single.jsonl")


def _read_judgments(
    path: str | Path,
    kind: str,
    names: tuple[str, ...],
    looks_right: _Sniffer,
    parse: Callable[[dict[str, Any], Path, int], _Record],
    keep_duplicates: bool = False,
) -> list[_Record]:
    root = Path(path)
    if not root.exists():
        raise JpBenchError(f"{root}: not found (expected {kind} judgments: a .jsonl file or a folder of them)")
    files = [root] if root.is_file() else _judgment_files(root, names, looks_right)
    if not files:
        raise JpBenchError(f"{root}: no {kind} judgment files found ({', '.join(names)} or matching records)")
    records: list[_Record] = []
    first: dict[tuple, str] = {}
    for file in files:
        for line, raw in iter_jsonl(file):
            record = parse(raw, file, line)
            # The same judgment twice would be counted twice: refuse it where it is.
            models, identity = _identity(record)
            if identity in first and not keep_duplicates:
                raise InputFileError(file, line, f"a second {kind} judgment of question {identity[1]!r} "
                                                 f"({' vs '.join(models)}, turn {identity[-1]}) by {identity[0]!r}; "
                                                 f"the first is at {first[identity]}")
            first.setdefault(identity, f"{file}:{line}")
            records.append(record)
    return records


def _identity(record: Any) -> tuple[tuple[str, ...], tuple]:
    """The models judged and what makes a FastChat judgment one: judge, question, models, turn."""
    models = (record.model_1, record.model_2) if hasattr(record, "model_1") else (record.model,)
    return models, (record.judge, record.question_id, *models, record.turn)


def judge_model_name(judge: str) -> str:
    """``"gpt-4/pair-math-v1"`` -> ``"gpt-4"``: the judge without its FastChat prompt name.

    A FastChat judge switches prompts by question (``pair-v2``, ``pair-math-v1``, ``single-math-v1``,
    ``...-multi-turn``); reports and agreement studies count all of them as one judge.
    """
    model, _, prompt = judge.rpartition("/")
    return model if model and prompt.startswith(("pair", "single")) else judge


def read_pairwise_judgments(path: str | Path, *, keep_duplicates: bool = False) -> list[PairwiseJudgmentRecord]:
    """Pairwise judgments from a file, or from a folder searched recursively.

    A folder contributes ``pairwise*.jsonl`` and ``*_pair.jsonl`` files and any other ``.jsonl`` whose
    first record is a pairwise judgment. File names are informational only (``pairwise:<m1>_<m2>``
    cannot be split reliably when model names contain ``_``); models are read from the records.

    A second judgment of the same (judge, question, model_1, model_2, turn) is refused, unless
    ``keep_duplicates``: then every row is returned, as FastChat's ``show_result`` counts it
    (``jp-bench report`` does so and says how many there were). Each record's ``where`` is the
    ``file:line`` it came from.
    """
    def parse(record: dict[str, Any], file: Path, line: int) -> PairwiseJudgmentRecord:
        return replace(_pairwise_record(record, file, line), where=f"{file}:{line}")

    return _read_judgments(path, "pairwise", _PAIRWISE_NAMES, _looks_pairwise, parse, keep_duplicates)


def read_single_judgments(path: str | Path, *, keep_duplicates: bool = False) -> list[SingleJudgmentRecord]:
    """Single-answer judgments from a file or a folder (``single*.jsonl``, ``*_single.jsonl``, by shape).

    A second judgment of the same (judge, question, model, turn) is refused, unless
    ``keep_duplicates``: then every row is returned, as FastChat's ``show_result`` would count it
    (``jp-bench report`` does so to reproduce FastChat's means, and says how many there were).
    Each record's ``where`` is the ``file:line`` it came from.
    """
    def parse(record: dict[str, Any], file: Path, line: int) -> SingleJudgmentRecord:
        return replace(_single_record(record, file, line), where=f"{file}:{line}")

    return _read_judgments(path, "single-answer", _SINGLE_NAMES, _looks_single, parse, keep_duplicates)




def _sort_key(question_id: int | str, turn: int, judge: str) -> tuple[int, int, str, int, str]:
    # Integer ids sort numerically and before string ids, so mixed files still sort deterministically.
    if isinstance(question_id, int):
        return (0, question_id, "", turn, judge)
    return (1, 0, question_id, turn, judge)


def _jsonl(rows: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def _check_unique(keys: list[tuple[Any, ...]], what: str) -> None:
    seen: set[tuple[Any, ...]] = set()
    for key in keys:
        if key in seen:
            raise ValueError(f"duplicate {what} judgment for {key!r}")
        seen.add(key)


def _write_groups(folder: str | Path, records: Iterable[Any], group_of: Callable[[Any], tuple[str, ...]],
                  file_name: Callable[[tuple[str, ...]], str], to_row: Callable[[Any], dict[str, Any]],
                  what: str) -> list[Path]:
    """One atomically replaced JSONL file per group, rows sorted by question_id, turn and judge.

    A record repeated for the same group, question, turn and judge is a caller bug (it would be
    counted twice) and raises.
    """
    groups: dict[tuple[str, ...], list[Any]] = {}
    for record in records:
        groups.setdefault(group_of(record), []).append(record)
    written: list[Path] = []
    for key, group in sorted(groups.items()):
        _check_unique([(*key, r.question_id, r.turn, r.judge) for r in group], what)
        group.sort(key=lambda r: _sort_key(r.question_id, r.turn, r.judge))
        target = Path(folder) / file_name(key)
        written.append(write_text_atomic(target, _jsonl(to_row(r) for r in group)))
    return written


def _pairwise_row(r: PairwiseJudgmentRecord) -> dict[str, Any]:
    row: dict[str, Any] = {
        "question_id": r.question_id, "model_1": r.model_1, "model_2": r.model_2,
        "g1_winner": r.g1_winner, "g2_winner": r.g2_winner, "g1_judgment": r.g1_judgment,
        "g2_judgment": r.g2_judgment, "judge": r.judge, "turn": r.turn, "tstamp": r.tstamp,
    }
    if r.g1_user_prompt is not None:
        row["g1_user_prompt"] = r.g1_user_prompt
    if r.g2_user_prompt is not None:
        row["g2_user_prompt"] = r.g2_user_prompt
    return row


def _single_row(r: SingleJudgmentRecord) -> dict[str, Any]:
    row: dict[str, Any] = {
        "question_id": r.question_id, "model": r.model, "score": _NO_SCORE if r.score is None else r.score,
        "judgment": r.judgment, "judge": r.judge, "turn": r.turn, "tstamp": r.tstamp,
    }
    if r.user_prompt is not None:
        row["user_prompt"] = r.user_prompt
    return row


def write_pairwise_judgments(folder: str | Path, records: Iterable[PairwiseJudgmentRecord]) -> list[Path]:
    """Write ``folder/pairwise:<model_1>_<model_2>.jsonl`` per model pair; returns the files written."""
    return _write_groups(folder, records, lambda r: (r.model_1, r.model_2),
                         lambda key: f"pairwise:{safe_name(key[0])}_{safe_name(key[1])}.jsonl",
                         _pairwise_row, "pairwise")


def write_single_judgments(folder: str | Path, records: Iterable[SingleJudgmentRecord]) -> list[Path]:
    """Write ``folder/single:<model>.jsonl`` per model; returns the files written.

    A missing score is written as FastChat's ``-1`` so FastChat's own tools skip it too.
    """
    return _write_groups(folder, records, lambda r: (r.model,), lambda key: f"single:{safe_name(key[0])}.jsonl",
                         _single_row, "single-answer")
