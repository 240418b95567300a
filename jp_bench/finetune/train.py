"""Supervised fine-tuning with ``transformers.Trainer`` on prebuilt, response-masked features.

We build ``input_ids``/``labels`` ourselves (see :mod:`jp_bench.finetune.data`) and hand them to the
plain ``Trainer``: the loss mask is then explicit and unit-tested, and no TRL version drift can
change how prompts are masked. Distributed runs (DDP, FSDP, DeepSpeed) work through
``accelerate launch`` with one of the files in ``configs/accelerate/``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from jp_bench._util.atomic import write_text_atomic
from jp_bench.errors import JpBenchError
from jp_bench.finetune.config import FinetuneConfig, FinetuneResult
from jp_bench.finetune.data import (
    ALPACA_JA_CHAT_TEMPLATE,
    PadCollator,
    build_features,
    load_examples,
    require_chat_template,
)

logger = logging.getLogger(__name__)

CONFIG_FILE = "finetune_config.json"
DONE_FILE = "DONE"
LOG_FILE = "train_log.jsonl"

LogHook = Callable[[dict[str, Any]], None]


def check_qlora_available() -> None:
    """Raise :class:`JpBenchError` unless 4-bit QLoRA can run here (CUDA and bitsandbytes)."""
    import torch

    if not torch.cuda.is_available() or importlib.util.find_spec("bitsandbytes") is None:
        raise JpBenchError(
            "qlora needs a CUDA GPU and bitsandbytes (pip install bitsandbytes); use method 'lora' or 'full' here"
        )


def use_bf16(config: FinetuneConfig) -> bool:
    """``config.bf16``, or when unset: True exactly when a CUDA GPU supports bf16."""
    if config.bf16 is not None:
        return config.bf16
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as error:
        raise JpBenchError(f"{path}: not valid JSON ({error.msg}); delete it to start over") from None


def _check_same_run(config: FinetuneConfig) -> None:
    """Refuse to resume checkpoints that were trained under other settings."""
    saved = _read_json(config.output_dir / CONFIG_FILE)
    if saved is None:
        return
    try:
        previous = FinetuneConfig.model_validate(saved).run_identity()
    except ValueError as error:
        where = config.output_dir / CONFIG_FILE
        raise JpBenchError(f"{where}: unreadable ({error}); delete it to start over") from None
    current = config.run_identity()
    differing = sorted(key for key in current if current[key] != previous.get(key))
    if differing:
        raise JpBenchError(
            f"{config.output_dir} holds a run with other settings ({', '.join(differing)} differ); "
            "choose another output folder or delete this one"
        )


def _truncate_log(path: Path, last_step: int) -> None:
    """Drop log lines after the checkpoint we resume from (they will be logged again)."""
    if not path.is_file():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= last_step]
    write_text_atomic(path, "".join(line + "\n" for line in kept))


def _tokens_at(checkpoint: str) -> int:
    """The token count a checkpoint's trainer state recorded (0 when it recorded none)."""
    state = _read_json(Path(checkpoint) / "trainer_state.json") or {}
    return int(state.get("num_input_tokens_seen") or 0)


def _last_logged_loss(path: Path) -> float | None:
    if not path.is_file():
        return None
    losses = [json.loads(line).get("loss") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    losses = [loss for loss in losses if loss is not None]
    return float(losses[-1]) if losses else None


def _make_log_callback(path: Path, on_log: LogHook | None) -> Any:
    """A ``TrainerCallback`` appending ``{step, loss, lr, epoch}`` to ``path`` and calling ``on_log``."""
    from transformers import TrainerCallback

    class JsonlLogCallback(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,  # noqa: ARG002
                   **kwargs: Any) -> None:  # noqa: ARG002 (transformers' callback signature)
            if not state.is_world_process_zero or not logs or "loss" not in logs:
                return
            entry = {"step": state.global_step, "loss": float(logs["loss"]), "lr": logs.get("learning_rate"),
                     "epoch": logs.get("epoch"), "tokens": logs.get("num_input_tokens_seen")}
            with path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry) + "\n")
            if on_log is not None:
                on_log(entry)

    return JsonlLogCallback()


