"""The command line: fast start-up, version, help for every command."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator

import pytest

from jp_bench import __version__
from tests.support.cli import run_cli

pytestmark = pytest.mark.integration


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys\n"
        "from jp_bench.cli import build_parser\n"
        "build_parser().format_help()\n"
        "print(sorted(m for m in ('torch', 'lm_eval', 'transformers', 'datasets', 'pydantic') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


Command = tuple[tuple[str, ...], argparse.ArgumentParser]


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[Command]:
    """Every command and subcommand of ``parser`` (itself first), as (words after jp-bench, its parser)."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()  # an alias maps to the same parser
            for name, sub in action.choices.items():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    yield from _commands(sub, (*path, name))


def test_version_and_help_for_every_command() -> None:
    """`--help` of each command and subcommand the parser defines (not a hand-kept list) works and shows
    that command's own options and subcommands."""
    from jp_bench.cli import build_parser

    assert run_cli("jp-bench", "--version").stdout.strip() == f"jp-bench {__version__}"
    commands = list(_commands(build_parser()))
    assert len(commands) >= 19  # the walk found the nested commands (selfinstruct seeds translate, ...)
    for path, parser in commands:
        if not parser.add_help:  # lm-eval passes --help to lm-eval: test_lm_eval_passthrough_shows_lm_evals_own_help
            continue
        result = run_cli("jp-bench", *path, "--help")
        assert result.returncode == 0 and result.stderr == "", (path, result.stderr)
        assert result.stdout.startswith(f"usage: {' '.join(('jp-bench', *path))}"), (path, result.stdout[:200])
        for action in parser._actions:
            if action.help == argparse.SUPPRESS:
                continue
            if isinstance(action, argparse._SubParsersAction):
                for name in action.choices:
                    assert name in result.stdout, (path, name)
            for option in action.option_strings:
                assert option in result.stdout, (path, option)


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
