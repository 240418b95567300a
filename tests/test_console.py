"""The `jp-bench` entry point (jp_bench/console.py): the command's exit status, everything it wrote,
and every exit handler registered while it ran survive the exit that skips the interpreter's teardown."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.cli import run_cli

pytestmark = pytest.mark.integration


def test_statuses_of_help_usage_errors_and_failures() -> None:
    assert run_cli("jp-bench", "--help").returncode == 0
    usage = run_cli("jp-bench", "judge", "--no-such-option")
    assert usage.returncode == 2 and "usage:" in usage.stderr
    failed = run_cli("jp-bench", "report", "/no/such/folder")
    assert failed.returncode == 1 and failed.stderr.strip().count("\n") == 0, failed.stderr


def test_output_and_exit_handlers_survive_the_quick_exit(tmp_path: Path) -> None:
    """A command that writes more than a pipe buffer holds, registers an exit handler (as logging and
    tempfile do when first imported) and returns 3: all of it arrives, the handler runs, status 3."""
    marker = tmp_path / "handler-ran"
    script = textwrap.dedent(f"""
        import atexit, sys
        import jp_bench.cli as cli

        def main():
            atexit.register(lambda: open({str(marker)!r}, "w").write("ran"))
            sys.stdout.write("出力" * 50_000)
            return 3

        cli.main = main
        sys.argv = ["jp-bench", "report"]
        from jp_bench.console import run
        run()
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 3, result.stderr
    assert result.stdout == "出力" * 50_000
    assert marker.read_text() == "ran"


def test_a_reader_that_stops_early_gets_no_traceback() -> None:
    """`jp-bench report | head -1`: the rest of the output has nowhere to go; no traceback, status 141."""
    script = textwrap.dedent("""
        import sys
        import jp_bench.cli as cli

        def main():
            for _ in range(100_000):  # far more than a pipe holds: the write after the reader left fails
                print("行" * 100)
            return 0

        cli.main = main
        sys.argv = ["jp-bench", "report"]
        from jp_bench.console import run
        run()
    """)
    program = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert program.stdout is not None and program.stderr is not None
    program.stdout.read(10)
    program.stdout.close()  # the reader leaves
    errors = program.stderr.read().decode()
    assert program.wait(timeout=60) == 141 and "Traceback" not in errors, errors
