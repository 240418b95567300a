"""What the FastChat readers share: the first record of a file and the field checks of a record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, TypeGuard

from jp_bench.errors import InputFileError

Winner = Literal["model_1", "model_2", "tie", "error"]
JudgeType = Literal["pairwise", "single"]

def _first_record(path: Path) -> dict[str, Any] | None:
    """The first non-blank line as a JSON object, or None when it is not one (used for sniffing)."""
    try:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    obj = json.loads(line)
                    return obj if isinstance(obj, dict) else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return None




def _is_question_id(value: object) -> TypeGuard[int | str]:
    # bool is an int subclass; `true` is never a real question id.
    return isinstance(value, int | str) and not isinstance(value, bool)




def _required_str(record: dict[str, Any], key: str, path: Path, line: int) -> str:
    value = record.get(key)
    if not isinstance(value, str):
        raise InputFileError(path, line, f"field '{key}': expected a string")
    return value


def _optional_str(record: dict[str, Any], key: str, path: Path, line: int) -> str | None:
    value = record.get(key)
    if value is not None and not isinstance(value, str):
        raise InputFileError(path, line, f"field '{key}': expected a string")
    return value


def _question_id(record: dict[str, Any], path: Path, line: int) -> int | str:
    value = record.get("question_id")
    if not _is_question_id(value):
        raise InputFileError(path, line, "field 'question_id': expected an integer or string id")
    return value


def _turn(record: dict[str, Any], path: Path, line: int) -> int:
    value = record.get("turn", 1)  # the benchmark's own layout is single-turn and omits it
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InputFileError(path, line, f"field 'turn': expected a positive integer, got {value!r}")
    return value


def _tstamp(record: dict[str, Any], path: Path, line: int) -> float | None:
    value = record.get("tstamp")
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InputFileError(path, line, "field 'tstamp': expected a number")
    return float(value)

