"""Multi-turn answering through lm-eval (Japanese MT-Bench, 80 questions x 2 turns): the task group, the
per-turn runs of `jp-bench lm-eval --tasks ja_mt_bench`, resuming, chat messages on API backends, and
FastChat's per-category temperatures."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from jp_bench.errors import JpBenchError
from jp_bench.harness import multiturn
from jp_bench.harness.runner import run_lm_eval
from jp_bench.paths import tasks_path
from tests.support.cli import run_cli
from tests.support.files import samples_by_task
from tests.support.judge_stub import JudgeStub
from tests.support.paths import SHARED

QUESTIONS = SHARED / "data" / "stability_japanese_mt_bench" / "question_full.jsonl"
FASTCHAT_TEMPERATURES = {"writing": 0.7, "roleplay": 0.7, "extraction": 0.0, "math": 0.0, "coding": 0.0,
                         "reasoning": 0.0, "stem": 0.1, "humanities": 0.1}


@pytest.fixture(scope="module")
def questions() -> dict[int, dict]:
    """The reference Japanese MT-Bench questions, by id (../shared, until the benchmark entry is pinned)."""
    if not QUESTIONS.is_file():
        pytest.fail(f"reference data missing: {QUESTIONS} (set JP_BENCH_SHARED to the shared folder)")
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {row["question_id"]: row for row in rows}


def metadata(**extra: object) -> str:
    return json.dumps({"questions_file": str(QUESTIONS), **extra})


def prompt_of(record: dict) -> str:
    return record["arguments"]["gen_args_0"]["arg_0"]


def gen_kwargs_of(record: dict) -> dict:
    return record["arguments"]["gen_args_0"]["arg_1"]


def chatml(messages: list[tuple[str, str]]) -> str:
    """What the tiny model's ChatML template renders, with the generation prompt."""
    return "".join(f"<|im_start|>{role}\n{text}<|im_end|>\n" for role, text in messages) + "<|im_start|>assistant\n"


# ---------------------------------------------------------------------------------- the task group
@pytest.mark.unit
def test_lm_eval_indexes_one_subtask_per_category_and_turn(questions, jp_home: Path) -> None:
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(tasks_path()), include_defaults=False,
                          metadata={"questions_file": str(QUESTIONS)})
    assert {"ja_mt_bench", "ja_mt_bench_turn1", "ja_mt_bench_turn2"} <= set(manager.all_groups)
    tasks = manager.load(["ja_mt_bench_turn1"])["tasks"]
    assert set(tasks) == {f"ja_mt_bench_turn1_{c}" for c in FASTCHAT_TEMPERATURES}
    docs = []
    for name, task in tasks.items():
        category = name.removeprefix("ja_mt_bench_turn1_")
        kwargs = task.config.generation_kwargs
        assert kwargs["temperature"] == FASTCHAT_TEMPERATURES[category]
        assert kwargs["do_sample"] is (FASTCHAT_TEMPERATURES[category] > 0)
        assert kwargs["until"] == [] and kwargs["max_gen_toks"] == 1024
        docs += list(task.eval_docs)
    assert len(docs) == 80 and Counter(d["category"] for d in docs) == Counter(dict.fromkeys(FASTCHAT_TEMPERATURES, 10))
    for doc in docs:
        assert doc["turn"] == 1 and doc["previous_answers"] == []
        assert doc["turns"] == questions[doc["question_id"]]["turns"]

    # The switch: every category greedy. A second manager without it is untouched (nothing shared).
    greedy = TaskManager(include_path=str(tasks_path()), include_defaults=False,
                         metadata={"questions_file": str(QUESTIONS), "greedy": True}).load(["ja_mt_bench_turn1"])
    assert {(t.config.generation_kwargs["do_sample"], t.config.generation_kwargs["temperature"])
            for t in greedy["tasks"].values()} == {(False, 0.0)}
    again = manager.load(["ja_mt_bench_turn1_writing"])["tasks"]["ja_mt_bench_turn1_writing"]
    assert again.config.generation_kwargs["temperature"] == 0.7
    with pytest.raises(JpBenchError, match="greedy: expected true or false"):
        TaskManager(include_path=str(tasks_path()), include_defaults=False,
                    metadata={"questions_file": str(QUESTIONS), "greedy": "yes"}).load(["ja_mt_bench_turn1_math"])


