"""Judged scores inside lm-eval for the newer benchmarks: Japanese MT-Bench turn by turn (single and
pairwise against a baseline given by path), ELYZA-tasks-100 on its 1-5 rubric scale and Rakuda, through
the real CLI on a tiny random Llama with a local stand-in judge (`--metadata '{"judge": ...}'`)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from jp_bench.errors import JpBenchError
from jp_bench.harness import multiturn
from tests.support.cli import main_in_process, run_cli
from tests.support.files import samples_by_task
from tests.support.judge_stub import JudgeStub
from tests.support.paths import SHARED
from tests.test_peer_tasks import ELYZA_ROWS, RAKUDA_COPY, elyza_csv

KEY = "sk-test-peers-0123456789"
MT_BENCH = SHARED / "data" / "stability_japanese_mt_bench"
CATEGORIES = multiturn.CATEGORIES
BASE_MARK = "BASELINE-ANSWER-5Q"
TURN_TWO_PAIRWISE = "2ターン目のAとBの回答を比べ"  # the closing line of ja-v1's pairwise *_multi prompts
RUBRIC = "[[1]] から [[5]]"  # ja-v1's single_rubric prompt asks for 1-5


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A JP_BENCH_HOME with Japanese MT-Bench, Rakuda and the ELYZA fixture imported by the CLI."""
    for needed in (MT_BENCH / "question_full.jsonl", RAKUDA_COPY / "rakuda_v2_questions.jsonl"):
        if not needed.is_file():
            pytest.fail(f"reference data missing: {needed} (set JP_BENCH_SHARED to the shared folder)")
    folder = tmp_path_factory.mktemp("peers-home")
    elyza = tmp_path_factory.mktemp("ELYZA-tasks-100") / "test.csv"
    elyza.write_text(elyza_csv(ELYZA_ROWS), encoding="utf-8")
    for benchmark, path in (("ja_mt_bench", MT_BENCH), ("rakuda", RAKUDA_COPY), ("elyza_tasks_100", elyza.parent)):
        result = main_in_process("data", "import", "--benchmark", benchmark, str(path), env=env_of(folder))
        assert result.returncode == 0, result.stderr[-2000:]
    return folder


def env_of(home: Path) -> dict[str, str]:
    # Empty overrides count as unset: the imported copies are what every command reads.
    return {"JP_BENCH_HOME": str(home), "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": "",
            "JP_BENCH_DATA_RAKUDA": "", "JP_BENCH_UPSTREAM_URL_RAKUDA": "",
            "JP_BENCH_DATA_ELYZA_TASKS_100": "", "JP_BENCH_UPSTREAM_URL_ELYZA_TASKS_100": ""}


def lm_eval(model: Path, out: Path, tasks: str, metadata: dict, *extra: str) -> list[str]:
    return ["jp-bench", "lm-eval", "--model", "hf", "--model_args", f"pretrained={model}", "--tasks", tasks,
            "--output_path", str(out), "--log_samples", "--gen_kwargs", "max_gen_toks=8",
            "--metadata", json.dumps(metadata), *extra]


