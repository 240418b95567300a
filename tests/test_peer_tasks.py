"""Rakuda and ELYZA-tasks-100 as lm-eval tasks (tasks/rakuda, tasks/elyza_tasks_100), and Rakuda's
ranking: every pair of models judged in both orders (pairwise-all), ranked with Bradley–Terry.

Rakuda is imported from the reference copy in ../shared/data; ELYZA-tasks-100 (not available offline)
from a small CSV in its layout whose text is our own.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from jp_bench.paths import tasks_path
from tests.support.cli import main_in_process, run_cli
from tests.support.files import samples_by_task
from tests.support.judge_stub import JudgeStub
from tests.support.paths import SHARED

RAKUDA_COPY = SHARED / "data" / "rakuda"
# The subtask suffixes and the upstream labels they stand for (Rakuda's labels are Japanese; lm-eval
# task names must be ASCII).
RAKUDA_LABELS = {"geography": "地理", "politics": "政治", "history": "歴史", "society": "社会"}
# Five tasks of our own in ELYZA-tasks-100's layout: quoted cells spanning lines, a comma inside
# quotes, an empty grading note.
ELYZA_ROWS = [
    ("次の文章を一文で要約してください。\n朝は早く起きて散歩をし、夜は早めに寝るようにしている。",
     "早寝早起きと朝の散歩を心がけている。", "- 一文であること\n- 散歩に触れていること"),
    ("「猫, 犬, 鳥」を五十音順に並べてください。", "いぬ、とり、ねこ", "順序が正しければ5点"),
    ("12と30の最大公約数は？", "6", ""),
    ("雨の日の楽しみ方を3つ挙げてください。", "読書、映画、料理。", "3つ挙げていなければ2点以下"),
    ("「ありがとう」を丁寧な言い方にしてください。", "ありがとうございます。", "敬語になっていること"),
]
# The stand-in judge prefers the answer with the better marker; a model's answers all carry its marker.
MARKERS = {"rakuda-gold": "GOLD-ANSWER-7F", "rakuda-silver": "SILVER-ANSWER-7F", "rakuda-bronze": "BRONZE-ANSWER-7F"}


def elyza_csv(rows: list[tuple[str, str, str]]) -> str:
    def cell(text: str) -> str:
        return '"' + text.replace('"', '""') + '"'

    return "input,output,eval_aspect\n" + "".join(",".join(map(cell, row)) + "\n" for row in rows)


@pytest.fixture(scope="module")
def peer_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment of a JP_BENCH_HOME holding Rakuda and the ELYZA fixture, both imported by the CLI."""
    if not (RAKUDA_COPY / "rakuda_v2_questions.jsonl").is_file():
        pytest.fail(f"reference data missing: {RAKUDA_COPY} (set JP_BENCH_SHARED to the shared folder)")
    home = tmp_path_factory.mktemp("peer-home")
    # Empty overrides count as unset: the imported copies are what every command below reads.
    env = {"JP_BENCH_HOME": str(home), "JP_BENCH_DATA_RAKUDA": "", "JP_BENCH_UPSTREAM_URL_RAKUDA": "",
           "JP_BENCH_DATA_ELYZA_TASKS_100": "", "JP_BENCH_UPSTREAM_URL_ELYZA_TASKS_100": ""}
    elyza = tmp_path_factory.mktemp("ELYZA-tasks-100") / "test.csv"
    elyza.write_text(elyza_csv(ELYZA_ROWS), encoding="utf-8")
    for benchmark, path in (("rakuda", RAKUDA_COPY), ("elyza_tasks_100", elyza.parent)):
        result = main_in_process("data", "import", "--benchmark", benchmark, str(path), env=env)
        assert result.returncode == 0, result.stderr
    return env


def upstream_rakuda() -> dict[str, dict]:
    """Rakuda's questions by id, read from the reference copy independently of jp-bench."""
    lines = (RAKUDA_COPY / "rakuda_v2_questions.jsonl").read_text(encoding="utf-8").splitlines()
    return {row["question_id"]: row for row in map(json.loads, filter(None, lines))}


