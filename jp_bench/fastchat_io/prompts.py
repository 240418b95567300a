"""FastChat judge prompt files (``judge_prompts.jsonl``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from jp_bench.errors import InputFileError
from jp_bench.fastchat_io._common import JudgeType
from jp_bench.questions import iter_jsonl


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


_PROMPT_REQUIRED = ("name", "type", "prompt_template", "output_format")
# Multi-turn templates number the conversation's placeholders ({question_1}, {answer_a_2}, {answer_1}).
# {ref_answer_1} is excluded: single-turn math prompts use it for the one reference answer.
_TURN_PLACEHOLDER = re.compile(r"\{(?:question|answer|answer_a|answer_b)_\d+\}")


def read_judge_prompts(path: str | Path) -> dict[str, JudgePrompt]:
    """FastChat ``judge_prompts.jsonl`` keyed by prompt name, in file order."""
    prompts: dict[str, JudgePrompt] = {}
    for line, record in iter_jsonl(path):
        for key in _PROMPT_REQUIRED:
            if not isinstance(record.get(key), str) or not record[key]:
                raise InputFileError(path, line, f"field '{key}': expected a non-empty string")
        # FastChat reads system_prompt unconditionally, so it must be present, but it may be empty.
        if not isinstance(record.get("system_prompt"), str):
            raise InputFileError(path, line, "field 'system_prompt': expected a string (may be empty)")
        for key in ("category", "description"):
            if not isinstance(record.get(key, ""), str):
                raise InputFileError(path, line, f"field '{key}': expected a string")
        name, kind, template = record["name"], record["type"], record["prompt_template"]
        if kind not in ("pairwise", "single"):
            raise InputFileError(path, line, f"field 'type': expected 'pairwise' or 'single', got {kind!r}")
        if name in prompts:
            raise InputFileError(path, line, f"duplicate prompt name {name!r}")
        prompts[name] = JudgePrompt(
            name=name,
            type=kind,
            system_prompt=record["system_prompt"],
            prompt_template=template,
            output_format=record["output_format"],
            category=record.get("category", ""),
            description=record.get("description", ""),
            multi_turn="multi-turn" in name or bool(_TURN_PLACEHOLDER.search(template)),
            uses_reference="{ref_answer" in template,
        )
    if not prompts:
        raise InputFileError(path, None, "no judge prompts found (expected one JSON object per line)")
    return prompts
