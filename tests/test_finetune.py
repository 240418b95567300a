"""Fine-tuning on CPU with the tiny random Llama: response-only loss masks, packing, LoRA training,
resume and skip, the alpaca-ja chat template, merging, and loading the results with lm-eval."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jp_bench.benchmarks.prompt_styles import render_prompt
from jp_bench.errors import JpBenchError
from jp_bench.finetune import (
    ALPACA_JA_CHAT_TEMPLATE,
    IGNORE_INDEX,
    FinetuneConfig,
    build_features,
    load_examples,
    pack_examples,
    render_example,
    run_finetune,
    tokenize_example,
)
from tests.support.cli import run_cli

ROOT = Path(__file__).resolve().parents[1]

_ITEMS = [
    ("日本の首都はどこですか？", "", "東京です。"),
    ("次の文を英語に訳してください。", "こんにちは", "Hello."),
    ("1から3まで数えてください。", "", "1 2 3"),
    ("おすすめの移動手段を教えてください。", "東京から大阪まで", "新幹線です。"),
    ("時間管理のこつを一つ挙げてください。", "", "予定を書き出すことです。"),
    ("江戸時代の次は何時代ですか？", "", "明治時代です。"),
]


def _write_data(path: Path, repeats: int = 6) -> Path:
    """36 Alpaca-layout items: six short Japanese tasks, each repeated so a tiny model can learn them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for _ in range(repeats):
            for instruction, given, output in _ITEMS:
                record = {"instruction": instruction, "input": given, "output": output}
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


@pytest.fixture(scope="module")
def train_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_data(tmp_path_factory.mktemp("ft-data") / "train.jsonl")


# The tiny random Llama's embeddings (std 0.02, 32 dims) cap its logits near zero, and LoRA on the
# attention/MLP layers alone cannot change that in ten steps: adapting the output head as well lets
# the loss fall visibly. The head is tied to the embeddings in `tiny_llama`, and LoRA on a tied head
# cannot be merged or loaded by lm-eval, so the tests train an untied copy (`tiny_base`). Real models
# train fine with the default "all-linear".
_TINY_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head"]


def _config(base: Path, data: Path, out: Path, **overrides: Any) -> FinetuneConfig:
    settings: dict[str, Any] = {
        "base": str(base), "data": data, "output_dir": out, "method": "lora", "max_seq_len": 128,
        "max_steps": 10, "lr": 1e-2, "target_modules": _TINY_TARGETS, "warmup_ratio": 0.0,
        "lr_scheduler": "constant", "batch_size": 4,
        "grad_accum": 1, "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.0, "save_steps": 5,
        "logging_steps": 1, "seed": 0,
    }
    settings.update(overrides)
    return FinetuneConfig(**settings)


def _tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