@pytest.mark.unit
def test_turn_two_needs_a_history_and_turn_one_refuses_one(questions, jp_home: Path, tmp_path: Path) -> None:
    with pytest.raises(JpBenchError, match=r"turn 2 follows the model's own turn-1 answers.*--tasks ja_mt_bench"):
        multiturn.mt_docs("ja_mt_bench", "math", 2, questions_file=str(QUESTIONS))
    with pytest.raises(JpBenchError, match="history is for turns 2 and later"):
        multiturn.mt_docs("ja_mt_bench", "math", 1, history=str(tmp_path), questions_file=str(QUESTIONS))
    with pytest.raises(JpBenchError, match="no samples_ja_mt_bench_turn1_math_"):
        multiturn.mt_docs("ja_mt_bench", "math", 2, history=str(tmp_path), questions_file=str(QUESTIONS))
    # Two models' turn-1 samples under one folder: the history must name one.
    for model in ("a", "b"):
        (tmp_path / model).mkdir()
        (tmp_path / model / "samples_ja_mt_bench_turn1_math_2026-01-01T00-00-00.000001.jsonl").write_text("")
    with pytest.raises(JpBenchError, match="several models' samples"):
        multiturn.mt_docs("ja_mt_bench", "math", 2, history=str(tmp_path), questions_file=str(QUESTIONS))


