"""Bad input is one line (file:line: what was expected), exit != 0, nothing written; never a traceback and
never a silently different number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jp_bench.errors import InputFileError, JpBenchError
from jp_bench.harness.samples import read_lm_eval_output, read_lm_eval_questions
from jp_bench.reporting.sources import load_judgments
from tests.support.cli import main_in_process
from tests.support.files import write_jsonl
from tests.support.judgment_rows import COMMON, pairwise_row

pytestmark = pytest.mark.unit


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
    result = main_in_process("report", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""


@pytest.mark.parametrize("content", [b"\x00\x01\xff\xfe\x00binary", json.dumps(good_rows()[0]).encode("utf-16")])
def test_a_judgments_file_that_is_not_utf8_is_one_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "judgments.jsonl"
    path.write_bytes(content)
    result = main_in_process("report", str(path))
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
    result = main_in_process("judges", "--judges-dir", str(tmp_path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def human_vote(annotator: str, winner: str, question_id: int = 1) -> dict:
    return {"question_id": question_id, "model_a": "alpha", "model_b": "beta", "winner": winner,
            "annotator": annotator}


def test_one_person_votes_once_per_item(tmp_path: Path) -> None:
    from jp_bench.votes import read_human_votes

    path = write_jsonl(tmp_path / "votes.jsonl", [human_vote("alice", "model_a"), human_vote("bob", "tie"),
                                                  human_vote("alice", "model_b")])
    with pytest.raises(InputFileError, match=r"votes\.jsonl:3: 'alice' already voted on question 1 .* on line 1"):
        read_human_votes(path)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_human_votes_that_are_not_utf8_are_one_line(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"votes{suffix}"
    path.write_bytes("question_id,model_a,model_b,winner,annotator\n1,a,b,tie,x\n".encode("utf-16"))
    result = main_in_process("agreement", "--human", str(path), "--judgments", str(path))
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
    result = main_in_process("report", str(path), "--bootstrap", "20")
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
    from jp_bench.benchmarks.questions import parse_questions
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


# ------------------------------------------------------------------ values: one rule on every surface
def cli_error(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run the CLI in this process; its exit code and its stderr."""
    from jp_bench.cli import main

    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's usage error
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


JUDGE_ARGS = ("judge", "answers.jsonl", "--judge", "gpt-4o")
GENERATE_ARGS = ("selfinstruct", "generate", "--generator", "embedded", "--num", "1", "--out", "data")
TRANSLATE_ARGS = ("selfinstruct", "seeds", "translate", "--input", "seeds.jsonl", "--translator", "embedded",
                  "--out", "sheet")


@pytest.mark.parametrize(("command", "flag", "value", "expected"), [
    (JUDGE_ARGS, "--max-cost", "nan", "expected a finite number, got 'nan'"),
    (JUDGE_ARGS, "--max-cost", "-1", "expected a number of 0 or more, got '-1'"),
    (GENERATE_ARGS, "--max-cost", "nan", "expected a finite number, got 'nan'"),
    (GENERATE_ARGS, "--max-cost", "-1", "expected a number of 0 or more, got '-1'"),
    (JUDGE_ARGS, "--concurrency", "-1", "expected a positive integer, got '-1'"),
    (JUDGE_ARGS, "--concurrency", "0", "expected a positive integer, got '0'"),
    (TRANSLATE_ARGS, "--concurrency", "0", "expected a positive integer, got '0'"),
    (GENERATE_ARGS, "--concurrency", "-1", "expected a positive integer, got '-1'"),
    (JUDGE_ARGS, "--temperature", "nan", "expected a finite number, got 'nan'"),
    (JUDGE_ARGS, "--temperature", "inf", "expected a finite number, got 'inf'"),
    (JUDGE_ARGS, "--temperature", "-1", "expected a number of 0 or more, got '-1'"),
    (JUDGE_ARGS, "--batch-poll", "0", "expected a positive number, got '0'"),
    (JUDGE_ARGS, "--concurrency", "many", "expected an integer, got 'many'"),
    (JUDGE_ARGS, "--batch-poll", "1e9", "expected at most 300, got '1e9'"),
    (GENERATE_ARGS, "--batch-poll", "1e9", "expected at most 300, got '1e9'"),
    (JUDGE_ARGS, "--samples", "100000", "expected at most 1000, got '100000'"),
    (JUDGE_ARGS, "--base-url", "file:///etc/passwd", "expected an http:// or https:// URL with a host, got a file: "
                                                     "URL"),
    (JUDGE_ARGS, "--base-url", "ftp://user:pw@host/v1", "got a ftp: URL"),
    (JUDGE_ARGS, "--base-url", "javascript:alert(1)", "got a javascript: URL"),
    (TRANSLATE_ARGS, "--base-url", "file:///x", "got a file: URL"),
])
def test_a_bad_value_on_the_command_line_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...],
                                                          flag: str, value: str, expected: str) -> None:
    monkeypatch.chdir(tmp_path)  # nothing may be written; if something were, it would land here
    code, err = cli_error(capsys, *command, flag, value)
    assert code == 2 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert f"error: argument {flag}: " in last and last.endswith(expected), err
    assert "pw@" not in err and list(tmp_path.iterdir()) == []


