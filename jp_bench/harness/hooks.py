"""Functions that jp-bench's lm-eval task YAMLs name with ``!function``.

Each subtask YAML passes ``benchmark`` and ``category`` through ``dataset_kwargs``; anything given
with lm-eval's ``--metadata`` arrives here too, which is how users choose a prompt style::

    lm_eval ... --tasks jp_bench --metadata '{"prompt_style": "alpaca-ja"}'

``reference_set`` picks the published reference answers for benchmarks with several (ja_mt_bench:
``gpt-4``, the default, or ``gpt-4o-human``); ``category`` may be the upstream label or its ASCII name.
"""

from __future__ import annotations

from typing import Any

from jp_bench.harness.documents import question_docs


def load_benchmark(
    benchmark: str = "jp_bench",
    category: str | None = None,
    prompt_style: str = "plain",
    questions_file: str | None = None,
    reference_set: str | None = None,
    **_metadata: Any,
):
    """``custom_dataset`` hook: a ``DatasetDict`` with one ``test`` split.

    ``_metadata`` swallows lm-eval's task metadata (``version`` and whatever ``--metadata`` adds).
    """
    import datasets

    docs = question_docs(benchmark, category, prompt_style, questions_file, reference_set)
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})


def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, float]:  # noqa: ARG001 (lm-eval's hook)
    """In-harness metric: answer length in characters.

    Quality is measured by ``jp-bench judge`` over the logged samples; this number only tells that
    answers were produced (0 means empty answers) and how long they are.
    """
    answer = results[0] if results else ""
    return {"answer_chars": float(len(answer))}


def load_mt_bench(
    benchmark: str = "ja_mt_bench",
    category: str = "writing",
    turn: int = 1,
    history: str | None = None,
    questions_file: str | None = None,
    reference_set: str | None = None,
    **_metadata: Any,
):
    """``custom_dataset`` hook of the multi-turn subtasks (``ja_mt_bench_turn<turn>_<category>``).

    ``history`` (from ``--metadata``) is the lm-eval output folder holding the turn-(turn-1) samples;
    each document carries the model's own earlier answers as ``previous_answers`` (see
    :mod:`jp_bench.harness.multiturn`).
    """
    import datasets

    from jp_bench.harness.multiturn import mt_docs

    docs = mt_docs(benchmark, category, int(turn), history=history, questions_file=questions_file,
                   reference_set=reference_set)
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})
