"""One lm-eval results file for the whole `ja_mt_bench` group: `jp-bench lm-eval --tasks ja_mt_bench` runs
each turn as its own lm-eval run, then writes the results of both turns in one results file whose
`ja_mt_bench` entry lm-eval's own group aggregation computed (size-weighted mean, pooled stderr), and
prints lm-eval's table of it. Through the real CLI on a tiny random Llama with a local stand-in judge,
and on hand-written results files for the cases a real run cannot easily make."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from jp_bench.errors import JpBenchError
from jp_bench.harness import multiturn
from jp_bench.harness import results as lm_eval_results
from jp_bench.harness.runner import run_lm_eval
from jp_bench.harness.samples import read_lm_eval_output
from tests.support.cli import main_in_process, run_cli
from tests.support.files import samples_by_task
from tests.support.judge_stub import JudgeStub
from tests.support.paths import SHARED
from tests.test_lm_eval_judged_peers import KEY, env_of, lm_eval, varied_score

MT_BENCH = SHARED / "data" / "stability_japanese_mt_bench"
GROUP = multiturn.GROUP
SUBTASKS = [multiturn.subtask_name(turn, category) for turn in (1, 2) for category in multiturn.CATEGORIES]
TURN_GROUPS = [multiturn.turn_group(turn) for turn in (1, 2)]
# The parts of a results file keyed by task or group (the rest describes the run).
PER_TASK = ("results", "groups", "group_subtasks", "configs", "versions", "n-shot", "higher_is_better",
            "n-samples", "task_hashes")


@pytest.fixture(scope="module")
def mt_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A JP_BENCH_HOME with Japanese MT-Bench imported by the CLI."""
    if not (MT_BENCH / "question_full.jsonl").is_file():
        pytest.fail(f"reference data missing: {MT_BENCH} (set JP_BENCH_SHARED to the shared folder)")
    home = tmp_path_factory.mktemp("group-score-home")
    imported = main_in_process("data", "import", "--benchmark", "ja_mt_bench", str(MT_BENCH), env=env_of(home))
    assert imported.returncode == 0, imported.stderr[-2000:]
    return home


def results_files(folder: Path) -> dict[Path, dict]:
    return {path: json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("results_*.json"))}


def the_combined(folder: Path) -> tuple[Path, dict]:
    """The one combined results file in ``folder``: the newest results file, as lm-eval finds the newest."""
    from lm_eval.utils import get_latest_filename

    files = results_files(folder)
    combined = [path for path, data in files.items() if lm_eval_results.MARKER in data]
    assert len(combined) == 1, combined
    assert get_latest_filename([str(path) for path in files]) == str(combined[0])
    return combined[0], files[combined[0]]


def groups_table(text: str) -> dict[tuple[str, str], float]:
    """The last `Groups` table lm-eval's make_table printed in ``text``: (group, metric) -> value."""
    lines = text.splitlines()
    start = max(i for i, line in enumerate(lines) if re.match(r"^\|\s*Groups\s*\|", line))
    values: dict[tuple[str, str], float] = {}
    name = ""
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.split("|")[1:-1]]
        name = cells[0] or name
        values[(name, cells[4])] = float(cells[6])
    return values