def write_judge(folder: Path, text: str, name: str = "mine.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


BOMB = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9))


@pytest.mark.parametrize(("text", "expected"), [
    (JUDGE + "temperature: -1\n", r"mine\.yaml:5: field 'temperature': Input should be greater than or equal to 0"),
    (JUDGE + f"max_tokens: {10**21}\n", r"mine\.yaml:5: field 'max_tokens': Input should be less than or equal to "
                                        r"2147483647"),
    (JUDGE + "concurrency: 0\n", r"mine\.yaml:5: field 'concurrency': Input should be greater than or equal to 1"),
    (JUDGE + "concurrency: true\n", r"mine\.yaml:5: field 'concurrency': Input should be a valid integer"),
    (JUDGE.replace("http://127.0.0.1:9/v1", "file:///etc/passwd"),
     r"mine\.yaml:4: field 'base_url': expected an http:// or https:// URL with a host, got a file: URL"),
    (JUDGE.replace("http://127.0.0.1:9/v1", "ftp://127.0.0.1/v1"), r"mine\.yaml:4: field 'base_url': .* ftp: URL"),
    (JUDGE.replace("http://127.0.0.1:9/v1", '"javascript:alert(1)"'), r"mine\.yaml:4: .* javascript: URL"),
    (JUDGE + "params:\n  top_p: 0.9\n  api_key: sk-secret-123\n",
     r"mine\.yaml:7: field 'params\.api_key': Extra inputs are not permitted"),
    (JUDGE + "params: {extra_headers: {X-Api-Key: sk-secret-123}}\n",
     r"mine\.yaml:5: field 'params\.extra_headers\.X-Api-Key': Extra inputs are not permitted"),
    (JUDGE + "params: {Authorization: Bearer sk-secret-123}\n",
     r"mine\.yaml:5: field 'params\.Authorization': Extra inputs are not permitted"),
    (JUDGE + "? [a, b]\n: 1\n", r"mine\.yaml:5: expected a plain key \(text or a number\), got a list"),
    (JUDGE + "{{ answers }}: 1\n", r"mine\.yaml:5: expected a plain key \(text or a number\), got a mapping"),
    (JUDGE + "loop: &a [*a]\n", r"mine\.yaml:5: alias \*a: settings files take no anchors or aliases"),
    (JUDGE + BOMB, r"mine\.yaml:6: alias \*a0: settings files take no anchors or aliases"),
])
def test_judge_yaml_values_follow_the_command_line_rules(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                         text: str, expected: str) -> None:
    from jp_bench.judging.judges import load_judge

    path = write_judge(tmp_path, text)
    with pytest.raises(InputFileError, match=expected) as caught:
        load_judge(str(path))
    assert "\n" not in str(caught.value) and "sk-secret-123" not in str(caught.value)
    code, err = cli_error(capsys, "judges", "--judges-dir", str(tmp_path))
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_key_under_params_is_refused_as_a_top_level_key_is(tmp_path: Path) -> None:
    from jp_bench.judging.judges import load_judge

    messages = []
    for text in (JUDGE + "api_key: sk-x\n", JUDGE + "params: {api_key: sk-x}\n"):
        with pytest.raises(InputFileError) as caught:
            load_judge(str(write_judge(tmp_path, text)))
        messages.append(caught.value.message.replace("params.", ""))
    assert messages[0] == messages[1] == "field 'api_key': Extra inputs are not permitted"
    # Sampling parameters that merely mention tokens are no secrets.
    judge = load_judge(str(write_judge(tmp_path, JUDGE + "params: {max_new_tokens: 8, skip_special_tokens: true}\n")))
    assert judge.model_spec().params == {"max_new_tokens": 8, "skip_special_tokens": True}


