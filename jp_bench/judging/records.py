"""The judgment row of ``judgments.jsonl``: one line per question and order (pairwise) or per answer (single).

These models document the file (``docs/schemas/judgment.schema.json`` is generated from them);
:func:`judgment_rows` is the one writer of such rows (each checked against the models) and
:func:`read_judgment_rows` the one reader (reports, agreement, judged lm-eval
samples): every row is validated, a second row for the same judgment is refused, and ``1`` and
``"1"`` cannot name two questions.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from jp_bench.benchmarks.questions import QuestionId
from jp_bench.errors import InputFileError

if TYPE_CHECKING:
    from jp_bench.answer_text import AnswerFeatures
    from jp_bench.judging.plan import Plan
    from jp_bench.llm.store import StoredCall

JUDGMENT_SCHEMA_VERSION = 1


class AnswerFeaturesRecord(BaseModel):
    """What the answer judged says about itself (:mod:`jp_bench.answer_text`), measured after the reasoning
    left in it was removed: the turn judged, or the whole answer when ``turn`` is null."""

    model_config = ConfigDict(extra="forbid")

    headers: int = Field(ge=0, description="markdown ATX headers (# .. ######), code set aside")
    list_items: int = Field(ge=0, description="list items (-, *, +, 1., 1), ・, １．), code set aside")
    bold: int = Field(ge=0, description="bold spans (**x**, __x__), code set aside")
    japanese_share: float | None = Field(
        ge=0, le=1, allow_inf_nan=False,
        description="share of the letters that are kana or kanji, code, math and URLs set aside; null: no "
                    "letter to measure (empty, only code or numbers)")
    reasoning_chars: int = Field(ge=0, description="characters of reasoning (<think>…</think>) removed before "
                                                   "judging")


class _JudgmentBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    question_id: QuestionId
    category: str
    judge: str = Field(description="judge name (a judges/*.yaml)")
    judge_model: str | None = Field(None, description="the model actually called (--judge-model or the YAML's)")
    judge_endpoint: str | None = Field(None, description="host the judge was called at (no key); null: embedded")
    turn: int | None = Field(None, ge=1, description="the turn judged (multi-turn benchmarks); null: the whole answer")
    jury: str | None = Field(None, min_length=1, description="the jury this judge sat on (--judge A --judge B, "
                                                             "or a jury YAML); reports pool its members")
    sample: int | None = Field(None, ge=0, description="which of N judge samples of this item (--samples N); "
                                                      "null: the one sample of an ordinary run")
    verdict_probs: dict[str, float] | None = Field(
        None, description="weighted judges: the judge's probability of each verdict (A/B/C or 1..10) at the "
                          "verdict token, renormalised over the verdicts; absent when no log-probabilities came")
    probability_mass: float | None = Field(None, ge=0, le=1, description="the verdicts' probability before "
                                                                          "renormalising (low: the judge hesitated)")
    prompt_set: str
    prompt_version: str = Field(description="hash of the prompt set's source; a prompt change changes it")
    prompt: Literal["pairwise", "pairwise_reference", "single", "single_reference", "pairwise_multi",
                    "pairwise_reference_multi", "single_multi", "single_reference_multi", "single_rubric"] = Field(
        description="the prompt used: *_reference against a reference answer, *_multi for turn k > 1 of a "
                    "multi-turn question (the conversation so far), single_rubric against grading notes")
    key: str = Field(description="store key: sha256 of the judge model's identity and the exact messages")
    status: Literal["ok", "error"]
    error: str | None = Field(description="why there is no verdict (status 'error')")
    reply: str | None = Field(description="the judge's last reply, verbatim")
    attempts: int = Field(ge=0, description="calls made for this judgment (a reply without a verdict is re-asked); "
                                            "0: decided by a rule, the judge was not asked")
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    cost_usd: float = Field(ge=0)
    rule: Literal["not_japanese"] | None = Field(
        None, description="why the judge was not asked and a rule gave the verdict (--require-japanese): "
                          "not_japanese = an answer's Japanese share is under the threshold (single: the lowest "
                          "score; pairwise: the Japanese answer wins, both under: a tie); absent: the judge's verdict")

    @model_validator(mode="after")
    def _a_rule_asks_nobody(self) -> _JudgmentBase:
        asked = (self.reply is not None or self.attempts > 0 or self.input_tokens or self.output_tokens
                 or self.cost_usd or self.status != "ok")
        if self.rule is not None and asked:
            raise ValueError(f"a judgment decided by rule {self.rule!r} has status 'ok', no reply, 0 attempts, "
                             "tokens and cost")
        if self.rule is None and self.attempts == 0:
            raise ValueError("attempts is 0 only for a judgment decided by a rule (field 'rule')")
        return self


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
    answer_1_chars: int = Field(ge=0, description="length of model_1's answer in characters (the turn judged; "
                                                  "all turns when turn is null)")
    answer_2_chars: int = Field(ge=0, description="length of model_2's answer in characters (the turn judged; "
                                                  "all turns when turn is null)")
    answer_1_features: AnswerFeaturesRecord | None = Field(None, description="model_1's answer measured; absent "
                                                                              "in rows written before")
    answer_2_features: AnswerFeaturesRecord | None = Field(None, description="model_2's answer measured; absent "
                                                                              "in rows written before")

    @model_validator(mode="after")
    def _two_models(self) -> PairwiseJudgment:
        if self.model_1 == self.model_2:
            raise ValueError(f"model_1 and model_2 are the same model ({self.model_1!r})")
        return self


class SingleJudgment(_JudgmentBase):
    """A score of one model's answer: 1-10, or on the ``scale`` its prompt stated."""

    mode: Literal["single"]
    model: str
    score: float | None = Field(ge=1, le=10, description="null when status is 'error'")
    answer_chars: int = Field(ge=0, description="length of the answer in characters (the turn judged; all turns "
                                                "when turn is null)")
    answer_features: AnswerFeaturesRecord | None = Field(None, description="the answer measured; absent in rows "
                                                                           "written before")
    expected_score: float | None = Field(None, ge=1, le=10, description="weighted judges: Σ p(k)·k over verdict_probs")
    scale: tuple[int, int] | None = Field(None, description="the score range the prompt asked for, when it is not "
                                                            "1-10 (a rubric prompt: [1, 5])")

    @model_validator(mode="after")
    def _score_on_its_scale(self) -> SingleJudgment:
        low, high = self.scale or (1, 10)
        for name, value in (("score", self.score), ("expected_score", self.expected_score)):
            if value is not None and not low <= value <= high:
                raise ValueError(f"{name} {value} is outside the scale {low}-{high}")
        return self


