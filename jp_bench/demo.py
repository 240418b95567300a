"""The offline demo: answer the shipped question set with a packaged model through lm-eval.

It proves the pipeline (data -> lm-eval task -> samples on disk), not model quality: the packaged
model is a 270M-parameter base model.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from jp_bench import packaged_models
from jp_bench.answers import Answer, read_lm_eval_output
from jp_bench.benchmarks import DEFAULT_OFFLINE_BENCHMARK
from jp_bench.errors import JpBenchError
from jp_bench.lm_eval_runner import run_lm_eval

BACKENDS = ("auto", "transformers", "llama-cpp")


@dataclass(frozen=True)
class DemoResult:
    output_dir: Path
    sample_files: list[Path]
    answers: list[Answer]
    backend: str
    scores: dict[int | str, float | None] = field(default_factory=dict)  # question_id -> judge score
    judged_with: str | None = None  # why not, when judging was skipped
    judgment_files: list[Path] = field(default_factory=list)


def choose_backend(requested: str) -> str:
    if requested not in BACKENDS:
        raise JpBenchError(f"unknown backend {requested!r} (choose from {', '.join(BACKENDS)})")
    if requested != "auto":
        return requested
    # llama.cpp generates several times faster on a CPU, but it compiles on install; use it when present.
    return "llama-cpp" if importlib.util.find_spec("llama_cpp") else "transformers"


@contextlib.contextmanager
def _model_arguments(backend: str, log: Callable[[str], None], log_dir: Path) -> Iterator[list[str]]:
    """lm-eval arguments that select the packaged model on ``backend`` (a server runs meanwhile)."""
    if backend == "transformers":
        log("Preparing the packaged Gemma 3 270M for transformers (first run converts the GGUF, ~1 min)…")
        model_dir = packaged_models.gemma_hf_dir()
        yield [
            "--model", "hf",
            "--model_args", f"pretrained={model_dir},dtype=float32",
            # A base model with no chat template answers inside an instruction frame.
            "--metadata", json.dumps({"prompt_style": "alpaca-ja"}),
        ]
        return
    from jp_bench.local_server import llama_cpp_server

    log("Starting llama.cpp's OpenAI-compatible server on 127.0.0.1 with the packaged Gemma 3 270M…")
    with llama_cpp_server(
        packaged_models.gemma_gguf(), chat_format="gemma", model_alias="gemma-3-270m", log_dir=log_dir
    ) as server:
        yield [
            "--model", "local-chat-completions",
            "--model_args",
            f"model={server.model_alias},base_url={server.chat_completions_url},"
            "num_concurrent=2,max_retries=2,tokenizer_backend=none",
            "--apply_chat_template",
        ]


def run_demo(
    output_dir: str | Path,
    *,
    per_category: int = 1,
    max_gen_toks: int = 128,
    backend: str = "auto",
    benchmark: str = DEFAULT_OFFLINE_BENCHMARK,
    log: Callable[[str], None] = print,
) -> DemoResult:
    """Answer ``per_category`` questions of each category of ``benchmark`` and return the answers."""
    chosen = choose_backend(backend)
    out = Path(output_dir).expanduser().resolve()
    lm_eval_out = out / "lm_eval"
    out.mkdir(parents=True, exist_ok=True)
    with _model_arguments(chosen, log, out) as model_args:
        argv = [
            *model_args,
            "--tasks", benchmark,
            "--limit", str(per_category),
            "--gen_kwargs", f"max_gen_toks={max_gen_toks}",
            "--output_path", str(lm_eval_out),
            "--log_samples",
            "--predict_only",
        ]
        log(f"Answering {per_category} question(s) per category of {benchmark} with lm-eval ({chosen})…")
        code = run_lm_eval(argv)
    if code != 0:
        raise JpBenchError(f"lm-eval failed (exit code {code}); see the log above")
    answers = read_lm_eval_output(lm_eval_out)
    sample_files = sorted({Path(a.source.rsplit(":", 1)[0]) for a in answers})
    scores, judged_with, files = _judge_answers(lm_eval_out, out, log)
    return DemoResult(output_dir=out, sample_files=sample_files, answers=answers, backend=chosen, scores=scores,
                      judged_with=judged_with, judgment_files=files)


def _judge_answers(
    lm_eval_out: Path, out: Path, log: Callable[[str], None]
) -> tuple[dict[int | str, float | None], str, list[Path]]:
    """Score every answer 1-10 with the embedded judge (needs llama-cpp-python)."""
    if not importlib.util.find_spec("llama_cpp"):
        return {}, "not judged: the embedded judge needs llama-cpp-python (pip install 'jp-bench[local]')", []
    from jp_bench.judging.service import JudgeRequest, run_judging

    log("Judging the answers (single 1-10 scores) with the embedded judge: a smoke test, not a real judge…")
    outcome = run_judging(JudgeRequest(answers=[str(lm_eval_out)], judge="embedded", mode="single",
                                       out=out / "judgments", workspace=out / "store.sqlite"))
    scores = {row["question_id"]: row["score"] for row in outcome.rows}
    return scores, "embedded judge (smoke test)", outcome.written