# ------------------------------------------------------------------------------ the real CLI
@pytest.mark.e2e
def test_one_results_file_scores_both_turns_as_lm_evals_group_aggregation(tiny_chat_llama: Path, mt_home: Path,
                                                                        tmp_path: Path) -> None:
    from lm_eval.api.metrics import aggregate_subtask_metrics, pooled_sample_stderr
    from lm_eval.utils import make_table

    out, env = tmp_path / "out", env_of(mt_home)
    with JudgeStub(reply=varied_score, require_key=KEY) as stub:
        metadata = {"judge": "openai-compatible", "judge_base_url": stub.base_url,
                    "judge_workspace": str(tmp_path / "ws")}
        # --limit 2: two questions per category and turn, so every subtask has a stderr to pool.
        argv = lm_eval(tiny_chat_llama, out, GROUP, metadata, "--apply_chat_template", "--limit", "2")
        result = run_cli(*argv, env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        assert stub.calls == 32
        (folder,) = [path for path in out.iterdir() if path.is_dir()]
        path, combined = the_combined(folder)
        per_run = {p: data for p, data in results_files(folder).items() if p != path}
        assert len(per_run) == 2  # one per turn, kept as lm-eval wrote them

        # Every field lm-eval writes, and the layout of a run that held all three groups.
        for data in per_run.values():
            assert set(data) <= set(combined)
        assert combined["group_subtasks"] == {**{multiturn.turn_group(t): [multiturn.subtask_name(t, c) for c in
                                                                            multiturn.CATEGORIES] for t in (1, 2)},
                                              GROUP: TURN_GROUPS}
        assert set(combined["results"]) == {*SUBTASKS, *TURN_GROUPS, GROUP}
        assert set(combined["groups"]) == {*TURN_GROUPS, GROUP}
        assert set(combined["configs"]) == set(combined["n-samples"]) == set(combined["task_hashes"]) == set(SUBTASKS)
        assert set(combined["versions"]) == set(combined["n-shot"]) == {*SUBTASKS, *TURN_GROUPS, GROUP}
        assert combined["higher_is_better"][GROUP]["judge_score"] is True
        assert combined["model_name"] == str(tiny_chat_llama)
        # What each turn's run wrote is in it unchanged, its turn group as lm-eval aggregated it.
        for data in per_run.values():
            for name, entry in data["results"].items():
                assert combined["results"][name] == entry
                assert combined["configs"].get(name) == data["configs"].get(name)

        # The group's score: the size-weighted mean of the turns, i.e. the mean over every (question,
        # turn) judged, which `jp-bench report` reports; its stderr: lm-eval's pooled stderr.
        top, leaves = combined["results"][GROUP], [combined["results"][task] for task in SUBTASKS]
        turns = [combined["results"][name] for name in TURN_GROUPS]
        assert top["sample_len"] == 32
        assert top["judge_score,none"] == pytest.approx(aggregate_subtask_metrics(
            [t["judge_score,none"] for t in turns], [t["sample_len"] for t in turns]))
        records = [record for task in SUBTASKS for record in samples_by_task(folder)[task]]
        scores = [record["doc"]["judgment"]["score"] for record in records]
        assert len(scores) == 32 and len(set(scores)) > 1
        assert top["judge_score,none"] == pytest.approx(sum(scores) / 32)
        assert top["answer_chars,none"] == pytest.approx(sum(r["answer_chars"] for r in records) / 32)
        assert isinstance(top["judge_score_stderr,none"], float) and top["judge_score_stderr,none"] > 0
        assert top["judge_score_stderr,none"] == pytest.approx(pooled_sample_stderr(
            [t["judge_score_stderr,none"] for t in leaves], [t["sample_len"] for t in leaves]))
        assert combined["groups"][GROUP] == top

        # lm-eval's own table reads it, and the command printed it last, as lm-eval prints its tables.
        assert groups_table(make_table(combined, "groups"))[(GROUP, "judge_score")] == \
            pytest.approx(top["judge_score,none"], abs=1e-3)
        printed = groups_table(result.stdout)
        assert next(iter(printed)) == (GROUP, "answer_chars")
        assert printed[(GROUP, "judge_score")] == pytest.approx(top["judge_score,none"], abs=1e-3)

        # jp-bench's readers of the output count every (question, turn) once.
        report = main_in_process("report", str(out), "--benchmark", GROUP, "--format", "json", "--publish",
                         "--results", str(tmp_path / "published"), env=env)
        assert report.returncode == 0, report.stderr[-2000:]
        (entry,) = json.loads(report.stdout)["single"]
        assert entry["n"] == 32 and entry["mean"] == pytest.approx(top["judge_score,none"])
        (published,) = (tmp_path / "published").rglob("*.json")
        single = json.loads(published.read_text(encoding="utf-8"))["single"]
        assert single["n"] == 32 and single["mean"] == pytest.approx(top["judge_score,none"])
        board = main_in_process("leaderboard", "--results", str(tmp_path / "published"), "--out",
                        str(tmp_path / "board"), env=env)
        assert board.returncode == 0, board.stderr[-2000:]
        rows = list(csv.DictReader((tmp_path / "board" / "leaderboard.csv").open(encoding="utf-8")))
        assert len(rows) == 1
        answers = read_lm_eval_output(out)
        assert len(answers) == 16 and {len(answer.turns) for answer in answers} == {2}

        # The same command again: nothing generated or judged, the same file kept, its table printed.
        files = {p: p.read_bytes() for p in sorted(out.rglob("*.json*"))}
        again = run_cli(*argv, env=env)
        assert again.returncode == 0, again.stderr[-3000:]
        assert stub.calls == 32
        assert {p: p.read_bytes() for p in sorted(out.rglob("*.json*"))} == files
        assert f"{GROUP}: all turns in one lm-eval results file (unchanged): {path}" in again.stderr
        assert groups_table(again.stdout) == printed

        # Resuming after turn 2 of a category was lost: that subtask alone runs again (greedy, the same
        # answers, judged from the store), and the new combined file replaces the old with the same results.
        (lost,) = folder.glob("samples_ja_mt_bench_turn2_math_*.jsonl")
        lost.unlink()
        resumed = run_cli(*argv, env=env)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert "ja_mt_bench turn 2: generating 1 subtask(s)" in resumed.stderr
        assert stub.calls == 32
    new_path, renewed = the_combined(folder)
    assert new_path != path and not path.exists()
    assert {key: renewed[key] for key in PER_TASK} == {key: combined[key] for key in PER_TASK}
    assert renewed[lm_eval_results.MARKER]["sources"]["ja_mt_bench_turn2_math"] != \
        combined[lm_eval_results.MARKER]["sources"]["ja_mt_bench_turn2_math"]
    assert len(results_files(folder)) == 4  # three runs' files and the combined one


# ------------------------------------------------------------- without a judge (API stand-in model)
QUESTIONS = MT_BENCH / "question_full.jsonl"


def answer_of(request: dict, _index: int) -> str:
    return "答え" * (len(request["messages"]) + len(request["messages"][0]["content"]) % 5)


@pytest.mark.e2e
def test_without_a_judge_the_combined_file_merges_answer_chars(jp_home: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    with JudgeStub(reply=answer_of) as stub:
        code = run_lm_eval(["--model", "local-chat-completions", "--model_args",
                            f"model=stand-in,base_url={stub.base_url}/chat/completions,num_concurrent=4,"
                            "tokenizer_backend=none", "--apply_chat_template", "--output_path", str(out),
                            "--log_samples", "--limit", "2", "--tasks", GROUP,
                            "--metadata", json.dumps({"questions_file": str(QUESTIONS)})])
        assert code == 0 and stub.calls == 32
    printed = capsys.readouterr().out
    _, combined = the_combined(out / "stand-in")
    records = [record for task in SUBTASKS for record in samples_by_task(out)[task]]
    top = combined["results"][GROUP]
    assert len(records) == 32 and top["sample_len"] == 32
    assert top["answer_chars,none"] == pytest.approx(sum(r["answer_chars"] for r in records) / 32)
    assert not any(key.startswith(("judge", "win_rate")) for key in top)
    assert groups_table(printed)[(GROUP, "answer_chars")] == pytest.approx(top["answer_chars,none"], abs=1e-3)


# ------------------------------------------------------------------- hand-written results files
def write_run(folder: Path, stamp: str, entries: dict[str, dict[str, float | str]], sizes: dict[str, int]) -> Path:
    """What one lm-eval run leaves: a samples file per task and a results file, named by ``stamp``."""
    folder.mkdir(parents=True, exist_ok=True)
    results = {}
    for task, metrics in entries.items():
        (folder / f"samples_{task}_{stamp}.jsonl").write_text('{"doc": {"question_id": 1}}\n', encoding="utf-8")
        results[task] = {"name": task, "alias": task, "sample_len": sizes[task], **metrics}
    data = {"results": results, "group_subtasks": {}, "configs": {task: {"task": task} for task in entries},
            "versions": dict.fromkeys(entries, 1.0), "n-shot": dict.fromkeys(entries, 0),
            "higher_is_better": {task: {key.split(",")[0]: True for key in m} for task, m in entries.items()},
            "n-samples": {task: {"original": 10, "effective": sizes[task]} for task in entries},
            "config": {"model": "stand-in", "stamp": stamp}, "date": float(stamp[17:19]),
            "task_hashes": dict.fromkeys(entries, stamp), "model_name": "stand-in",
            "total_evaluation_time_seconds": "1.5"}
    path = folder / f"results_{stamp}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def pairwise(win: float, stderr: float) -> dict[str, float]:
    return {"win_rate,none": win, "win_rate_stderr,none": stderr, "answer_chars,none": 10.0,
            "answer_chars_stderr,none": 1.0}


@pytest.mark.unit
def test_pairwise_rates_over_runs_of_unequal_sizes(tmp_path: Path) -> None:
    from lm_eval.api.metrics import aggregate_subtask_metrics, pooled_sample_stderr

    sizes = {task: 2 + index % 4 for index, task in enumerate(SUBTASKS)}
    rates = {task: (index % 3) / 2 for index, task in enumerate(SUBTASKS)}
    errors = {task: 0.1 + index / 100 for index, task in enumerate(SUBTASKS)}
    turn_one, turn_two = SUBTASKS[:8], SUBTASKS[8:]
    write_run(tmp_path, "2020-01-01T00-00-01.000001", {t: pairwise(rates[t], errors[t]) for t in turn_one}, sizes)
    # Turn 2 in two runs (resumed): math's newest samples, and so its results, are the later run's.
    write_run(tmp_path, "2020-01-01T00-00-02.000001",
              {t: pairwise(0.0, 0.5) if "math" in t else pairwise(rates[t], errors[t]) for t in turn_two}, sizes)
    write_run(tmp_path, "2020-01-01T00-00-03.000001",
              {t: pairwise(rates[t], errors[t]) for t in turn_two if "math" in t}, sizes)

    made = lm_eval_results.combine_group(tmp_path, GROUP)
    top = made.results["results"][GROUP]
    values, weights = [rates[t] for t in SUBTASKS], [sizes[t] for t in SUBTASKS]
    assert top["win_rate,none"] == pytest.approx(aggregate_subtask_metrics(values, weights))
    assert top["win_rate_stderr,none"] == pytest.approx(pooled_sample_stderr([errors[t] for t in SUBTASKS], weights))
    assert top["sample_len"] == sum(weights)
    assert made.results["results"]["ja_mt_bench_turn2_math"]["win_rate,none"] == rates["ja_mt_bench_turn2_math"]
    # The run-wide fields: the newest run's config, the first run's start, the runs' time added up.
    assert made.results["config"]["stamp"] == "2020-01-01T00-00-03.000001" and made.results["date"] == 1.0
    assert made.results["total_evaluation_time_seconds"] == "4.5"
    assert made.results["task_hashes"]["ja_mt_bench_turn2_math"] == "2020-01-01T00-00-03.000001"
    assert made.path.name > "results_2020-01-01T00-00-03.000001.json" and made.written
    # Again: the same file, not a second one; lm-eval's make_table prints the group.
    assert lm_eval_results.combine_group(tmp_path, GROUP) == lm_eval_results.Combined(made.path, made.results, False)
    assert f"|{GROUP} " in lm_eval_results.tables(made.results)


@pytest.mark.unit
def test_a_metric_not_in_every_subtask_gets_no_group_value(tmp_path: Path) -> None:
    sizes = dict.fromkeys(SUBTASKS, 2)
    judged = {"judge_score,none": 6.0, "judge_score_stderr,none": 1.0, "answer_chars,none": 3.0,
              "answer_chars_stderr,none": 0.5, "judge_errors,none": 0.0, "judge_errors_stderr,none": "N/A"}
    # Turn 1 judged; turn 2's writing generated again without a judge.
    entries = {task: dict(judged) for task in SUBTASKS}
    entries["ja_mt_bench_turn2_writing"] = {"answer_chars,none": 5.0, "answer_chars_stderr,none": 0.5}
    write_run(tmp_path, "2020-01-01T00-00-01.000001", entries, sizes)
    warnings: list[str] = []
    results = lm_eval_results.combine_group(tmp_path, GROUP, warn=warnings.append).results["results"]
    assert results["ja_mt_bench_turn1"]["judge_score,none"] == 6.0
    assert "judge_score,none" not in results["ja_mt_bench_turn2"] and "judge_score,none" not in results[GROUP]
    assert results[GROUP]["answer_chars,none"] == pytest.approx((3.0 * 15 + 5.0) / 16)
    # Named for what the group would have averaged (counts such as judge_errors never are).
    assert warnings == [f"{name}: judge_score not reported by every subtask (subtasks evaluated in runs with "
                        "other settings); no group value for it" for name in ("ja_mt_bench_turn2", GROUP)]


@pytest.mark.unit
def test_missing_results_are_named_and_nothing_is_written(tmp_path: Path) -> None:
    sizes = dict.fromkeys(SUBTASKS, 2)
    write_run(tmp_path, "2020-01-01T00-00-01.000001", {t: pairwise(0.5, 0.1) for t in SUBTASKS[:8]}, sizes)
    with pytest.raises(JpBenchError, match=r"no results for 8 subtask\(s\): ja_mt_bench_turn2_coding \(no samples\)"):
        lm_eval_results.combine_group(tmp_path, GROUP)
    # Samples whose run left no results file (lm-eval could not write it).
    write_run(tmp_path, "2020-01-01T00-00-02.000001", {t: pairwise(0.5, 0.1) for t in SUBTASKS[8:]}, sizes).unlink()
    with pytest.raises(JpBenchError, match="no results file of samples_ja_mt_bench_turn2_coding_"):
        lm_eval_results.combine_group(tmp_path, GROUP)
    assert not lm_eval_results.combined_files(tmp_path, GROUP)
