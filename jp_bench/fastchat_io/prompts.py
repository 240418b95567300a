"""FastChat judge prompt files (``judge_prompts.jsonl``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from jp_bench.benchmarks.questions import iter_jsonl
from jp_bench.errors import InputFileError
from jp_bench.fastchat_io._common import JudgeType, PromptLine, parse_line


@dataclass(frozen=True)
class JudgePrompt:
    """One entry of FastChat's ``judge_prompts.jsonl``."""

    name: str
    type: JudgeType
    system_prompt: str
    prompt_template: str
    output_format: str
    category: str
    description: str
    multi_turn: bool
    uses_reference: bool


# Multi-turn templates number the conversation's placeholders ({question_1}, {answer_a_2}, {answer_1}).
# {ref_answer_1} is excluded: single-turn math prompts use it for the one reference answer.
_TURN_PLACEHOLDER = re.compile(r"\{(?:question|answer|answer_a|answer_b)_\d+\}")


def read_judge_prompts(path: str | Path) -> dict[str, JudgePrompt]:
    """FastChat ``judge_prompts.jsonl`` keyed by prompt name, in file order."""
    prompts: dict[str, JudgePrompt] = {}
    for line, record in iter_jsonl(path):
        row = parse_line(PromptLine, record, path, line)
        if row.name in prompts:
            raise InputFileError(path, line, f"duplicate prompt name {row.name!r}")
        prompts[row.name] = JudgePrompt(
            name=row.name,
            type=row.type,
            system_prompt=row.system_prompt,
            prompt_template=row.prompt_template,
            output_format=row.output_format,
            category=row.category,
            description=row.description,
            multi_turn="multi-turn" in row.name or bool(_TURN_PLACEHOLDER.search(row.prompt_template)),
            uses_reference="{ref_answer" in row.prompt_template,
        )
    if not prompts:
        raise InputFileError(path, None, "no judge prompts found (expected one JSON object per line)")
    return prompts
