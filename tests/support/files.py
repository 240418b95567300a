"""Writing test inputs and reading lm-eval's outputs, once for every test."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path


def write_jsonl(path: Path, rows: Iterable[object]) -> Path:
    """Write ``rows`` as JSON Lines, creating the folder; a ``str`` row is written as it is (a test's
    malformed line). Returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n"
                            for row in rows), encoding="utf-8")
    return path


def write_two_turn_questions(path: Path, categories: dict[int, str]) -> Path:
    """A question file of two-turn questions (our own text), ``{question_id: category}``."""
    return write_jsonl(path, [{"question_id": q, "category": c, "turns": [f"質問{q}", f"続き{q}"]}
                              for q, c in categories.items()])


def samples_by_task(folder: Path) -> dict[str, list[dict]]:
    """Records of the newest lm-eval samples file per task under ``folder``."""
    newest: dict[str, Path] = {}
    for path in sorted(folder.rglob("samples_*.jsonl")):  # the timestamp sorts in time order
        newest[path.name.removeprefix("samples_").rsplit("_", 1)[0]] = path
    return {task: [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
            for task, path in newest.items()}