def test_a_base_url_from_the_environment_is_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from jp_bench.judging.judges import load_judge

    monkeypatch.setenv("OPENAI_BASE_URL", "file:///etc/passwd")
    with pytest.raises(JpBenchError, match=r"^\$OPENAI_BASE_URL: expected an http:// or https:// URL"):
        load_judge("gpt-4o").model_spec()


@pytest.mark.parametrize(("metadata", "expected"), [
    ({"judge": "gpt-4o", "Judge_mode": "single"}, "--metadata Judge_mode: unknown key; did you mean 'judge_mode'?"),
    ({"JUDGE": "gpt-4o"}, "--metadata JUDGE: unknown key; did you mean 'judge'?"),
    ({"judge": "gpt-4o", "judge_mod": "single"}, "--metadata judge_mod: unknown judging key (did you mean "
                                                 "'judge_mode'?"),
    ({"judge": "gpt-4o", "judge_concurrency": True}, "--metadata judge_concurrency: Input should be a valid integer"),
    ({"judge": "gpt-4o", "judge_concurrency": 0}, "--metadata judge_concurrency: Input should be greater than or "
                                                  "equal to 1"),
    ({"judge": "gpt-4o", "judge_max_cost": True}, "--metadata judge_max_cost: Input should be a valid number"),
    ({"judge": "gpt-4o", "judge_model": ""}, "--metadata judge_model: String should have at least 1 character"),
    ({"judge": "gpt-4o", "judge_base_url": "ftp://u:pw@host/v1"},
     "--metadata judge_base_url: expected an http:// or https:// URL with a host, got a ftp: URL"),
])
def test_in_harness_keys_follow_the_command_line_rules(metadata: dict, expected: str) -> None:
    from jp_bench.harness.judge_settings import parse_settings

    with pytest.raises(JpBenchError) as caught:
        parse_settings(metadata)
    assert str(caught.value).startswith(expected), str(caught.value)
    assert "pw@" not in str(caught.value)


def questions_and_answers(folder: Path) -> tuple[Path, Path]:
    """Two questions and one model's FastChat answers to them."""
    questions = write_jsonl(folder / "q.jsonl", [{"question_id": i, "category": "generic", "turns": [f"質問{i}"]}
                                                 for i in (1, 2)])
    answers = write_jsonl(folder / "m.jsonl", [{"question_id": i, "model_id": "m", "choices": [{"turns": ["答え"]}]}
                                               for i in (1, 2)])
    return questions, answers


ANTHROPIC_JUDGE = ("name: claude\nprovider: anthropic\nmodel: claude-x\nbase_url: http://127.0.0.1:9\n"
                   "temperature: 0\nprices: {input_per_mtok: 3, output_per_mtok: 15}\n")


def test_a_temperature_for_a_judge_sent_none_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    judge = write_judge(tmp_path, ANTHROPIC_JUDGE, "claude.yaml")
    code, err = cli_error(capsys, "judge", str(tmp_path / "answers.jsonl"), "--judge", str(judge), "--mode", "single",
                          "--temperature", "0.7", "--workspace", str(tmp_path / "ws.sqlite"))
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "--temperature: claude (anthropic) is sent no temperature" in err
    assert not (tmp_path / "ws.sqlite").exists()


def test_samples_of_a_judge_sent_no_temperature_need_no_temperature(tmp_path: Path) -> None:
    """Anthropic samples at its default temperature: --samples works without --temperature, and sample 0
    keeps the key of an ordinary run (temperature 0 from the YAML: no existing key changes)."""
    from jp_bench.judging.service import JudgeRequest, prepare

    judge = write_judge(tmp_path, ANTHROPIC_JUDGE, "claude.yaml")
    questions, answers = questions_and_answers(tmp_path)
    request = JudgeRequest(answers=[str(answers)], judge=str(judge), mode="single", benchmark=str(questions),
                           workspace=tmp_path / "ws.sqlite")
    one = prepare(request)
    three = prepare(JudgeRequest(**{**request.__dict__, "samples": 3}))
    assert len(three.plan.tasks) == 6 and one.spec.temperature == 0
    assert {t.key for t in one.plan.tasks} < {t.key for t in three.plan.tasks}


