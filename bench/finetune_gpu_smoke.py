"""GPU smoke test of fine-tuning: the packaged Gemma 3 270M (converted to a transformers folder) trained
for a few hundred steps on jp-bench's shipped Japanese seed tasks, through ``jp_bench.finetune``.

    python bench/finetune_gpu_smoke.py [--steps 300] [--method lora|full|qlora] [--batch-size 8]
                                       [--max-seq-len 512] [--model DIR] [--out DIR] [--allow-cpu]

It checks that a real run trains (the loss falls between the first and last tenth of the steps), then
prints the figures on its last line as ``key=value`` pairs:

    device=... method=lora steps=300 tokens=... train_s=... tokens_per_s=... peak_mem_gib=...
    mem_kind=cuda_max_allocated first_loss=... final_loss=... loss_fell=true

``tokens`` counts the non-padding tokens trained on; ``peak_mem_gib`` is
``torch.cuda.max_memory_allocated`` on a GPU (the process's peak RSS with ``--allow-cpu``). Without a
CUDA GPU it prints ``status=skipped reason=no-cuda-gpu`` and exits 0; ``--allow-cpu`` runs on the CPU
anyway (the test suite does so with a tiny model and a few steps to keep the script working).

Needs ``pip install 'jp-bench[finetune,hf,local]'`` (the packaged GGUF and the converter).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
from pathlib import Path


def _training_items(path: Path, repeats: int) -> Path:
    """Alpaca-layout items from the shipped Japanese seed tasks (one per instance), repeated."""
    from jp_bench.selfinstruct.seeds import load_default_seeds

    lines = []
    for seed in load_default_seeds():
        for instance in seed.instances:
            lines.append(json.dumps({"instruction": seed.instruction, "input": instance.input,
                                     "output": instance.output}, ensure_ascii=False))
    path.write_text("\n".join(lines * repeats) + "\n", encoding="utf-8")
    return path


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--method", default="lora", choices=["lora", "qlora", "full"])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-seq-len", type=int, default=512)
    parser.add_argument("--lr", type=float, default=None, help="default 2e-4 (LoRA/QLoRA), 2e-5 (full)")
    parser.add_argument("--model", help="transformers model folder (default: the packaged Gemma 3 270M)")
    parser.add_argument("--out", help="output folder (default: a temporary folder)")
    parser.add_argument("--allow-cpu", action="store_true", help="run even without a CUDA GPU")
    parser.add_argument("--lora-targets", help="comma-separated LoRA target modules (default: all-linear)")
    args = parser.parse_args(argv)

    import torch

    on_gpu = torch.cuda.is_available()
    if not on_gpu and not args.allow_cpu:
        print("status=skipped reason=no-cuda-gpu")
        return 0

    from jp_bench.finetune import FinetuneConfig, run_finetune

    model = args.model
    if model is None:
        from jp_bench.local.packaged_models import gemma_hf_dir

        print("converting the packaged Gemma 3 270M to a transformers folder (once)…", file=sys.stderr)
        model = str(gemma_hf_dir())
    work = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="jp-bench-ft-smoke-"))
    work.mkdir(parents=True, exist_ok=True)
    data = _training_items(work / "train.jsonl", repeats=8)
    extra = {"target_modules": args.lora_targets} if args.lora_targets else {}
    config = FinetuneConfig(
        base=model, data=data, output_dir=work / "run", method=args.method, max_steps=args.steps,
        max_seq_len=args.max_seq_len, batch_size=args.batch_size, grad_accum=1, packing=True,
        lr=args.lr or (2e-5 if args.method == "full" else 2e-4), warmup_ratio=0.03,
        save_steps=max(args.steps, 1), logging_steps=max(1, args.steps // 50), seed=0, **extra,
    )
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    losses: list[float] = []
    result = run_finetune(config, on_log=lambda entry: losses.append(entry["loss"]))
    if result.skipped:
        print(f"{config.output_dir} already holds this run; pass another --out", file=sys.stderr)
        return 2
    if on_gpu:
        peak = torch.cuda.max_memory_allocated() / 2**30
        device, mem_kind = torch.cuda.get_device_name().replace(" ", "_"), "cuda_max_allocated"
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
        device, mem_kind = "cpu", "process_peak_rss"
    tenth = max(1, len(losses) // 10)
    first, last = _mean(losses[:tenth]), _mean(losses[-tenth:])
    tokens, seconds = result.tokens or 0, result.train_seconds or 0.0
    figures = {
        "device": device, "method": args.method, "steps": result.steps, "tokens": tokens,
        "train_s": f"{seconds:.1f}", "tokens_per_s": f"{tokens / seconds:.0f}" if seconds else "nan",
        "peak_mem_gib": f"{peak:.2f}", "mem_kind": mem_kind, "first_loss": f"{first:.3f}",
        "final_loss": f"{last:.3f}", "loss_fell": str(last < first).lower(),
    }
    print(" ".join(f"{key}={value}" for key, value in figures.items()))
    return 0 if last < first else 1


if __name__ == "__main__":
    sys.exit(main())