class _Features:
    """A map-style dataset over prebuilt feature dicts."""

    def __init__(self, features: Sequence[dict[str, list[int]]]) -> None:
        self.features = list(features)

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        return self.features[index]


def _load_model(config: FinetuneConfig, bf16: bool) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {}
    if config.method == "qlora":
        import os

        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        compute = torch.bfloat16 if bf16 else torch.float16
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute,
        )
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0"))}
        kwargs["dtype"] = compute
        model = AutoModelForCausalLM.from_pretrained(config.base, **kwargs)
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    else:
        # LoRA: the frozen base may live in bf16 (adapters stay fp32). Full: fp32 master weights.
        dtype = torch.bfloat16 if (bf16 and config.method == "lora") else torch.float32
        model = AutoModelForCausalLM.from_pretrained(config.base, dtype=dtype)
    model.config.use_cache = False
    if config.method in {"lora", "qlora"}:
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
            target_modules=config.target_modules, bias="none", task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, lora)
    return model


def _training_arguments(config: FinetuneConfig, bf16: bool) -> Any:
    from transformers import TrainingArguments

    checkpointing: dict[str, Any] = {}
    if config.gradient_checkpointing:
        checkpointing = {"gradient_checkpointing": True, "gradient_checkpointing_kwargs": {"use_reentrant": False}}
    return TrainingArguments(
        output_dir=str(config.checkpoints_dir),
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps if config.max_steps > 0 else -1,
        learning_rate=config.lr,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_ratio,
        weight_decay=config.weight_decay,
        bf16=bf16,
        logging_strategy="steps",
        logging_steps=config.logging_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        seed=config.seed,
        data_seed=config.seed,
        **checkpointing,
        remove_unused_columns=False,
        include_num_input_tokens_seen="non_padding",  # for tokens/s in DONE and the log
        report_to="none",
        dataloader_num_workers=0,
        dataloader_pin_memory=False,
    )


def _finished_result(config: FinetuneConfig, done: dict[str, Any]) -> FinetuneResult:
    adapter = config.adapter_dir if config.method != "full" else None
    merged = config.merged_dir if (config.method == "full" or config.merge) else None
    if merged is not None and config.method != "full" and not (merged / "config.json").is_file():
        from jp_bench.finetune.merge import merge_adapter

        logger.info("merging %s into %s", config.adapter_dir, merged)
        merge_adapter(config.base, config.adapter_dir, merged)
    return FinetuneResult(config.output_dir, adapter, merged, int(done["steps"]), done.get("final_loss"),
                          skipped=True)


def finished_run(config: FinetuneConfig) -> dict[str, Any] | None:
    """The ``DONE`` record when ``config.output_dir`` holds this run finished, else None.

    Light (no torch import): callers such as the experiment runner use it to skip a launch. Raises
    :class:`JpBenchError` when the folder holds a run with other settings.
    """
    _check_same_run(config)
    done = _read_json(config.output_dir / DONE_FILE)
    if done and done.get("epochs") == config.epochs and done.get("max_steps") == config.max_steps:
        return done
    return None


