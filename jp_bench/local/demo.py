"""The offline demo: answer the shipped question set with a packaged model through lm-eval.

One lm-eval run answers and judges: the questions are framed for a base model, lm-eval generates, and
the embedded judge scores every answer inside the run (``--metadata judge``). It proves the pipeline
(data -> lm-eval task -> samples on disk -> judged scores), not model quality: the packaged model is
a 270M-parameter base model, and it is the judge too.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from jp_bench.benchmarks import DEFAULT_OFFLINE_BENCHMARK
from jp_bench.benchmarks.answers import Answer
from jp_bench.benchmarks.prompt_styles import FEWSHOT_STOP
from jp_bench.benchmarks.questions import iter_jsonl
from jp_bench.errors import JpBenchError
from jp_bench.harness.runner import run_lm_eval
from jp_bench.harness.samples import lm_eval_sample_files, read_lm_eval_output
from jp_bench.local import packaged_models

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
    example: dict[str, str] | None = None  # one question, its answer and the judge's reply

    def by_category(self) -> list[CategorySummary]:
        """Per category, in the order the answers come: answers, mean judge score, mean length, first answer."""
        grouped: dict[str, list[Answer]] = {}
        for answer in self.answers:
            grouped.setdefault(answer.category, []).append(answer)
        summaries = []
        for category, items in grouped.items():
            scores = [self.scores[a.question_id] for a in items if self.scores.get(a.question_id) is not None]
            summaries.append(CategorySummary(
                category=category, answers=len(items),
                mean_score=sum(scores) / len(scores) if scores else None,  # type: ignore[arg-type]
                mean_chars=round(sum(len(a.turns[0]) for a in items) / len(items)), first_answer=items[0].turns[0]))
        return summaries


@dataclass(frozen=True)
class CategorySummary:
    """One category of the demo's answers (the rows of the table ``jp-bench demo`` prints)."""

    category: str
    answers: int
    mean_score: float | None  # None: no answer of the category was scored
    mean_chars: int  # first-turn answer length, characters
    first_answer: str


def choose_backend(requested: str) -> str:
    if requested not in BACKENDS:
        raise JpBenchError(f"unknown backend {requested!r} (choose from {', '.join(BACKENDS)})")
    if requested != "auto":
        return requested
    # llama.cpp generates several times faster on a CPU, but it compiles on install; use it when present.
    return "llama-cpp" if importlib.util.find_spec("llama_cpp") else "transformers"


# The packaged model is a 270M base model: it answers inside a few-shot Q/A frame, stops before it
# invents the next question, and a repetition penalty keeps it from looping on one phrase.
DEMO_PROMPT_STYLE = "qa-fewshot-ja"
REPETITION_PENALTY = 1.3


@contextlib.contextmanager
def _model_arguments(backend: str, log: Callable[[str], None], log_dir: Path) -> Iterator[tuple[list[str], str]]:
    """lm-eval arguments that select the packaged model on ``backend`` (a server runs meanwhile),
    and the generation setting that names its repetition penalty."""
    if backend == "transformers":
        log("Preparing the packaged Gemma 3 270M for transformers (first run converts the GGUF, ~1 min)…")
        model_dir = packaged_models.gemma_hf_dir()
        yield ["--model", "hf", "--model_args", f"pretrained={model_dir},dtype=float32"], "repetition_penalty"
        return
    from jp_bench.local.server import llama_cpp_server

    log("Starting llama.cpp's OpenAI-compatible server on 127.0.0.1 with the packaged Gemma 3 270M…")
    with llama_cpp_server(packaged_models.gemma_gguf(), model_alias="gemma-3-270m", log_dir=log_dir) as server:
        # A base model has no chat template: the text completions endpoint gets the framed prompt as is.
        yield [
            "--model", "local-completions",
            "--model_args",
            f"model={server.model_alias},base_url={server.completions_url},"
            "num_concurrent=2,max_retries=2,tokenizer_backend=none",
        ], "repeat_penalty"


def run_demo(
    output_dir: str | Path,
    *,
    per_category: int = 1,
    max_gen_toks: int = 128,
    backend: str = "auto",
    benchmark: str = DEFAULT_OFFLINE_BENCHMARK,
    judge: bool = True,
    log: Callable[[str], None] = print,
) -> DemoResult:
    """Answer ``per_category`` questions of each category of ``benchmark`` and judge them, in one lm-eval run
    (``judge=False``: answers only; without llama-cpp-python there is no judge to ask)."""
    chosen = choose_backend(backend)
    out = Path(output_dir).expanduser().resolve()
    lm_eval_out = out / "lm_eval"
    out.mkdir(parents=True, exist_ok=True)
    installed = importlib.util.find_spec("llama_cpp") is not None
    judged = judge and installed
    metadata: dict[str, object] = {"prompt_style": DEMO_PROMPT_STYLE}
    if judged:
        metadata |= {"judge": "embedded", "judge_workspace": str(out / "workspace" / "store.sqlite")}
    with _model_arguments(chosen, log, out) as (model_args, penalty_name):
        argv = [
            *model_args,
            "--tasks", benchmark,
            "--limit", str(per_category),
            "--gen_kwargs", f"max_gen_toks={max_gen_toks},until={FEWSHOT_STOP},{penalty_name}={REPETITION_PENALTY}",
            "--metadata", json.dumps(metadata, ensure_ascii=False),
            "--output_path", str(lm_eval_out),
            "--log_samples",
        ]
        log(f"Answering {per_category} question(s) per category of {benchmark} with lm-eval ({chosen})"
            + (" and scoring them with the embedded judge (a smoke test, not a real judge)…" if judged else "…"))
        code = run_lm_eval(argv)
    if code != 0:
        raise JpBenchError(f"lm-eval failed (exit code {code}); see the log above")
    answers = read_lm_eval_output(lm_eval_out)
    sample_files = lm_eval_sample_files(lm_eval_out)
    scores, example = _judgments(sample_files)
    judgment_files = sorted((out / "workspace" / "judgments").rglob("*.jsonl")) if judged else []
    judged_with = ("embedded judge (smoke test)" if judged else "not judged (--no-judge)" if installed else
                   "not judged: the embedded judge needs llama-cpp-python (pip install 'jp-bench[local]')")
    return DemoResult(output_dir=out, sample_files=sample_files, answers=answers, backend=chosen, scores=scores,
                      judged_with=judged_with, judgment_files=judgment_files, example=example)


def _judgments(sample_files: list[Path]) -> tuple[dict[int | str, float | None], dict[str, str] | None]:
    """Scores per question from the judged samples, and one question/answer/reply to show in full."""
    scores: dict[int | str, float | None] = {}
    examples: list[dict[str, str]] = []
    for path in sample_files:
        for _, record in iter_jsonl(path):
            judgment = record["doc"].get("judgment")
            if judgment is None:
                continue
            scores[record["doc"]["question_id"]] = judgment.get("score")
            examples.append({"question": record["doc"]["turns"][0], "answer": record["filtered_resps"][0],
                             "reply": judgment.get("reply") or "", "score": str(judgment.get("score"))})
    # Show a real attempt: the longest answer that does not just repeat its question.
    def rank(item: dict[str, str]) -> tuple[bool, int]:
        answer = item["answer"].strip()
        return item["question"][:20] not in answer, len(answer)

    example = max(examples, key=rank, default=None)
    return scores, example
