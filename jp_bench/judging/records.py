"""The schema of ``judgments.jsonl``: one line per question and order (pairwise) or per answer (single).

These models document the file (``docs/schemas/judgment.schema.json`` is generated from them) and
validate it when it is read back.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _JudgmentBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    question_id: int | str
    category: str
    judge: str = Field(description="judge name (a judges/*.yaml)")
    judge_model: str | None = Field(None, description="the model actually called (--judge-model or the YAML's)")
    judge_endpoint: str | None = Field(None, description="host the judge was called at (no key); null: embedded")
    prompt_set: str
    prompt_version: str = Field(description="hash of the prompt set's source; a prompt change changes it")
    prompt: Literal["pairwise", "pairwise_reference", "single", "single_reference"]
    key: str = Field(description="store key: sha256 of the judge model's identity and the exact messages")
    status: Literal["ok", "error"]
    error: str | None = Field(description="why there is no verdict (status 'error')")
    reply: str | None = Field(description="the judge's last reply, verbatim")
    attempts: int = Field(ge=1, description="calls made for this judgment (a reply without a verdict is re-asked)")
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    cost_usd: float = Field(ge=0)


class PairwiseJudgment(_JudgmentBase):
    """One order (game) of a pairwise comparison. Game 1 shows model_1 as A, game 2 as B."""

    mode: Literal["pairwise"]
    model_1: str
    model_2: str
    game: Literal[1, 2]
    model_a: str
    model_b: str
    verdict: Literal["A", "B", "C"] | None = Field(description="C is a tie; null when status is 'error'")
    winner: Literal["model_1", "model_2", "tie", "error"] = Field(description="the verdict in model terms")
    answer_1_chars: int = Field(ge=0, description="length of model_1's answer in characters (all turns)")
    answer_2_chars: int = Field(ge=0, description="length of model_2's answer in characters (all turns)")


class SingleJudgment(_JudgmentBase):
    """A 1-10 score of one model's answer."""

    mode: Literal["single"]
    model: str
    score: float | None = Field(ge=1, le=10, description="null when status is 'error'")
    answer_chars: int = Field(ge=0, description="length of the answer in characters (all turns)")


class JudgmentLine(BaseModel):
    """A line of judgments.jsonl: either kind, told apart by ``mode``."""

    line: PairwiseJudgment | SingleJudgment = Field(discriminator="mode")
