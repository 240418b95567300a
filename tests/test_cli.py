"""The command line: fast start-up, version, help for every command."""

from __future__ import annotations

import subprocess
import sys

from conftest import run_cli

from jp_bench import __version__


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys\n"
        "from jp_bench.cli import build_parser\n"
        "build_parser().format_help()\n"
        "print(sorted(m for m in ('torch', 'lm_eval', 'transformers', 'datasets', 'pydantic') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_version_and_help() -> None:
    assert run_cli("jp-bench", "--version").stdout.strip() == f"jp-bench {__version__}"
    help_text = run_cli("jp-bench", "--help").stdout
    for command in ("data", "tasks-path", "lm-eval", "demo", "judge", "judges"):
        assert command in help_text


def test_lm_eval_passthrough_shows_lm_evals_own_help() -> None:
    result = run_cli("jp-bench", "lm-eval", "run", "--help")
    assert result.returncode == 0
    assert "--include_path" in result.stdout and "--apply_chat_template" in result.stdout


def test_unknown_benchmark_is_one_line() -> None:
    result = run_cli("jp-bench", "data", "show", "--benchmark", "nope")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "jp-bench: error: unknown benchmark 'nope' (known: elyza_tasks_100, ja_mt_bench, jp_bench, jp_bench_fresh, "
        "rakuda, or a path to a question.jsonl)"
    )


def test_judges_lists_shipped_judges_and_user_folder(tmp_path) -> None:
    (tmp_path / "mine.yaml").write_text("name: mine\nprovider: openai-compatible\nmodel: m\n", encoding="utf-8")
    result = run_cli("jp-bench", "judges", "--judges-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    names = {line.split()[0] for line in result.stdout.splitlines()[2:]}
    assert {"gpt-4o", "claude-sonnet", "openai-compatible", "embedded", "mine"} <= names
    assert "smoke test, not a real judge" in result.stdout