class JudgmentLine(BaseModel):
    """A line of judgments.jsonl: either kind, told apart by ``mode``."""

    line: PairwiseJudgment | SingleJudgment = Field(discriminator="mode")


_ROW: TypeAdapter = TypeAdapter(Annotated[PairwiseJudgment | SingleJudgment, Field(discriminator="mode")])


def _problem(error: ValidationError) -> str:
    first = error.errors()[0]
    location = [str(part) for part in first["loc"]]
    if location and location[0] in ("pairwise", "single"):  # the union's tag, not a field
        location = location[1:]
    message = first["msg"].removeprefix("Value error, ")
    return f"field '{'.'.join(location)}': {message}" if location else message


def judgment_identity(row: dict[str, Any]) -> tuple:
    """What one judgment is: judge (and model called), question, turn, models and order."""
    judge = (row["judge"], row.get("judge_model"), row.get("sample"))
    if row["mode"] == "single":
        return ("single", *judge, row["question_id"], row.get("turn"), row["model"])
    return ("pairwise", *judge, row["question_id"], row.get("turn"), row["model_1"], row["model_2"], row["game"])


def read_judgment_rows(rows: Iterable[tuple[int, dict[str, Any]]], source: str | Path) -> list[dict[str, Any]]:
    """Validated judgment rows from ``(line, row)`` pairs of ``source``; the first problem is an
    :class:`InputFileError` naming its line."""
    seen: dict[tuple, int] = {}
    id_spelling: dict[str, tuple[object, int]] = {}
    out: list[dict[str, Any]] = []
    for line, row in rows:
        try:
            _ROW.validate_python(row)
        except ValidationError as exc:
            raise InputFileError(source, line, _problem(exc)) from None
        question_id = row["question_id"]
        spelt = id_spelling.setdefault(str(question_id), (question_id, line))
        if type(spelt[0]) is not type(question_id):
            raise InputFileError(source, line, f"question_id {question_id!r} and {spelt[0]!r} (line {spelt[1]}) "
                                               "would be two questions; write every id the same way")
        identity = judgment_identity(row)
        if identity in seen:
            what = (f"model {row['model']!r}" if row["mode"] == "single"
                    else f"{row['model_1']} vs {row['model_2']}, game {row['game']}")
            raise InputFileError(source, line, f"a second judgment of question {question_id!r} ({what}) by "
                                               f"{row['judge']!r}; the first is on line {seen[identity]}")
        seen[identity] = line
        out.append(row)
    return out


