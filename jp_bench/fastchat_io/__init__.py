"""Read and write FastChat ``llm_judge`` files, so published answers and judgments plug in.

Answers (``model_answer/``), one JSON object per line::

    {"question_id": 1, "model_id": "m", "choices": [{"index": 0, "turns": ["..."]}], "tstamp": ...}

laid out either as FastChat's flat ``model_answer/<model>.jsonl`` or as the Japanese Vicuna QA
benchmark's ``model_answer/<model>/results.jsonl`` with a ``config.json`` beside it.

Pairwise judgments come in two layouts; both are read:

* FastChat's own (``model_judgment/gpt-4_pair.jsonl``): ``"judge": [judge_model, prompt_name]``,
  ``g1_user_prompt``/``g2_user_prompt`` and ``turn``;
* the Japanese Vicuna QA benchmark's (``model_judgment/pairwise/gpt-4/pairwise:<m1>_<m2>.jsonl``):
  ``judge_model`` and ``judge_prompt`` fields, the question and both answers copied in, no ``turn``.

In both, game 1 shows ``model_1`` as assistant A and game 2 swaps the order; both winners are
already expressed in model terms (``model_1``/``model_2``/``tie``/``error``).

Here a judge is one string, ``"<judge_model>/<prompt_name>"`` (e.g. ``"gpt-4/pair"``), or just the
judge model when the file names no prompt. A judge model may itself contain ``/``
(``"openai/gpt-4o/pair"``); prompt names never do, so the prompt is whatever follows the last ``/``.

Single-answer judgments (FastChat's ``gpt-4_single.jsonl``) carry ``model``, ``score`` and
``judgment``; FastChat writes ``score: -1`` when the judge gave no rating, which is read as None.
"""


from jp_bench.fastchat_io._common import JudgeType, Winner
from jp_bench.fastchat_io.answers import is_fastchat_answer_path, read_answers, read_fastchat_answers
from jp_bench.fastchat_io.judgments import (
    PairwiseJudgmentRecord,
    SingleJudgmentRecord,
    judge_model_name,
    read_pairwise_judgments,
    read_single_judgments,
    write_pairwise_judgments,
    write_single_judgments,
)
from jp_bench.fastchat_io.prompts import JudgePrompt, read_judge_prompts

__all__ = [
    "JudgePrompt",
    "JudgeType",
    "PairwiseJudgmentRecord",
    "SingleJudgmentRecord",
    "Winner",
    "is_fastchat_answer_path",
    "judge_model_name",
    "read_answers",
    "read_fastchat_answers",
    "read_judge_prompts",
    "read_pairwise_judgments",
    "read_single_judgments",
    "write_pairwise_judgments",
    "write_single_judgments",
]
