"""lm-eval's samples files (``samples_<task>_<time>.jsonl`` with ``--log_samples``): the one module that
reads them (as answers, or the questions they embed), finds them, and writes them (in-harness answers saved
before judging)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jp_bench._util.atomic import write_text_atomic
from jp_bench.benchmarks.answers import Answer
from jp_bench.benchmarks.questions import Question, check_question_id, iter_jsonl
from jp_bench.errors import InputFileError, JpBenchError, describe_validation_error

# The name lm-eval gives a task's samples file: the one definition every reader and writer here uses.
SAMPLES_NAME = re.compile(r"^samples_(?P<task>.+)_(?P<stamp>\d{4}-\d{2}-\d{2}T[\d\-.]+)\.jsonl$")


def _model_id_from_results(folder: Path) -> str | None:
    """lm-eval writes ``results_*.json`` beside the samples; its ``model_name`` names the model."""
    results = sorted(folder.glob("results_*.json"))
    if not results:
        return None
    try:
        data = json.loads(results[-1].read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    name = data.get("model_name")
    return str(name) if name else None


def latest_sample_files(folder: Path) -> list[Path]:
    """The newest ``samples_<task>_<timestamp>.jsonl`` per task in ``folder``."""
    newest: dict[str, tuple[str, Path]] = {}
    for path in folder.glob("samples_*.jsonl"):
        match = SAMPLES_NAME.match(path.name)
        if not match:
            continue
        task, stamp = match["task"], match["stamp"]
        if task not in newest or stamp > newest[task][0]:
            newest[task] = (stamp, path)
    return [path for _, path in sorted(newest.values(), key=lambda item: item[1].name)]


def sample_files(folder: Path, task: str) -> list[Path]:
    """The ``samples_<task>_<timestamp>.jsonl`` files directly in ``folder``, oldest first."""
    found = []
    for path in folder.glob(f"samples_{task}_*.jsonl"):
        match = SAMPLES_NAME.match(path.name)
        if match and match["task"] == task:
            found.append((match["stamp"], path))
    return [path for _, path in sorted(found)]


def timestamp() -> str:
    """A file-name time stamp as lm-eval writes it (what :data:`SAMPLES_NAME` reads back)."""
    return datetime.now().strftime("%Y-%m-%dT%H-%M-%S.%f")


def write_samples(folder: Path, task: str, docs: Iterable[tuple[int, dict[str, Any], str, Any]], stamp: str) -> Path:
    """``docs`` (doc id, document, answer, request arguments) as lm-eval's samples file of ``task``."""
    lines = []
    for doc_id, doc, answer, arguments in docs:
        clean_doc = {k: v for k, v in doc.items() if k != "judgment"}
        record = {"doc_id": doc_id, "doc": clean_doc,
                  "arguments": {"gen_args_0": {f"arg_{i}": a for i, a in enumerate(arguments or ())}},
                  "resps": [[answer]], "filtered_resps": [answer]}
        lines.append(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    return write_text_atomic(folder / f"samples_{task}_{stamp}.jsonl", "".join(lines))


def write_model_name(folder: Path, model: str, stamp: str) -> Path:
    """A results file beside samples we wrote: lm-eval's names the model, and ours does the same."""
    return write_text_atomic(folder / f"results_{stamp}.json",
                             json.dumps({"model_name": model, "written_by": "jp-bench: answers saved before judging"},
                                        ensure_ascii=False, indent=1) + "\n")


def model_name_for(sample_file: Path) -> str:
    """The model of a samples file: lm-eval's ``model_name`` beside it, else the folder's name."""
    return _model_id_from_results(sample_file.parent) or sample_file.parent.name


def lm_eval_sample_files(path: str | Path) -> list[Path]:
    """One samples file, or the newest per task in every folder under ``path``."""
    root = Path(path)
    if root.is_file():
        return [root] if SAMPLES_NAME.match(root.name) else []
    folders = sorted({p.parent for p in root.rglob("samples_*.jsonl")})
    return [f for folder in folders for f in latest_sample_files(folder)]


def _question_id(doc: dict, source: Path, line: int) -> int | str:
    try:
        return check_question_id(doc.get("question_id"))
    except ValueError as exc:
        raise InputFileError(source, line, f"field 'doc.question_id': {exc}") from None


def answer_text(record: Mapping[str, Any], source: Path, line: int) -> str:
    """The answer of a sample: ``filtered_resps[0]`` (``resps[0][0]`` in files without it)."""
    field = "filtered_resps" if "filtered_resps" in record else "resps"
    value = record.get(field)
    if not isinstance(value, list) or not value:
        raise InputFileError(source, line, f"field '{field}': expected a list holding the answer, got {value!r}")
    text = value[0]
    while isinstance(text, list) and text:  # `resps` nests one list per request
        text = text[0]
    if not isinstance(text, str):
        raise InputFileError(source, line, f"field '{field}': expected the answer text, got {text!r}")
    return text


def read_sample_file(path: str | Path, model_id: str | None = None) -> list[Answer]:
    """Answers in one lm-eval samples file (the filtered response is the answer)."""
    source = Path(path)
    model = model_id or model_name_for(source)
    answers = []
    spelling: dict[str, tuple[int | str, int]] = {}
    for line_number, record in iter_jsonl(source):
        doc = record.get("doc")
        if not isinstance(doc, dict) or "question_id" not in doc:
            raise InputFileError(source, line_number, "expected an lm-eval sample with doc.question_id")
        question_id = _question_id(doc, source, line_number)
        text = answer_text(record, source, line_number)
        turns: tuple[str, ...] = (text,)
        if doc.get("turn") is not None:  # a turn of a multi-turn task: the conversation up to this answer
            turns = _conversation(doc, text, source, line_number)
        first = spelling.setdefault(str(question_id), (question_id, line_number))
        if first[0] != question_id or first[1] != line_number:
            raise InputFileError(source, line_number, f"question_id {question_id!r} again (line {first[1]} has "
                                                      f"{first[0]!r}); one sample per question")
        answers.append(
            Answer(
                model_id=model,
                question_id=question_id,
                category=str(doc.get("category", "")),
                turns=turns,
                source=f"{source}:{line_number}",
                turn=doc.get("turn"),
            )
        )
    if not answers:
        raise InputFileError(source, None, "no samples in this file (an interrupted lm-eval run?)")
    return answers


def _conversation(doc: dict, text: str, source: Path, line: int) -> tuple[str, ...]:
    """The model's answers to turns 1..k of a turn-k sample: the earlier ones as its prompt carried them
    (``previous_answers``), then this one, stripped as FastChat strips every answer."""
    previous = doc.get("previous_answers") or []
    turn = doc.get("turn")
    if not isinstance(previous, list) or not all(isinstance(a, str) for a in previous):
        raise InputFileError(source, line, "field 'doc.previous_answers': expected a list of answer texts")
    if not isinstance(turn, int) or isinstance(turn, bool) or turn != len(previous) + 1:
        raise InputFileError(source, line, f"field 'doc.turn': expected {len(previous) + 1} (one more than the "
                                           f"answers in doc.previous_answers), got {turn!r}")
    return (*previous, text.strip())


def merge_turns(answers: list[Answer]) -> list[Answer]:
    """One answer per model and question: a multi-turn question's samples (one file per turn) become
    the longest conversation, which every shorter one must begin (the turn-k prompt carried them)."""
    merged: dict[tuple[str, str], Answer] = {}
    slots: list[Answer | tuple[str, str]] = []  # in input order: an answer, or the key of a merged one
    for answer in answers:
        if answer.turn is None:  # single-turn: two answers to one question are refused later, by the plan
            slots.append(answer)
            continue
        key = (answer.model_id, str(answer.question_id))
        held = merged.get(key)
        if held is None:
            merged[key] = answer
            slots.append(key)
            continue
        longer, shorter = (answer, held) if len(answer.turns) > len(held.turns) else (held, answer)
        if len(longer.turns) == len(shorter.turns) or [t.strip() for t in longer.turns[: len(shorter.turns)]] \
                != [t.strip() for t in shorter.turns]:
            # Two answers to one turn, or turn 2 built on another turn-1 answer than the one on file.
            raise JpBenchError(
                f"{shorter.source} and {longer.source}: two different answers of {answer.model_id!r} to question "
                f"{answer.question_id!r} (turn {len(shorter.turns)}); a later turn must follow the turn-1 answer "
                "on file: run `jp-bench lm-eval ... --tasks ja_mt_bench` again to bring the turns in line")
        merged[key] = longer
    return [merged[slot] if isinstance(slot, tuple) else slot for slot in slots]


def read_lm_eval_output(path: str | Path) -> list[Answer]:
    """Answers from an lm-eval output folder (searched recursively) or one samples file; the turns
    of a multi-turn task (one samples file per turn) come back as one answer per question."""
    root = Path(path)
    if root.is_file():
        return read_sample_file(root)
    files = lm_eval_sample_files(root)
    if not files:
        raise JpBenchError(f"{root}: no lm-eval samples_*.jsonl found (run lm-eval with --log_samples)")
    return merge_turns([answer for sample_file in files for answer in read_sample_file(sample_file)])


def read_lm_eval_questions(path: str | Path) -> list[Question]:
    """The questions embedded in lm-eval samples (our tasks log each document in full)."""
    root = Path(path)
    files = [root] if root.is_file() else lm_eval_sample_files(root)
    questions: dict[int | str, Question] = {}
    for sample_file in files:
        for line, record in iter_jsonl(sample_file):
            doc = record.get("doc") or {}
            if "question_id" not in doc or not doc.get("turns"):
                continue
            try:
                question = Question.model_validate(
                    {"question_id": doc["question_id"], "category": doc.get("category") or "unknown",
                     "turns": doc["turns"], "reference": doc.get("reference") or None,
                     "grading_notes": doc.get("grading_notes") or None, "rubric": bool(doc.get("rubric"))}
                )
            except ValidationError as exc:  # our documents carry turns; bad ones must not be replaced silently
                raise InputFileError(sample_file, line, f"doc: {describe_validation_error(exc)}") from None
            questions.setdefault(question.question_id, question)
    return list(questions.values())
