"""jp-bench: Japanese instruction data and LLM-judged evaluation of chat models.

The public surface is lazy: ``import jp_bench`` loads nothing heavy (no pydantic, torch or lm-eval)
until a name is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    # The library surface: what the CLI's judge, report, agreement and leaderboard commands call.
    "judge": "jp_bench._api.judge",
    "JudgeOutcome": "jp_bench._api.judge",
    "JuryOutcome": "jp_bench._api.judge",
    "report": "jp_bench._api.report",
    "Report": "jp_bench._api.report",
    "agreement": "jp_bench.votes.study",
    "Agreement": "jp_bench.votes.study",
    "leaderboard": "jp_bench._api.leaderboard",
    "compare_judges": "jp_bench.judge_board.compare",
    "JudgesBoard": "jp_bench.judge_board.compare",
    "BENCHMARKS": "jp_bench.benchmarks",
    "load_questions": "jp_bench.benchmarks",
    "InputFileError": "jp_bench.errors",
    "JpBenchError": "jp_bench.errors",
    "tasks_path": "jp_bench.paths",
    "Question": "jp_bench.benchmarks.questions",
    "parse_questions": "jp_bench.benchmarks.questions",
    "read_lm_eval_output": "jp_bench.harness.samples",
    "run_lm_eval": "jp_bench.harness.runner",
}

__all__ = ["__version__", *sorted(_PUBLIC)]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'jp_bench' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
