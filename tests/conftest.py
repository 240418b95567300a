"""Shared fixtures: an isolated JP_BENCH_HOME, the reference data beside the checkout, tiny models."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.paths import BIN, UPSTREAM_CHECKOUT


def pytest_configure(config: pytest.Config) -> None:
    # Nothing in the suite may reach a model hub; fail fast instead of hanging on the network.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


TIERS = ("unit", "integration", "e2e")
# The slowest files (a minute or more on 2 cores), slowest first: see pytest --durations.
HEAVIEST = ("test_experiment.py", "test_demo.py", "test_lm_eval_judged.py", "test_data_parallel.py",
            "test_multiturn.py", "test_lm_eval_judged_peers.py", "test_mt_bench_judging.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # `-m unit` is the fast tier only if no test is left out of the tiers or counted in two of them.
    wrong = [f"{item.nodeid}: {tiers or 'no tier'}" for item in items
             if len(tiers := sorted({mark.name for mark in item.iter_markers() if mark.name in TIERS})) != 1]
    if wrong:
        raise pytest.UsageError("every test needs exactly one tier marker (unit, integration or e2e):\n  "
                                + "\n  ".join(wrong))
    # Longest first: under `-n 2 --dist loadfile` each worker takes the next file as it gets free, so the
    # end-to-end files (minutes each) go out first and the quick ones fill the gaps; a file left for last
    # would keep one worker busy while the other sits idle. Files stay whole and keep their own order.
    rank: dict[str, tuple[int, int]] = {}
    for item in items:
        path = item.nodeid.split("::")[0]
        tier = next(mark.name for mark in item.iter_markers() if mark.name in TIERS)
        heavy = HEAVIEST.index(Path(path).name) if Path(path).name in HEAVIEST else len(HEAVIEST)
        rank[path] = min(rank.get(path, (len(TIERS), 0)), (TIERS[::-1].index(tier), heavy))  # e2e first
    first_seen = {path: n for n, path in enumerate(dict.fromkeys(item.nodeid.split("::")[0] for item in items))}
    items.sort(key=lambda item: (rank[p := item.nodeid.split("::")[0]], first_seen[p]))


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
    from tests.support.tiny_models import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), chat_template=False)


@pytest.fixture(scope="session")
def tiny_chat_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.support.tiny_models import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-chat-llama"), chat_template=True)


@pytest.fixture(scope="session")
def packaged_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged Gemma 3 270M GGUF, assembled once for the session."""
    home = tmp_path_factory.mktemp("gguf-home")
    old = os.environ.get("JP_BENCH_HOME")
    os.environ["JP_BENCH_HOME"] = str(home)
    try:
        from jp_bench.local.packaged_models import gemma_gguf

        return gemma_gguf()
    finally:
        if old is None:
            os.environ.pop("JP_BENCH_HOME", None)
        else:
            os.environ["JP_BENCH_HOME"] = old