def judgment_rows(plan: Plan, results: dict[str, StoredCall], judge: str, prompt_set: str,
                  prompt_version: str, *, judge_model: str | None = None,
                  judge_endpoint: str | None = None, jury: str | None = None) -> list[dict[str, Any]]:
    """``judge_model`` is the model actually called and ``judge_endpoint`` the host it was called at
    (never a key), so a judge YAML pointed at another model or server is told apart. With
    ``--samples N`` each row says which judge sample it is (``sample``); an ordinary run's rows do not."""
    from jp_bench.judging.weighted import expected_score
    from jp_bench.stats.outcomes import winner_of_game

    rows = []
    for task in plan.tasks:
        call = results.get(task.key)
        if call is None:
            continue
        row: dict[str, Any] = {
            "schema_version": JUDGMENT_SCHEMA_VERSION,
            "question_id": task.question.question_id,
            "category": task.question.category,
            "mode": task.kind,
            "judge": judge,
            "judge_model": judge_model,
            "judge_endpoint": judge_endpoint,
            "prompt_set": prompt_set,
            "prompt_version": prompt_version,
            "prompt": task.prompt_kind,
            "key": task.key,
            "status": call.status,
            "error": call.error,
            "reply": call.reply,
            "attempts": call.attempts,
            "input_tokens": call.input_tokens,
            "output_tokens": call.output_tokens,
            "cost_usd": call.cost_usd,
        }
        if task.turn is not None:
            row["turn"] = task.turn
        if plan.samples > 1:
            row["sample"] = task.sample
        if jury is not None:
            row["jury"] = jury
        rule = call.details.get("rule") if isinstance(call.details, dict) else None
        if rule is not None:
            row["rule"] = rule
        # Written only when there is one, so the rows of a judge without log-probabilities stay as they were.
        distribution = call.details.get("verdict_probs") if call.ok and isinstance(call.details, dict) else None
        if distribution:
            row["verdict_probs"] = distribution["probs"]
            row["probability_mass"] = distribution["mass"]
        if task.kind == "pairwise":
            verdict = call.parsed if call.ok else None
            row.update({"model_1": task.model_1, "model_2": task.model_2, "game": task.game,
                        "model_a": task.model_a, "model_b": task.model_b, "verdict": verdict,
                        "winner": winner_of_game(verdict, task.game),
                        "answer_1_chars": task.answer_chars[0], "answer_2_chars": task.answer_chars[1]})
            row.update(_features("answer_1_features", task.features[0]) | _features("answer_2_features",
                                                                                      task.features[1]))
        else:
            row.update({"model": task.model_1, "score": call.parsed if call.ok else None,
                        "answer_chars": task.answer_chars[0]} | _features("answer_features", task.features[0]))
            if task.scale != (1, 10):
                row["scale"] = list(task.scale)
            if distribution:
                row["expected_score"] = expected_score(distribution)
        _ROW.validate_python(row)  # what is written is what the reader accepts
        rows.append(row)
    return rows


def _features(field: str, features: AnswerFeatures | None) -> dict[str, Any]:
    """The row's field for one answer's features (none when the task carries none)."""
    return {} if features is None else {field: features.row_fields()}


def read_judgments_file(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``judgments.jsonl``, validated (see :func:`read_judgment_rows`)."""
    from jp_bench.benchmarks.questions import iter_jsonl

    return read_judgment_rows(iter_jsonl(path), path)