def results_of(out: Path) -> tuple[dict, dict]:
    """lm-eval's ``results`` and ``configs`` of every run written under ``out`` (one run per MT-Bench turn)."""
    results, configs = {}, {}
    for path in sorted(out.rglob("results_*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        results.update(data["results"])
        configs.update(data["configs"])
    return results, configs


def user_text(request: dict) -> str:
    return request["messages"][-1]["content"]


def score_of(reply: str) -> int:
    return int(re.findall(r"\[\[(\d+)\]\]", reply)[-1])


def varied_score(request: dict, _index: int) -> str:
    """A 1-10 score that depends on the prompt, so every (question, turn) gets its own."""
    return f"理由: 採点しました。\n[[{1 + len(user_text(request)) % 10}]]"


# ------------------------------------------------------------------------------ Japanese MT-Bench
@pytest.mark.e2e
def test_mt_bench_single_scores_per_turn_in_lm_evals_results(tiny_chat_llama: Path, home: Path,
                                                             tmp_path: Path) -> None:
    out, workspace = tmp_path / "out", tmp_path / "ws"
    env = env_of(home)
    with JudgeStub(reply=varied_score, require_key=KEY) as stub:
        metadata = {"judge": "openai-compatible", "judge_base_url": stub.base_url, "judge_workspace": str(workspace)}
        # --limit 1: the first question of every category, both turns of it.
        argv = lm_eval(tiny_chat_llama, out, "ja_mt_bench", metadata, "--apply_chat_template", "--limit", "1")
        result = run_cli(*argv, env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        assert stub.calls == 16  # 8 questions x 2 turns, each turn judged once
        replies = list(stub.replies)

        results, configs = results_of(out)
        records = samples_by_task(out)
        assert sorted(records) == sorted(multiturn.subtask_name(t, c) for t in (1, 2) for c in CATEGORIES)
        per_turn: dict[int, list[float]] = {1: [], 2: []}
        for task, rows in records.items():
            (record,) = rows
            doc, turn = record["doc"], int(task.split("_turn")[1][0])
            assert doc["turn"] == turn
            q1, q2 = doc["turns"]
            # The request that judged this sample: turn 2's holds the turn-2 question, turn 1's only turn 1.
            [(request, reply)] = [(r, text) for r, text in replies
                                  if (q2 in user_text(r)) == (turn == 2) and q1 in user_text(r)]
            judgment = doc["judgment"]
            (row,) = judgment["rows"]
            assert row["turn"] == turn == judgment["turn"] and row["status"] == "ok"
            referenced = doc["category"] in ("math", "reasoning", "coding")
            assert row["prompt"] == ("single_reference" if referenced else "single") + ("_multi" if turn == 2 else "")
            assert judgment["score"] == score_of(reply) and judgment["scale"] == [1, 10]
            if turn == 2:
                # Judged on the conversation: the model's own turn-1 answer and its turn-2 answer.
                assert doc["previous_answers"][0] in user_text(request)
                assert record["filtered_resps"][0].strip() in user_text(request)
            assert results[task]["judge_score,none"] == pytest.approx(score_of(reply))
            assert results[task]["judge_errors,none"] == 0 and results[task]["judge_missing,none"] == 0
            assert {"metric": "judge_score", "aggregation": "mean", "higher_is_better": True,
                    "scale": [1, 10]} in configs[task]["metric_list"]
            per_turn[turn].append(score_of(reply))
        for turn in (1, 2):
            group = results[multiturn.turn_group(turn)]
            assert group["judge_score,none"] == pytest.approx(sum(per_turn[turn]) / 8)
        # Each turn was judged on its own: the turn-2 run judged turn 2 and nothing of turn 1.
        written = sorted((workspace / "judgments").rglob("judgments.jsonl"))
        turns_written = sorted(Counter(json.loads(line)["turn"] for line in path.read_text(encoding="utf-8")
                                       .splitlines()).most_common() for path in written)
        assert turns_written == [[(1, 8)], [(2, 8)]]

        # The same command again: both turns are complete and judged with these settings; nothing runs.
        files = sorted(out.rglob("*.json*"))
        again = run_cli(*argv, env=env)
        assert again.returncode == 0, again.stderr[-3000:]
        assert stub.calls == 16 and sorted(out.rglob("*.json*")) == files
        assert again.stderr.count("8 subtask(s) complete") == 2

        # `jp-bench judge --turn 2` over the lm-eval output asks for exactly what the harness asked:
        # every judgment comes from the same store.
        judged = run_cli("jp-bench", "judge", str(out), "--mode", "single", "--turn", "2", "--judge",
                         "openai-compatible", "--base-url", stub.base_url, "--workspace",
                         str(workspace / "store.sqlite"), "--out", str(tmp_path / "judged"), env=env)
        assert judged.returncode == 0, judged.stderr[-3000:]
        assert stub.calls == 16
    rows = [json.loads(line) for line in (tmp_path / "judged" / "judgments.jsonl").read_text(encoding="utf-8")
            .splitlines()]
    assert len(rows) == 8 and {row["turn"] for row in rows} == {2}

    # `jp-bench report` reads the judged lm-eval output directly, per turn.
    report = main_in_process("report", str(out), "--format", "json", env=env)
    assert report.returncode == 0, report.stderr[-2000:]
    (entry,) = json.loads(report.stdout)["single"]
    turns = {str(k): v for k, v in entry["by_turn"].items()}
    assert entry["n"] == 16
    assert turns["1"]["mean"] == pytest.approx(sum(per_turn[1]) / 8)
    assert turns["2"]["mean"] == pytest.approx(sum(per_turn[2]) / 8)


def write_mt_baseline(path: Path, turns: int) -> Path:
    """A FastChat model_answer file of "base-model": every question, ``turns`` turns, each marked."""
    lines = (MT_BENCH / "question_full.jsonl").read_text(encoding="utf-8").splitlines()
    ids = [json.loads(line)["question_id"] for line in lines if line.strip()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"question_id": qid, "model_id": "base-model", "choices": [
        {"index": 0, "turns": [f"基準の回答{k + 1}です。{BASE_MARK}" for k in range(turns)]}]}, ensure_ascii=False)
        + "\n" for qid in ids), encoding="utf-8")
    return path


