"""Supervised fine-tuning (LoRA, QLoRA, full) on Alpaca-layout Japanese instruction data.

Importing this package is light; torch/transformers/peft load when training or merging starts::

    from jp_bench.finetune import FinetuneConfig, run_finetune

    result = run_finetune(FinetuneConfig(base="llm-jp/llm-jp-3-1.8b", data="my-data", output_dir="runs/a"))
"""

from __future__ import annotations

from typing import Any

from jp_bench.finetune.config import FinetuneConfig, FinetuneResult
from jp_bench.finetune.data import (
    ALPACA_JA_CHAT_TEMPLATE,
    IGNORE_INDEX,
    Example,
    build_features,
    load_examples,
    pack_examples,
    render_example,
    tokenize_example,
)

__all__ = [
    "ALPACA_JA_CHAT_TEMPLATE",
    "IGNORE_INDEX",
    "Example",
    "FinetuneConfig",
    "FinetuneResult",
    "build_features",
    "load_examples",
    "merge_adapter",
    "pack_examples",
    "render_example",
    "run_finetune",
    "tokenize_example",
]


def __getattr__(name: str) -> Any:
    """``run_finetune`` and ``merge_adapter`` on first use, so the import stays cheap."""
    if name == "run_finetune":
        from jp_bench.finetune.train import run_finetune

        return run_finetune
    if name == "merge_adapter":
        from jp_bench.finetune.merge import merge_adapter

        return merge_adapter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
