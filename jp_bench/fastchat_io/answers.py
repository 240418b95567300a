"""FastChat answers (``model_answer/``): the flat ``<model>.jsonl`` layout and the Japanese Vicuna QA
benchmark's ``<model>/results.jsonl`` with a ``config.json`` beside it."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from jp_bench.benchmarks.answers import Answer
from jp_bench.benchmarks.questions import iter_jsonl
from jp_bench.errors import InputFileError, JpBenchError
from jp_bench.fastchat_io._common import AnswerLine, _first_record, parse_line
from jp_bench.harness.samples import read_lm_eval_output

_RESULTS_NAME = "results.jsonl"
_CONFIG_NAME = "config.json"
logger = logging.getLogger("jp_bench.answers")

_ANSWER_SHAPE = 'expected a FastChat answer {"question_id", "model_id", "choices": [{"turns": ["..."]}]}'


def _config_model_id(folder: Path) -> str | None:
    """``model_id`` from the benchmark's ``config.json`` beside ``results.jsonl``, if there is one."""
    config = folder / _CONFIG_NAME
    if not config.is_file():
        return None
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputFileError(config, exc.lineno, f"not valid JSON ({exc.msg})") from None
    name = data.get("model_id") if isinstance(data, dict) else None
    return str(name) if name else None


def _fallback_model_id(path: Path) -> str:
    """Model id for records without ``model_id``: config.json, else the folder or file name."""
    if path.name == _RESULTS_NAME:
        return _config_model_id(path.parent) or path.parent.name
    return path.stem


def _looks_like_answer(record: dict[str, Any] | None) -> bool:
    return record is not None and "question_id" in record and isinstance(record.get("choices"), list)


def _answer_files(root: Path) -> list[Path]:
    """The answer files behind ``root``: itself, ``root/results.jsonl``, or a ``model_answer/`` folder."""
    if root.is_file():
        return [root]
    if (root / _RESULTS_NAME).is_file():
        return [root / _RESULTS_NAME]
    files = [path for path in sorted(root.glob("*.jsonl")) if path.is_file()]
    files += [folder / _RESULTS_NAME for folder in sorted(root.iterdir()) if (folder / _RESULTS_NAME).is_file()]
    return sorted(files)


def _read_answer_file(path: Path) -> list[Answer]:
    fallback: str | None = None  # config.json is read only when a record lacks model_id
    answers: dict[tuple[str, int | str], Answer] = {}
    replaced: list[tuple[Answer, Answer]] = []  # (the earlier answer, the one that replaced it)
    for line_number, record in iter_jsonl(path):
        row = parse_line(AnswerLine, record, path, line_number, _ANSWER_SHAPE)
        question_id, turns = row.question_id, row.choices[0].turns
        model_id = row.model_id
        if not model_id:
            if fallback is None:
                fallback = _fallback_model_id(path)
            model_id = fallback
        answer = Answer(
            model_id=model_id,
            question_id=question_id,
            category="",  # FastChat answer files carry no category; it comes from the question file
            turns=tuple(turns),
            source=f"{path}:{line_number}",
        )
        # FastChat appends re-generated answers to the same file and keeps the last one per question;
        # do the same (the first occurrence's position is kept, so file order is stable), and say so.
        earlier = answers.get((model_id, question_id))
        if earlier is not None:
            replaced.append((earlier, answer))
        answers[(model_id, question_id)] = answer
    if replaced:
        earlier, answer = replaced[0]
        logger.warning("%s: %d question(s) answered again in the same file, the last answer used as FastChat "
                       "uses it; first: question %r of %r (earlier at %s)", answer.source, len(replaced),
                       answer.question_id, answer.model_id, earlier.source)
    return list(answers.values())


def read_fastchat_answers(path: str | Path) -> list[Answer]:
    """Answers from a FastChat answer file, a ``<model>/`` folder with ``results.jsonl``, or a
    ``model_answer/`` folder holding many of either.

    The model id is the record's ``model_id``; for records without one, ``config.json``'s
    ``model_id`` (folder layout), else the folder name (``<model>/results.jsonl``) or the file name
    (``<model>.jsonl``). A model whose answers turn up in two files is an error rather than a guess.
    """
    root = Path(path)
    if not root.exists():
        raise JpBenchError(f"{root}: not found (expected a FastChat answer file or model_answer folder)")
    files = _answer_files(root)
    if not files:
        raise JpBenchError(
            f"{root}: no FastChat answers found (expected <model>.jsonl files or <model>/results.jsonl folders)"
        )
    answers: list[Answer] = []
    owner: dict[str, Path] = {}
    for file in files:
        file_answers = _read_answer_file(file)
        for model_id in dict.fromkeys(answer.model_id for answer in file_answers):
            if model_id in owner:
                raise JpBenchError(f"{file}: answers of model {model_id!r} are also in {owner[model_id]}")
            owner[model_id] = file
        answers.extend(file_answers)
    return answers


def is_fastchat_answer_path(path: str | Path) -> bool:
    """Whether ``path`` looks like FastChat answers (sniffs the first record; never raises)."""
    root = Path(path)
    if root.is_file():
        return root.suffix == ".jsonl" and _looks_like_answer(_first_record(root))
    if not root.is_dir():
        return False
    try:
        files = _answer_files(root)
    except OSError:
        return False
    return any(_looks_like_answer(_first_record(file)) for file in files)


def read_answers(path: str | Path) -> list[Answer]:
    """Answers from lm-eval output (a folder or ``samples_*.jsonl``) or from FastChat answer files."""
    root = Path(path)
    if not root.exists():
        raise JpBenchError(f"{root}: not found (expected lm-eval output or FastChat model answers)")
    if root.is_file() and root.name.startswith("samples_"):
        return read_lm_eval_output(root)
    if is_fastchat_answer_path(root):
        return read_fastchat_answers(root)
    if root.is_dir() and any(root.rglob("samples_*.jsonl")):
        return read_lm_eval_output(root)
    raise JpBenchError(
        f"{root}: neither lm-eval output (samples_*.jsonl) nor FastChat answers "
        "(<model>.jsonl or <model>/results.jsonl with question_id and choices)"
    )
