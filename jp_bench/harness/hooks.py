"""Functions that jp-bench's lm-eval task YAMLs name with ``!function``.

Each subtask YAML passes ``benchmark`` and ``category`` through ``dataset_kwargs``; anything given
with lm-eval's ``--metadata`` arrives here too, which is how users choose a prompt style::

    lm_eval ... --tasks jp_bench --metadata '{"prompt_style": "alpaca-ja"}'

``reference_set`` picks the published reference answers for benchmarks with several (ja_mt_bench:
``gpt-4``, the default, or ``gpt-4o-human``); ``category`` may be the upstream label or its ASCII name.
"""

from __future__ import annotations

from typing import Any

from jp_bench.errors import JpBenchError

# Chat models get the question as the user message, exactly as written. Base models without a chat
# template answer far better inside an instruction frame; `alpaca-ja` is the common Japanese
# Alpaca-style frame that instruction-tuned base models are trained on.
# `qa-fewshot-ja` is for small base models that answer nothing without examples: two worked
# question/answer pairs (our own) show the form, then the question; stop generation at "質問:".
PROMPT_STYLES: dict[str, str] = {
    "plain": "{question}",
    "alpaca-ja": (
        "以下は、ある作業を指示する文章です。指示に沿って、適切な応答を書いてください。\n\n"
        "### 指示:\n{question}\n\n### 応答:\n"
    ),
    "qa-fewshot-ja": (
        "以下は、質問と、それに対する丁寧で役に立つ回答の例です。\n\n"
        "質問: 朝ごはんを食べると、どんな良いことがありますか。\n"
        "回答: 朝ごはんを食べると、眠っている間に減ったエネルギーが補われ、午前中に集中しやすくなります。"
        "また、毎日同じ時間に食べることで生活のリズムが整い、昼に食べ過ぎることも防げます。\n\n"
        "質問: 雨の日に洗濯物を早く乾かすには、どうすればよいですか。\n"
        "回答: 洗濯物どうしの間をこぶし一つ分ほど空けて干し、扇風機やエアコンの除湿で風を当てると早く乾きます。"
        "厚手の服は裏返し、ポケットを外に出しておくのも効果的です。\n\n"
        "質問: {question}\n回答:"
    ),
}
# Where a `qa-fewshot-ja` answer ends: the model starting the next example.
FEWSHOT_STOP = "質問:"


def render_prompt(question: str, prompt_style: str = "plain") -> str:
    try:
        template = PROMPT_STYLES[prompt_style]
    except KeyError:
        known = ", ".join(PROMPT_STYLES)
        raise JpBenchError(f"unknown prompt_style {prompt_style!r} (known: {known})") from None
    return template.format(question=question)


def question_docs(
    benchmark: str,
    category: str | None = None,
    prompt_style: str = "plain",
    questions_file: str | None = None,
    reference_set: str | None = None,
) -> list[dict[str, Any]]:
    """The documents one subtask evaluates: one per question of ``category`` (all when None)."""
    from jp_bench.benchmarks import category_slug, load_questions

    questions = load_questions(questions_file or benchmark, reference_set=reference_set)
    selected = [q for q in questions
                if category is None or category in (q.category, category_slug(benchmark, q.category))]
    if not selected:
        raise JpBenchError(f"benchmark {benchmark!r} has no questions in category {category!r}")
    return [{**doc, "rubric": q.rubric, "prompt": render_prompt(q.text, prompt_style)}
            for q, doc in zip(selected, question_fields(selected), strict=True)]


def question_fields(questions: list[Any]) -> list[dict[str, Any]]:
    """The fields every document of our tasks carries for its question (single- and multi-turn)."""
    # datasets needs one type per column: keep ints when every id is an int, else use strings.
    ids_are_ints = all(isinstance(q.question_id, int) for q in questions)
    return [
        {
            "question_id": q.question_id if ids_are_ints else str(q.question_id),
            "category": q.category,
            "turns": list(q.turns),
            "reference": list(q.reference or []),
            "grading_notes": q.grading_notes or "",  # "" not None: datasets wants one type per column
        }
        for q in questions
    ]


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
