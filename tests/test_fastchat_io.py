"""FastChat llm_judge files: the paper's released answers and judgments, both judgment layouts,
round trips, and file:line errors. Released data is read in place from the shared folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jp_bench.benchmarks.questions import parse_questions
from jp_bench.errors import InputFileError, JpBenchError
from jp_bench.fastchat_io import (
    PairwiseJudgmentRecord,
    SingleJudgmentRecord,
    is_fastchat_answer_path,
    read_answers,
    read_fastchat_answers,
    read_judge_prompts,
    read_pairwise_judgments,
    read_single_judgments,
    write_pairwise_judgments,
    write_single_judgments,
)
from tests.support.files import write_jsonl

pytestmark = pytest.mark.unit

RELEASED_MODELS = [
    "cyberagent--calm2-7b-chat",
    "llm-jp--llm-jp-13b-instruct-full-jaster-dolly-oasst-v1.0",
    "llm-jp--llm-jp-13b-instruct-lora-jaster-dolly-oasst-v1.0",
    "openai--text-davinci-003",
    "rinna--japanese-gpt-neox-3.6b-instruction-ppo",
    "rinna--japanese-gpt-neox-3.6b-instruction-sft-v2",
    "tokyotech-llm--Swallow-70b-instruct-hf",
]
CALM2_VS_DAVINCI = "pairwise:cyberagent--calm2-7b-chat_openai--text-davinci-003.jsonl"
WINNERS = {"model_1", "model_2", "tie", "error"}


def answer_row(question_id: int | str, text: str, model_id: str | None = None) -> dict[str, object]:
    row: dict[str, object] = {"question_id": question_id, "answer_id": "x", "choices": [{"index": 0, "turns": [text]}]}
    if model_id is not None:
        row["model_id"] = model_id
    return row


# ---------------------------------------------------------------------------------------------- answers


def test_released_answers_folder(upstream_checkout: Path) -> None:
    folder = upstream_checkout / "jp_bench" / "model_answer"
    answers = read_fastchat_answers(folder)
    by_model: dict[str, list[int | str]] = {}
    for answer in answers:
        by_model.setdefault(answer.model_id, []).append(answer.question_id)
    assert sorted(by_model) == RELEASED_MODELS
    question_ids = {q.question_id for q in parse_questions(upstream_checkout / "jp_bench" / "question.jsonl")}
    for model, ids in by_model.items():
        assert len(ids) == 80, model
        assert set(ids) == question_ids, model
    first = answers[0]
    assert first.category == ""
    assert len(first.turns) == 1 and first.turns[0]
    assert first.source == f"{folder / RELEASED_MODELS[0] / 'results.jsonl'}:1"


def test_released_single_model_folder_and_file(upstream_checkout: Path) -> None:
    model_folder = upstream_checkout / "jp_bench" / "model_answer" / "openai--text-davinci-003"
    from_folder = read_fastchat_answers(model_folder)
    from_file = read_fastchat_answers(model_folder / "results.jsonl")
    assert len(from_folder) == 80
    assert from_folder == from_file
    assert {a.model_id for a in from_folder} == {"openai--text-davinci-003"}


def test_legacy_flat_answer_files(upstream_checkout: Path) -> None:
    folder = upstream_checkout / "legacy_705d911_2023-11-17" / "model_answer"
    files = sorted(folder.glob("*.jsonl"))
    answers = read_fastchat_answers(folder)
    assert len(answers) == 80 * len(files)
    assert {a.model_id for a in answers} == {path.stem for path in files}
    single = read_fastchat_answers(files[0])
    assert len(single) == 80 and {a.model_id for a in single} == {files[0].stem}


def test_model_id_fallbacks(tmp_path: Path) -> None:
    # No model_id in the records: config.json wins over the folder name, the file name is last.
    configured = tmp_path / "answers" / "org--configured"
    write_jsonl(configured / "results.jsonl", [answer_row(1, "一")])
    (configured / "config.json").write_text(json.dumps({"model_id": "from-config"}), encoding="utf-8")
    write_jsonl(tmp_path / "answers" / "bare-folder" / "results.jsonl", [answer_row(1, "二")])
    write_jsonl(tmp_path / "answers" / "flat-model.jsonl", [answer_row(1, "三"), answer_row(2, "四", "own-id")])
    answers = read_fastchat_answers(tmp_path / "answers")
    assert sorted((a.model_id, a.question_id) for a in answers) == [
        ("bare-folder", 1),
        ("flat-model", 1),
        ("from-config", 1),
        ("own-id", 2),
    ]


def test_repeated_question_keeps_last_answer(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # FastChat appends re-generated answers and keeps the last one per question; we say so, once.
    rows = [answer_row(1, "old", "m"), answer_row(2, "b", "m"), answer_row(1, "new", "m")]
    path = write_jsonl(tmp_path / "m.jsonl", rows)
    answers = read_fastchat_answers(path)
    assert [(a.question_id, a.turns) for a in answers] == [(1, ("new",)), (2, ("b",))]
    assert answers[0].source == f"{path}:3"
    warnings = [record.getMessage() for record in caplog.records if record.name == "jp_bench.answers"]
    assert warnings == [f"{path}:3: 1 question(s) answered again in the same file, the last answer used as FastChat "
                        f"uses it; first: question 1 of 'm' (earlier at {path}:1)"]


def test_same_model_in_two_files_is_an_error(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", [answer_row(1, "x", "same")])
    write_jsonl(tmp_path / "b.jsonl", [answer_row(1, "y", "same")])
    with pytest.raises(JpBenchError, match="'same' are also in"):
        read_fastchat_answers(tmp_path)


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"model_id": "m", "choices": [{"turns": ["x"]}]}), "field 'question_id'"),
        (json.dumps({"question_id": 2, "model_id": "m"}), "field 'choices'"),
        (json.dumps({"question_id": 2, "model_id": "m", "choices": []}), "field 'choices'"),
        (json.dumps({"question_id": 2, "model_id": "m", "choices": [{"turns": "x"}]}), "choices.0.turns"),
        (json.dumps({"question_id": 2, "model_id": "m", "choices": [{"turns": [1]}]}), "choices.0.turns"),
        (json.dumps({"question_id": 2, "model_id": 5, "choices": [{"turns": ["x"]}]}), "field 'model_id'"),
    ],
)
def test_malformed_answer_line(tmp_path: Path, bad_line: str, expected: str) -> None:
    path = write_jsonl(tmp_path / "m.jsonl", [answer_row(1, "ok", "m"), "", bad_line])
    with pytest.raises(InputFileError) as caught:
        read_fastchat_answers(path)
    assert str(caught.value).startswith(f"{path}:3: ")
    assert expected in str(caught.value)


def test_read_answers_dispatch(tmp_path: Path, upstream_checkout: Path) -> None:
    fastchat = upstream_checkout / "jp_bench" / "model_answer"
    assert is_fastchat_answer_path(fastchat)
    assert len(read_answers(fastchat)) == 80 * len(RELEASED_MODELS)

    lm_eval = tmp_path / "lm-eval" / "my-model"
    sample = {"doc": {"question_id": 7, "category": "writing"}, "filtered_resps": ["答え"]}
    write_jsonl(lm_eval / "samples_jp_bench_2024-01-01T00-00-00.000.jsonl", [sample])
    assert not is_fastchat_answer_path(lm_eval)
    answers = read_answers(tmp_path / "lm-eval")
    assert [(a.model_id, a.question_id, a.category, a.turns) for a in answers] == [
        ("my-model", 7, "writing", ("答え",))
    ]

    questions = upstream_checkout / "jp_bench" / "question.jsonl"
    assert not is_fastchat_answer_path(questions)
    with pytest.raises(JpBenchError, match="neither lm-eval output") as caught:
        read_answers(questions)
    assert str(questions) in str(caught.value)
    with pytest.raises(JpBenchError, match="not found"):
        read_answers(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(JpBenchError, match="neither"):
        read_answers(tmp_path / "empty")


# ---------------------------------------------------------------------------------------------- judgments


def test_released_pairwise_judgments(upstream_checkout: Path) -> None:
    folder = upstream_checkout / "jp_bench" / "model_judgment" / "pairwise" / "gpt-4"
    records = read_pairwise_judgments(folder / CALM2_VS_DAVINCI)
    assert len(records) == 80
    assert {(r.model_1, r.model_2) for r in records} == {("cyberagent--calm2-7b-chat", "openai--text-davinci-003")}
    assert {r.g1_winner for r in records} | {r.g2_winner for r in records} <= WINNERS
    assert all(r.turn == 1 and r.g1_judgment and r.g2_judgment and r.tstamp for r in records)
    assert all(r.g1_user_prompt is None for r in records)
    # The benchmark judged with "pair", and with the reference-guided "pair-math" for math and coding.
    categories = {q.question_id: q.category for q in parse_questions(upstream_checkout / "jp_bench" / "question.jsonl")}
    for record in records:
        expected = "gpt-4/pair-math" if categories[record.question_id] in {"math", "coding"} else "gpt-4/pair"
        assert record.judge == expected, record.question_id
    assert records[0].judge == "gpt-4/pair"


def test_released_judgment_folder_is_searched(upstream_checkout: Path) -> None:
    records = read_pairwise_judgments(upstream_checkout / "jp_bench")
    pairs = {(r.model_1, r.model_2) for r in records}
    assert len(records) == 160
    assert pairs == {
        ("cyberagent--calm2-7b-chat", "openai--text-davinci-003"),
        ("openai--text-davinci-003", "rinna--japanese-gpt-neox-3.6b-instruction-ppo"),
    }


def fastchat_pair_row(question_id: int, turn: int = 1, **changes: object) -> dict[str, object]:
    """A record in FastChat's own layout (judge as a list, user prompts kept), hand-written."""
    row: dict[str, object] = {
        "question_id": question_id,
        "model_1": "alpha",
        "model_2": "beta",
        "g1_winner": "model_1",
        "g2_winner": "tie",
        "judge": ["gpt-4", "pair-v2-multi-turn" if turn == 2 else "pair-v2"],
        "g1_user_prompt": "prompt for game one",
        "g1_judgment": "A is better. [[A]]",
        "g2_user_prompt": "prompt for game two",
        "g2_judgment": "Hard to say. [[C]]",
        "turn": turn,
        "tstamp": 1700000000.5,
    }
    row.update(changes)
    return row


