"""Judges are data: one YAML file each, shipped in ``judges/`` or added from a user folder.

```yaml
name: gpt-4o
description: GPT-4o through the OpenAI API
provider: openai            # openai | anthropic | openai-compatible | embedded | a plugin provider
model: gpt-4o-2024-08-06
api_key_env: OPENAI_API_KEY # the variable's NAME; the key is read at call time, never stored
temperature: 0
max_tokens: 2048
prompt_set: ja-v1           # a shipped set, or a path (our YAML or FastChat judge_prompts.jsonl)
prices: {input_per_mtok: 2.5, output_per_mtok: 10.0, batch_discount: 0.5}
batch: true                 # the provider has a Batch API (`--batch`)
require_japanese: false     # true: answers not in Japanese are scored without the judge (`--require-japanese`)
japanese_threshold: 0.5     # under this share of kana/kanji letters an answer is not Japanese
```
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails

from jp_bench._util.yaml_lines import line_of, read_yaml_mapping
from jp_bench.answer_text.japanese import JAPANESE_THRESHOLD
from jp_bench.errors import InputFileError, JpBenchError, describe_validation_error
from jp_bench.llm.limits import BaseUrl, Concurrency, JapaneseThreshold, MaxTokens, Temperature
from jp_bench.llm.types import ModelSpec

JUDGES_DIR_ENV = "JP_BENCH_JUDGES_DIR"


# A dollar a token (USD per million tokens): no model is priced anywhere near it, so a price above it
# is a typo, and 1e308 would make every cost infinite, which no JSON file can hold. (Tests price a
# stand-in at exactly this, so budgets are whole numbers of tokens.)
MAX_PRICE_PER_MTOK = 1_000_000.0


# Parameter names that carry a credential, compared without case, "-" and "_" (api_key, x-api-key,
# Authorization, access_token, ...); not "token" alone, which sampling parameters use (max_tokens).
_SECRET_NAMES = ("apikey", "authorization", "accesstoken", "authtoken", "bearer", "secret", "password",
                 "credential", "cookie")


def _secret_param(value: Any, location: tuple[str, ...]) -> tuple[str, ...] | None:
    """Where the first credential-like key under ``value`` is (nested mappings included), else None."""
    if not isinstance(value, dict):
        return None
    for name, item in value.items():
        folded = str(name).casefold().replace("-", "").replace("_", "")
        if any(secret in folded for secret in _SECRET_NAMES):
            return (*location, str(name))
        found = _secret_param(item, (*location, str(name)))
        if found is not None:
            return found
    return None


class Prices(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input_per_mtok: float = Field(0.0, ge=0, le=MAX_PRICE_PER_MTOK, allow_inf_nan=False)
    output_per_mtok: float = Field(0.0, ge=0, le=MAX_PRICE_PER_MTOK, allow_inf_nan=False)
    batch_discount: float = Field(0.0, ge=0, le=1)  # fraction off both prices through the Batch API


class JudgeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str = ""
    provider: str = Field(min_length=1)
    model: str = Field(min_length=1)
    base_url: BaseUrl | None = None  # http(s) only: a file:// or ftp:// URL would be retried, not refused
    api_key_env: str | None = None
    # The rules of --temperature and --concurrency (jp_bench.llm.limits), so every surface refuses alike.
    temperature: Temperature | None = 0.0  # null: not sent (OpenAI reasoning models reject it)
    max_tokens: MaxTokens = 2048  # sent as max_completion_tokens to OpenAI: room for hidden reasoning too
    # OpenAI reasoning models (o-series, GPT-5): minimal | low | medium | high.
    reasoning_effort: str | None = None
    # json: ask for {"reason", "verdict"|"score"} with the server's JSON schema support (OpenAI, vLLM,
    # llama.cpp); marker: the prompt's [[A]] / [[7]] markers. See jp_bench.judging.structured.
    verdict_format: Literal["marker", "json"] = "marker"
    # Anthropic extended thinking: the thinking budget in tokens (below max_tokens; at least 1024).
    thinking_budget: int | None = Field(None, ge=1024)
    # Ask for token log-probabilities and record the judge's distribution over verdicts at the
    # verdict token (jp_bench.judging.weighted); top_logprobs alternatives are read there.
    weighted: bool = False
    top_logprobs: int = Field(20, ge=2, le=20)
    timeout_s: float = Field(120.0, gt=0)
    prompt_set: str = "ja-v1"
    prices: Prices = Prices()
    expected_output_tokens: int = Field(400, gt=0)  # for cost estimates before a run
    concurrency: Concurrency = 8
    batch: bool = False  # whether the provider offers a Batch API (its price cut: prices.batch_discount)
    smoke_test: bool = False  # true for stand-ins that prove the pipeline, not quality
    # Answers under the Japanese threshold get the lowest score / lose without a call (docs/judging.md,
    # "Japanese answer checks"); `jp-bench judge --require-japanese` turns it on for any judge.
    require_japanese: bool = Field(False, strict=True)
    japanese_threshold: JapaneseThreshold = JAPANESE_THRESHOLD
    params: dict[str, Any] = Field(default_factory=dict)
    source: str = ""

    def _request_params(self) -> dict[str, Any]:
        params = dict(self.params)
        if self.reasoning_effort is not None:
            params["reasoning_effort"] = self.reasoning_effort
        if self.thinking_budget is not None:
            params["thinking"] = {"type": "enabled", "budget_tokens": self.thinking_budget}
        if self.weighted:
            params.update(logprobs=True, top_logprobs=self.top_logprobs)
        return params

    def check_weighted(self) -> None:
        """Weighted verdicts need token log-probabilities: one line for a judge whose API has none."""
        if self.provider not in ("openai", "openai-compatible"):
            raise JpBenchError(f"weighted verdicts: {self.name} ({self.provider}) returns no token log-probabilities; "
                               "use an OpenAI non-reasoning model, vLLM or llama.cpp")
        if self.reasoning_effort is not None:
            raise JpBenchError(f"weighted verdicts: {self.name} is a reasoning model (reasoning_effort), and "
                               "reasoning models return no token log-probabilities")

    @model_validator(mode="before")
    @classmethod
    def _no_secret_in_params(cls, data: Any) -> Any:
        # Params go into every request body and into the store's requests: a key there would be stored
        # in plain text. Refused as a top-level api_key is (extra="forbid"), with the same words and the
        # key's own line; the error holds the key's name, never its value.
        found = _secret_param(data.get("params") if isinstance(data, dict) else None, ("params",))
        if found is not None:
            raise ValidationError.from_exception_data(
                cls.__name__, [InitErrorDetails(type="extra_forbidden", loc=found, input=found[-1])])
        return data

    @model_validator(mode="after")
    def _reasoning_settings_fit(self) -> JudgeConfig:
        if self.thinking_budget is not None and self.thinking_budget >= self.max_tokens:
            raise ValueError(f"thinking_budget ({self.thinking_budget}) must be below max_tokens ({self.max_tokens})")
        if self.reasoning_effort is not None and self.reasoning_effort not in ("minimal", "low", "medium", "high"):
            raise ValueError(f"reasoning_effort must be minimal, low, medium or high, not {self.reasoning_effort!r}")
        if self.weighted:
            self.check_weighted()
        return self

    def check_batch(self) -> None:
        """``--batch`` needs a provider with a Batch API: one line when this judge's YAML says it has none."""
        if not self.batch:
            raise JpBenchError(f"--batch: {self.name} ({self.source or 'judge settings'}) has no Batch API "
                               "(its YAML says batch: false); run without --batch")

    def model_spec(self, *, model: str | None = None, base_url: str | None = None) -> ModelSpec:
        """The spec of a call: ``base_url`` (the command line) > the provider's environment variable
        (``OPENAI_BASE_URL``, ``ANTHROPIC_BASE_URL``) > this file's ``base_url`` > the vendor's."""
        from jp_bench.llm.registry import resolve_base_url

        return ModelSpec(
            provider=self.provider,
            model=model or self.model,
            base_url=resolve_base_url(self.provider, base_url, self.base_url),
            api_key_env=self.api_key_env,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            timeout_s=self.timeout_s,
            price_input_per_mtok=self.prices.input_per_mtok,
            price_output_per_mtok=self.prices.output_per_mtok,
            params=self._request_params(),
            batch_discount=self.prices.batch_discount,
        )


