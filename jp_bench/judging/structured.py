"""Structured verdicts: the judge answers ``{"reason": ..., "verdict": "A"|"B"|"C"}`` (pairwise) or
``{"reason": ..., "score": 1..10}`` (single), enforced by the server where it can be.

A judge YAML opts in with ``verdict_format: json``. For OpenAI and OpenAI-compatible servers (vLLM's
guided decoding, llama.cpp's grammar from a schema, SGLang) the request carries ``response_format``
with a JSON schema; every judge prompt gets one closing line asking for the JSON (``INSTRUCTIONS``,
added by :func:`jp_bench.judging.service.prepare`), so the messages, and with them the store key and
the prompt version, change with the output format. Replies are read as
JSON first and by their ``[[...]]`` markers otherwise (a server that ignores ``response_format``).
Anthropic has no response_format: its judges keep the markers.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any, Literal

from jp_bench.llm.types import ModelSpec

VerdictFormat = Literal["marker", "json"]
_PROVIDERS_WITH_SCHEMA = ("openai", "openai-compatible")

SCHEMAS: dict[str, dict[str, Any]] = {
    "pairwise": {
        "type": "object",
        "properties": {"reason": {"type": "string"}, "verdict": {"type": "string", "enum": ["A", "B", "C"]}},
        "required": ["reason", "verdict"], "additionalProperties": False,
    },
    "single": {
        "type": "object",
        "properties": {"reason": {"type": "string"}, "score": {"type": "integer", "minimum": 1, "maximum": 10}},
        "required": ["reason", "score"], "additionalProperties": False,
    },
}

INSTRUCTIONS = {
    "pairwise": ('出力は次の形のJSONオブジェクトだけにしてください: {"reason": "判定の理由", "verdict": "A"}。'
                 'verdict は A(アシスタントAが良い)、B(アシスタントBが良い)、C(同程度)のいずれかです。'),
    "single": ('出力は次の形のJSONオブジェクトだけにしてください: {"reason": "評価の理由", "score": 7}。'
               'score は1から10の整数です。'),
}


def instruction(kind: str, scale: tuple[int, int] = (1, 10)) -> str:
    """The closing line asking for the JSON; a single prompt's line names its own scale (a 1-5 rubric)."""
    if kind.startswith("single"):
        return INSTRUCTIONS["single"].replace("1から10", f"{scale[0]}から{scale[1]}")
    return INSTRUCTIONS["pairwise"]


def uses_json(verdict_format: VerdictFormat, spec: ModelSpec) -> bool:
    return verdict_format == "json" and spec.provider in _PROVIDERS_WITH_SCHEMA


def with_response_format(spec: ModelSpec, kind: Literal["pairwise", "single"]) -> ModelSpec:
    """``spec`` asking for the verdict JSON schema (part of the model identity, so of every store key)."""
    response_format = {"type": "json_schema",
                       "json_schema": {"name": f"{kind}_verdict", "strict": True, "schema": SCHEMAS[kind]}}
    return dataclasses.replace(spec, params={**spec.params, "response_format": response_format})


_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def read_json_verdict(kind: str, reply: str) -> Any:
    """The verdict (``"A"``/``"B"``/``"C"``) or score from a JSON reply; None when it holds none."""
    match = _OBJECT.search(reply)
    if match is None:
        return None
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    if kind == "pairwise":
        verdict = data.get("verdict")
        verdict = verdict.strip().upper() if isinstance(verdict, str) else None
        return verdict if verdict in ("A", "B", "C") else None
    score = data.get("score")
    if isinstance(score, bool) or not isinstance(score, int | float) or not 1 <= score <= 10:
        return None
    return float(score)