def test_fastchat_older_layout(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "model_judgment" / "gpt-4_pair.jsonl",
        [fastchat_pair_row(81), fastchat_pair_row(81, turn=2, g1_winner="tie (inconsistent)", g2_winner="error")],
    )
    records = read_pairwise_judgments(path)
    assert records == [
        PairwiseJudgmentRecord(
            question_id=81,
            model_1="alpha",
            model_2="beta",
            g1_winner="model_1",
            g2_winner="tie",
            g1_judgment="A is better. [[A]]",
            g2_judgment="Hard to say. [[C]]",
            judge="gpt-4/pair-v2",
            turn=1,
            g1_user_prompt="prompt for game one",
            g2_user_prompt="prompt for game two",
            tstamp=1700000000.5,
        ),
        PairwiseJudgmentRecord(
            question_id=81,
            model_1="alpha",
            model_2="beta",
            g1_winner="tie",
            g2_winner="error",
            g1_judgment="A is better. [[A]]",
            g2_judgment="Hard to say. [[C]]",
            judge="gpt-4/pair-v2-multi-turn",
            turn=2,
            g1_user_prompt="prompt for game one",
            g2_user_prompt="prompt for game two",
            tstamp=1700000000.5,
        ),
    ]
    # The same file is found when its folder is searched.
    assert read_pairwise_judgments(tmp_path) == records