@pytest.mark.unit
def test_documents_come_from_the_named_benchmark(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without questions_file the subtasks ask jp_bench.benchmarks for `ja_mt_bench` by name."""
    import jp_bench.benchmarks
    from jp_bench.benchmarks.questions import Question

    asked = []

    def load_questions(name, **kwargs):
        asked.append(name)
        return [Question(question_id=1, category="math", turns=["一問目", "二問目"])]

    monkeypatch.setattr(jp_bench.benchmarks, "load_questions", load_questions)
    (doc,) = multiturn.mt_docs("ja_mt_bench", "math", 1)
    assert asked == ["ja_mt_bench"]
    assert doc == {"question_id": 1, "category": "math", "turns": ["一問目", "二問目"], "reference": [],
                   "grading_notes": "", "turn": 1, "previous_answers": []}


@pytest.mark.e2e
def test_the_runner_refuses_what_cannot_span_turns(jp_home: Path, tmp_path: Path) -> None:
    base = ["--model", "hf", "--model_args", "pretrained=x", "--tasks", "ja_mt_bench"]
    out = ["--output_path", str(tmp_path), "--log_samples"]
    cases = [
        (base, "needs --output_path and --log_samples"),
        ([*base, *out, "--metadata", metadata(history=str(tmp_path))], "history: set by jp-bench"),
        # Judging is checked before turn 1 is generated: MT-Bench has no released baseline ('paper').
        ([*base, *out, "--metadata", metadata(judge="openai-compatible", judge_mode="pairwise", baseline="paper",
                                              judge_preflight=False)],
         "baseline: 'paper' names the text-davinci-003 answers released with jp_bench; ja_mt_bench has none: "
         "give another model's answers with both turns"),
        ([*base[:-1], "ja_mt_bench,ja_mt_bench_turn2", *out], "not both"),
    ]
    for argv, message in cases:
        with pytest.raises(JpBenchError, match=message):
            run_lm_eval(argv)


# ------------------------------------------------------------------------------ a real model (hf)
@pytest.mark.e2e
def test_full_run_gives_160_samples_and_turn_two_follows_the_models_own_answer(
    tiny_chat_llama: Path, questions, jp_home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    argv = ["jp-bench", "lm-eval", "--model", "hf", "--model_args", f"pretrained={tiny_chat_llama}",
            "--tasks", "ja_mt_bench", "--apply_chat_template", "--output_path", str(out), "--log_samples",
            "--gen_kwargs", "max_gen_toks=8", "--metadata", metadata()]
    result = run_cli(*argv)
    assert result.returncode == 0, result.stderr[-3000:]
    records = samples_by_task(out)
    assert sorted(records) == sorted(multiturn.subtask_name(t, c) for t in (1, 2) for c in FASTCHAT_TEMPERATURES)
    flat = [r for rows in records.values() for r in rows]
    assert len(flat) == 160
    by_turn = {turn: {r["doc"]["question_id"]: r for r in flat if r["doc"]["turn"] == turn} for turn in (1, 2)}
    assert sorted(by_turn[1]) == sorted(by_turn[2]) == list(range(1, 81))

    for question_id, second in by_turn[2].items():
        q1, q2 = questions[question_id]["turns"]
        first = by_turn[1][question_id]
        own = first["filtered_resps"][0].strip()
        assert prompt_of(first) == chatml([("user", q1)])
        # Turn 2 is the chat so far, rendered by the model's template: its own turn-1 answer sits in an
        # assistant message between the two questions (and no other question's answer).
        assert prompt_of(second) == chatml([("user", q1), ("assistant", own), ("user", q2)])
        assert second["doc"]["previous_answers"] == [own]
        category = second["doc"]["category"]
        for record in (first, second):
            assert gen_kwargs_of(record) == {"until": [], "max_gen_toks": 8,
                                             "do_sample": FASTCHAT_TEMPERATURES[category] > 0,
                                             "temperature": FASTCHAT_TEMPERATURES[category]}
    assert "ja_mt_bench turn 2: generating 8 subtask(s)" in result.stderr

    # The same command again: both turns are complete, nothing is generated or written.
    files = sorted(out.rglob("*.json*"))
    again = run_cli(*argv)
    assert again.returncode == 0, again.stderr[-3000:]
    assert sorted(out.rglob("*.json*")) == files
    assert again.stderr.count("8 subtask(s) complete") == 2


@pytest.mark.e2e
def test_plain_lm_eval_runs_the_turns_one_after_the_other(tiny_llama: Path, questions, jp_home: Path,
                                                          tmp_path: Path) -> None:
    """Without jp-bench: turn 1, then turn 2 with --metadata history; no chat template (the Japanese frame)."""
    out = tmp_path / "out"
    include = ["--include_path", str(tasks_path())]
    common = ["--model", "hf", "--model_args", f"pretrained={tiny_llama}", *include, "--output_path", str(out),
              "--log_samples", "--limit", "1", "--gen_kwargs", "max_gen_toks=8"]
    both = run_cli("lm_eval", *common, "--tasks", "ja_mt_bench", "--metadata", metadata())
    assert both.returncode != 0 and "turn 2 follows the model's own turn-1 answers" in both.stderr
    assert not list(out.rglob("samples_*.jsonl"))  # refused before anything was generated

    first = run_cli("lm_eval", *common, "--tasks", "ja_mt_bench_turn1", "--metadata", metadata())
    assert first.returncode == 0, first.stderr[-3000:]
    second = run_cli("lm_eval", *common, "--tasks", "ja_mt_bench_turn2", "--metadata", metadata(history=str(out)))
    assert second.returncode == 0, second.stderr[-3000:]
    records = samples_by_task(out)
    assert len(records) == 16 and all(len(rows) == 1 for rows in records.values())
    for category in FASTCHAT_TEMPERATURES:
        (turn1,) = records[f"ja_mt_bench_turn1_{category}"]
        (turn2,) = records[f"ja_mt_bench_turn2_{category}"]
        q1, q2 = questions[turn1["doc"]["question_id"]]["turns"]
        own = turn1["filtered_resps"][0].strip()
        assert prompt_of(turn1) == f"ユーザー: {q1}\n\nアシスタント:"
        assert prompt_of(turn2) == f"ユーザー: {q1}\n\nアシスタント: {own}\n\nユーザー: {q2}\n\nアシスタント:"
        # A base model stops where it would start the user's next turn.
        assert gen_kwargs_of(turn2)["until"] == ["\nユーザー:"]


# ---------------------------------------------------------------- API backends (a local stand-in)
def answer_for(request: dict, index: int) -> str:
    """A reply naming the question it answers, with spaces around it (the history carries it stripped)."""
    return f"  答え[{request['messages'][0]['content'][:20]}|{len(request['messages'])}]\n"


def chat_args(stub: JudgeStub, out: Path, *extra: str) -> list[str]:
    return ["--model", "local-chat-completions",
            "--model_args", f"model=stand-in,base_url={stub.base_url}/chat/completions,num_concurrent=8,"
                            "tokenizer_backend=none",
            "--apply_chat_template", "--output_path", str(out), "--log_samples", *extra]


def category_of(questions: dict[int, dict], request: dict) -> str:
    first = request["messages"][0]["content"]
    (category,) = {q["category"] for q in questions.values() if q["turns"][0] == first}
    return category


@pytest.mark.e2e
def test_chat_completions_get_the_history_as_messages(questions, jp_home: Path, tmp_path: Path) -> None:
    with JudgeStub(reply=answer_for) as stub:
        code = run_lm_eval([*chat_args(stub, tmp_path / "out"), "--tasks", "ja_mt_bench", "--metadata", metadata()])
        assert code == 0
        assert stub.calls == 160
        requests = [request for request, _ in stub.replies]
    first_turn = {r["messages"][0]["content"]: r for r in requests if len(r["messages"]) == 1}
    second_turn = [r for r in requests if len(r["messages"]) == 3]
    assert len(first_turn) == 80 and len(second_turn) == 80
    turn2_of = {q["turns"][0]: q["turns"][1] for q in questions.values()}
    for request in second_turn:
        user1, assistant, user2 = request["messages"]
        # [user, assistant (the model's own turn-1 answer, stripped), user]
        assert (user1["role"], assistant["role"], user2["role"]) == ("user", "assistant", "user")
        assert assistant["content"] == answer_for(first_turn[user1["content"]], 0).strip()
        assert user2["content"] == turn2_of[user1["content"]]
    # FastChat's temperature per category, in every request of both turns.
    for request in requests:
        assert request["temperature"] == FASTCHAT_TEMPERATURES[category_of(questions, request)]
    assert {r["temperature"] for r in requests} == {0.0, 0.1, 0.7}


@pytest.mark.e2e
def test_greedy_switch_makes_every_request_greedy(questions, jp_home: Path, tmp_path: Path) -> None:
    with JudgeStub(reply=answer_for) as stub:
        code = run_lm_eval([*chat_args(stub, tmp_path / "out", "--limit", "1"), "--tasks", "ja_mt_bench",
                            "--metadata", metadata(greedy=True)])
        assert code == 0
        requests = [request for request, _ in stub.replies]
    assert len(requests) == 16
    assert {category_of(questions, r) for r in requests} == set(FASTCHAT_TEMPERATURES)
    assert {r["temperature"] for r in requests} == {0.0}


@pytest.mark.e2e
def test_an_interrupted_run_resumes_with_the_turns_it_has(questions, jp_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with JudgeStub(reply=answer_for) as stub:
        # Turn 1 alone, as an earlier run that stopped before turn 2 leaves it.
        assert run_lm_eval([*chat_args(stub, out, "--limit", "2"), "--tasks", "ja_mt_bench_turn1",
                            "--metadata", metadata()]) == 0
        assert stub.calls == 16
        folder = out / "stand-in"
        turn1_files = sorted(folder.glob("samples_ja_mt_bench_turn1_*.jsonl"))
        assert len(turn1_files) == 8
        # One turn-1 file cut short mid-line (killed while lm-eval was writing it).
        math_file = next(p for p in turn1_files if "_turn1_math_" in p.name)
        math_file.write_text(math_file.read_text(encoding="utf-8")[:50], encoding="utf-8")
        kept = {p: p.read_bytes() for p in turn1_files if p != math_file}

        assert run_lm_eval([*chat_args(stub, out, "--limit", "2"), "--tasks", "ja_mt_bench",
                            "--metadata", metadata()]) == 0
        # Only what was missing: math's turn 1 (2 questions) and turn 2 of every category (8 x 2).
        resumed = [request for request, _ in stub.replies[16:]]
        assert len(resumed) == 2 + 16
        assert Counter(len(r["messages"]) for r in resumed) == {1: 2, 3: 16}
        assert {category_of(questions, r) for r in resumed if len(r["messages"]) == 1} == {"math"}
        assert {p: p.read_bytes() for p in kept} == kept
        (new_file,) = set(folder.glob("samples_ja_mt_bench_turn1_*.jsonl")) - set(turn1_files)
        assert "_turn1_math_" in new_file.name
        records = samples_by_task(out)
        for category in FASTCHAT_TEMPERATURES:
            turn1 = {r["doc"]["question_id"]: r for r in records[f"ja_mt_bench_turn1_{category}"]}
            turn2 = records[f"ja_mt_bench_turn2_{category}"]
            assert len(turn2) == 2
            for record in turn2:  # built from the newest turn-1 answers, the ones a judge reads
                assert record["doc"]["previous_answers"] == [turn1[record["doc"]["question_id"]]
                                                             ["filtered_resps"][0].strip()]

        # Everything is there now: the same command makes no request at all.
        assert run_lm_eval([*chat_args(stub, out, "--limit", "2"), "--tasks", "ja_mt_bench",
                            "--metadata", metadata()]) == 0
        assert stub.calls == 16 + 18
        # Changing a setting that decides the answers (here: greedy) is not "complete".
        assert run_lm_eval([*chat_args(stub, out, "--limit", "2"), "--tasks", "ja_mt_bench",
                            "--metadata", metadata(greedy=True)]) == 0
        changed = [request for request, _ in stub.replies[34:]]
    # Only the sampled categories change under greedy: writing, roleplay, stem, humanities, both turns.
    assert Counter(category_of(questions, r) for r in changed) == Counter(
        {c: 4 for c, t in FASTCHAT_TEMPERATURES.items() if t > 0})
