"""The work of an experiment, one step at a time: fine-tune, answer the benchmark, judge.

Fine-tuning and answering run as child processes (``python -m jp_bench finetune`` / ``lm-eval``):
GPU memory is returned to the system between steps, a launcher such as ``accelerate launch`` can
spread fine-tuning over several GPUs, and Ctrl-C reaches the child, whose checkpoints make the
next run resume. Each step leaves a record of what produced it, and a step whose record matches the
current settings is skipped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from jp_bench._util.atomic import write_text_atomic
from jp_bench.errors import JpBenchError
from jp_bench.experiment.config import AnswerSource, BaseModelSpec, GenerationSettings
from jp_bench.finetune.config import FinetuneConfig
from jp_bench.finetune.train import finished_run
from jp_bench.judging.plan import Mode

GENERATION_RECORD = "generation.json"
# LoRA ranks vLLM accepts for max_lora_rank; we pick the smallest that holds the adapter.
VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)

Kind = Literal["finetuned", "untuned", "baseline"]
Log = Callable[[str], None]


@dataclass
class ModelPlan:
    """A model whose answers the experiment judges, and how they are made."""

    name: str
    kind: Kind
    answers_dir: Path
    base: BaseModelSpec | None = None
    dataset: str | None = None
    finetune: FinetuneConfig | None = None
    generation: GenerationSettings | None = None
    source: AnswerSource | None = None
    finetune_record: dict[str, Any] | None = field(default=None)

    @property
    def answer_source(self) -> str:
        """``NAME=PATH`` for the judging service."""
        return f"{self.name}={self.answers_dir}"


def format_model_args(args: dict[str, Any]) -> str:
    """lm-eval's ``key=value,key=value`` form."""
    for key, value in args.items():
        if any(c in str(value) for c in ",="):
            raise JpBenchError(f"model_args {key}={value!r}: lm-eval cannot pass a value containing ',' or '='")
    return ",".join(f"{key}={value}" for key, value in args.items())


def _gen_kwargs(settings: dict[str, Any]) -> list[str]:
    return ["--gen_kwargs", format_model_args(settings)] if settings else []


# ------------------------------------------------------------------------------------- fine-tuning
def finetune_done(config: FinetuneConfig) -> dict[str, Any] | None:
    """The finished run's record, when nothing (training or the asked-for merge) is left to do."""
    done = finished_run(config)
    if done is None:
        return None
    if config.method != "full" and config.merge and not (config.merged_dir / "config.json").is_file():
        return None
    return done


def run_finetune_step(config: FinetuneConfig, launcher: Sequence[str], settings_dir: Path, log: Log) -> dict:
    """Train (or resume) one run in a child process; return its ``DONE`` record."""
    done = finetune_done(config)
    if done is not None:
        return done
    settings_dir.mkdir(parents=True, exist_ok=True)
    settings_file = settings_dir / f"{config.output_dir.name}.finetune.json"
    write_text_atomic(settings_file, config.model_dump_json(indent=2) + "\n")
    prefix = list(launcher) if launcher else [sys.executable]
    command = [*prefix, "-m", "jp_bench", "finetune", "--config", str(settings_file)]
    log(f"fine-tuning {config.output_dir.name}: {' '.join(command)}")
    _run_child(command, f"fine-tuning {config.output_dir.name}",
               "run the experiment again to resume from the last checkpoint")
    done = finetune_done(config)
    if done is None:
        raise JpBenchError(f"fine-tuning {config.output_dir.name} ended without finishing ({config.output_dir})")
    return done


# --------------------------------------------------------------------------------------- answers
def _vllm_lora_rank(rank: int) -> int:
    return next((r for r in VLLM_LORA_RANKS if r >= rank), rank)


