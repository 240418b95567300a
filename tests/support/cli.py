"""Running the command line: in process (`jp_bench.cli.main`, fast) or as the installed console
scripts (jp-bench, lm_eval) in a new process, as a user would."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.support.paths import BIN


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run an installed console script (jp-bench, lm_eval) as a user would."""
    program, *rest = args
    executable = BIN / program
    if not executable.exists():
        executable = Path(shutil.which(program) or program)
    return subprocess.run(
        [str(executable), *rest],
        env={**os.environ, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@contextlib.contextmanager
def _environment(env: dict[str, str] | None, cwd: Path | None) -> Iterator[None]:
    saved_env, saved_cwd = dict(os.environ), Path.cwd()
    os.environ.update(env or {})
    if cwd is not None:
        os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


def main_in_process(*args: str, env: dict[str, str] | None = None,
                    cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``jp-bench ARGS`` through :func:`jp_bench.cli.main` in this process: the exit status, stdout and
    stderr as :func:`run_cli` returns them, without a new interpreter loading pandas and pydantic.

    The status follows the console script (jp_bench/console.py): argparse's exits keep their code, an
    interrupt before main() caught it is 130. What only a real process shows (the exit without teardown,
    signals, a closed pipe) is left to the console-script tests (tests/test_console.py, tests/test_cli.py).
    """
    from jp_bench.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with _environment(env, cwd), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code: object = main(list(args))
        except SystemExit as exit_:  # argparse's --help (0) and usage errors (2)
            code = exit_.code
        except KeyboardInterrupt:
            code = 130
    status = 0 if code is None else code if isinstance(code, int) else 1
    return subprocess.CompletedProcess(["jp-bench", *args], status, stdout.getvalue(), stderr.getvalue())