def parse_judge_file(path: Path) -> JudgeConfig:
    text, data = read_yaml_mapping(path, "judge settings")
    try:
        return JudgeConfig.model_validate({**data, "source": str(path)})
    except ValidationError as exc:
        raise InputFileError(path, line_of(text, exc.errors()[0]["loc"]), describe_validation_error(exc)) from None


def _shipped_files() -> list[Path]:
    folder = resources.files("jp_bench.judges")
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".yaml"))


def judge_files(extra_dirs: list[str | Path] | None = None) -> list[Path]:
    """Shipped judge files, then ``$JP_BENCH_JUDGES_DIR``, then ``extra_dirs`` (later ones win)."""
    folders = [Path(d) for d in ([os.environ[JUDGES_DIR_ENV]] if os.environ.get(JUDGES_DIR_ENV) else [])]
    folders += [Path(d) for d in (extra_dirs or [])]
    files = _shipped_files()
    for folder in folders:
        if not folder.is_dir():
            raise JpBenchError(f"{folder}: judges folder not found")
        files += sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    return files


def available_judges(extra_dirs: list[str | Path] | None = None) -> dict[str, JudgeConfig]:
    judges: dict[str, JudgeConfig] = {}
    for path in judge_files(extra_dirs):
        config = parse_judge_file(path)
        judges[config.name] = config
    return judges


def load_judge(name_or_path: str, extra_dirs: list[str | Path] | None = None) -> JudgeConfig:
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return parse_judge_file(candidate)
    judges = available_judges(extra_dirs)
    if name_or_path not in judges:
        raise JpBenchError(f"unknown judge {name_or_path!r} (available: {', '.join(sorted(judges))}; "
                           "or a path to a judge YAML)")
    return judges[name_or_path]
