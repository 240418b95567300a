"""What the FastChat readers share: sniffing a file's first record, and the pydantic models of the
three FastChat line layouts (answer, pairwise judgment, single judgment, judge prompt) with the one
place that turns a validation failure into ``file:line: field 'x': what was expected``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictStr,
    StringConstraints,
    ValidationError,
    model_validator,
)

from jp_bench.benchmarks.questions import QuestionId
from jp_bench.errors import InputFileError, describe_validation_error

Winner = Literal["model_1", "model_2", "tie", "error"]
JudgeType = Literal["pairwise", "single"]

_WINNERS: tuple[Winner, ...] = ("model_1", "model_2", "tie", "error")


def _first_record(path: Path) -> dict[str, Any] | None:
    """The first non-blank line as a JSON object, or None when it is not one (used for sniffing)."""
    try:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    obj = json.loads(line)
                    return obj if isinstance(obj, dict) else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return None


def _winner(value: object) -> Winner:
    text = value.strip().lower() if isinstance(value, str) else ""
    for winner in _WINNERS:
        if text == winner:
            return winner
    # FastChat's result tables write "tie (inconsistent)" / "tie (opposite)"; they are still ties.
    if text.startswith("tie"):
        return "tie"
    raise ValueError(f"expected model_1, model_2, tie or error, got {value!r}")


def _number(value: object) -> object:
    # Lax pydantic would read "7" and true as numbers; a FastChat file never writes either.
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ValueError(f"expected a number, got {value!r}")
    return value


def _judge_type(value: object) -> object:
    if value not in ("pairwise", "single"):
        raise ValueError(f"expected 'pairwise' or 'single', got {value!r}")
    return value


WinnerField = Annotated[Winner, BeforeValidator(_winner)]
Number = Annotated[float, BeforeValidator(_number)]
Turn = Annotated[int, Field(strict=True, ge=1)]
NonEmptyStr = Annotated[StrictStr, StringConstraints(min_length=1)]


class _Line(BaseModel):
    # FastChat files carry more than we read (tstamps, copied questions, choice indices): ignore it.
    model_config = ConfigDict(extra="ignore", frozen=True)


class AnswerChoice(_Line):
    turns: Annotated[list[StrictStr], Field(min_length=1)]


class AnswerLine(_Line):
    """``{"question_id", "model_id", "choices": [{"turns": [...]}]}``; only the first choice is read."""

    question_id: QuestionId
    model_id: StrictStr | None = None
    choices: Annotated[list[AnswerChoice], Field(min_length=1)]


class _JudgmentLine(_Line):
    question_id: QuestionId
    judge: str
    turn: Turn = 1  # the benchmark's own layout is single-turn and omits it
    tstamp: Number | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_judge_string(cls, raw: Any) -> Any:
        """``judge`` as one ``"<judge_model>/<prompt_name>"`` string, whichever layout wrote it."""
        if not isinstance(raw, dict):
            return raw
        judge = raw.get("judge")
        if isinstance(judge, list | tuple) and judge and all(isinstance(part, str) for part in judge):
            return {**raw, "judge": "/".join(judge)}  # FastChat: [judge_model, prompt_name]
        if isinstance(judge, str) and judge:
            return raw  # what write_*_judgments writes
        judge_model = raw.get("judge_model")
        if isinstance(judge_model, str) and judge_model:
            prompt = raw.get("judge_prompt")
            return {**raw, "judge": f"{judge_model}/{prompt}" if isinstance(prompt, str) and prompt else judge_model}
        raise ValueError("expected 'judge' ([judge_model, prompt_name]) or 'judge_model'")


class PairwiseLine(_JudgmentLine):
    model_1: StrictStr
    model_2: StrictStr
    g1_winner: WinnerField
    g2_winner: WinnerField
    g1_judgment: StrictStr
    g2_judgment: StrictStr
    g1_user_prompt: StrictStr | None = None
    g2_user_prompt: StrictStr | None = None
    # The paper's layout copies both answers in; only their lengths and features are kept (judge-bias
    # diagnostics, style control: jp_bench.answer_text).
    answer_1: StrictStr | None = None
    answer_2: StrictStr | None = None


class SingleLine(_JudgmentLine):
    model: StrictStr
    score: Number | None
    judgment: StrictStr
    user_prompt: StrictStr | None = None


class PromptLine(_Line):
    name: NonEmptyStr
    type: Annotated[JudgeType, BeforeValidator(_judge_type)]
    # FastChat reads system_prompt unconditionally, so it must be present, but it may be empty.
    system_prompt: StrictStr
    prompt_template: NonEmptyStr
    output_format: NonEmptyStr
    category: StrictStr = ""
    description: StrictStr = ""


_Model = TypeVar("_Model", bound=_Line)


def parse_line(model: type[_Model], record: dict[str, Any], path: Path, line: int, hint: str = "") -> _Model:
    """``record`` as ``model``, or ``file:line: field 'x': what was expected`` (plus ``hint``)."""
    try:
        return model.model_validate(record)
    except ValidationError as exc:
        message = describe_validation_error(exc)
        raise InputFileError(path, line, f"{message}; {hint}" if hint else message) from None
