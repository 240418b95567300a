"""The experiment file: which base models, which instruction datasets, how to train, answer and judge.

One YAML file describes the paper's design (every dataset fine-tuned onto every base model, answers
judged against a baseline and against each other on the same base). Relative paths are taken from
the file's folder, so the command works the same from any working directory.
"""

from __future__ import annotations

import copy
import re
import shlex
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from jp_bench._util.yaml_lines import line_of, read_yaml_mapping
from jp_bench.errors import InputFileError, describe_validation_error
from jp_bench.finetune.config import FinetuneConfig
from jp_bench.llm.limits import BaseUrl, Concurrency, MaxCost

# Names become folder names, lm-eval labels and parts of FastChat file names (`pairwise:<a>_<b>.jsonl`).
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# Set per variant by the experiment itself, so a `finetune:` section may not set them.
OWNED_FINETUNE_FIELDS = ("base", "data", "output_dir")


def _check_name(value: str) -> str:
    if not NAME_PATTERN.match(value):
        raise ValueError(f"{value!r} is not a usable name (letters, digits, '.', '_' and '-'; no spaces or '/')")
    return value


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``; nested mappings merge key by key instead of replacing each other."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GenerationSettings(_Strict):
    """How lm-eval answers the benchmark with each model (its command line, field by field)."""

    backend: Literal["hf", "vllm"] = "hf"
    tasks: list[str] | None = Field(None, description="lm-eval tasks; default: the benchmark's group")
    model_args: dict[str, Any] = Field(default_factory=dict, description="extra --model_args, e.g. dtype: bfloat16")
    batch_size: int | str = 1
    device: str | None = None
    gen_kwargs: dict[str, Any] = Field(default_factory=dict, description="e.g. max_gen_toks: 1024")
    limit: float | None = Field(None, gt=0, description="questions per subtask (lm-eval --limit); for trial runs")
    extra_args: list[str] = Field(default_factory=list, description="further lm-eval arguments, passed as they are")


class AnswerSource(_Strict):
    """A model whose answers come from a file or folder, or from any lm-eval model (e.g. an API)."""

    name: str
    answers: Path | None = Field(None, description="lm-eval output or FastChat model_answer file/folder")
    model: str | None = Field(None, description="lm-eval --model, e.g. openai-chat-completions or hf")
    model_args: dict[str, Any] | str = Field(default_factory=dict)
    apply_chat_template: bool = True
    prompt_style: Literal["plain", "alpaca-ja"] | None = None
    batch_size: int | str = 1
    extra_args: list[str] = Field(default_factory=list)

    _name = field_validator("name")(_check_name)

    @model_validator(mode="after")
    def _one_source(self) -> AnswerSource:
        if (self.answers is None) == (self.model is None):
            raise ValueError("give exactly one of 'answers' (a file or folder) or 'model' (an lm-eval model)")
        return self


class BaseModelSpec(_Strict):
    name: str
    model: str = Field(description="model folder or Hugging Face hub id")
    finetune: dict[str, Any] = Field(default_factory=dict, description="overrides of the experiment's finetune")
    generation: dict[str, Any] = Field(default_factory=dict, description="overrides of the experiment's generation")
    untuned_prompt_style: Literal["plain", "alpaca-ja", "chat"] = Field(
        "alpaca-ja", description="how the untuned base model is prompted (with include_untuned)")

    _name = field_validator("name")(_check_name)


class DatasetSpec(_Strict):
    name: str
    path: Path = Field(description="instruction data: dataset folder, JSONL or Parquet (Alpaca layout)")
    finetune: dict[str, Any] = Field(default_factory=dict, description="overrides for this dataset")

    _name = field_validator("name")(_check_name)


class JudgeSettings(_Strict):
    name: str = Field(description="a judge from `jp-bench judges` or a judge YAML file")
    judges_dir: list[Path] = Field(default_factory=list)
    prompts: str | None = None
    model: str | None = None
    base_url: BaseUrl | None = None
    # The rules of --concurrency and --max-cost (jp_bench.llm.limits): one rule on every surface.
    concurrency: Concurrency | None = None
    max_cost_usd: MaxCost | None = Field(None, description="per judging run")


class ReportSettings(_Strict):
    bootstrap: int = Field(1000, ge=1)
    seed: int = 0


Compare = Literal["same-base", "all", "none"]


