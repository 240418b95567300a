"""The built wheel carries the tasks, judges and question data, and works when installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.paths import ROOT

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # Build from a clean copy: a stale build/ folder in the checkout would leak old files into the wheel.
    source = tmp_path_factory.mktemp("src") / "jp-bench"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", "build", "dist", "*.egg-info", ".git", "__pycache__", ".pytest_cache", ".ruff_cache"))
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    (built,) = out.glob("jp_bench-*.whl")
    return built


def test_wheel_contains_tasks_data_and_entry_points(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    task_files = {str(p.relative_to(ROOT / "tasks")) for p in (ROOT / "tasks").rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts}
    for relative in task_files:
        assert f"jp_bench/tasks/{relative}" in names, relative
    assert "jp_bench/tasks/jp_bench/_jp_bench.yaml" in names
    assert "jp_bench/data/fresh/question.jsonl" in names
    assert "jp_bench/judges/__init__.py" in names
    assert not any(name.startswith("tests/") for name in names)
    # Every module of the source tree is in the wheel (the package list in pyproject is explicit).
    for module in (ROOT / "jp_bench").rglob("*.py"):
        relative = module.relative_to(ROOT).as_posix()
        assert relative in names, f"{relative} is missing from the wheel: add its package to pyproject.toml"
    for prompt in (ROOT / "judges").rglob("*.yaml"):
        assert f"jp_bench/judges/{prompt.relative_to(ROOT / 'judges').as_posix()}" in names
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[lm_eval.tasks]\njp_bench = jp_bench.tasks" in text
    assert "jp-bench = jp_bench.console:run" in text


def test_installed_wheel_finds_its_own_tasks_and_questions(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target),
                    str(wheel)], check=True)
    script = (
        "import jp_bench, jp_bench.paths as p\n"
        "from jp_bench.benchmarks import load_questions\n"
        "print(p.tasks_path())\n"
        "print(len(load_questions('jp_bench_fresh')))\n"
        "print(jp_bench.__file__)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target), "JP_BENCH_HOME": str(tmp_path / "home")}
    # Run from an empty folder so the source checkout cannot be imported by accident.
    result = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r})\n"
                             + script], env=env, cwd=tmp_path, capture_output=True, text=True, check=True)
    tasks_dir, count, module_file = result.stdout.split()
    assert Path(tasks_dir) == target / "jp_bench" / "tasks"
    assert (Path(tasks_dir) / "jp_bench_fresh" / "_jp_bench_fresh.yaml").is_file()
    assert count == "80"
    assert module_file.startswith(str(target))
