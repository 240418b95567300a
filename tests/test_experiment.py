"""`jp-bench experiment`: the paper's design on tiny models, end to end, as a user runs it.

Two instruction datasets fine-tuned onto a tiny random Llama, the untuned base alongside, a baseline
given as FastChat answers, answers made by lm-eval, judged by the embedded judge against the baseline
and head to head; then re-runs that skip finished steps and redo only what changed.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from jp_bench.errors import InputFileError
from jp_bench.experiment.config import load_experiment
from jp_bench.experiment.runner import comparisons, model_plans
from jp_bench.experiment.steps import generation_argv
from tests.support.cli import run_cli
from tests.support.judgment_rows import pairwise_row, single_row

_TASKS = ["jp_bench_fresh_writing", "jp_bench_fresh_math"]
_PER_TASK = 1  # questions per task: 2 in all

_SELF_INSTRUCT = [
    ("日本の首都はどこですか？", "", "東京です。"),
    ("1から3まで数えてください。", "", "1 2 3"),
    ("時間管理のこつを一つ挙げてください。", "", "予定を書き出すことです。"),
]
_TRANSLATED = [
    ("次の文を英語に訳してください。", "こんにちは", "Hello."),
    ("おすすめの移動手段を教えてください。", "東京から大阪まで", "新幹線です。"),
    ("江戸時代の次は何時代ですか？", "", "明治時代です。"),
]
_TINY_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head"]


def _write_items(path: Path, items: list[tuple[str, str, str]], repeats: int = 8) -> Path:
    lines = [json.dumps({"instruction": i, "input": x, "output": o}, ensure_ascii=False)
             for _ in range(repeats) for i, x, o in items]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _baseline_answers(path: Path) -> Path:
    """FastChat model_answer file for every jp_bench_fresh question (the 'baseline' of the tiny run)."""
    from jp_bench.benchmarks import load_questions

    with path.open("w", encoding="utf-8") as handle:
        for question in load_questions("jp_bench_fresh"):
            record = {"question_id": question.question_id, "model_id": "reference",
                      "choices": [{"index": 0, "turns": ["丁寧に答えます。" + question.turns[0][:20]]}]}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def _experiment(folder: Path, base: Path, **changes: Any) -> dict[str, Any]:
    """The experiment file a user would write, with relative paths (resolved from the file's folder)."""
    config: dict[str, Any] = {
        "name": "tiny-paper",
        "output_dir": "out",
        "benchmark": "jp_bench_fresh",
        "bases": [{"name": "tiny", "model": str(base)}],
        "datasets": [{"name": "self-instruct", "path": "data/self_instruct.jsonl"},
                     {"name": "translated", "path": "data/translated.jsonl"}],
        "include_untuned": True,
        "baseline": {"name": "reference", "answers": "data/reference.jsonl"},
        "finetune": {"method": "lora", "max_steps": 4, "batch_size": 4, "grad_accum": 1, "lr": 1e-2,
                     "lr_scheduler": "constant", "warmup_ratio": 0.0, "max_seq_len": 128, "lora_r": 8,
                     "lora_alpha": 16, "lora_dropout": 0.0, "target_modules": _TINY_TARGETS, "save_steps": 2,
                     "logging_steps": 1, "seed": 0},
        "generation": {"device": "cpu", "tasks": _TASKS, "limit": _PER_TASK, "gen_kwargs": {"max_gen_toks": 8},
                       "model_args": {"dtype": "float32"}},
        "judge": "embedded",
        "report": {"bootstrap": 200, "seed": 0},
        # Fine-tuning goes through a launcher: two processes (gloo on the CPU; see _run's environment).
        "launcher": f"{Path(sys.executable).parent / 'torchrun'} --nproc_per_node 2",
    }
    config.update(changes)
    (folder / "experiment.yaml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
                                            encoding="utf-8")
    return config


@pytest.fixture(scope="module")
def tiny_untied(tiny_llama: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.support.tiny_models import untie_output_head

    return untie_output_head(tiny_llama, tmp_path_factory.mktemp("tiny-untied"))


@pytest.fixture(scope="module")
def experiment_folder(tiny_untied: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("experiment")
    (folder / "data").mkdir()
    _write_items(folder / "data" / "self_instruct.jsonl", _SELF_INSTRUCT)
    _write_items(folder / "data" / "translated.jsonl", _TRANSLATED)
    _baseline_answers(folder / "data" / "reference.jsonl")
    _experiment(folder, tiny_untied)
    return folder


def _run(folder: Path, *extra: str) -> Any:
    return run_cli("jp-bench", "experiment", str(folder / "experiment.yaml"), *extra,
                   env={"JP_BENCH_HOME": str(folder / "home"), "ACCELERATE_USE_CPU": "1"})


def _store_calls(out: Path) -> int:
    with sqlite3.connect(out / "store.sqlite") as db:
        return db.execute("select count(*) from calls").fetchone()[0]


def _combined_outcome(games: dict[int, str]) -> str:
    """The question's outcome from model_1's side: both games agree on a winner, or a tie."""
    if games.get(1) == games.get(2) and games.get(1) in ("model_1", "model_2"):
        return "a" if games[1] == "model_1" else "b"
    return "tie"


@pytest.fixture(scope="module")
def first_run(experiment_folder: Path) -> dict[str, Any]:
    result = _run(experiment_folder)
    assert result.returncode == 0, result.stderr[-4000:]
    out = experiment_folder / "out"
    return {"result": result, "out": out, "results": json.loads((out / "results.json").read_text(encoding="utf-8")),
            "calls": _store_calls(out)}


@pytest.mark.e2e
def test_experiment_fine_tunes_answers_judges_and_tabulates(first_run: dict[str, Any]) -> None:
    out, results = first_run["out"], first_run["results"]
    for variant in ("tiny+self-instruct", "tiny+translated"):
        done = json.loads((out / "runs" / variant / "DONE").read_text())
        assert done["steps"] == 4
        log = [json.loads(line) for line in (out / "runs" / variant / "train_log.jsonl").read_text().splitlines()]
        assert [entry["step"] for entry in log] == [1, 2, 3, 4]  # written once, by the main process
        assert log[0]["epoch"] == pytest.approx(1 / 3)  # 24 items over 2 processes, batch 4: 3 steps an epoch
        assert (out / "runs" / variant / "adapter" / "adapter_config.json").is_file()
    for model in ("tiny+self-instruct", "tiny+translated", "tiny"):
        samples = list((out / "answers" / model).rglob("samples_*.jsonl"))
        assert len(samples) == len(_TASKS), samples
        assert (out / "answers" / model / "generation.json").is_file()

    questions = len(_TASKS) * _PER_TASK
    vs = {row["model"]: row for row in results["vs_baseline"]}
    assert set(vs) == {"tiny+self-instruct", "tiny+translated", "tiny"}
    assert vs["tiny"]["dataset"] is None and vs["tiny+translated"]["dataset"] == "translated"
    for row in vs.values():
        assert row["n"] + row["errors"] == questions
        assert row["win"] + row["tie"] + row["loss"] == row["n"]
        assert row["ci95"] is not None and row["ci95"][0] <= row["adjusted_win_rate"] <= row["ci95"][1]

    # The head-to-head row agrees with a count made here from the judge's own records.
    [h2h] = results["head_to_head"]
    assert (h2h["model_a"], h2h["model_b"]) == ("tiny+self-instruct", "tiny+translated")
    games: dict[tuple[Any, str], dict[int, str]] = {}
    for line in (out / "judgments" / "head-to-head-tiny" / "judgments.jsonl").read_text().splitlines():
        row = json.loads(line)
        assert row["judge"] == "embedded"
        games.setdefault((row["question_id"], row["model_1"]), {})[row["game"]] = row["winner"]
    flipped = next(iter(games))[1] != "tiny+self-instruct"  # stored pairs are in name order
    outcomes = [_combined_outcome(g) for g in games.values()]
    a_wins, b_wins = outcomes.count("b" if flipped else "a"), outcomes.count("a" if flipped else "b")
    assert (h2h["a_wins"], h2h["tie"], h2h["b_wins"]) == (a_wins, outcomes.count("tie"), b_wins)
    assert len(games) == questions

    # Every judgment went through the store: (3 models vs the baseline + 1 pair) × questions × 2 orders.
    assert first_run["calls"] == (3 + 1) * questions * 2
    assert [r["model"] for r in results["runs"]] == ["tiny+self-instruct", "tiny+translated"]
    table = (out / "results.md").read_text(encoding="utf-8")
    assert "## Against the baseline (reference)" in table and "(no fine-tuning)" in table
    assert "| tiny | self-instruct | translated |" in table
    stdout = first_run["result"].stdout
    assert "Instruction data head to head" in stdout and str(out / "results.md") in stdout
    assert stdout.startswith("judge embedded (prompts ja-v1@")  # children's progress went to stderr
    assert "steps: 4" in first_run["result"].stderr


@pytest.mark.e2e
def test_rerun_skips_every_finished_step(first_run: dict[str, Any], experiment_folder: Path) -> None:
    out = first_run["out"]
    stamps = {p: p.stat().st_mtime_ns for p in [*out.glob("runs/*/DONE"), *out.glob("answers/*/generation.json")]}
    again = _run(experiment_folder)
    assert again.returncode == 0, again.stderr[-4000:]
    assert "fine-tuning tiny" not in again.stderr and "answering with" not in again.stderr
    assert again.stderr.count(": done") >= 2 + 3 + 2  # two runs, three answer sets, two comparisons
    assert _store_calls(out) == first_run["calls"]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert json.loads((out / "results.json").read_text(encoding="utf-8")) == first_run["results"]


@pytest.mark.e2e
def test_a_changed_run_is_trained_on_and_only_its_answers_are_redone(
    first_run: dict[str, Any], experiment_folder: Path, tiny_untied: Path
) -> None:
    out = first_run["out"]
    kept = (out / "answers" / "tiny+self-instruct" / "generation.json").stat().st_mtime_ns
    redone = (out / "answers" / "tiny+translated" / "generation.json").stat().st_mtime_ns
    config = _experiment(experiment_folder, tiny_untied)
    config["datasets"][1]["finetune"] = {"max_steps": 6}  # train the translated run longer
    (experiment_folder / "experiment.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    try:
        result = _run(experiment_folder)
        assert result.returncode == 0, result.stderr[-4000:]
        assert "fine-tuning tiny+translated" in result.stderr and "fine-tuning tiny+self-instruct" not in result.stderr
        assert json.loads((out / "runs" / "tiny+translated" / "DONE").read_text())["steps"] == 6
        log_steps = [json.loads(line)["step"] for line in
                     (out / "runs" / "tiny+translated" / "train_log.jsonl").read_text().splitlines()]
        assert log_steps == [1, 2, 3, 4, 5, 6]  # resumed from checkpoint-4, not retrained
        assert (out / "answers" / "tiny+self-instruct" / "generation.json").stat().st_mtime_ns == kept
        assert (out / "answers" / "tiny+translated" / "generation.json").stat().st_mtime_ns != redone
        results = json.loads((out / "results.json").read_text(encoding="utf-8"))
        assert {r["model"]: r["steps"] for r in results["runs"]} == {"tiny+self-instruct": 4, "tiny+translated": 6}
    finally:
        _experiment(experiment_folder, tiny_untied)


@pytest.mark.e2e
def test_dry_run_refuses_a_missing_dataset_as_the_real_run_does(tiny_llama: Path, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    _write_items(tmp_path / "data" / "self_instruct.jsonl", _SELF_INSTRUCT)
    _baseline_answers(tmp_path / "data" / "reference.jsonl")
    _experiment(tmp_path, tiny_llama)
    dry, real = _run(tmp_path, "--dry-run"), _run(tmp_path)
    assert dry.returncode == real.returncode == 1
    line = next(line for line in dry.stderr.splitlines() if "error" in line)
    assert "dataset not found" in line and "translated" in line
    assert line in real.stderr


@pytest.mark.e2e
def test_dry_run_lists_steps_and_creates_nothing(tiny_llama: Path, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    _write_items(tmp_path / "data" / "self_instruct.jsonl", _SELF_INSTRUCT)
    _write_items(tmp_path / "data" / "translated.jsonl", _TRANSLATED)
    _baseline_answers(tmp_path / "data" / "reference.jsonl")
    _experiment(tmp_path, tiny_llama)
    result = _run(tmp_path, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "finetune  tiny+self-instruct: to do" in result.stderr
    assert "answers   tiny: to do" in result.stderr
    assert "judge     vs-reference: to do (after the answers)" in result.stderr
    assert not (tmp_path / "out").exists()


# --- the experiment file ---------------------------------------------------------------------------

def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "experiment.yaml"
    path.write_text(text, encoding="utf-8")
    return path


_VALID = """\
name: paper
output_dir: runs/paper
bases:
  - name: llama-7b
    model: huggyllama/llama-7b
    finetune:
      batch_size: 2
  - name: open-calm-7b
    model: cyberagent/open-calm-7b
datasets:
  - name: self-instruct
    path: data/self-instruct
  - name: translated
    path: data/alpaca-ja.jsonl
    finetune:
      epochs: 2
baseline:
  name: gpt-35
  model: openai-chat-completions
  model_args:
    model: gpt-3.5-turbo
finetune:
  method: lora
  lr: 0.0002
generation:
  backend: vllm
judge: gpt-4
"""


@pytest.mark.unit
def test_paths_resolve_from_the_file_and_overrides_layer(tmp_path: Path) -> None:
    config = load_experiment(_write(tmp_path, _VALID))
    assert config.output_dir == tmp_path / "runs" / "paper"
    assert config.bases[0].model == "huggyllama/llama-7b"  # a hub id stays as written
    runs = {(b.name, d.name): config.finetune_config(b, d) for b in config.bases for d in config.datasets}
    assert runs[("llama-7b", "translated")].batch_size == 2 and runs[("llama-7b", "translated")].epochs == 2
    assert runs[("open-calm-7b", "self-instruct")].batch_size == 4  # FinetuneConfig's default
    assert runs[("open-calm-7b", "self-instruct")].data == tmp_path / "data" / "self-instruct"
    assert runs[("llama-7b", "self-instruct")].output_dir == tmp_path / "runs" / "paper" / "runs" / \
        "llama-7b+self-instruct"


@pytest.mark.unit
def test_plans_and_comparisons_follow_the_papers_design(tmp_path: Path) -> None:
    config = load_experiment(_write(tmp_path, _VALID))
    plans = model_plans(config)
    assert [p.name for p in plans] == ["llama-7b+self-instruct", "llama-7b+translated", "open-calm-7b+self-instruct",
                                       "open-calm-7b+translated", "gpt-35"]
    found = {c.name: c for c in comparisons(config, plans)}
    assert list(found) == ["vs-gpt-35", "head-to-head-llama-7b", "head-to-head-open-calm-7b"]
    assert found["vs-gpt-35"].baseline == "gpt-35" and len(found["vs-gpt-35"].models) == 5
    assert found["head-to-head-llama-7b"].models == ("llama-7b+self-instruct", "llama-7b+translated")


@pytest.mark.unit
def test_lm_eval_command_lines(tmp_path: Path) -> None:
    config = load_experiment(_write(tmp_path, _VALID))
    plans = {p.name: p for p in model_plans(config)}
    tuned = generation_argv(plans["llama-7b+self-instruct"], config.benchmark, config.generation)
    adapter = tmp_path / "runs" / "paper" / "runs" / "llama-7b+self-instruct" / "adapter"
    assert tuned[:4] == ["--model", "vllm", "--model_args",
                         f"pretrained=huggyllama/llama-7b,lora_local_path={adapter},max_lora_rank=16,"
                         f"tokenizer={adapter}"]
    assert "--apply_chat_template" in tuned and tuned[tuned.index("--tasks") + 1] == "jp_bench"
    baseline = generation_argv(plans["gpt-35"], config.benchmark, config.generation)
    assert baseline[:4] == ["--model", "openai-chat-completions", "--model_args", "model=gpt-3.5-turbo"]


@pytest.mark.unit
@pytest.mark.parametrize(("edit", "line", "message"), [
    (("      epochs: 2", "      epochs: -1"), 16, "finetune settings of llama-7b+translated: field 'epochs'"),
    (("      batch_size: 2", "      batch_size: 0"), 7,
     "finetune settings of llama-7b+self-instruct: field 'batch_size'"),
    (("  lr: 0.0002", "  lr: fast"), 24, "field 'lr'"),
    (("  - name: open-calm-7b", "  - name: open calm"), 8, "field 'bases.1.name'"),
    (("  backend: vllm", "  backend: tgi"), 26, "field 'generation.backend'"),
    (("    model: gpt-3.5-turbo\n", "    model: gpt-3.5-turbo\n  answers: x.jsonl\n"), 18, "exactly one of"),
    (("judge: gpt-4", "judge: gpt-4\ntypo_field: 1"), 28, "field 'typo_field': Extra inputs are not permitted"),
])
def test_bad_files_name_the_line(tmp_path: Path, edit: tuple[str, str], line: int, message: str) -> None:
    assert edit[0] in _VALID
    path = _write(tmp_path, _VALID.replace(edit[0], edit[1]))
    with pytest.raises(InputFileError) as caught:
        load_experiment(path)
    assert caught.value.line == line, str(caught.value)
    assert message in str(caught.value)


@pytest.mark.integration
def test_names_must_be_unique_and_cli_reports_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path, _VALID.replace("name: translated", "name: self-instruct"))
    result = run_cli("jp-bench", "experiment", str(path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"jp-bench: error: {path}:1: datasets: names must be unique (self-instruct repeated)"
    ]
    assert "Traceback" not in result.stderr


def _judgment_rows(model_1: str, model_2: str, winners: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Our judgments.jsonl rows: per question, the winner of game 1 and of game 2 (model terms)."""
    return [pairwise_row(question, game, winner, model_1=model_1, model_2=model_2, judge="j", category="writing",
                         answer_2_chars=10)
            for question, games in enumerate(winners, start=1) for game, winner in enumerate(games, start=1)]


@pytest.mark.unit
def test_head_to_head_reads_from_the_first_datasets_side(tmp_path: Path) -> None:
    """Stored pairs are in name order; the table follows the order of `datasets` in the file."""
    from jp_bench.experiment.results import build_results, render_markdown

    text = _VALID.replace("  - name: open-calm-7b\n    model: cyberagent/open-calm-7b\n", "")
    text = text.replace("name: self-instruct\n    path: data/self-instruct", "name: zz-self\n    path: data/self")
    text += "single: true\n"
    config = load_experiment(_write(tmp_path, text))  # datasets: zz-self, translated (name order reversed)
    plans = model_plans(config)
    found = comparisons(config, plans)
    assert [c.name for c in found] == ["vs-gpt-35", "head-to-head-llama-7b", "single"]
    single = config.output_dir / "judgments" / "single"
    single.mkdir(parents=True)
    scores = {"llama-7b+zz-self": [8, 6], "llama-7b+translated": [3, None], "gpt-35": [7, 7]}
    (single / "judgments.jsonl").write_text("".join(
        json.dumps(single_row(q, m, score, judge="j", category="writing", answer_chars=5)) + "\n"
        for m, values in scores.items() for q, score in enumerate(values, start=1)), encoding="utf-8")
    m1, m2 = "llama-7b+translated", "llama-7b+zz-self"  # model_1 sorts first
    outcomes = [("model_2", "model_2")] * 3 + [("model_1", "model_1")] + [("model_1", "model_2")]
    baseline_rows = (_judgment_rows(m2, "gpt-35", [("model_1", "model_1")] * 4 + [("tie", "tie")])
                     + _judgment_rows(m1, "gpt-35", [("model_2", "model_2")] * 5))
    for name, rows in (("head-to-head-llama-7b", _judgment_rows(m1, m2, outcomes)), ("vs-gpt-35", baseline_rows)):
        folder = config.output_dir / "judgments" / name
        folder.mkdir(parents=True)
        (folder / "judgments.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    results = build_results(config, plans, found)
    [h2h] = results["head_to_head"]
    assert (h2h["dataset_a"], h2h["dataset_b"]) == ("zz-self", "translated")
    assert (h2h["a_wins"], h2h["tie"], h2h["b_wins"], h2h["inconsistent"], h2h["n"]) == (3, 1, 1, 1, 5)
    assert h2h["a_adjusted_win_rate"] == pytest.approx((3 + 0.5) / 5)
    vs = {r["dataset"]: r for r in results["vs_baseline"]}
    assert [r["dataset"] for r in results["vs_baseline"]] == ["zz-self", "translated"]  # the file's order
    assert (vs["zz-self"]["win"], vs["zz-self"]["tie"], vs["zz-self"]["loss"]) == (4, 1, 0)
    assert (vs["translated"]["win"], vs["translated"]["loss"]) == (0, 5)
    assert "| llama-7b | zz-self | translated | 3 | 1 | 1 | 0.700 |" in render_markdown(results)
    means = {r["model"]: (r["mean"], r["n"], r["errors"]) for r in results["single"]}
    assert means == {"llama-7b+zz-self": (7.0, 2, 0), "llama-7b+translated": (3.0, 1, 1), "gpt-35": (7.0, 2, 0)}


@pytest.mark.unit
def test_the_shipped_paper_config_describes_the_papers_design() -> None:
    config = load_experiment(Path(__file__).resolve().parents[1] / "configs" / "experiments" / "paper.yaml")
    plans = model_plans(config)
    tuned = [p for p in plans if p.kind == "finetuned"]
    assert len(tuned) == 3 * 2 and {p.dataset for p in tuned} == {"self-instruct", "translated"}
    assert {p.base.model for p in tuned if p.base} == {"huggyllama/llama-7b", "meta-llama/Llama-2-13b-hf",
                                                       "cyberagent/open-calm-7b"}
    names = [c.name for c in comparisons(config, plans)]
    assert names == ["vs-text-davinci-003", "head-to-head-llama-7b", "head-to-head-llama2-13b",
                     "head-to-head-open-calm-7b"]
    big = next(p for p in tuned if p.name == "llama2-13b+translated")
    assert big.finetune is not None and (big.finetune.batch_size, big.finetune.grad_accum) == (2, 8)
