"""The README's first command, end to end: packaged model -> lm-eval -> samples on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run_cli

pytestmark = pytest.mark.e2e


def test_demo_answers_every_category_and_prints_samples(jp_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = run_cli("jp-bench", "demo", "--out", str(out), "--backend", "llama-cpp", "--max-gen-toks", "24",
                     env={"JP_BENCH_HOME": str(jp_home)})
    assert result.returncode == 0, result.stderr[-3000:]
    samples = sorted((out / "lm_eval").rglob("samples_jp_bench_fresh_*.jsonl"))
    assert len(samples) == 9
    for path in samples:
        assert str(path) in result.stdout
    assert "9 answers from the packaged Gemma 3 270M (llama-cpp); scores: embedded judge" in result.stdout
    assert "not model quality" in result.stdout
    # One lm-eval run answered and judged: the scores are in lm-eval's results and in the samples.
    judgments = next(out.rglob("judgments.jsonl")).read_text(encoding="utf-8").splitlines()
    assert len(judgments) == 9
    assert len(list(out.rglob("single:gemma-3-270m.jsonl"))) == 1
    results = json.loads(next((out / "lm_eval").rglob("results_*.json")).read_text(encoding="utf-8"))["results"]
    assert 1 <= results["jp_bench_fresh"]["judge_score,none"] <= 10
    header = next(line for line in result.stdout.splitlines() if line.startswith("category"))
    assert "score (1-10)" in header
    # The base model answered inside the few-shot frame, and one full example is printed.
    sample = next((out / "lm_eval").rglob("samples_jp_bench_fresh_math_*.jsonl")).read_text(encoding="utf-8")
    assert "質問: " in sample and "回答:" in sample
    assert "--- question ---" in result.stdout and "--- judge's reply (score " in result.stdout
    assert (jp_home / "models" / "gemma-3-270m-q4_k_m.gguf").is_file()


def test_demo_on_transformers_converts_the_gguf_once(jp_home: Path, tmp_path: Path) -> None:
    """The path a fresh install takes (no llama-cpp-python): GGUF -> transformers folder -> lm-eval hf.
    Answers only (--no-judge): judging inside the run is the test above's."""
    out = tmp_path / "demo"
    result = run_cli("jp-bench", "demo", "--out", str(out), "--backend", "transformers", "--max-gen-toks", "8",
                     "--no-judge", env={"JP_BENCH_HOME": str(jp_home)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "9 answers from the packaged Gemma 3 270M (transformers); scores: not judged (--no-judge)" in result.stdout
    assert not (out / "workspace").exists()  # no judge was started, nothing judged
    assert len(sorted((out / "lm_eval").rglob("samples_jp_bench_fresh_*.jsonl"))) == 9
    converted = jp_home / "models" / "gemma-3-270m-hf"
    assert (converted / "config.json").is_file() and (converted / "model.safetensors").is_file()
    # The few-shot frame for base models reached the model.
    sample = next((out / "lm_eval").rglob("samples_jp_bench_fresh_math_*.jsonl")).read_text(encoding="utf-8")
    assert "質問: " in sample