def run_finetune(config: FinetuneConfig, on_log: LogHook | None = None) -> FinetuneResult:
    """Fine-tune ``config.base`` on ``config.data``; resume or skip work already in ``config.output_dir``.

    - a finished run (``OUT/DONE`` recorded with the same epochs/max_steps) is not trained again
      (only the merge is done if it was asked for now and is missing);
    - otherwise training goes on from the last checkpoint in ``OUT/checkpoints`` when there is one,
      e.g. after a crash or with a larger ``max_steps``;
    - settings other than run length, logging, saving and merging must match the saved
      ``OUT/finetune_config.json``.

    ``on_log`` receives each ``{step, loss, lr, epoch}`` entry that is appended to ``OUT/train_log.jsonl``.
    """
    from transformers import AutoTokenizer, Trainer, set_seed
    from transformers.trainer_utils import get_last_checkpoint

    out = config.output_dir
    done = finished_run(config)
    if done is not None:
        logger.info("%s already holds this finished run; nothing to train", out)
        return _finished_result(config, done)
    if config.method == "qlora":
        check_qlora_available()

    set_seed(config.seed)
    bf16 = use_bf16(config)
    tokenizer = AutoTokenizer.from_pretrained(config.base)
    if config.template == "chat":
        require_chat_template(tokenizer)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.eos_token_id is None:
        raise JpBenchError(f"the tokenizer of {config.base} has no EOS token; the model could not learn to stop")

    examples = load_examples(config.data)
    features, dropped = build_features(examples, tokenizer, config.template, config.max_seq_len, config.packing)
    logger.info("%d examples (%d dropped: too long), %d training sequences", len(examples) - dropped, dropped,
                len(features))

    model = _load_model(config, bf16)
    if config.template == "alpaca-ja":
        # Saved with the outputs: `lm_eval --apply_chat_template` then prompts in the training frame.
        tokenizer.chat_template = ALPACA_JA_CHAT_TEMPLATE
    trainer = Trainer(
        model=model,
        args=_training_arguments(config, bf16),
        train_dataset=_Features(features),
        data_collator=PadCollator(tokenizer.pad_token_id),
        processing_class=tokenizer,
        callbacks=[_make_log_callback(out / LOG_FILE, on_log)],
    )
    main = trainer.is_world_process_zero()
    resume = get_last_checkpoint(str(config.checkpoints_dir)) if config.checkpoints_dir.is_dir() else None
    if main:
        out.mkdir(parents=True, exist_ok=True)
        (out / DONE_FILE).unlink(missing_ok=True)
        write_text_atomic(out / CONFIG_FILE, config.model_dump_json(indent=2) + "\n")
        if resume is not None:
            _truncate_log(out / LOG_FILE, int(Path(resume).name.rsplit("-", 1)[-1]))
    if resume is not None:
        logger.info("resuming from %s", resume)
    started, tokens_before = time.perf_counter(), trainer.state.num_input_tokens_seen
    trainer.train(resume_from_checkpoint=resume)
    train_seconds = time.perf_counter() - started
    steps = trainer.state.global_step
    # Tokens of this session only (a resumed run restores the count it had reached).
    tokens = trainer.state.num_input_tokens_seen - (tokens_before if resume is None else _tokens_at(resume))

    adapter_dir = merged_dir = None
    target = config.merged_dir if config.method == "full" else config.adapter_dir
    staging = target.with_name(f".{target.name}.tmp")
    if main:
        shutil.rmtree(staging, ignore_errors=True)
    trainer.save_model(str(staging))  # every rank: FSDP/DeepSpeed gather the weights here
    trainer.accelerator.wait_for_everyone()
    if main:
        tokenizer.save_pretrained(staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    if config.method == "full":
        merged_dir = target
    else:
        adapter_dir = target
        if config.merge:
            merged_dir = config.merged_dir
            if main:
                from jp_bench.finetune.merge import merge_adapter

                merge_adapter(config.base, adapter_dir, merged_dir)
    final_loss = _last_logged_loss(out / LOG_FILE)
    if main:
        record = {"steps": steps, "final_loss": final_loss, "epochs": config.epochs, "max_steps": config.max_steps,
                  "train_seconds": round(train_seconds, 3), "tokens": tokens,
                  "tokens_per_second": round(tokens / train_seconds, 1) if train_seconds > 0 else None,
                  "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        write_text_atomic(out / DONE_FILE, json.dumps(record, indent=2) + "\n")
    trainer.accelerator.wait_for_everyone()
    return FinetuneResult(out, adapter_dir, merged_dir, steps, final_loss,
                          resumed_from=Path(resume) if resume else None, tokens=tokens, train_seconds=train_seconds)
