"""Bad input is one line (file:line: what was expected), exit != 0, nothing written; never a traceback and
never a silently different number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli, write_jsonl
from judgment_rows import COMMON, pairwise_row

from jp_bench.answers import read_lm_eval_output, read_lm_eval_questions
from jp_bench.errors import InputFileError, JpBenchError
from jp_bench.reporting.sources import load_judgments


def good_rows() -> list[dict]:
    return [pairwise_row(q, g, "model_1") for q in (1, 2) for g in (1, 2)]


def replaced(index: int, **changes: object) -> list:
    rows = good_rows()
    rows[index] = {k: v for k, v in {**rows[index], **changes}.items() if v is not ...}
    return rows


@pytest.mark.parametrize(("rows", "expected"), [
    (replaced(1, game=...), r":2: field 'game': Field required"),
    (replaced(2, model_1=...), r":3: field 'model_1': Field required"),
    (replaced(0, cost_usd="abc"), r":1: field 'cost_usd': Input should be a valid number"),
    (replaced(3, winner="banana"), r":4: field 'winner': Input should be"),
    (replaced(0, question_id=[1]), r":1: field 'question_id"),
    (replaced(1, game=3), r":2: field 'game': Input should be 1 or 2"),
    (replaced(2, question_id="1"), r":3: question_id '1' and 1 \(line 1\) would be two questions"),
    ([*good_rows(), pairwise_row(1, 1, "model_2")], r":5: a second judgment of question 1 \(gamma vs beta, game 1\)"),
    ([good_rows()[0], '{"mode": "pairwise", "question_id": NaN}'], r":2: field 'question_id"),
])
def test_bad_judgment_rows_are_one_line(tmp_path: Path, rows: list, expected: str) -> None:
    path = write_jsonl(tmp_path / "judgments.jsonl", rows)
    with pytest.raises(InputFileError, match=r"judgments\.jsonl" + expected):
        load_judgments([path])
    result = run_cli("jp-bench", "report", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""


@pytest.mark.parametrize("content", [b"\x00\x01\xff\xfe\x00binary", json.dumps(good_rows()[0]).encode("utf-16")])
def test_a_judgments_file_that_is_not_utf8_is_one_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "judgments.jsonl"
    path.write_bytes(content)
    result = run_cli("jp-bench", "report", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "not UTF-8 text" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_the_same_judgments_twice_are_refused(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        write_jsonl(tmp_path / name / "judgments.jsonl", good_rows())
    with pytest.raises(JpBenchError, match="holds judgments already read from"):
        load_judgments([tmp_path / "a", tmp_path / "b"])


def sample(question_id: object = 1, resps: object = ..., **doc: object) -> dict:
    record = {"doc_id": 0, "doc": {"question_id": question_id, "category": "generic", **doc}}
    record["filtered_resps"] = ["回答"] if resps is ... else resps
    return record


@pytest.mark.parametrize(("records", "expected"), [
    ([sample(resps=5)], r":1: field 'filtered_resps': expected a list holding the answer, got 5"),
    ([sample(resps={"text": "x"})], r":1: field 'filtered_resps': expected a list"),
    ([sample(resps=[float("nan")])], r":1: field 'filtered_resps': expected the answer text, got nan"),
    ([sample(question_id=[1])], r":1: field 'doc.question_id': expected an integer or a string id"),
    ([sample(question_id=True)], r":1: field 'doc.question_id'"),
    ([sample(1), sample("1")], r":2: question_id '1' again \(line 1 has 1\)"),
    ([], r": no samples in this file"),
])
def test_bad_lm_eval_samples_are_one_line(tmp_path: Path, records: list, expected: str) -> None:
    folder = tmp_path / "out" / "model"
    folder.mkdir(parents=True)
    path = folder / "samples_jp_bench_generic_2026-01-01T00-00-00.000000.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    with pytest.raises(InputFileError, match=r"samples_jp_bench_generic_[^:]*\.jsonl" + expected):
        read_lm_eval_output(tmp_path / "out")


def test_turns_that_are_not_a_list_are_refused_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "samples_jp_bench_generic_2026-01-01T00-00-00.000000.jsonl"
    path.write_text(json.dumps(sample(turns="一つの文字列")) + "\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r":1: doc: field 'turns'"):
        read_lm_eval_questions(path)


def test_the_judgment_row_fixture_is_complete() -> None:
    """The rows these tests start from pass the reader: every failure above comes from the change made."""
    assert set(COMMON) <= set(good_rows()[0])


JUDGE = "name: mine\nprovider: openai-compatible\nmodel: qwen\nbase_url: http://127.0.0.1:9/v1\n"


@pytest.mark.parametrize(("text", "expected"), [
    (JUDGE + "temperature: 0\ntemperature: 0.7\n",
     r"mine\.yaml:6: key 'temperature' appears twice \(first on line 5\)"),
    (JUDGE + "prices: {input_per_mtok: .inf, output_per_mtok: 1}\n", r"mine\.yaml:5: field 'prices.input_per_mtok': "
                                                                     r"inf is not a finite number"),
    (JUDGE + "temperature: .nan\n", r"mine\.yaml:5: field 'temperature': nan is not a finite number"),
    (JUDGE + "timeout_s: -.inf\n", r"mine\.yaml:5: field 'timeout_s': -inf is not a finite number"),
    (JUDGE + "params: [unclosed\n", r"mine\.yaml:\d+: not valid YAML: "),
])
def test_settings_yaml_is_strict_and_errors_are_one_line(tmp_path: Path, text: str, expected: str) -> None:
    from jp_bench.judging.judges import load_judge

    path = tmp_path / "mine.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputFileError, match=expected) as caught:
        load_judge(str(path))
    assert "\n" not in str(caught.value)
    result = run_cli("jp-bench", "judges", "--judges-dir", str(tmp_path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def human_vote(annotator: str, winner: str, question_id: int = 1) -> dict:
    return {"question_id": question_id, "model_a": "alpha", "model_b": "beta", "winner": winner,
            "annotator": annotator}


def test_one_person_votes_once_per_item(tmp_path: Path) -> None:
    from jp_bench.agreement import read_human_votes

    path = write_jsonl(tmp_path / "votes.jsonl", [human_vote("alice", "model_a"), human_vote("bob", "tie"),
                                                  human_vote("alice", "model_b")])
    with pytest.raises(InputFileError, match=r"votes\.jsonl:3: 'alice' already voted on question 1 .* on line 1"):
        read_human_votes(path)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_human_votes_that_are_not_utf8_are_one_line(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"votes{suffix}"
    path.write_bytes("question_id,model_a,model_b,winner,annotator\n1,a,b,tie,x\n".encode("utf-16"))
    result = run_cli("jp-bench", "agreement", "--human", str(path), "--judgments", str(path))
    assert result.returncode == 1 and "not UTF-8 text" in result.stderr and "Traceback" not in result.stderr


def test_a_duplicated_fastchat_judgment_is_refused_by_the_reader_and_named_by_the_report(tmp_path: Path) -> None:
    from jp_bench.fastchat_io import read_pairwise_judgments

    record = {"question_id": 1, "model_1": "alpha", "model_2": "beta", "g1_winner": "model_1",
              "g2_winner": "model_1", "judge": ["gpt-4", "pair-v2"], "g1_judgment": "[[A]]", "g2_judgment": "[[B]]",
              "turn": 1, "tstamp": 0}
    path = write_jsonl(tmp_path / "gpt-4_pair.jsonl", [record, {**record, "question_id": 2}, record])
    with pytest.raises(InputFileError, match=r"gpt-4_pair\.jsonl:3: a second pairwise judgment of question 1 "
                                             r"\(alpha vs beta, turn 1\)"):
        read_pairwise_judgments(path)
    # The report counts it, as FastChat's show_result does (and as it counts single rows), and says where.
    result = run_cli("jp-bench", "report", str(path), "--bootstrap", "20")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert ("1 duplicate pairwise judgment row(s) for a (question, pair of models, turn) already judged" in
            result.stdout)
    assert f"question 1, turn 1 at {path}:3 (first at {path}:1)" in result.stdout


@pytest.mark.parametrize(("record", "expected"), [
    ({"messages": 5}, r":1: field 'messages': expected a list of \{role, content\} messages, got 5"),
    ({"messages": ["a"]}, r":1: field 'messages.0': expected \{role, content\}, got 'a'"),
    ({"messages": [{"content": "x"}]}, r":1: field 'messages.0.role': expected one of system, user, assistant"),
    ({"messages": "not json"}, r":1: field 'messages': text that is not a JSON list"),
    ({"instruction": "質問", "output": 7}, r":1: field 'output': expected text, got 7"),
    ({"instruction": "質問", "input": ["x"], "output": "答え"}, r":1: field 'input': expected text"),
])
def test_bad_training_records_are_one_line(tmp_path: Path, record: dict, expected: str) -> None:
    from jp_bench.finetune.data import load_examples

    path = write_jsonl(tmp_path / "train.jsonl", [record])
    with pytest.raises(InputFileError, match=r"train\.jsonl" + expected):
        load_examples(path)


def test_a_parquet_gap_is_no_text_and_a_corrupt_parquet_is_one_line(tmp_path: Path) -> None:
    import pandas as pd

    from jp_bench.finetune.data import load_examples

    path = tmp_path / "train.parquet"
    pd.DataFrame({"instruction": ["一つ目", "二つ目"], "input": ["補足", float("nan")],
                  "output": ["答え1", "答え2"]}).to_parquet(path)
    examples = load_examples(path)
    assert [e.user for e in examples] == ["一つ目\n\n補足", "二つ目"]  # never "二つ目\n\nnan"
    pd.DataFrame({"instruction": ["一つ目"], "output": [float("nan")]}).to_parquet(path)
    with pytest.raises(InputFileError, match=r"train\.parquet:1: expected Alpaca fields 'instruction' and 'output'"):
        load_examples(path)
    path.write_bytes(b"PAR1 this is not really parquet PAR1")
    with pytest.raises(InputFileError, match=r"train\.parquet: not a readable Parquet file"):
        load_examples(path)


# One rule for a question id in every reader: NaN (json.loads reads it as a float), true and 1.0 are
# refused with the line, never coerced into question 1 or judged as the text "nan".
def _read_fastchat_answers(path: Path) -> object:
    from jp_bench.fastchat_io import read_fastchat_answers
    return read_fastchat_answers(path)


def _read_questions(path: Path) -> object:
    from jp_bench.questions import parse_questions
    return parse_questions(path)


@pytest.mark.parametrize("bad_id", ["NaN", "true", "1.0", "[1]", '" "'])
@pytest.mark.parametrize(("file_name", "line_of", "reader"), [
    ("m.jsonl", lambda qid: f'{{"question_id": {qid}, "model_id": "m", "choices": [{{"turns": ["答え"]}}]}}',
     _read_fastchat_answers),
    ("gpt-4_pair.jsonl", lambda qid: (f'{{"question_id": {qid}, "model_1": "a", "model_2": "b", "g1_winner": '
                                      f'"model_1", "g2_winner": "model_1", "judge": ["gpt-4", "pair"], '
                                      f'"g1_judgment": "[[A]]", "g2_judgment": "[[B]]"}}'),
     lambda path: load_judgments([path])),
    ("gpt-4_single.jsonl", lambda qid: (f'{{"question_id": {qid}, "model": "m", "score": 5, "judge": '
                                        f'["gpt-4", "single"], "judgment": "[[5]]"}}'),
     lambda path: load_judgments([path])),
    ("judgments.jsonl", lambda qid: json.dumps(good_rows()[0])[:-1] + f', "question_id": {qid}}}',
     lambda path: load_judgments([path])),
    ("question.jsonl", lambda qid: f'{{"question_id": {qid}, "category": "c", "turns": ["質問"]}}', _read_questions),
])
def test_a_question_id_that_is_not_an_id_is_one_line(tmp_path: Path, bad_id: str, file_name: str, line_of,
                                                     reader) -> None:
    path = tmp_path / file_name
    path.write_text(line_of(1) + "\n" + line_of(bad_id) + "\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r":2: field 'question_id': expected an integer or a string id"):
        reader(path)
