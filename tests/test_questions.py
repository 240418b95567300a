"""Question files: validation with file:line errors, and the CLI's one-line failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jp_bench.benchmarks.questions import (
    Question,
    attach_references,
    count_by_category,
    parse_questions,
    parse_reference_answers,
)
from jp_bench.errors import InputFileError
from tests.support.cli import main_in_process

pytestmark = pytest.mark.unit


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = json.dumps({"question_id": 1, "category": "generic", "turns": ["こんにちは"]}, ensure_ascii=False)


def test_parses_valid_file_in_order(tmp_path: Path) -> None:
    second = json.dumps({"question_id": 2, "category": "math", "turns": ["1+1は？"], "reference": ["2"]})
    questions = parse_questions(write_lines(tmp_path / "q.jsonl", [GOOD, "", second]))
    assert [q.question_id for q in questions] == [1, 2]
    assert questions[1].reference == ["2"]
    assert count_by_category(questions) == {"generic": 1, "math": 1}


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({"question_id": 3, "category": "generic"}), "field 'turns'"),
        (json.dumps({"question_id": 3, "category": "generic", "turns": []}), "field 'turns'"),
        (json.dumps({"question_id": 3, "category": "generic", "turns": [""]}), "field 'turns.0'"),
        (json.dumps({"question_id": 3, "category": "", "turns": ["x"]}), "field 'category'"),
        (json.dumps({"category": "generic", "turns": ["x"]}), "field 'question_id'"),
        (json.dumps({"question_id": 1, "category": "generic", "turns": ["x"]}), "duplicate question_id 1"),
        (json.dumps({"question_id": 3, "category": "math", "turns": ["x"], "reference": ["a", "b"]}),
         "reference has 2 entries"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, bad_line: str, expected: str) -> None:
    path = write_lines(tmp_path / "q.jsonl", [GOOD, "", bad_line])
    with pytest.raises(InputFileError) as caught:
        parse_questions(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:3: "), message
    assert expected in message


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "q.jsonl", [""])
    with pytest.raises(InputFileError, match="no questions found"):
        parse_questions(path)


def test_reference_answers_attach_by_question_id(tmp_path: Path) -> None:
    ref = {"question_id": 1, "model_id": "gpt-4", "choices": [{"index": 0, "turns": ["参照解答"]}]}
    refs = parse_reference_answers(write_lines(tmp_path / "ref.jsonl", [json.dumps(ref, ensure_ascii=False)]))
    questions = attach_references([Question(question_id=1, category="math", turns=["問"])], refs)
    assert questions[0].reference == ["参照解答"]


def test_cli_reports_malformed_file_in_one_line(tmp_path: Path, jp_home: Path) -> None:
    path = write_lines(tmp_path / "bad.jsonl", [GOOD, '{"question_id": 2, "turns": ["x"]}'])
    result = main_in_process("data", "show", "--benchmark", str(path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [f"jp-bench: error: {path}:2: field 'category': Field required"]
    assert result.stdout == ""
