"""Shared fixtures: an isolated JP_BENCH_HOME, the reference data beside the checkout, tiny models."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("JP_BENCH_SHARED", ROOT.parent / "shared")).resolve()
UPSTREAM_CHECKOUT = SHARED / "data" / "ja-vicuna-qa-benchmark"
BIN = Path(sys.executable).parent

sys.path.insert(0, str(Path(__file__).parent))


def pytest_configure(config: pytest.Config) -> None:
    # Nothing in the suite may reach a model hub; fail fast instead of hanging on the network.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def jp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty JP_BENCH_HOME; JP_BENCH_DATA and any mirror URL unset."""
    home = tmp_path / "jp-bench-home"
    monkeypatch.setenv("JP_BENCH_HOME", str(home))
    monkeypatch.delenv("JP_BENCH_DATA", raising=False)
    monkeypatch.delenv("JP_BENCH_UPSTREAM_URL", raising=False)
    return home


@pytest.fixture(scope="session")
def upstream_checkout() -> Path:
    """The paper's released data folder (../shared/data/ja-vicuna-qa-benchmark)."""
    if not (UPSTREAM_CHECKOUT / "jp_bench" / "question.jsonl").is_file():
        pytest.fail(f"reference data missing: {UPSTREAM_CHECKOUT} (set JP_BENCH_SHARED to the shared folder)")
    return UPSTREAM_CHECKOUT


@pytest.fixture(scope="session")
def imported_home(tmp_path_factory: pytest.TempPathFactory, upstream_checkout: Path) -> Path:
    """A JP_BENCH_HOME into which the upstream data was imported with `jp-bench data import`."""
    home = tmp_path_factory.mktemp("imported-home")
    env = {**os.environ, "JP_BENCH_HOME": str(home)}
    env.pop("JP_BENCH_DATA", None)
    subprocess.run([str(BIN / "jp-bench"), "data", "import", str(upstream_checkout)], env=env, check=True)
    return home


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_models import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), chat_template=False)


@pytest.fixture(scope="session")
def tiny_chat_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_models import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-chat-llama"), chat_template=True)


@pytest.fixture(scope="session")
def packaged_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged Gemma 3 270M GGUF, assembled once for the session."""
    home = tmp_path_factory.mktemp("gguf-home")
    old = os.environ.get("JP_BENCH_HOME")
    os.environ["JP_BENCH_HOME"] = str(home)
    try:
        from jp_bench.packaged_models import gemma_gguf

        return gemma_gguf()
    finally:
        if old is None:
            os.environ.pop("JP_BENCH_HOME", None)
        else:
            os.environ["JP_BENCH_HOME"] = old


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


def write_jsonl(path: Path, rows: Iterable[object]) -> Path:
    """Write ``rows`` as JSON Lines, creating the folder; a ``str`` row is written as it is (a test's
    malformed line). Returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n"
                            for row in rows), encoding="utf-8")
    return path


def write_two_turn_questions(path: Path, categories: dict[int, str]) -> Path:
    """A question file of two-turn questions (our own text), ``{question_id: category}``."""
    return write_jsonl(path, [{"question_id": q, "category": c, "turns": [f"質問{q}", f"続き{q}"]}
                              for q, c in categories.items()])


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_)


def assert_close(actual: object, expected: object, rel: float = 1e-9, abs_tol: float = 1e-12,
                 where: str = "value") -> None:
    """Assert that ``actual`` is ``expected``, walking dicts, lists, tuples and arrays: floats within
    ``rel`` relative (or ``abs_tol`` absolute, for figures that should be 0), NaN equal to NaN,
    everything else (ints, bools, strings, None, keys, lengths) exactly.

    A float computed through numpy/scipy/BLAS can differ in its last bits between CPUs (another SIMD
    width, another BLAS kernel), so no figure of a statistic is compared to the last digit; what must be
    identical (counts, labels, the resampled draws) is compared exactly. ``where`` names the place of a
    difference in the message, e.g. ``value["models"][0]["stderr"]``.
    """
    if isinstance(actual, np.ndarray) or isinstance(expected, np.ndarray):
        actual, expected = np.asarray(actual).tolist(), np.asarray(expected).tolist()
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected a dict, got {actual!r}"
        assert actual.keys() == expected.keys(), (f"{where}: keys {sorted(map(str, actual))} "
                                                  f"!= {sorted(map(str, expected))}")
        for key, value in expected.items():
            assert_close(actual[key], value, rel, abs_tol, f"{where}[{key!r}]")
    elif isinstance(expected, list | tuple):
        assert isinstance(actual, list | tuple), f"{where}: expected a sequence, got {actual!r}"
        assert len(actual) == len(expected), f"{where}: length {len(actual)} != {len(expected)}: {actual!r}"
        for index, (mine, theirs) in enumerate(zip(actual, expected, strict=True)):
            assert_close(mine, theirs, rel, abs_tol, f"{where}[{index}]")
    elif _is_number(expected) and _is_number(actual) and (isinstance(expected, float | np.floating)
                                                          or isinstance(actual, float | np.floating)):
        mine, theirs = float(actual), float(expected)
        assert (math.isnan(mine) and math.isnan(theirs)) or math.isclose(mine, theirs, rel_tol=rel,
                                                                         abs_tol=abs_tol), \
            f"{where}: {mine!r} != {theirs!r} within {rel:g} relative"
    else:
        assert type(actual) is type(expected) or (_is_number(actual) and _is_number(expected)), \
            f"{where}: {type(actual).__name__} {actual!r} != {type(expected).__name__} {expected!r}"
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def samples_by_task(folder: Path) -> dict[str, list[dict]]:
    """Records of the newest lm-eval samples file per task under ``folder``."""
    newest: dict[str, Path] = {}
    for path in sorted(folder.rglob("samples_*.jsonl")):  # the timestamp sorts in time order
        newest[path.name.removeprefix("samples_").rsplit("_", 1)[0]] = path
    return {task: [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
            for task, path in newest.items()}
