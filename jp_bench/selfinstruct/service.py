"""`jp-bench selfinstruct generate` as a library call."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jp_bench import paths
from jp_bench.llm.store import Store
from jp_bench.selfinstruct.generate import (
    GenerationConfig,
    GenerationReport,
    Generator,
    load_generation_prompt,
)


def tasks_schema(tasks: int) -> dict:
    """A JSON schema for a reply of ``tasks`` tasks. A tiny local model cannot be trusted to write JSON;
    llama.cpp turns this schema into a grammar, and the length bounds keep a reply within its tokens."""
    text = {"type": "string", "minLength": 10, "maxLength": 80}
    return {
        "type": "object",
        "properties": {"tasks": {"type": "array", "minItems": 1, "maxItems": tasks, "items": {
            "type": "object",
            "properties": {"instruction": text, "input": {"type": "string", "maxLength": 60}, "output": text},
            "required": ["instruction", "input", "output"]}}},
        "required": ["tasks"],
    }


@dataclass
class GenerateRequest:
    generator: str
    num: int
    out: Path
    seeds: str | None = None  # a Japanese seed file (JSONL); None: the shipped seed set
    prompt: str | None = None
    workspace: Path | None = None
    concurrency: int = 8
    tasks_per_request: int = 10
    demonstrations: int = 3
    seed: int = 0
    max_cost_usd: float | None = None
    max_requests: int | None = None
    max_tokens: int | None = None
    generator_model: str | None = None
    base_url: str | None = None
    judges_dirs: tuple[str, ...] = ()
    tokenizer: str = "char"
    rouge_threshold: float = 0.7
    batch: Any = None  # jp_bench.llm.batch.BatchSettings


@dataclass
class GenerateOutcome:
    report: GenerationReport
    written: list[Path]


def run_generation(request: GenerateRequest, *, on_progress: Callable[[GenerationReport], None] | None = None,
                   client_factory: Callable | None = None) -> GenerateOutcome:
    from jp_bench.judging.judges import load_judge
    from jp_bench.selfinstruct.export import write_dataset
    from jp_bench.selfinstruct.filters import FilterConfig
    from jp_bench.selfinstruct.seeds import load_default_seeds, read_seed_set

    config = load_judge(request.generator, list(request.judges_dirs))
    if request.batch is not None:
        config.check_batch()
    spec = config.model_spec(model=request.generator_model, base_url=request.base_url)
    embedded = config.provider == "embedded"
    spec = dataclasses.replace(
        spec, max_tokens=request.max_tokens or (768 if embedded else 4096),
        params={**spec.params, **({"response_format": {"type": "json_object",
                                                        "schema": tasks_schema(request.tasks_per_request)}}
                                  if embedded else {})})
    seeds = read_seed_set(request.seeds) if request.seeds else load_default_seeds()
    prompt = load_generation_prompt(request.prompt or "generate-ja-v1")
    filter_config = FilterConfig(rouge_threshold=request.rouge_threshold, tokenizer=request.tokenizer)
    generation = GenerationConfig(num=request.num, tasks_per_request=request.tasks_per_request,
                                  demonstrations=request.demonstrations, seed=request.seed,
                                  concurrency=request.concurrency, max_requests=request.max_requests,
                                  max_cost_usd=request.max_cost_usd, batch=request.batch)
    store_path = request.workspace or paths.default_store_path()
    with Store(store_path) as store:
        generator = Generator(spec, store, prompt, generation, seeds, filter_config, on_progress=on_progress)
        report = asyncio.run(_run(generator, spec, request.concurrency, client_factory))
    info = {"generator": spec.model, "prompt": prompt.name, "prompt_version": prompt.version,
            "seeds": request.seeds or "jp-bench's shipped Japanese seed set",
            "filters": dataclasses.asdict(filter_config) if dataclasses.is_dataclass(filter_config)
            else filter_config.model_dump()}
    written = write_dataset(report.accepted, Path(request.out), drop_counts=dict(report.drop_counts), info=info)
    return GenerateOutcome(report=report, written=written)


async def _run(generator: Generator, spec, concurrency: int, client_factory: Callable | None) -> GenerationReport:
    if client_factory is not None:
        generator.client = client_factory(spec, concurrency)
    else:
        from jp_bench.llm import LLMClient

        generator.client = LLMClient(spec, concurrency=concurrency)
    try:
        return await generator.run()
    finally:
        await generator.client.aclose()