def baseline_side(request: dict) -> str:
    """Which side, A or B, shows the baseline's answers (A's section comes first in the prompt)."""
    text = user_text(request)
    return "A" if text.find(BASE_MARK) < text.find("【アシスタントB") else "B"


def turn_one_baseline_turn_two_ours(request: dict, _index: int) -> str:
    """The baseline wins every turn-1 comparison and loses every turn-2 one, in both orders."""
    side = baseline_side(request)
    if TURN_TWO_PAIRWISE in user_text(request):
        side = "B" if side == "A" else "A"
    return f"理由: 比べました。\n[[{side}]]"


@pytest.mark.e2e
def test_mt_bench_pairwise_against_a_baseline_given_by_path(tiny_chat_llama: Path, home: Path,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "out"
    baseline = write_mt_baseline(tmp_path / "model_answer" / "base-model.jsonl", turns=2)
    with JudgeStub(reply=turn_one_baseline_turn_two_ours, require_key=KEY) as stub:
        metadata = {"judge": "openai-compatible", "judge_base_url": stub.base_url, "judge_mode": "pairwise",
                    "baseline": str(baseline), "judge_workspace": str(tmp_path / "ws")}
        result = run_cli(*lm_eval(tiny_chat_llama, out, "ja_mt_bench", metadata, "--apply_chat_template",
                                  "--limit", "1"), env=env_of(home))
        assert result.returncode == 0, result.stderr[-3000:]
        assert stub.calls == 32  # 8 questions x 2 turns x 2 orders
        replies = list(stub.replies)
    results, _ = results_of(out)
    for turn, (win, loss) in ((1, (0.0, 1.0)), (2, (1.0, 0.0))):
        for category in CATEGORIES:
            task = multiturn.subtask_name(turn, category)
            assert results[task]["win_rate,none"] == win and results[task]["loss_rate,none"] == loss
            assert results[task]["inconsistent_rate,none"] == 0 and results[task]["judge_missing,none"] == 0
        assert results[multiturn.turn_group(turn)]["adjusted_win_rate,none"] == pytest.approx(win)
    for (record,) in samples_by_task(out).values():
        judgment = record["doc"]["judgment"]
        turn = record["doc"]["turn"]
        assert judgment["baseline"] == "base-model" and judgment["turn"] == turn
        assert [row["turn"] for row in judgment["rows"]] == [turn, turn]
        assert [row["game"] for row in judgment["rows"]] == [1, 2]
        if turn == 2:
            assert {row["prompt"] for row in judgment["rows"]} <= {"pairwise_multi", "pairwise_reference_multi"}
            # Both conversations in the prompt: the baseline's two turns and the model's own.
            q2 = record["doc"]["turns"][1]
            [game_one] = [r for r, _ in replies if q2 in user_text(r) and baseline_side(r) == "B"]
            text = user_text(game_one)
            assert "基準の回答1です。" in text and "基準の回答2です。" in text
            assert record["doc"]["previous_answers"][0] in text


@pytest.mark.e2e
def test_mt_bench_refuses_what_cannot_judge_turn_two_before_generating(home: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A baseline without turn-2 answers, or judge prompts without a multi-turn prompt, stop the run
    before turn 1 is generated (the model named below does not even exist)."""
    from jp_bench.harness.runner import run_lm_eval

    monkeypatch.setenv("JP_BENCH_HOME", str(home))
    base = ["--model", "hf", "--model_args", "pretrained=/no/such/model", "--tasks", "ja_mt_bench",
            "--output_path", str(tmp_path / "out"), "--log_samples"]
    judging = {"judge": "openai-compatible", "judge_base_url": "http://127.0.0.1:9/v1", "judge_preflight": False}
    one_turn = write_mt_baseline(tmp_path / "one-turn" / "base-model.jsonl", turns=1)
    with pytest.raises(JpBenchError, match=r"^--metadata baseline: base-model has no turn-2 answer to question"):
        run_lm_eval([*base, "--metadata", json.dumps({**judging, "judge_mode": "pairwise",
                                                      "baseline": str(one_turn)})])
    # A FastChat prompt file with turn-1 prompts only: the turn-2 subtasks need a *_multi one.
    prompts = tmp_path / "judge_prompts.jsonl"
    source = (SHARED / "data" / "fastchat_llm_judge" / "judge_prompts.jsonl").read_text(encoding="utf-8")
    prompts.write_text("".join(line + "\n" for line in source.splitlines()
                               if line.strip() and "multi-turn" not in json.loads(line)["name"]), encoding="utf-8")
    with pytest.raises(JpBenchError, match=r"^--metadata judge_prompts: .*no multi-turn single prompt"):
        run_lm_eval([*base, "--metadata", json.dumps({**judging, "judge_prompts": str(prompts)})])
    assert not (tmp_path / "out").exists()


def write_turn_samples(folder: Path, turn: int, judgment: dict | None) -> None:
    """One complete samples file per category of ``turn`` (question 1), carrying ``judgment``."""
    folder.mkdir(parents=True, exist_ok=True)
    for category in CATEGORIES:
        doc = {"question_id": 1, "category": category, "turns": ["一", "二"], "turn": turn,
               "previous_answers": ["答え1"] if turn == 2 else []}
        if judgment is not None:
            doc["judgment"] = judgment
        record = {"doc": doc, "filtered_resps": [f"答え{turn}"], "arguments": {"gen_args_0": {"arg_1": {}}}}
        name = f"samples_{multiturn.subtask_name(turn, category)}_2026-01-01T00-00-0{turn}.000001.jsonl"
        (folder / name).write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")


@pytest.mark.unit
def test_resuming_with_a_judge_keeps_only_subtasks_judged_with_its_settings(tmp_path: Path) -> None:
    needed: dict[str, list[str]] = {category: ["1"] for category in CATEGORIES}
    expected: dict[str, dict] = {category: {} for category in CATEGORIES}
    judged = {"mode": "single", "status": "ok", "setup": "abc"}
    write_turn_samples(tmp_path, 1, judged)
    write_turn_samples(tmp_path, 2, judged)

    def todo(identity: str | None) -> list[tuple[str, ...]]:
        return [plan.todo for plan in multiturn.plan_turns(tmp_path, needed, expected, identity)]

    assert todo("abc") == [(), ()] and todo(None) == [(), ()]
    plans = multiturn.plan_turns(tmp_path, needed, expected, "other")
    assert [plan.todo for plan in plans] == [CATEGORIES, CATEGORIES]
    assert set(plans[0].reasons.values()) == {"not judged with these judging settings"}
    # Turn 2 judged without a verdict for some answers (judge refused): turn 2 runs again, turn 1 is kept.
    write_turn_samples(tmp_path / "missing", 1, judged)
    write_turn_samples(tmp_path / "missing", 2, {**judged, "status": "missing"})
    plans = multiturn.plan_turns(tmp_path / "missing", needed, expected, "abc")
    assert [plan.todo for plan in plans] == [(), CATEGORIES]
    assert set(plans[1].reasons.values()) == {"judgments missing"}


# ---------------------------------------------------------------------- ELYZA-tasks-100 and Rakuda
def rubric_four_else_varied(request: dict, index: int) -> str:
    """[[4]] for a rubric (1-5) prompt, else a 1-10 score that depends on the prompt."""
    return "理由: 採点基準をおおむね満たしています。\n[[4]]" if RUBRIC in user_text(request) \
        else varied_score(request, index)


@pytest.mark.e2e
def test_elyza_on_its_1_to_5_scale_and_rakuda_on_1_to_10(tiny_llama: Path, home: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with JudgeStub(reply=rubric_four_else_varied, require_key=KEY) as stub:
        metadata = {"judge": "openai-compatible", "judge_base_url": stub.base_url,
                    "judge_workspace": str(tmp_path / "ws")}
        # --limit 5: all five ELYZA fixture tasks, five questions of each Rakuda category.
        result = run_cli(*lm_eval(tiny_llama, out, "rakuda,elyza_tasks_100", metadata, "--limit", "5"),
                         env=env_of(home))
        assert result.returncode == 0, result.stderr[-3000:]
        assert stub.calls == 5 + 20
        rubric_requests = [r for r, _ in stub.replies if RUBRIC in user_text(r)]
    assert len(rubric_requests) == 5
    results, configs = results_of(out)
    records = samples_by_task(out)

    elyza = records["elyza_tasks_100_all"]
    assert len(elyza) == 5
    for record in elyza:
        judgment = record["doc"]["judgment"]
        assert judgment["score"] == 4 and judgment["scale"] == [1, 5]
        assert [(row["prompt"], row["scale"]) for row in judgment["rows"]] == [("single_rubric", [1, 5])]
    for name in ("elyza_tasks_100_all", "elyza_tasks_100"):
        assert results[name]["judge_score,none"] == pytest.approx(4.0)
    assert results["elyza_tasks_100_all"]["judge_score_stderr,none"] == pytest.approx(0.0)
    # lm-eval's results say which range judge_score is on.
    (entry,) = [e for e in configs["elyza_tasks_100_all"]["metric_list"] if e["metric"] == "judge_score"]
    assert entry["scale"] == [1, 5]

    everything = []
    for task in (f"rakuda_{slug}" for slug in ("geography", "politics", "history", "society")):
        scores = [record["doc"]["judgment"]["score"] for record in records[task]]
        assert len(scores) == 5 and all(1 <= s <= 10 for s in scores)
        assert {record["doc"]["judgment"]["rows"][0]["prompt"] for record in records[task]} == {"single"}
        assert results[task]["judge_score,none"] == pytest.approx(sum(scores) / 5)
        (entry,) = [e for e in configs[task]["metric_list"] if e["metric"] == "judge_score"]
        assert entry["scale"] == [1, 10]
        everything += scores
    assert results["rakuda"]["judge_score,none"] == pytest.approx(sum(everything) / 20)
    assert len(set(everything)) > 1  # the scores differ, so the means above test the per-question mapping


@pytest.mark.e2e
def test_elyza_pairwise_against_fastchat_answers_given_by_path(tiny_llama: Path, home: Path,
                                                               tmp_path: Path) -> None:
    baseline = tmp_path / "model_answer" / "base-model.jsonl"
    baseline.parent.mkdir()
    baseline.write_text("".join(json.dumps({"question_id": qid, "model_id": "base-model", "choices": [
        {"index": 0, "turns": [f"基準の回答です。{BASE_MARK}"]}]}, ensure_ascii=False) + "\n"
        for qid in range(1, 6)), encoding="utf-8")

    def reply(request: dict, _index: int) -> str:
        # The baseline wins, except on the gcd task, a tie in both orders.
        if "12と30" in user_text(request):
            return "理由: 同等です。\n[[C]]"
        return f"理由: 比較しました。\n[[{baseline_side(request)}]]"

    out = tmp_path / "out"
    with JudgeStub(reply=reply, require_key=KEY) as stub:
        metadata = {"judge": "openai-compatible", "judge_base_url": stub.base_url, "judge_mode": "pairwise",
                    "baseline": f"base-model={baseline}", "judge_workspace": str(tmp_path / "ws")}
        result = run_cli(*lm_eval(tiny_llama, out, "elyza_tasks_100", metadata), env=env_of(home))
        assert result.returncode == 0, result.stderr[-3000:]
        assert stub.calls == 10
    results, _ = results_of(out)
    task = results["elyza_tasks_100_all"]
    assert task["loss_rate,none"] == pytest.approx(0.8) and task["win_rate,none"] == 0
    assert task["adjusted_win_rate,none"] == pytest.approx(0.1) and task["inconsistent_rate,none"] == 0
    outcomes = Counter(record["doc"]["judgment"]["outcome"] for record in samples_by_task(out)["elyza_tasks_100_all"])
    assert outcomes == {"loss": 4, "tie": 1}
    # The paper's baseline is jp_bench's only: refused for ELYZA before anything is generated.
    refused = run_cli(*lm_eval(tiny_llama, tmp_path / "refused", "elyza_tasks_100",
                               {**metadata, "baseline": "paper", "judge_preflight": False}), env=env_of(home))
    assert refused.returncode != 0
    assert "'paper' names the text-davinci-003 answers released with jp_bench; elyza_tasks_100 has none" \
        in refused.stderr
    assert not list((tmp_path / "refused").rglob("samples_*.jsonl"))