# ---------------------------------------------------------------------------------- broken stores
def test_opening_a_store_in_use_never_touches_its_file_outside_sqlite(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """POSIX drops every lock a process holds on a file when it closes ANY descriptor of it: reading the
    store's header beside an open connection let another process take the WAL from under it, and two
    processes on one workspace then paid for every call twice. While a connection is open, a second
    Store on the same file reads nothing through Python."""
    from jp_bench.llm.store import Store

    path = tmp_path / "ws.sqlite"
    opened: list[Path] = []
    real_open = Path.open

    def watching_open(self: Path, *args, **kwargs):
        if self.name.startswith(path.name):
            opened.append(self)
        return real_open(self, *args, **kwargs)

    with Store(path) as first:
        monkeypatch.setattr(Path, "open", watching_open)
        with Store(path) as second:
            assert first.claim("k", "owner-1", 60) == "mine"
            assert second.claim("k", "owner-2", 60) == "taken"  # each sees the other's claim
    assert opened == []


@pytest.mark.parametrize(("kind", "expected"), [
    ("garbage", "not a SQLite database, or a damaged one"),
    ("text", "not a SQLite database, or a damaged one"),
    ("truncated", "a damaged SQLite database (the file is shorter than its header says"),
    ("truncated-half", "a damaged SQLite database (the file is shorter than its header says"),
    ("other-schema", "not a jp-bench store (its table 'calls' has no column"),
    ("newer", "made by a newer jp-bench (store schema 99; this one reads up to 2)"),
    ("folder", "cannot be opened"),
])
def test_a_broken_store_is_one_line_and_left_as_it_was(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                       kind: str, expected: str) -> None:
    import sqlite3

    from jp_bench.llm.store import Store

    good = tmp_path / "good.sqlite"
    with Store(good):
        pass
    data = good.read_bytes()
    path = tmp_path / "store.sqlite"
    if kind == "garbage":
        path.write_bytes(bytes(range(256)) * 20)
    elif kind == "text":
        path.write_text("question_id,answer\n1,はい\n", encoding="utf-8")
    elif kind == "truncated":
        path.write_bytes(data[:-100])
    elif kind == "truncated-half":
        path.write_bytes(data[: len(data) // 2 + 10])
    elif kind == "other-schema":
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE calls (id INTEGER PRIMARY KEY, note TEXT)")
    elif kind == "newer":
        path.write_bytes(data)
        with sqlite3.connect(path) as db:
            db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    else:
        path.mkdir()
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(JpBenchError) as caught:
        Store(path)
    assert str(caught.value).startswith(f"{path}: {expected}") and "\n" not in str(caught.value)
    if before is not None:
        assert path.read_bytes() == before  # nothing written: not even the schema version
    # The same one line from a command, never a sqlite3 traceback.
    questions, answers = questions_and_answers(tmp_path)
    code, err = cli_error(capsys, "judge", str(answers), "--judge", str(write_judge(tmp_path, JUDGE)), "--mode",
                          "single", "--benchmark", str(questions), "--workspace", str(path), "--dry-run")
    assert code == 1 and err == f"jp-bench: error: {caught.value}\n"


# ---------------------------------------------------------------------------------------- juries
def test_a_jury_as_a_jury_member_is_one_line(tmp_path: Path) -> None:
    from jp_bench.judging.jury import jury_of

    write_judge(tmp_path, "name: inner\njudges: [gpt-4o, claude-sonnet]\n", "inner.yaml")
    outer = write_judge(tmp_path, "name: outer\njudges:\n  - gpt-4o\n  - inner.yaml\n", "outer.yaml")
    with pytest.raises(InputFileError, match=r"outer\.yaml:4: judges\.1: inner\.yaml is a jury, not a judge"):
        jury_of([str(outer)])


def test_a_huge_jury_is_refused_at_once(tmp_path: Path) -> None:
    from jp_bench.judging.jury import jury_of

    listed = write_judge(tmp_path, "name: huge\njudges: [" + ", ".join(f"j{i}" for i in range(100_000)) + "]\n",
                         "huge.yaml")
    with pytest.raises(InputFileError, match=r"huge\.yaml:2: field 'judges': List should have at most 100 items"):
        jury_of([str(listed)])
    with pytest.raises(JpBenchError, match=r"--judge is given 100000 times; a jury has at most 100 members"):
        jury_of([f"j{i}" for i in range(100_000)])