def lm_eval_model_arguments(plan: ModelPlan) -> list[str]:
    """``--model``, ``--model_args`` and the prompting flags that answer with ``plan``'s model."""
    if plan.kind == "baseline":
        source = plan.source
        assert source is not None and source.model is not None
        args = source.model_args if isinstance(source.model_args, str) else format_model_args(source.model_args)
        argv = ["--model", source.model, "--model_args", args, "--batch_size", str(source.batch_size)]
        argv += ["--apply_chat_template"] if source.apply_chat_template else []
        if source.prompt_style:
            argv += ["--metadata", json.dumps({"prompt_style": source.prompt_style})]
        return [*argv, *source.extra_args]

    settings = plan.generation
    assert settings is not None and plan.base is not None
    model_args: dict[str, Any]
    if plan.kind == "untuned":
        model_args = {"pretrained": plan.base.model}
        style = plan.base.untuned_prompt_style
        prompting = (["--apply_chat_template"] if style == "chat"
                     else ["--metadata", json.dumps({"prompt_style": style})])
    else:
        config = plan.finetune
        assert config is not None
        prompting = ["--apply_chat_template"]  # the tokenizer saved with the run holds the training frame
        if config.method == "full" or config.merge:
            model_args = {"pretrained": config.merged_dir}
        elif settings.backend == "vllm":
            model_args = {"pretrained": config.base, "lora_local_path": config.adapter_dir,
                          "max_lora_rank": _vllm_lora_rank(config.lora_r), "tokenizer": config.adapter_dir}
        else:
            model_args = {"pretrained": config.base, "peft": config.adapter_dir, "tokenizer": config.adapter_dir}
    model_args.update(settings.model_args)
    argv = ["--model", settings.backend, "--model_args", format_model_args(model_args),
            "--batch_size", str(settings.batch_size)]
    if settings.device:
        argv += ["--device", settings.device]
    return [*argv, *prompting]


def generation_argv(plan: ModelPlan, tasks: str, shared: GenerationSettings) -> list[str]:
    """The whole lm-eval command line but ``--output_path``. ``shared`` sets the questions and decoding
    for every model (the baseline included), so all answer the same questions the same way."""
    settings = plan.generation or shared
    tasks = ",".join(shared.tasks) if shared.tasks else tasks
    argv = [*lm_eval_model_arguments(plan), "--tasks", tasks, "--log_samples", "--predict_only",
            *_gen_kwargs(shared.gen_kwargs)]
    if shared.limit is not None:
        argv += ["--limit", f"{shared.limit:g}"]
    return [*argv, *settings.extra_args]


def answers_done(plan: ModelPlan, record: dict[str, Any]) -> bool:
    saved = plan.answers_dir / GENERATION_RECORD
    try:
        return json.loads(saved.read_text(encoding="utf-8")) == record
    except (FileNotFoundError, json.JSONDecodeError):
        return False


def run_generation_step(plan: ModelPlan, argv: list[str], log: Log) -> bool:
    """Answer the benchmark with lm-eval unless the same answers are there; True when it ran.

    The record holds the command line and the fine-tuning run's ``DONE`` record, so answers are
    made again when either changes (e.g. after training longer). lm-eval writes into a staging
    folder that replaces the answers only once it finished.
    """
    record = {"lm_eval_args": argv, "finetune": plan.finetune_record}
    if answers_done(plan, record):
        return False
    staging = plan.answers_dir.with_name(f".{plan.answers_dir.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    command = [sys.executable, "-m", "jp_bench", "lm-eval", *argv, "--output_path", str(staging)]
    log(f"answering with {plan.name}: {' '.join(command)}")
    _run_child(command, f"answering with {plan.name}", "see lm-eval's messages above")
    if not any(staging.rglob("samples_*.jsonl")):
        raise JpBenchError(f"lm-eval wrote no samples for {plan.name} into {staging}")
    write_text_atomic(staging / GENERATION_RECORD, json.dumps(record, indent=2, default=str) + "\n")
    shutil.rmtree(plan.answers_dir, ignore_errors=True)
    staging.rename(plan.answers_dir)
    return True


def _stderr_fd() -> int | None:
    """Our stderr's descriptor, where the children's console output goes (None: inherit stdout)."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _run_child(command: list[str], what: str, hint: str) -> None:
    # The children's progress goes to stderr, so our stdout holds only the result tables.
    try:
        code = subprocess.call(command, stdout=_stderr_fd())
    except FileNotFoundError:
        raise JpBenchError(f"{what}: cannot start {command[0]!r}") from None
    if code != 0:
        if code in (-2, 130):
            raise KeyboardInterrupt
        raise JpBenchError(f"{what} failed (exit code {code}); {hint}")


@dataclass(frozen=True)
class Comparison:
    """One judging run: its folder name, mode, models, and baseline (pairwise mode)."""

    name: str
    mode: Mode
    models: tuple[str, ...]
    baseline: str | None = None
    base: str | None = None  # head-to-head comparisons on one base model