def test_folder_search_tells_pairwise_from_single(tmp_path: Path) -> None:
    single = {"question_id": 1, "model": "alpha", "judge": ["gpt-4", "single-v1"], "user_prompt": "p",
              "judgment": "Good. [[8]]", "score": 8, "turn": 1, "tstamp": 1.0}
    write_jsonl(tmp_path / "gpt-4_pair.jsonl", [fastchat_pair_row(1)])
    write_jsonl(tmp_path / "gpt-4_single.jsonl", [single, {**single, "question_id": 2, "score": -1}])
    write_jsonl(tmp_path / "nested" / "renamed.jsonl", [fastchat_pair_row(2)])  # found by its records' shape
    write_jsonl(tmp_path / "model_answer" / "alpha.jsonl", [answer_row(1, "x", "alpha")])  # not a judgment
    write_jsonl(tmp_path / "broken.jsonl", ["{not json"])  # unnamed and unreadable: not a judgment file
    pairwise = read_pairwise_judgments(tmp_path)
    assert [r.question_id for r in pairwise] == [1, 2]
    singles = read_single_judgments(tmp_path)
    assert [(r.question_id, r.score, r.judge, r.user_prompt) for r in singles] == [
        (1, 8.0, "gpt-4/single-v1", "p"),
        (2, None, "gpt-4/single-v1", "p"),  # FastChat's -1 means "no rating"
    ]
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    with pytest.raises(JpBenchError, match="no pairwise judgment files"):
        read_pairwise_judgments(empty)


