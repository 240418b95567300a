"""``jp-bench finetune``: supervised fine-tuning (LoRA, QLoRA or full); flags over a settings file."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from jp_bench.errors import JpBenchError


def add_parser(commands: Any) -> None:
    finetune = commands.add_parser(
        "finetune", help="supervised fine-tuning (LoRA, QLoRA or full) on instruction data",
        description="Defaults are FinetuneConfig's (docs/finetune.md); flags given override --config.")
    finetune.add_argument("--config", help="settings file (JSON or YAML, the layout of OUT/finetune_config.json)")
    finetune.add_argument("--base", help="base model (folder or hub id)")
    finetune.add_argument("--data", help="instruction data: a dataset folder, JSONL or Parquet")
    finetune.add_argument("--method", choices=["lora", "qlora", "full"], help="default lora")
    finetune.add_argument("--out", help="output folder (checkpoints, adapter, merged model)")
    finetune.add_argument("--template", choices=["alpaca-ja", "chat"],
                          help="prompt format: the alpaca-ja frame (saved as the chat template, default) or the "
                               "model's own")
    finetune.add_argument("--max-seq-len", type=int, help="default 1024")
    finetune.add_argument("--epochs", type=float, help="default 3")
    finetune.add_argument("--max-steps", type=int, help="stop after N optimizer steps (wins over epochs)")
    finetune.add_argument("--lr", type=float, help="default 2e-4")
    finetune.add_argument("--batch-size", type=int, help="per device (default 4)")
    finetune.add_argument("--grad-accum", type=int, help="default 4")
    finetune.add_argument("--lora-r", type=int, help="default 16")
    finetune.add_argument("--lora-alpha", type=int, help="default 32")
    finetune.add_argument("--packing", action="store_true", default=None, help="pack examples up to --max-seq-len")
    finetune.add_argument("--seed", type=int, help="default 42")
    finetune.add_argument("--save-steps", type=int, help="default 100")
    finetune.add_argument("--logging-steps", type=int, help="default 10")
    finetune.add_argument("--merge", action="store_true", default=None,
                          help="also save the adapter merged into the base")
    finetune.set_defaults(func=run)


def _finetune_settings(args: argparse.Namespace) -> dict[str, object]:
    """Settings from --config (the layout of OUT/finetune_config.json, JSON or YAML) under the flags given."""
    settings: dict[str, object] = {}
    if args.config:
        from jp_bench._util.yaml_lines import read_yaml_mapping

        _, loaded = read_yaml_mapping(Path(args.config), "fine-tuning settings")
        settings.update(loaded)
    flags = {"base": args.base, "data": args.data, "output_dir": args.out, "method": args.method,
             "template": args.template, "max_seq_len": args.max_seq_len, "epochs": args.epochs,
             "max_steps": args.max_steps, "lr": args.lr, "batch_size": args.batch_size, "grad_accum": args.grad_accum,
             "lora_r": args.lora_r, "lora_alpha": args.lora_alpha, "packing": args.packing, "seed": args.seed,
             "save_steps": args.save_steps, "logging_steps": args.logging_steps, "merge": args.merge}
    settings.update({key: value for key, value in flags.items() if value is not None})
    missing = [flag for flag, key in (("--base", "base"), ("--data", "data"), ("--out", "output_dir"))
               if key not in settings]
    if missing:
        raise JpBenchError(f"finetune needs {', '.join(missing)} (or a --config file that sets them)")
    return settings


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from jp_bench.errors import describe_validation_error
    from jp_bench.finetune import FinetuneConfig, run_finetune

    settings = _finetune_settings(args)
    try:
        config = FinetuneConfig(**settings)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise JpBenchError(f"finetune settings: {describe_validation_error(exc)}") from None
    result = run_finetune(config, on_log=lambda record: print(json.dumps(record), file=sys.stderr, flush=True))
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun/accelerate: one summary, from the main process
        return 0
    if result.skipped:
        print(f"already finished: {result.output_dir}")
    print(f"steps: {result.steps}, final loss: {result.final_loss}")
    for label, path in (("adapter", result.adapter_dir), ("merged model", result.merged_dir)):
        if path is not None:
            print(f"{label}: {path}")
    return 0