@pytest.mark.integration
def test_lm_eval_indexes_both_groups_with_full_generation_settings(
    peer_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from lm_eval.tasks import TaskManager

    for key, value in peer_env.items():
        monkeypatch.setenv(key, value)
    manager = TaskManager(include_path=str(tasks_path()), include_defaults=False)
    tasks = manager.load(["rakuda", "elyza_tasks_100"])["tasks"]
    assert set(tasks) == {f"rakuda_{slug}" for slug in RAKUDA_LABELS} | {"elyza_tasks_100_all"}
    for name, task in tasks.items():
        # ELYZA's tasks include long writing; a stop string or a short budget would cut answers.
        assert task.config.generation_kwargs["until"] == []
        assert task.config.generation_kwargs["max_gen_toks"] == 1024
        docs = list(task.test_docs())
        if name == "elyza_tasks_100_all":
            assert len(docs) == len(ELYZA_ROWS)
        else:
            assert len(docs) == 10 and {d["category"] for d in docs} == {RAKUDA_LABELS[name.removeprefix("rakuda_")]}
    assert {"rakuda", "elyza_tasks_100", "rakuda_subtasks", "elyza_tasks_100_subtasks"} <= set(manager.all_tasks)


@pytest.mark.e2e  # a real lm-eval run of a tiny model
def test_rakuda_through_the_lm_eval_cli(tiny_llama: Path, peer_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli(
        "jp-bench", "lm-eval", "--model", "hf", "--model_args", f"pretrained={tiny_llama}", "--tasks", "rakuda",
        "--output_path", str(out), "--log_samples", "--gen_kwargs", "max_gen_toks=8", env=peer_env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    records = samples_by_task(out)
    assert set(records) == {f"rakuda_{slug}" for slug in RAKUDA_LABELS}
    upstream = upstream_rakuda()
    flat = [r for rows in records.values() for r in rows]
    assert len(flat) == 40 and sorted(r["doc"]["question_id"] for r in flat) == sorted(upstream)
    for task, rows in records.items():
        assert {r["doc"]["category"] for r in rows} == {RAKUDA_LABELS[task.removeprefix("rakuda_")]}
    for record in flat:
        question = upstream[record["doc"]["question_id"]]
        assert record["doc"]["category"] == question["category"]
        assert record["doc"]["turns"] == question["turns"]
        # No chat template: the prompt sent is the question itself.
        assert record["arguments"]["gen_args_0"]["arg_0"] == question["turns"][0]
    summary = json.loads(next(out.rglob("results_*.json")).read_text(encoding="utf-8"))
    assert summary["results"]["rakuda"]["answer_chars,none"] > 0  # the group aggregate
    assert {task: counts["original"] for task, counts in summary["n-samples"].items()} == {
        f"rakuda_{slug}": 10 for slug in RAKUDA_LABELS}


@pytest.mark.e2e  # a real lm-eval run of a tiny model
def test_elyza_tasks_100_through_the_lm_eval_cli(tiny_llama: Path, peer_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli(
        "jp-bench", "lm-eval", "--model", "hf", "--model_args", f"pretrained={tiny_llama}",
        "--tasks", "elyza_tasks_100", "--output_path", str(out), "--log_samples", "--gen_kwargs", "max_gen_toks=8",
        env=peer_env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    records = samples_by_task(out)
    assert list(records) == ["elyza_tasks_100_all"]
    docs = sorted((r["doc"] for r in records["elyza_tasks_100_all"]), key=lambda d: d["question_id"])
    assert [d["question_id"] for d in docs] == [1, 2, 3, 4, 5]
    for doc, (task, reference, notes) in zip(docs, ELYZA_ROWS, strict=True):
        assert doc["category"] == "elyza_tasks_100"
        assert doc["turns"] == [task] and doc["prompt"] == task
        assert doc["reference"] == [reference] and doc["grading_notes"] == notes
    summary = json.loads(next(out.rglob("results_*.json")).read_text(encoding="utf-8"))
    assert "answer_chars,none" in summary["results"]["elyza_tasks_100"]


def write_fastchat_answers(folder: Path, question_ids: list[str]) -> list[Path]:
    """One FastChat model_answer file per model, every answer carrying the model's marker."""
    folder.mkdir(parents=True)
    files = []
    for model, marker in MARKERS.items():
        rows = [{"question_id": qid, "answer_id": f"{model}-{qid}", "model_id": model,
                 "choices": [{"index": 0, "turns": [f"回答です。{marker}"]}], "tstamp": 0.0}
                for qid in question_ids]
        path = folder / f"{model}.jsonl"
        path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
        files.append(path)
    return files


def prefer_better_marker(tied_questions: list[str]) -> Callable[[dict, int], str]:
    """The stand-in's reply: the answer with the better marker wins, except on ``tied_questions`` (a tie).

    Answer A precedes answer B in the prompt, so the first marker found is A's.
    """

    def reply(request: dict, index: int) -> str:
        prompt = request["messages"][-1]["content"]
        found = sorted((prompt.find(marker), rank) for rank, marker in enumerate(MARKERS.values()) if marker in prompt)
        if len(found) != 2:
            return "判定できません。"  # no verdict: the run would record an error, which the test refuses
        if any(question in prompt for question in tied_questions):
            return "理由: 差がありません。\n[[C]]"
        (_, rank_a), (_, rank_b) = found
        return f"理由: 印の良い方を選びます。\n[[{'A' if rank_a < rank_b else 'B'}]]"

    return reply


@pytest.mark.integration
def test_rakuda_pairwise_all_ranked_with_bradley_terry(peer_env: dict[str, str], tmp_path: Path) -> None:
    imported = Path(peer_env["JP_BENCH_HOME"]) / "data" / "rakuda" / "rakuda_v2" / "questions.jsonl"
    questions = [json.loads(line) for line in imported.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(questions) == 40
    answers = write_fastchat_answers(tmp_path / "model_answer", [q["question_id"] for q in questions])
    # Every 4th question a tie for every pair, so the ratings come from a fit, not from a clean sweep.
    tied = [q["turns"][0] for q in questions[::4]]
    out = tmp_path / "judged"
    with JudgeStub(reply=prefer_better_marker(tied)) as stub:
        judge_yaml = tmp_path / "stub-judge.yaml"
        judge_yaml.write_text(
            "name: rakuda-stub\ndescription: the local stand-in judge of this test\nprovider: openai-compatible\n"
            f"model: stub\nbase_url: {stub.base_url}\nprompt_set: ja-v1\n"
            "prices: {input_per_mtok: 0, output_per_mtok: 0}\nconcurrency: 8\n", encoding="utf-8")
        judged = run_cli(
            "jp-bench", "judge", *map(str, answers), "--mode", "pairwise-all", "--benchmark", "rakuda",
            "--judge", str(judge_yaml), "--out", str(out), "--workspace", str(tmp_path / "ws.sqlite"),
            env={**peer_env, "OPENAI_BASE_URL": ""},  # the YAML's base_url, whatever the caller's shell says
        )
        assert judged.returncode == 0, judged.stderr[-3000:]
        assert stub.calls == 240  # 3 pairs x 40 questions x 2 orders
    rows = [json.loads(line) for line in (out / "judgments.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 240 and {r["status"] for r in rows} == {"ok"}
    assert Counter(r["category"] for r in rows) == {label: 60 for label in RAKUDA_LABELS.values()}

    report = main_in_process("report", str(out), "--format", "json", env=peer_env)
    assert report.returncode == 0, report.stderr[-3000:]
    (ranking,) = json.loads(report.stdout)["rankings"]
    assert ranking["judge"] == "rakuda-stub"
    assert ranking["n_games"] == 240 and ranking["n_questions"] == 40
    ordered = sorted(ranking["models"], key=lambda m: m["rank"])
    assert [m["model"] for m in ordered] == list(MARKERS)
    assert [m["rank"] for m in ordered] == [1, 2, 3]
    gold, silver, bronze = (m["rating"] for m in ordered)
    assert gold > silver > bronze
    # Each pair's record is the same (30 wins of the better model, 10 ties): the fit is symmetric about
    # the middle model, which sits at the scale's centre; both orders judged alike: no first-slot advantage.
    assert silver == pytest.approx(1000.0, abs=1e-6) and gold - 1000.0 == pytest.approx(1000.0 - bronze, abs=1e-6)
    assert ranking["first_position_win_prob"] == pytest.approx(0.5, abs=1e-6)
    records = sorted((p["win"], p["loss"], p["tie"]) for p in json.loads(report.stdout)["pairwise"])
    assert records == [(0, 30, 10), (0, 30, 10), (30, 0, 10)]  # one entry per pair

    table = main_in_process("report", str(out), "--benchmark", "rakuda", env=peer_env)
    assert table.returncode == 0, table.stderr[-3000:]
    header = next(line for line in table.stdout.splitlines() if "地理" in line)
    assert all(label in header for label in RAKUDA_LABELS.values()), table.stdout
    assert re.search(r"Bradley-Terry", table.stdout) and "rakuda-gold" in table.stdout


@pytest.mark.integration
def test_elyza_rubric_judging_on_a_1_to_5_scale(peer_env: dict[str, str], tmp_path: Path) -> None:
    """ELYZA-tasks-100 is graded 1-5 against its reference answer and grading notes (our rubric prompt);
    a score outside 1-5 is no score; the report states the scale."""
    answers = tmp_path / "model_answer" / "my-model.jsonl"
    answers.parent.mkdir(parents=True)
    answers.write_text("".join(json.dumps({"question_id": i, "model_id": "my-model",
                                           "choices": [{"index": 0, "turns": [f"回答{i}です。"]}]}, ensure_ascii=False)
                               + "\n" for i in range(1, 6)), encoding="utf-8")

    def reply(request: dict, _index: int) -> str:
        # Task 3 gets a 1-10 style score first: out of scale, so it is asked again (and then gets 2).
        content = request["messages"][-1]["content"]
        if "12と30" in content and len(request["messages"]) == 2 and not reply.asked_again:
            reply.asked_again = True
            return "[[8]]"
        return "理由: 採点基準を満たしています。\n[[4]]" if "散歩" in content else "理由: 一部不足。\n[[2]]"

    reply.asked_again = False
    with JudgeStub(reply=reply) as stub:
        env = {**peer_env, "OPENAI_API_KEY": "sk-test-elyza", "OPENAI_BASE_URL": stub.base_url}
        result = run_cli("jp-bench", "judge", str(answers.parent), "--mode", "single", "--benchmark",
                         "elyza_tasks_100", "--judge", "gpt-4o", "--workspace", str(tmp_path / "ws.sqlite"),
                         "--out", str(tmp_path / "judged"), env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        requests = [request for request, _ in stub.replies]
    assert len(requests) == 6, [text for _, text in stub.replies]  # five tasks, one re-asked
    first = next(r for r in requests if "散歩" in r["messages"][-1]["content"])
    user = first["messages"][-1]["content"]
    # The task, its reference answer, its grading notes and the answer, asked on a 1-5 scale.
    row = ELYZA_ROWS[0]
    for part in (row[0], row[1], row[2], "回答1です。", "[[5]]"):
        assert part in user
    rows = [json.loads(line) for line in (tmp_path / "judged" / "judgments.jsonl").read_text(encoding="utf-8")
            .splitlines()]
    assert {r["prompt"] for r in rows} == {"single_rubric"} and all(r["scale"] == [1, 5] for r in rows)
    assert sorted(r["score"] for r in rows) == [2.0, 2.0, 2.0, 2.0, 4.0]
    assert next(r for r in rows if r["question_id"] == 3)["attempts"] == 2
    report = main_in_process("report", str(tmp_path / "judged"), env=peer_env)
    assert report.returncode == 0, report.stderr[-2000:]
    assert "(1–5)" in report.stdout and "(1–10)" not in report.stdout
    data = json.loads(main_in_process("report", str(tmp_path / "judged"), "--format", "json", env=peer_env).stdout)
    assert data["single"][0]["scale"] == [1, 5] and data["single"][0]["mean"] == pytest.approx(2.4)


@pytest.mark.integration
def test_elyza_under_the_embedded_judges_grammar_can_only_score_1_to_5(peer_env: dict[str, str],
                                                                       tmp_path: Path) -> None:
    """The packaged judge (real llama.cpp) decodes under a verdict grammar: on ELYZA's rubric the grammar
    admits 1-5 only, so every reply is a score on the scale at the first attempt, and the stored request
    says so; a 1-10 task keeps the 1-10 grammar it always had."""
    import sqlite3

    from jp_bench.judging.grammars import verdict_grammar

    answers = tmp_path / "model_answer" / "my-model.jsonl"
    answers.parent.mkdir(parents=True)
    answers.write_text("".join(json.dumps({"question_id": i, "model_id": "my-model",
                                           "choices": [{"index": 0, "turns": [f"回答{i}です。"]}]}, ensure_ascii=False)
                               + "\n" for i in range(1, 6)), encoding="utf-8")
    workspace = tmp_path / "ws.sqlite"
    result = run_cli("jp-bench", "judge", str(answers.parent), "--mode", "single", "--benchmark", "elyza_tasks_100",
                     "--judge", "embedded", "--workspace", str(workspace), "--out", str(tmp_path / "judged"),
                     env=peer_env)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in (tmp_path / "judged" / "judgments.jsonl").read_text(encoding="utf-8")
            .splitlines()]
    assert len(rows) == 5 and all(1 <= r["score"] <= 5 and r["attempts"] == 1 for r in rows), rows
    with sqlite3.connect(workspace) as db:
        grammars = {json.loads(request)["model"]["params"]["grammar"]
                    for (request,) in db.execute("SELECT request FROM calls")}
    assert grammars == {verdict_grammar("single", (1, 5))}
    assert '"\\n[[" [1-5] "]]"' in verdict_grammar("single", (1, 5))
    assert '([1-9] | "10")' in verdict_grammar("single")