def test_pairwise_round_trip(tmp_path: Path) -> None:
    records = [
        PairwiseJudgmentRecord(3, "org/alpha", "beta", "model_2", "model_2", "B。[[B]]", "A。[[A]]", "gpt-4/pair"),
        PairwiseJudgmentRecord(1, "org/alpha", "beta", "tie", "error", "同点 [[C]]", "no marker", "gpt-4/pair",
                               turn=2, g1_user_prompt="質問一", g2_user_prompt="質問二", tstamp=12.5),
        PairwiseJudgmentRecord(1, "org/alpha", "beta", "model_1", "model_1", "[[A]]", "[[B]]", "gpt-4/pair"),
        PairwiseJudgmentRecord("q-x", "beta", "gamma", "model_1", "tie", "[[A]]", "[[C]]", "openai/gpt-4o/pair"),
    ]
    written = write_pairwise_judgments(tmp_path / "out", records)
    assert [p.name for p in written] == ["pairwise:beta_gamma.jsonl", "pairwise:org--alpha_beta.jsonl"]
    text = written[1].read_text(encoding="utf-8")
    assert "同点" in text  # ensure_ascii=False
    rows = [json.loads(line) for line in text.splitlines()]
    assert [(row["question_id"], row["turn"]) for row in rows] == [(1, 1), (1, 2), (3, 1)]
    assert list(rows[0]) == ["question_id", "model_1", "model_2", "g1_winner", "g2_winner", "g1_judgment",
                             "g2_judgment", "judge", "turn", "tstamp"]
    assert rows[1]["g1_user_prompt"] == "質問一"
    back = read_pairwise_judgments(tmp_path / "out")
    assert sorted(back, key=repr) == sorted(records, key=repr)
    assert not list((tmp_path / "out").glob(".*.tmp"))  # atomic writes leave no temporary files


def test_pairwise_writer_rejects_duplicates(tmp_path: Path) -> None:
    record = PairwiseJudgmentRecord(1, "a", "b", "model_1", "model_1", "[[A]]", "[[B]]", "gpt-4/pair")
    with pytest.raises(ValueError, match="duplicate"):
        write_pairwise_judgments(tmp_path, [record, record])


def test_single_round_trip(tmp_path: Path) -> None:
    records = [
        SingleJudgmentRecord(2, "alpha", 7.5, "まあまあ [[7.5]]", "gpt-4/single", tstamp=3.0),
        SingleJudgmentRecord(1, "alpha", None, "no rating given", "gpt-4/single", user_prompt="評価して"),
        SingleJudgmentRecord(1, "org/beta", 10.0, "[[10]]", "gpt-4/single-v1-multi-turn", turn=2),
    ]
    written = write_single_judgments(tmp_path, records)
    assert [p.name for p in written] == ["single:alpha.jsonl", "single:org--beta.jsonl"]
    rows = [json.loads(line) for line in written[0].read_text(encoding="utf-8").splitlines()]
    assert [(row["question_id"], row["score"]) for row in rows] == [(1, -1), (2, 7.5)]
    assert "まあまあ" in written[0].read_text(encoding="utf-8")
    assert sorted(read_single_judgments(tmp_path), key=repr) == sorted(records, key=repr)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"g1_winner": "A"}, "field 'g1_winner': expected model_1, model_2, tie or error"),
        ({"g2_winner": None}, "field 'g2_winner'"),
        ({"g1_judgment": None}, "field 'g1_judgment'"),
        ({"model_2": 3}, "field 'model_2'"),
        ({"question_id": None}, "field 'question_id'"),
        ({"question_id": True}, "field 'question_id'"),
        ({"turn": 0}, "field 'turn'"),
        ({"tstamp": "yesterday"}, "field 'tstamp'"),
        ({"judge": None}, "expected 'judge'"),
        ({"model_1": None}, "expected a pairwise judgment with model_1, model_2"),
    ],
)
def test_malformed_pairwise_line(tmp_path: Path, changes: dict[str, object], expected: str) -> None:
    bad = {key: value for key, value in {**fastchat_pair_row(2), **changes}.items() if value is not None}
    path = write_jsonl(tmp_path / "pairwise:a_b.jsonl", [fastchat_pair_row(1), "", bad])
    with pytest.raises(InputFileError) as caught:
        read_pairwise_judgments(path)
    assert str(caught.value).startswith(f"{path}:3: ")
    assert expected in str(caught.value)


