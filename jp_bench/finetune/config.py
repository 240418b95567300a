"""The settings of one fine-tuning run, validated with pydantic and saved beside the outputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Method = Literal["lora", "qlora", "full"]
Template = Literal["alpaca-ja", "chat"]

# Settings that may change between two invocations on the same output folder without making it a
# different run: how long to train, how often to log/save, and what to do after training. Anything
# else (base model, data, template, LoRA shape, batch, seed ...) must match, or the checkpoints in
# the folder would be resumed under settings they were not trained with.
RESUMABLE_FIELDS = frozenset(
    {"epochs", "max_steps", "save_steps", "logging_steps", "save_total_limit", "merge", "bf16",
     "gradient_checkpointing"}
)


class FinetuneConfig(BaseModel):
    """Supervised fine-tuning of a causal LM on Alpaca-layout instruction data.

    ``max_steps > 0`` overrides ``epochs``. ``bf16=None`` means: bf16 when a CUDA GPU supports it,
    fp32 otherwise. ``target_modules="all-linear"`` puts LoRA on every linear layer of the attention
    and MLP blocks (peft's shortcut; the output head is left out).
    """

    model_config = ConfigDict(extra="forbid")

    base: str = Field(description="model folder or Hugging Face hub id")
    data: Path = Field(description="dataset folder, .jsonl or .parquet file (Alpaca layout)")
    output_dir: Path = Field(description="where checkpoints, adapter, merged model and logs go")
    method: Method = "lora"
    template: Template = "alpaca-ja"
    max_seq_len: int = Field(1024, ge=8)
    epochs: float = Field(3.0, gt=0)
    max_steps: int = Field(-1, description="stop after this many optimizer steps; <= 0: use epochs")
    lr: float = Field(2e-4, gt=0)
    lr_scheduler: str = "cosine"
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    batch_size: int = Field(4, ge=1, description="per device")
    grad_accum: int = Field(4, ge=1)
    lora_r: int = Field(16, ge=1)
    lora_alpha: int = Field(32, ge=1)
    lora_dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | Literal["all-linear"] = "all-linear"
    packing: bool = False
    seed: int = 42
    save_steps: int = Field(100, ge=1)
    save_total_limit: int | None = Field(3, ge=1)
    logging_steps: int = Field(10, ge=1)
    merge: bool = False
    bf16: bool | None = None
    gradient_checkpointing: bool = False

    @field_validator("data", "output_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        """Store absolute paths so a rerun from another folder is recognised as the same run."""
        return value.expanduser().absolute()

    @field_validator("target_modules", mode="before")
    @classmethod
    def _split_modules(cls, value: Any) -> Any:
        """Accept ``"q_proj,v_proj"`` as well as a list."""
        if isinstance(value, str) and value != "all-linear":
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def checkpoints_dir(self) -> Path:
        return self.output_dir / "checkpoints"

    @property
    def adapter_dir(self) -> Path:
        return self.output_dir / "adapter"

    @property
    def merged_dir(self) -> Path:
        return self.output_dir / "merged"

    def run_identity(self) -> dict[str, Any]:
        """The settings that define the run (everything but :data:`RESUMABLE_FIELDS`), JSON-ready."""
        return self.model_dump(mode="json", exclude=set(RESUMABLE_FIELDS))


@dataclass(frozen=True)
class FinetuneResult:
    """What a run produced. ``adapter_dir`` is None for full fine-tuning, ``merged_dir`` is None for
    LoRA/QLoRA runs without ``merge``. ``skipped`` is True when the output folder already held this
    finished run and nothing was trained; ``resumed_from`` names the checkpoint training went on from.
    ``tokens`` / ``train_seconds`` measure this call's training (None when nothing was trained)."""

    output_dir: Path
    adapter_dir: Path | None
    merged_dir: Path | None
    steps: int
    final_loss: float | None
    resumed_from: Path | None = None
    skipped: bool = False
    tokens: int | None = None  # non-padding tokens trained on in this call
    train_seconds: float | None = None  # wall time of training in this call
