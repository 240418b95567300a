"""The lm-eval task definitions: generated files, indexing by lm-eval, generation settings, hooks."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import yaml

from jp_bench.benchmarks.prompt_styles import render_prompt
from jp_bench.errors import JpBenchError
from jp_bench.harness.hooks import load_benchmark, process_results
from jp_bench.paths import tasks_path
from tests.support.paths import ROOT

CATEGORIES = ["generic", "knowledge", "roleplay", "common-sense", "fermi", "counterfactual", "coding", "math",
              "writing"]


@pytest.mark.integration
def test_committed_yamls_match_the_generator() -> None:
    result = subprocess.run([sys.executable, "-m", "jp_bench.harness.task_yamls", "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.unit
def test_entry_point_names_the_task_folder() -> None:
    (entry,) = [ep for ep in entry_points(group="lm_eval.tasks") if ep.name == "jp_bench"]
    module = entry.load()
    assert Path(module.__file__).parent == tasks_path()
    assert (tasks_path() / "jp_bench" / "_jp_bench.yaml").is_file()


@pytest.mark.unit
def test_template_generation_settings() -> None:
    template = yaml.safe_load(
        (tasks_path() / "jp_bench" / "_default_template_yaml").read_text(encoding="utf-8").replace("!function", "")
    )
    assert template["output_type"] == "generate_until"
    assert template["generation_kwargs"] == {"until": [], "max_gen_toks": 1024, "do_sample": False,
                                             "temperature": 0.0}


@pytest.mark.integration
@pytest.mark.parametrize("group", ["jp_bench", "jp_bench_fresh"])
def test_lm_eval_indexes_group_with_one_subtask_per_category(group: str, imported_home: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from lm_eval.tasks import TaskManager

    monkeypatch.setenv("JP_BENCH_HOME", str(imported_home))
    manager = TaskManager(include_path=str(tasks_path()), include_defaults=False)
    assert group in manager.all_groups
    loaded = manager.load([group])
    tasks = loaded["tasks"]
    expected = {f"{group}_{c.replace('-', '_')}" for c in CATEGORIES}
    assert set(tasks) == expected
    total = 0
    for name, task in tasks.items():
        docs = list(task.test_docs())
        total += len(docs)
        assert {doc["category"] for doc in docs} == {name.removeprefix(f"{group}_").replace("_", "-")}
        assert task.config.generation_kwargs["until"] == []
        assert task.config.generation_kwargs["max_gen_toks"] == 1024
    assert total == 80


@pytest.mark.unit
def test_hook_documents_and_prompt_styles(jp_home: Path) -> None:
    dataset = load_benchmark("jp_bench_fresh", category="math", version=1.0)
    docs = list(dataset["test"])
    assert len(docs) == 5
    assert set(docs[0]) == {"question_id", "category", "turns", "reference", "grading_notes", "rubric", "prompt"}
    assert docs[0]["prompt"] == docs[0]["turns"][0]
    assert all(doc["reference"] for doc in docs)
    framed = load_benchmark("jp_bench_fresh", category="math", prompt_style="alpaca-ja")["test"][0]["prompt"]
    assert framed.startswith("以下は") and docs[0]["turns"][0] in framed and framed.endswith("### 応答:\n")
    with pytest.raises(JpBenchError, match="unknown prompt_style"):
        render_prompt("x", "nope")
    with pytest.raises(JpBenchError, match="no questions in category"):
        load_benchmark("jp_bench_fresh", category="poetry")


@pytest.mark.unit
def test_in_harness_metric_is_answer_length() -> None:
    assert process_results({}, ["あいう"]) == {"answer_chars": 3.0}
    assert process_results({}, [""]) == {"answer_chars": 0.0}


@pytest.mark.integration
def test_documented_schemas_match_the_models() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "export_schemas.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