def _log_steps(out: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (out / "train_log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def tiny_base(tiny_llama: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`tiny_llama` with its output head untied from the input embeddings (same weights)."""
    from tests.support.tiny_models import untie_output_head

    return untie_output_head(tiny_llama, tmp_path_factory.mktemp("tiny-untied"))


@pytest.fixture(scope="module")
def lora_run(tiny_base: Path, train_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One 10-step LoRA run with merge, shared by the tests that inspect its outputs."""
    entries: list[dict[str, Any]] = []
    config = _config(tiny_base, train_data, tmp_path_factory.mktemp("ft-lora") / "out", merge=True)
    result = run_finetune(config, on_log=entries.append)
    return {"config": config, "result": result, "entries": entries}


# --- data and formatting ---------------------------------------------------------------------------


@pytest.mark.unit
def test_loads_jsonl_parquet_and_dataset_folder(train_data: Path, tmp_path: Path) -> None:
    import pandas as pd

    from_jsonl = load_examples(train_data)
    assert len(from_jsonl) == 36
    assert from_jsonl[1].user == "次の文を英語に訳してください。\n\nこんにちは"
    folder = tmp_path / "dataset"
    (folder / "data").mkdir(parents=True)
    pd.read_json(train_data, lines=True).to_parquet(folder / "data" / "train.parquet")
    assert load_examples(folder) == from_jsonl
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "x"}\n', encoding="utf-8")
    with pytest.raises(JpBenchError, match=r"bad.jsonl:1"):
        load_examples(bad)


@pytest.mark.e2e
def test_labels_mask_the_prompt_and_keep_the_response(tiny_llama: Path, train_data: Path) -> None:
    tokenizer = _tokenizer(tiny_llama)
    example = load_examples(train_data)[3]
    prompt, response = render_example(example, "alpaca-ja")
    assert prompt == render_prompt(example.user, "alpaca-ja")
    feature = tokenize_example(example, tokenizer, "alpaca-ja", 512)
    assert feature is not None
    prompt_len = len(tokenizer(prompt)["input_ids"])
    response_ids = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    assert feature["labels"][:prompt_len] == [IGNORE_INDEX] * prompt_len
    assert feature["labels"][prompt_len:] == response_ids == feature["input_ids"][prompt_len:]
    assert tokenizer.decode(feature["input_ids"][prompt_len:], skip_special_tokens=True) == response
    # Cut at max_seq_len; an example with no response token left is dropped.
    assert len(tokenize_example(example, tokenizer, "alpaca-ja", prompt_len + 1)["labels"]) == prompt_len + 1
    assert tokenize_example(example, tokenizer, "alpaca-ja", prompt_len) is None


@pytest.mark.e2e
def test_packing_keeps_the_masks(tiny_llama: Path, train_data: Path) -> None:
    tokenizer = _tokenizer(tiny_llama)
    examples = load_examples(train_data)[:6]
    singles, _ = build_features(examples, tokenizer, "alpaca-ja", 512)
    limit = 2 * max(len(single["input_ids"]) for single in singles) + 1
    packs = pack_examples(singles, limit)
    assert 1 < len(packs) < len(singles)
    assert all(len(pack["input_ids"]) <= limit for pack in packs)
    for key in ("input_ids", "labels", "attention_mask"):
        assert [t for pack in packs for t in pack[key]] == [t for single in singles for t in single[key]]


@pytest.mark.e2e
def test_chat_template_needs_one_and_masks_its_prompt(tiny_llama: Path, tiny_chat_llama: Path,
                                                     train_data: Path) -> None:
    example = load_examples(train_data)[0]
    with pytest.raises(JpBenchError, match="chat template"):
        render_example(example, "chat", _tokenizer(tiny_llama))
    tokenizer = _tokenizer(tiny_chat_llama)
    prompt, response = render_example(example, "chat", tokenizer)
    assert prompt.endswith("<|im_start|>assistant\n") and response.startswith("東京です。<|im_end|>")
    feature = tokenize_example(example, tokenizer, "chat", 256)
    masked = sum(1 for label in feature["labels"] if label == IGNORE_INDEX)
    assert masked == len(tokenizer(prompt)["input_ids"])


@pytest.mark.e2e
def test_alpaca_chat_template_saved_with_the_adapter_renders_the_lm_eval_frame(lora_run: dict[str, Any]) -> None:
    tokenizer = _tokenizer(lora_run["result"].adapter_dir)
    assert tokenizer.chat_template == ALPACA_JA_CHAT_TEMPLATE
    question = "富士山の高さは？\n\n単位はメートルで。"
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                             add_generation_prompt=True)
    assert rendered == render_prompt(question, "alpaca-ja")
    full = tokenizer.apply_chat_template(
        [{"role": "user", "content": question}, {"role": "assistant", "content": "3776メートルです。"}], tokenize=False
    )
    assert full == render_prompt(question, "alpaca-ja") + "3776メートルです。" + tokenizer.eos_token


@pytest.mark.e2e
def test_qlora_on_cpu_is_a_clear_error(tiny_llama: Path, train_data: Path, tmp_path: Path) -> None:
    with pytest.raises(JpBenchError, match="qlora needs a CUDA GPU and bitsandbytes"):
        run_finetune(_config(tiny_llama, train_data, tmp_path / "out", method="qlora"))


# --- training --------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_lora_training_lowers_the_loss_and_writes_outputs(lora_run: dict[str, Any]) -> None:
    result, config, entries = lora_run["result"], lora_run["config"], lora_run["entries"]
    assert result.steps == 10 and result.adapter_dir == config.adapter_dir and result.merged_dir == config.merged_dir
    assert [entry["step"] for entry in entries] == list(range(1, 11)) == _log_steps(config.output_dir)
    assert entries[-1]["loss"] < entries[0]["loss"] * 0.8, entries
    assert result.final_loss == entries[-1]["loss"]
    assert (config.adapter_dir / "adapter_config.json").is_file()
    assert (config.adapter_dir / "adapter_model.safetensors").is_file()
    saved = json.loads((config.output_dir / "finetune_config.json").read_text())
    assert saved["method"] == "lora" and saved["template"] == "alpaca-ja"
    assert _tokenizer(config.adapter_dir).chat_template == ALPACA_JA_CHAT_TEMPLATE
    assert (config.output_dir / "DONE").is_file()


@pytest.mark.e2e
def test_a_finished_run_is_not_trained_again(lora_run: dict[str, Any]) -> None:
    config = lora_run["config"]
    entries: list[dict[str, Any]] = []
    again = run_finetune(config, on_log=entries.append)
    assert again.skipped and again.steps == 10 and entries == []
    assert _log_steps(config.output_dir) == list(range(1, 11))
    with pytest.raises(JpBenchError, match="other settings"):
        run_finetune(config.model_copy(update={"lora_r": 4}))


@pytest.mark.e2e
def test_resume_from_the_last_checkpoint(tiny_base: Path, train_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_finetune(_config(tiny_base, train_data, out, max_steps=4, save_steps=2))
    assert first.steps == 4 and (out / "checkpoints" / "checkpoint-4").is_dir()
    entries: list[dict[str, Any]] = []
    second = run_finetune(_config(tiny_base, train_data, out, max_steps=6, save_steps=2), on_log=entries.append)
    assert second.resumed_from == out / "checkpoints" / "checkpoint-4"
    assert second.steps == 6 and not second.skipped
    assert [entry["step"] for entry in entries] == [5, 6]
    assert _log_steps(out) == [1, 2, 3, 4, 5, 6]
    # Token counts are per call: 4 steps, then the 2 resumed ones, never counted twice.
    assert first.tokens and second.tokens and first.tokens > second.tokens > 0
    assert entries[-1]["tokens"] == first.tokens + second.tokens
    done = json.loads((out / "DONE").read_text())
    assert done["tokens"] == second.tokens and done["tokens_per_second"] > 0


# Run in a child process that the test kills: the hook blocks for good at `_KILL_AT_STEP`, after
# writing a marker, so the kill lands between checkpoint-4 and checkpoint-8 on any machine, however slow.
_KILLABLE_RUN = """
import json, sys, threading
from pathlib import Path
from jp_bench.finetune import FinetuneConfig, run_finetune
config = FinetuneConfig.model_validate_json(Path(sys.argv[1]).read_text(encoding="utf-8"))
marker, kill_at = Path(sys.argv[2]), int(sys.argv[3])
def hook(entry):
    if entry["step"] == kill_at:
        marker.write_text(json.dumps(entry), encoding="utf-8")
        threading.Event().wait()  # stopped here until the parent's SIGKILL
run_finetune(config, on_log=hook)
"""
_KILL_AT_STEP = 6


@pytest.mark.e2e
def test_a_killed_run_resumes_from_its_last_checkpoint_like_an_uninterrupted_run(
        lora_run: dict[str, Any], tiny_base: Path, train_data: Path, tmp_path: Path) -> None:
    """docs/finetune.md: training "continues from the last checkpoint after a crash or a kill". SIGKILL at
    step 6 (checkpoint-4 saved, steps 5 and 6 logged), resume, and compare with `lora_run`, the same
    10 steps uninterrupted (save_steps only decides when checkpoints are written)."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    config = _config(tiny_base, train_data, out, save_steps=4)
    settings, marker = tmp_path / "settings.json", tmp_path / "at-step"
    settings.write_text(config.model_dump_json(), encoding="utf-8")
    stderr = tmp_path / "stderr.txt"  # a file, not a pipe: a full pipe would stop the child before step 6
    with stderr.open("w") as sink:
        child = subprocess.Popen([sys.executable, "-c", _KILLABLE_RUN, str(settings), str(marker),
                                  str(_KILL_AT_STEP)], stdout=subprocess.DEVNULL, stderr=sink)
    try:
        deadline = time.monotonic() + 600  # a bound on a hang, not on speed
        while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists() and child.poll() is None, stderr.read_text()[-3000:]
    finally:
        child.kill()  # SIGKILL, as `kill -9`; a child that already ended is left alone
        child.wait()
    assert child.returncode == -signal.SIGKILL
    # The killed run left a checkpoint-4, no later one, six log lines and no DONE.
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["checkpoint-4"]
    assert _log_steps(out) == [1, 2, 3, 4, 5, 6] and not (out / "DONE").exists()

    entries: list[dict[str, Any]] = []
    resumed = run_finetune(config, on_log=entries.append)
    assert resumed.resumed_from == out / "checkpoints" / "checkpoint-4" and not resumed.skipped
    assert resumed.steps == 10 and [entry["step"] for entry in entries] == list(range(5, 11))
    # Steps 5 and 6 were logged before the kill and again after it: the file holds each step once.
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [entry["step"] for entry in log] == list(range(1, 11))
    # Same model, optimizer, scheduler and data position as the run that was never stopped.
    uninterrupted = lora_run["entries"]
    assert [entry["step"] for entry in uninterrupted] == list(range(1, 11))
    for got, want in zip(log, uninterrupted, strict=True):
        assert got["loss"] == pytest.approx(want["loss"], rel=1e-4), (got, want)
        assert got["lr"] == pytest.approx(want["lr"], rel=1e-9) and got["epoch"] == pytest.approx(want["epoch"])
    assert resumed.final_loss == pytest.approx(lora_run["result"].final_loss, rel=1e-4)
    assert log[-1]["tokens"] == uninterrupted[-1]["tokens"]  # the token count went on, not counted twice
    assert json.loads((out / "DONE").read_text())["steps"] == 10
    assert (out / "adapter" / "adapter_model.safetensors").is_file()


@pytest.mark.e2e
def test_gpu_smoke_script_runs_on_cpu_and_ends_with_figures(tiny_base: Path, tmp_path: Path) -> None:
    """bench/finetune_gpu_smoke.py with --allow-cpu and a tiny model: the script itself stays working."""
    import subprocess
    import sys

    targets = ",".join(_TINY_TARGETS)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "finetune_gpu_smoke.py"), "--model", str(tiny_base), "--steps", "10",
         "--lr", "1e-2", "--lora-targets", targets, "--batch-size", "4", "--max-seq-len", "128", "--allow-cpu",
         "--out", str(tmp_path / "smoke")],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = dict(pair.split("=", 1) for pair in proc.stdout.strip().splitlines()[-1].split())
    assert figures["device"] == "cpu" and figures["steps"] == "10" and figures["loss_fell"] == "true"
    assert int(figures["tokens"]) == 10 * 4 * 128  # packed: every row full
    assert float(figures["tokens_per_s"]) > 0 and float(figures["peak_mem_gib"]) > 0

    import torch

    if not torch.cuda.is_available():  # without --allow-cpu, a machine with no GPU is told so and left alone
        plain = subprocess.run([sys.executable, str(ROOT / "bench" / "finetune_gpu_smoke.py")],
                               capture_output=True, text=True, timeout=120)
        assert plain.returncode == 0 and plain.stdout.strip() == "status=skipped reason=no-cuda-gpu"


@pytest.mark.e2e
def test_packed_training_runs(tiny_base: Path, train_data: Path, tmp_path: Path) -> None:
    result = run_finetune(_config(tiny_base, train_data, tmp_path / "out", packing=True, max_seq_len=512,
                                  max_steps=2, batch_size=2))
    assert result.steps == 2 and result.final_loss is not None and result.merged_dir is None


# --- loading the results ---------------------------------------------------------------------------


def _lm_eval(model_args: str, out: Path, home: Path) -> list[dict[str, Any]]:
    proc = run_cli(
        "lm_eval", "--model", "hf", "--model_args", model_args, "--tasks", "jp_bench_fresh_math",
        "--include_path", str(ROOT / "tasks"), "--limit", "2", "--gen_kwargs", "max_gen_toks=4",
        "--predict_only", "--log_samples", "--output_path", str(out),
        env={"JP_BENCH_HOME": str(home)}, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    samples = list(out.rglob("samples_jp_bench_fresh_math_*.jsonl"))
    assert len(samples) == 1, list(out.rglob("*"))
    return [json.loads(line) for line in samples[0].read_text(encoding="utf-8").splitlines()]


@pytest.mark.e2e
def test_lm_eval_loads_the_adapter(lora_run: dict[str, Any], tiny_base: Path, tmp_path: Path) -> None:
    adapter = lora_run["result"].adapter_dir
    samples = _lm_eval(f"pretrained={tiny_base},peft={adapter}", tmp_path / "eval", tmp_path / "home")
    assert len(samples) == 2


@pytest.mark.e2e
def test_merged_model_loads(lora_run: dict[str, Any], tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    merged = lora_run["result"].merged_dir
    model = AutoModelForCausalLM.from_pretrained(str(merged))
    assert not any("lora" in name for name, _ in model.named_parameters())
    assert _tokenizer(merged).chat_template == ALPACA_JA_CHAT_TEMPLATE
    samples = _lm_eval(f"pretrained={merged}", tmp_path / "eval", tmp_path / "home")
    assert len(samples) == 2


@pytest.mark.e2e
def test_cli_finetune_then_lm_eval_with_the_saved_template(tiny_base: Path, train_data: Path, tmp_path: Path) -> None:
    """`jp-bench finetune` as a user runs it, then lm-eval --apply_chat_template uses the training frame."""
    from tests.support.cli import run_cli

    out = tmp_path / "ft"
    result = run_cli("jp-bench", "finetune", "--base", str(tiny_base), "--data", str(train_data), "--method", "lora",
                     "--out", str(out), "--max-steps", "2", "--batch-size", "4", "--grad-accum", "1",
                     "--max-seq-len", "128", "--save-steps", "2", "--logging-steps", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "adapter:" in result.stdout and (out / "adapter").is_dir()
    bad = run_cli("jp-bench", "finetune", "--base", str(tiny_base), "--data", str(train_data), "--out",
                  str(tmp_path / "bad"), "--lr", "-1")
    assert bad.returncode == 1 and bad.stderr.startswith("jp-bench: error: finetune settings: field 'lr'")
    samples = run_cli(
        "jp-bench", "lm-eval", "--model", "hf", "--model_args",
        f"pretrained={tiny_base},peft={out / 'adapter'},tokenizer={out / 'adapter'}",
        "--tasks", "jp_bench_fresh_math", "--limit", "1", "--apply_chat_template", "--gen_kwargs", "max_gen_toks=4",
        "--predict_only", "--log_samples", "--output_path", str(tmp_path / "eval"),
        env={"JP_BENCH_HOME": str(tmp_path / "home")},
    )
    assert samples.returncode == 0, samples.stderr[-3000:]
    record = json.loads(next((tmp_path / "eval").rglob("samples_*.jsonl")).read_text(encoding="utf-8").splitlines()[0])
    assert "### 指示:" in record["arguments"]["gen_args_0"]["arg_0"]


@pytest.mark.e2e
def test_two_process_ddp_run_writes_one_log_and_one_adapter(tiny_base: Path, train_data: Path, tmp_path: Path) -> None:
    """`torchrun --nproc_per_node 2` (gloo on CPU): one training run over both processes, written once."""
    import os
    import subprocess
    import sys

    settings = _config(tiny_base, train_data, tmp_path / "ddp", max_steps=4, save_steps=2)
    settings_file = tmp_path / "settings.json"
    settings_file.write_text(settings.model_dump_json(), encoding="utf-8")
    torchrun = Path(sys.executable).parent / "torchrun"
    proc = subprocess.run(
        [str(torchrun), "--nproc_per_node", "2", "-m", "jp_bench", "finetune", "--config", str(settings_file)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "ACCELERATE_USE_CPU": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("steps: 4") == 1  # the summary comes from the main process only
    log = [json.loads(line) for line in (settings.output_dir / "train_log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == [1, 2, 3, 4]
    # Each optimizer step saw a batch per process: about twice the single-process epoch progress
    # (36 items, batch 4: 9 steps an epoch on one process, 5 on two).
    single = run_finetune(_config(tiny_base, train_data, tmp_path / "single", max_steps=1))
    single_epoch = json.loads((tmp_path / "single" / "train_log.jsonl").read_text().splitlines()[0])["epoch"]
    assert single.steps == 1 and log[0]["epoch"] == pytest.approx(9 / 5 * single_epoch)
    assert (settings.output_dir / "adapter" / "adapter_model.safetensors").is_file()
    assert json.loads((settings.output_dir / "DONE").read_text())["steps"] == 4
