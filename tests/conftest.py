"""Shared fixtures: an isolated JP_BENCH_HOME, the reference data beside the checkout, tiny models."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

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


def samples_by_task(folder: Path) -> dict[str, list[dict]]:
    """Records of the newest lm-eval samples file per task under ``folder``."""
    newest: dict[str, Path] = {}
    for path in sorted(folder.rglob("samples_*.jsonl")):  # the timestamp sorts in time order
        newest[path.name.removeprefix("samples_").rsplit("_", 1)[0]] = path
    return {task: [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
            for task, path in newest.items()}
