"""The published result file (``schema_version`` 1): one JSON file per (benchmark, judge, model).

Results live at ``<results>/<benchmark>/<judge>/<model>.json`` (``/`` in a name becomes ``--``).
A file holds the pairwise summary against a baseline, the single-answer score summary, or both::

    {"schema_version": 1, "benchmark": "jp_bench", "model": "cyberagent--calm2-7b-chat",
     "judge": {"name": "gpt-4", "model": "gpt-4-0613", "prompt_set": "ja-v1", "prompt_version": "0123abcd4567"},
     "answers": {"source": "lm-eval run ...", "generation": {}},
     "date": "2026-11-24",
     "pairwise": {"baseline": "openai--text-davinci-003", "n": 80, "win": 56, "loss": 12, "tie": 12, ...},
     "single": null,
     "errors": 0, "cost_usd": 1.23}

Rates are fractions in [0, 1]; scores are on the judges' 1-10 scale. Counts follow
:func:`jp_bench.stats.pairwise.pairwise_summary`: ``n = win + loss + tie`` (questions with an error
are counted in ``errors``, not in ``n``). ``docs/schemas/result.schema.json`` is generated from these
models by :func:`result_json_schema`.

The models declare every figure jp-bench publishes: ``jp-bench report --publish`` writes a report
entry's keys that are declared here and leaves the rest out (see :mod:`jp_bench.reporting.publish`).
Reading stays lenient: a file with keys not declared (written by an earlier jp-bench or another tool)
still validates, and they are kept as they are. An optional ``provenance`` says where the judgments
came from (a pinned upstream commit, its files with sha256 and links, the judge prompts); a file
holds only the fields that were set, so files without it are unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from jp_bench._util.names import safe_name
from jp_bench.stats.outcomes import OUTCOME_SCORES

SCHEMA_VERSION = 1
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# Rates in a published file may be rounded (to 3 decimals or finer); counts and rates must agree to this.
RATE_TOLERANCE = 5e-4
# A link in a result is shown in the leaderboard page: web addresses only (never javascript: or a local file).
_URL_PATTERN = r"^https?://[^\s<>\"'\\`]+$"
_WINDOWS_ABSOLUTE = re.compile(r"^[A-Za-z]:[\\/]")


def _check_name(value: str) -> str:
    if value != value.strip():
        raise ValueError("must not start or end with whitespace")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value) or "\\" in value:
        raise ValueError("must not contain control characters or backslashes")
    if safe_name(value) in ("", ".", ".."):
        raise ValueError("is not usable as a file or folder name")
    return value


def _check_interval(value: tuple[float, float]) -> tuple[float, float]:
    low, high = value
    if low > high:
        raise ValueError(f"interval [{low}, {high}] has its low end above its high end")
    return value


def _check_relative(value: str) -> str:
    if value.startswith(("/", "\\", "~")) or _WINDOWS_ABSOLUTE.match(value):
        raise ValueError("must be a path inside its source, not a local absolute path")
    return value


Name = Annotated[str, Field(min_length=1), AfterValidator(_check_name)]
Url = Annotated[str, Field(pattern=_URL_PATTERN, description="an http(s) address")]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the file's bytes, hex")]
RelativePath = Annotated[str, Field(min_length=1), AfterValidator(_check_relative)]
Count = Annotated[int, Field(ge=0)]
Rate = Annotated[float, Field(ge=0.0, le=1.0)]
Score = Annotated[float, Field(ge=1.0, le=10.0)]
RateInterval = Annotated[tuple[Rate, Rate], AfterValidator(_check_interval)]
ScoreInterval = Annotated[tuple[Score, Score], AfterValidator(_check_interval)]


def _close(rate: float, count: float, n: int) -> bool:
    return math.isclose(rate, count / n, rel_tol=0.0, abs_tol=RATE_TOLERANCE)


class JudgeInfo(BaseModel):
    """Which judge produced the figures: its name (a judges/*.yaml), model and prompt set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name = Field(description="judge name (a judges/*.yaml); the <judge> folder of the result path")
    model: str = Field(min_length=1, description="the judge's model as called, e.g. gpt-4-0613")
    prompt_set: str = Field(min_length=1)
    prompt_version: str = Field(min_length=1, description="hash of the prompt set's source")


class AnswersInfo(BaseModel):
    """Where the judged answers came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(description="free text: where the answers came from (lm-eval run, FastChat model_answer)")
    generation: dict[str, Any] = Field(default_factory=dict, description="generation settings, free form")


class SourceFile(BaseModel):
    """One file the figures come from: its path in its source, its sha256 and a link where public."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: RelativePath = Field(description="the path in the source repository (data/jp_bench/...), or as given "
                                           "to jp-bench report: relative to where it ran, else the file name")
    sha256: Sha256 | None = Field(default=None, description="null for a folder given as a source")
    url: Url | None = Field(default=None, description="the file at the pinned commit")


class PromptsInfo(SourceFile):
    """The judge prompts file the judgments were made with, and which of its prompts they name."""

    names: list[str] = Field(default_factory=list, description="the prompts the judgments name (pair, pair-math)")


class Provenance(BaseModel):
    """Where the judgments behind the figures come from (the judge itself is ``judge``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(min_length=1, description="a pinned repository, owner/name@commit, or the judgment "
                                                  "sources given to jp-bench report")
    url: Url | None = Field(default=None, description="the source at its pinned commit")
    date: dt.date | None = Field(default=None, description="the date of the pinned commit")
    judgments: list[SourceFile] = Field(default_factory=list, description="the judgment files of this model's "
                                                                          "figures")
    prompts: PromptsInfo | None = Field(default=None, description="the judge prompts file, where known")
    note: str | None = None


class PairwiseCategory(BaseModel):
    """Pairwise figures for one question category or one turn."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    n: Count
    adjusted_win_rate: Rate | None = Field(description="(win + tie/2) / n; null only when n is 0")
    ci95: RateInterval | None = None
    win: Count | None = None
    loss: Count | None = None
    tie: Count | None = None
    inconsistent: Count | None = None
    errors: Count | None = None
    win_rate: Rate | None = None
    loss_rate: Rate | None = None
    tie_rate: Rate | None = None
    stderr: float | None = Field(default=None, ge=0.0)

    @model_validator(mode="after")
    def _consistent(self) -> PairwiseCategory:
        if self.adjusted_win_rate is None and self.n > 0:
            raise ValueError("adjusted_win_rate is null although n > 0")
        if self.win is not None and self.loss is not None and self.tie is not None:
            total = self.win + self.loss + self.tie
            if total != self.n:
                raise ValueError(f"win + loss + tie = {total} but n = {self.n}")
        return self


class SingleCategory(BaseModel):
    """Single-answer score figures for one question category or one turn."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    n: Count
    mean: Score | None = Field(description="mean score; null only when n is 0")
    ci95: ScoreInterval | None = None
    stderr: float | None = Field(default=None, ge=0.0)
    errors: Count | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SingleCategory:
        if self.mean is None and self.n > 0:
            raise ValueError("mean is null although n > 0")
        return self


class StyleControlled(BaseModel):
    """The win rate at equal answer style (style control, :mod:`jp_bench.stats.style_control`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    win_rate: Rate = Field(description="predicted win rate against the baseline at equal style, both positions")
    ci95: RateInterval | None = None


# What the model's answers say about themselves (jp_bench.answer_text), in both kinds of summary.
JapaneseShare = Annotated[Rate | None, Field(description="mean share of the answers' letters in kana/kanji (code "
                                                         "and formulas set aside)")]
NonJapaneseAnswers = Annotated[Count | None, Field(description="answers under the Japanese threshold")]
MeasuredAnswers = Annotated[Count | None, Field(description="answers with a Japanese share")]
ReasoningRemoved = Annotated[Count | None, Field(description="answers whose reasoning (<think>) was removed "
                                                             "before judging")]


class PairwiseSummary(BaseModel):
    """Win / loss / tie of the model against ``baseline`` with a bootstrap interval."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    baseline: Name = Field(description="the model compared against")
    n: int = Field(ge=1, description="questions with a usable outcome: win + loss + tie")
    win: Count
    loss: Count
    tie: Count
    inconsistent: Count = Field(description="ties from two position-swapped games naming different winners")
    errors: Count = Field(description="questions with a judging error, not counted in n")
    win_rate: Rate
    loss_rate: Rate
    tie_rate: Rate
    adjusted_win_rate: Rate = Field(description="(win + tie/2) / n: the headline figure")
    ci95: RateInterval = Field(description="95% bootstrap interval of adjusted_win_rate")
    stderr: float = Field(ge=0.0, description="bootstrap standard error of adjusted_win_rate")
    by_category: dict[str, PairwiseCategory] = Field(default_factory=dict)
    by_turn: dict[str, PairwiseCategory] = Field(default_factory=dict, description="the same figures per turn")
    length_controlled_win_rate: Rate | None = Field(default=None, description="win rate with the answers' length "
                                                                              "difference regressed out")
    style_controlled: StyleControlled | None = Field(default=None, description="win rate at equal answer style")
    weighted_win_rate: Rate | None = Field(default=None, description="from the judge's verdict probabilities")
    weighted_ci95: RateInterval | None = None
    weighted_stderr: float | None = Field(default=None, ge=0.0)
    samples: int | None = Field(default=None, ge=1, description="judge samples per question (judge noise)")
    judge_sd: float | None = Field(default=None, ge=0.0, description="spread between judge samples")
    judge_share: float | None = Field(default=None, ge=0.0, description="share of the variance from the judge")
    japanese_share: JapaneseShare = None
    non_japanese_answers: NonJapaneseAnswers = None
    measured_answers: MeasuredAnswers = None
    reasoning_removed: ReasoningRemoved = None

    @model_validator(mode="after")
    def _consistent(self) -> PairwiseSummary:
        total = self.win + self.loss + self.tie
        if total != self.n:
            raise ValueError(f"win + loss + tie = {total} but n = {self.n}")
        if self.inconsistent > self.tie:
            raise ValueError(f"inconsistent = {self.inconsistent} exceeds tie = {self.tie}")
        for rate_name, count in (("win_rate", self.win), ("loss_rate", self.loss), ("tie_rate", self.tie)):
            if not _close(getattr(self, rate_name), count, self.n):
                raise ValueError(f"{rate_name} = {getattr(self, rate_name)} does not match {count}/{self.n}")
        worth = self.win * OUTCOME_SCORES["win"] + self.tie * OUTCOME_SCORES["tie"]
        if not _close(self.adjusted_win_rate, worth, self.n):
            raise ValueError(f"adjusted_win_rate = {self.adjusted_win_rate} does not match "
                             f"(win + tie/2)/n = {worth / self.n:.4f}")
        for category, entry in self.by_category.items():
            if entry.n > self.n:
                raise ValueError(f"by_category[{category!r}].n = {entry.n} exceeds n = {self.n}")
        return self


class SingleSummary(BaseModel):
    """Mean single-answer score (1-10) with a bootstrap interval."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    n: int = Field(ge=1, description="answers with a score")
    mean: Score = Field(description="mean score: the headline figure")
    ci95: ScoreInterval = Field(description="95% bootstrap interval of mean")
    stderr: float = Field(ge=0.0)
    errors: Count = Field(description="answers the judge gave no score, not counted in n")
    by_category: dict[str, SingleCategory] = Field(default_factory=dict)
    by_turn: dict[str, SingleCategory] = Field(default_factory=dict, description="the same figures per turn")
    duplicates: Count | None = Field(default=None, description="rows judging an answer again, counted in the mean")
    scale: Annotated[tuple[float, float], AfterValidator(_check_interval)] | None = Field(
        default=None, description="the score range the judgments state, [low, high]")
    weighted_mean: Score | None = Field(default=None, description="from the judge's score probabilities")
    weighted_ci95: ScoreInterval | None = None
    weighted_stderr: float | None = Field(default=None, ge=0.0)
    samples: int | None = Field(default=None, ge=1, description="judge samples per answer (judge noise)")
    judge_sd: float | None = Field(default=None, ge=0.0, description="spread between judge samples")
    judge_share: float | None = Field(default=None, ge=0.0, description="share of the variance from the judge")
    japanese_share: JapaneseShare = None
    non_japanese_answers: NonJapaneseAnswers = None
    measured_answers: MeasuredAnswers = None
    reasoning_removed: ReasoningRemoved = None

    @model_validator(mode="after")
    def _consistent(self) -> SingleSummary:
        for category, entry in self.by_category.items():
            if entry.n > self.n:
                raise ValueError(f"by_category[{category!r}].n = {entry.n} exceeds n = {self.n}")
        return self


class PublishedResult(BaseModel):
    """One published result: a model's figures on one benchmark from one judge."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    schema_version: Literal[1] = Field(description="1 for this layout")
    benchmark: Name = Field(description="benchmark name; the <benchmark> folder of the result path")
    model: Name = Field(description="the judged model; '/' becomes '--' in the file name")
    judge: JudgeInfo
    answers: AnswersInfo
    date: dt.date = Field(description="when the figures were computed (YYYY-MM-DD)")
    pairwise: PairwiseSummary | None = None
    single: SingleSummary | None = None
    errors: Count = Field(description="judging errors in all")
    cost_usd: float | None = Field(default=None, ge=0.0, description="judging cost in US dollars, if known")
    provenance: Provenance | None = Field(default=None, description="where the judgments come from")

    @model_validator(mode="after")
    def _has_figures(self) -> PublishedResult:
        if self.pairwise is None and self.single is None:
            raise ValueError("a result needs 'pairwise' or 'single' figures (both are null)")
        if self.pairwise is not None and safe_name(self.pairwise.baseline) == safe_name(self.model):
            raise ValueError(f"pairwise.baseline is the model itself ({self.model!r})")
        return self

    @property
    def key(self) -> tuple[str, str, str]:
        """``(benchmark, judge name, model)``: what makes a result unique."""
        return (self.benchmark, self.judge.name, self.model)

    @property
    def relative_path(self) -> str:
        """Where the result lives under a results folder: ``<benchmark>/<judge>/<model>.json``."""
        return f"{safe_name(self.benchmark)}/{safe_name(self.judge.name)}/{safe_name(self.model)}.json"

    def to_json(self) -> str:
        """The file text: indented JSON in field order, non-ASCII kept, trailing newline.

        Only the fields that were set are written (an optional field left out stays out), so a file
        read and written again keeps its bytes.
        """
        return json.dumps(self.model_dump(mode="json", exclude_unset=True), ensure_ascii=False, indent=2) + "\n"


def result_json_schema() -> dict[str, Any]:
    """The JSON Schema of a published result file (what ``docs/schemas/result.schema.json`` holds).

    Built like ``scripts/export_schemas.py`` builds the others, so ``PublishedResult`` can join its
    ``SCHEMAS`` table: ``TypeAdapter(PublishedResult).json_schema()`` plus ``$schema``.
    """
    schema = PublishedResult.model_json_schema()
    schema["$schema"] = JSON_SCHEMA_DIALECT
    return schema


def render_result_json_schema() -> str:
    """:func:`result_json_schema` as the file text (indented, trailing newline)."""
    return json.dumps(result_json_schema(), ensure_ascii=False, indent=2) + "\n"