class ExperimentConfig(_Strict):
    """See docs/experiment.md for every field."""

    name: str
    output_dir: Path
    benchmark: str = "jp_bench"
    bases: list[BaseModelSpec] = Field(min_length=1)
    datasets: list[DatasetSpec] = Field(min_length=1)
    include_untuned: bool = False
    baseline: AnswerSource | None = None
    finetune: dict[str, Any] = Field(default_factory=dict, description="FinetuneConfig settings for every run")
    launcher: str | None = Field(None, description="prefix for fine-tuning, e.g. 'accelerate launch --config_file X'")
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    judge: JudgeSettings
    compare: Compare = "same-base"
    single: bool = False
    report: ReportSettings = Field(default_factory=ReportSettings)

    _name = field_validator("name")(_check_name)

    @field_validator("judge", mode="before")
    @classmethod
    def _judge_by_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @field_validator("finetune")
    @classmethod
    def _no_owned_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        owned = [key for key in OWNED_FINETUNE_FIELDS if key in value]
        if owned:
            raise ValueError(f"{', '.join(owned)} are set by the experiment for each run; remove them")
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> ExperimentConfig:
        for label, names in (("bases", [b.name for b in self.bases]), ("datasets", [d.name for d in self.datasets])):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"{label}: names must be unique ({', '.join(repeated)} repeated)")
        model_names = {variant_name(b.name, d.name) for b in self.bases for d in self.datasets}
        model_names |= {b.name for b in self.bases} if self.include_untuned else set()
        if self.baseline is not None and self.baseline.name in model_names:
            raise ValueError(f"baseline name {self.baseline.name!r} is also the name of a model in the experiment")
        return self

    @property
    def launcher_argv(self) -> list[str]:
        return shlex.split(self.launcher) if self.launcher else []

    def finetune_config(self, base: BaseModelSpec, dataset: DatasetSpec) -> FinetuneConfig:
        """The fine-tuning run of ``dataset`` on ``base``: experiment settings < base's < dataset's."""
        settings = deep_merge(deep_merge(self.finetune, base.finetune), dataset.finetune)
        return FinetuneConfig(**settings, base=base.model, data=dataset.path,
                              output_dir=self.output_dir / "runs" / variant_name(base.name, dataset.name))

    def generation_for(self, base: BaseModelSpec) -> GenerationSettings:
        return GenerationSettings.model_validate(deep_merge(self.generation.model_dump(), base.generation))


def variant_name(base: str, dataset: str) -> str:
    return f"{base}+{dataset}"


def _resolve_paths(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Relative paths in the file are relative to the file's folder; model ids stay as written."""
    def path(value: Any) -> Any:
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            return str(folder / value)
        return value

    def model(value: Any) -> Any:
        # A hub id ("org/name") is kept; only something that exists beside the file becomes a path.
        if isinstance(value, str) and (folder / value).exists() and not Path(value).is_absolute():
            return str((folder / value).resolve())
        return value

    data = copy.deepcopy(data)
    data["output_dir"] = path(data.get("output_dir"))
    for entry in data.get("datasets") or []:
        if isinstance(entry, dict):
            entry["path"] = path(entry.get("path"))
    for entry in data.get("bases") or []:
        if isinstance(entry, dict):
            entry["model"] = model(entry.get("model"))
    baseline = data.get("baseline")
    if isinstance(baseline, dict) and baseline.get("answers") is not None:
        baseline["answers"] = path(baseline["answers"])
    judge = data.get("judge")
    if isinstance(judge, dict):
        judge["judges_dir"] = [path(p) for p in judge.get("judges_dir") or []]
        if isinstance(judge.get("name"), str) and judge["name"].endswith((".yaml", ".yml")):
            judge["name"] = path(judge["name"])
    return data


def load_experiment(path: str | Path) -> ExperimentConfig:
    """Read and check an experiment file; a problem is one ``file:line: field '...': ...`` error."""
    path = Path(path).expanduser()
    text, data = read_yaml_mapping(path, "experiment settings (name, output_dir, bases, datasets, judge ...)")
    try:
        config = ExperimentConfig.model_validate(_resolve_paths(data, path.resolve().parent))
    except ValidationError as exc:
        raise InputFileError(path, line_of(text, exc.errors()[0]["loc"]), describe_validation_error(exc)) from None
    _check_runs(config, text, path)
    return config


def _check_runs(config: ExperimentConfig, text: str, path: Path) -> None:
    """Build every run's settings now, so a bad value stops the experiment before any training.

    A bad fine-tuning value is reported at the line that set it: the dataset's override, the base's,
    or the experiment's ``finetune`` section.
    """
    for b, base in enumerate(config.bases):
        try:
            config.generation_for(base)
        except ValidationError as exc:
            loc = ("bases", b, "generation", *exc.errors()[0]["loc"])
            raise InputFileError(path, line_of(text, loc),
                                 f"generation settings of {base.name}: {describe_validation_error(exc)}") from None
        for d, dataset in enumerate(config.datasets):
            try:
                config.finetune_config(base, dataset)
            except ValidationError as exc:
                field = exc.errors()[0]["loc"]
                where: tuple[str | int, ...] = ("finetune",)
                if field and field[0] in dataset.finetune:
                    where = ("datasets", d, "finetune")
                elif field and field[0] in base.finetune:
                    where = ("bases", b, "finetune")
                what = f"finetune settings of {variant_name(base.name, dataset.name)}"
                raise InputFileError(path, line_of(text, (*where, *field)),
                                     f"{what}: {describe_validation_error(exc)}") from None