def test_malformed_judgment_in_named_file_of_folder(tmp_path: Path) -> None:
    # Named files are validated, not skipped, when a folder is searched.
    path = write_jsonl(tmp_path / "sub" / "pairwise:a_b.jsonl", [{"question_id": 1, "model": "a", "score": 3}])
    with pytest.raises(InputFileError, match=r"pairwise:a_b\.jsonl:1: expected a pairwise judgment"):
        read_pairwise_judgments(tmp_path)
    assert path.exists()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"score": "eight"}, "field 'score'"),
        ({"score": True}, "field 'score'"),
        ({"judgment": 5}, "field 'judgment'"),
        ({"model": None}, "expected a single-answer judgment"),
    ],
)
def test_malformed_single_line(tmp_path: Path, changes: dict[str, object], expected: str) -> None:
    good = {"question_id": 1, "model": "m", "judge": ["gpt-4", "single"], "judgment": "[[5]]", "score": 5, "turn": 1}
    bad = {key: value for key, value in {**good, **changes}.items() if value is not None}
    path = write_jsonl(tmp_path / "single.jsonl", [good, bad])
    with pytest.raises(InputFileError) as caught:
        read_single_judgments(path)
    assert str(caught.value).startswith(f"{path}:2: ")
    assert expected in str(caught.value)


# ---------------------------------------------------------------------------------------------- judge prompts


def test_benchmark_judge_prompts(upstream_checkout: Path) -> None:
    prompts = read_judge_prompts(upstream_checkout / "jp_bench" / "judge_prompts.jsonl")
    assert list(prompts) == ["pair", "pair-math", "single", "single-math"]
    assert [prompts[name].type for name in prompts] == ["pairwise", "pairwise", "single", "single"]
    assert [prompts[name].uses_reference for name in prompts] == [False, True, False, True]
    assert not any(prompt.multi_turn for prompt in prompts.values())
    assert prompts["pair"].output_format == "[[A]]"
    assert prompts["single"].output_format == "[[rating]]"
    assert prompts["pair-math"].category == "math"
    assert all(prompt.system_prompt and prompt.prompt_template for prompt in prompts.values())


def test_fastchat_judge_prompts(upstream_checkout: Path) -> None:
    shared = upstream_checkout.parent / "fastchat_llm_judge" / "judge_prompts.jsonl"
    prompts = read_judge_prompts(shared)
    assert len(prompts) == 8
    multi = {name for name, prompt in prompts.items() if prompt.multi_turn}
    assert multi == {name for name in prompts if name.endswith("multi-turn")}
    assert {name for name, prompt in prompts.items() if prompt.uses_reference} == {
        name for name in prompts if "math" in name
    }
    assert {prompt.type for prompt in prompts.values()} == {"pairwise", "single"}


def test_multi_turn_detected_from_placeholders(tmp_path: Path) -> None:
    row = {"name": "custom", "type": "single", "system_prompt": "", "output_format": "[[rating]]",
           "prompt_template": "Q1 {question_1} A1 {answer_1} Q2 {question_2} A2 {answer_2}"}
    prompt = read_judge_prompts(write_jsonl(tmp_path / "p.jsonl", [row]))["custom"]
    assert prompt.multi_turn and not prompt.uses_reference
    assert prompt.category == "" and prompt.description == ""


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"type": "ranking"}, "field 'type': expected 'pairwise' or 'single'"),
        ({"prompt_template": None}, "field 'prompt_template'"),
        ({"name": ""}, "field 'name'"),
        ({"system_prompt": None}, "field 'system_prompt'"),
        ({"output_format": 1}, "field 'output_format'"),
        ({"name": "first"}, "duplicate prompt name 'first'"),
    ],
)
def test_malformed_judge_prompt(tmp_path: Path, changes: dict[str, object], expected: str) -> None:
    good = {"name": "first", "type": "pairwise", "system_prompt": "s", "prompt_template": "{question}",
            "output_format": "[[A]]", "category": "general", "description": "d"}
    bad = {key: value for key, value in {**good, "name": "second", **changes}.items() if value is not None}
    path = write_jsonl(tmp_path / "judge_prompts.jsonl", [good, bad])
    with pytest.raises(InputFileError) as caught:
        read_judge_prompts(path)
    assert str(caught.value).startswith(f"{path}:2: ")
    assert expected in str(caught.value)
