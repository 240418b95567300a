"""Fold a LoRA adapter into its base model and save a plain Hugging Face model folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from jp_bench.errors import JpBenchError


def merge_adapter(base: str, adapter_dir: str | Path, out_dir: str | Path, *, dtype: str = "auto") -> Path:
    """Load ``base`` unquantized, apply the adapter in ``adapter_dir``, merge it and save to ``out_dir``.

    The tokenizer saved with the adapter (with its chat template) is saved beside the model. The
    folder is written under a temporary name and renamed at the end, so ``out_dir`` is complete or
    absent. A QLoRA adapter merges into the unquantized base the same way.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter = Path(adapter_dir)
    if not (adapter / "adapter_config.json").is_file():
        raise JpBenchError(f"{adapter}: no LoRA adapter here (adapter_config.json missing)")
    target = Path(out_dir)
    staging = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch_dtype)
    model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    model.save_pretrained(staging)
    AutoTokenizer.from_pretrained(str(adapter)).save_pretrained(staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target
