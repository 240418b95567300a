"""Japanese self-instruct generation: new tasks from a strong model, seeds as demonstrations.

Each request ``i`` samples its demonstrations with a generator seeded by ``(seed, i)`` and asks for
a batch of tasks. Replies are processed in request order and filtered against the growing pool of
accepted instructions, so the result is a pure function of the stored replies: a re-run (after a
crash or Ctrl-C, or with a larger ``--num``) replays every finished request from the store for
free and continues where it stopped, and nothing is paid for twice.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from jp_bench._util.yaml_lines import load_yaml_text
from jp_bench.errors import JpBenchError, read_input_text
from jp_bench.llm.engine import CallEngine, CallJob
from jp_bench.llm.store import Store, call_key
from jp_bench.llm.types import Message, ModelSpec

DEFAULT_PROMPT = "generate-ja-v1"


@dataclass(frozen=True)
class GenerationPrompt:
    name: str
    version: str
    system: str
    user: str

    def render(self, demonstrations: Sequence[dict[str, str]], num_tasks: int) -> list[Message]:
        from jp_bench.judging.prompts import render_template  # one sandboxed jinja2 environment for all prompts

        variables = {"demonstrations": list(demonstrations), "num_tasks": num_tasks}
        system = render_template(self.system, **variables).strip()
        user = render_template(self.user, **variables).strip()
        return [Message("system", system), Message("user", user)] if system else [Message("user", user)]


def load_generation_prompt(name_or_path: str = DEFAULT_PROMPT) -> GenerationPrompt:
    path = Path(name_or_path).expanduser()
    if path.is_file():
        text = read_input_text(path)
    else:
        resource = resources.files("jp_bench.selfinstruct").joinpath("prompts", f"{name_or_path}.yaml")
        if not resource.is_file():
            raise JpBenchError(f"unknown generation prompt {name_or_path!r} (shipped: {DEFAULT_PROMPT}; or a file)")
        text = resource.read_text(encoding="utf-8")
    data = load_yaml_text(path, text)
    if not isinstance(data, dict) or not isinstance(data.get("user"), str):
        raise JpBenchError(f"{name_or_path}: a generation prompt needs 'name' and a 'user' template")
    version = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return GenerationPrompt(str(data.get("name", path.stem)), version, data.get("system") or "", data["user"])


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)


def parse_tasks(reply: str) -> list[dict[str, Any]] | None:
    """The tasks in a reply: a JSON array, or an object with a ``tasks`` array (code fences and prose
    around it tolerated); None when there is none."""
    text = _FENCE.sub("", reply.strip())
    candidates = [text]
    start, end = text.find("["), text.rfind("]")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and isinstance(data.get("tasks"), list):
            data = data["tasks"]
        if isinstance(data, list):
            return [item for item in data if isinstance(item, dict)]
    return None


@dataclass
class GenerationConfig:
    num: int
    tasks_per_request: int = 10
    demonstrations: int = 3  # from the seeds
    seed: int = 0
    concurrency: int = 8
    max_requests: int | None = None  # safety stop; default: 5 x the requests needed at full acceptance
    max_cost_usd: float | None = None
    batch: Any = None  # jp_bench.llm.batch.BatchSettings: requests go through the vendor's Batch API


@dataclass
class GenerationReport:
    accepted: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    drop_counts: Counter = field(default_factory=Counter)
    requests: int = 0
    calls_made: int = 0
    reused: int = 0
    spent_usd: float = 0.0
    stopped: str = ""  # why the run ended before reaching num, if it did


def _seed_demonstrations(seeds: Sequence[Any]) -> list[dict[str, str]]:
    demos = []
    for seed in seeds:
        instance = seed.instances[0]
        demos.append({"id": seed.id, "instruction": seed.instruction, "input": instance.input,
                      "output": instance.output})
    return demos


class Generator:
    """Runs requests through the store and the shared client layer; filters replies in order."""

    def __init__(self, spec: ModelSpec, store: Store, prompt: GenerationPrompt, config: GenerationConfig,
                 seeds: Sequence[Any], filter_config: Any, client: Any = None,
                 on_progress: Callable[[GenerationReport], None] | None = None) -> None:
        from jp_bench.selfinstruct.dedup import NearDuplicateIndex

        if not seeds:
            raise JpBenchError("no seed tasks to use as demonstrations")
        self.spec, self.store, self.prompt, self.config = spec, store, prompt, config
        self.demos = _seed_demonstrations(seeds)
        self.filter_config = filter_config
        # The pool starts with the seeds (a copy of a demonstration is no new task) and grows with
        # every accepted instruction.
        self.index = NearDuplicateIndex(filter_config.tokenizer, filter_config.rouge_threshold)
        self.index.extend(d["instruction"] for d in self.demos)
        self.client = client
        self.on_progress = on_progress
        self.purpose = f"generate:{spec.model}"
        self.last_unreachable: str | None = None

    def request_messages(self, index: int) -> tuple[list[Message], list[str]]:
        """Request ``index``'s prompt: demonstrations drawn from the seeds by a seed of its own, so a
        re-run asks exactly the same (and finds it in the store)."""
        rng = random.Random(f"{self.config.seed}:{index}")
        chosen = rng.sample(self.demos, min(self.config.demonstrations, len(self.demos)))
        return self.prompt.render(chosen, self.config.tasks_per_request), [str(d.get("id")) for d in chosen]

    async def run(self) -> GenerationReport:
        report = GenerationReport()
        limit = self.config.max_requests or 5 * -(-self.config.num // self.config.tasks_per_request)
        index = 0
        while len(report.accepted) < self.config.num:
            if index >= limit:
                report.stopped = f"stopped after {limit} requests (raise --max-requests to continue)"
                break
            if self.config.max_cost_usd is not None and report.spent_usd >= self.config.max_cost_usd:
                report.stopped = "stopped at the --max-cost limit"
                break
            # A window's prompts are known up front, so its requests run concurrently; through a Batch API
            # the window is every request still expected to be needed (a quarter more for drops).
            window = self.config.concurrency
            if self.config.batch is not None:
                missing = self.config.num - len(report.accepted)
                window = max(window, -(-missing * 5 // (4 * self.config.tasks_per_request)))
            batch = range(index, min(index + window, limit))
            planned = {i: self.request_messages(i) for i in batch}
            replies = await self._resolve(planned, report)
            for i in batch:
                if i not in replies:
                    # Replies are filtered in request order, so the run stops at the first request
                    # without one (budget, or no reply at all); the next run continues from there.
                    report.stopped = report.stopped or (
                        f"request {i} got no reply ({self.last_unreachable}); run again to continue")
                    break
                self._accept(i, replies[i], planned[i][1], report)
                index = i + 1
                if len(report.accepted) >= self.config.num:
                    break
            report.requests = index
            if report.stopped:
                break
            if self.on_progress:
                self.on_progress(report)
        return report

    async def _resolve(self, planned: dict[int, tuple[list[Message], list[str]]],
                       report: GenerationReport) -> dict[int, str | None]:
        """The replies to a window of requests, through the one call engine (store, claims, budget)."""
        jobs = {i: CallJob(call_key(self.spec, messages), tuple(messages), i) for i, (messages, _) in planned.items()}
        remaining = None if self.config.max_cost_usd is None else self.config.max_cost_usd - report.spent_usd
        engine = CallEngine(spec=self.spec, store=self.store, purpose=self.purpose,
                            prompt_version=self.prompt.version, client=self.client, max_cost_usd=remaining,
                            expected_output_tokens=self.spec.max_tokens // 2, refused_what="the generator",
                            batch=self.config.batch)
        result = await engine.run(list(jobs.values()))
        report.reused += result.reused
        report.calls_made += result.called
        report.spent_usd += result.spent_usd
        if result.stopped_at_cost_limit:
            report.stopped = "stopped at the --max-cost limit"
        self.last_unreachable = result.last_unreachable
        # A request the server refused (HTTP 400) has no tasks: None, counted as a "failed_request".
        # One never answered (or not sent: budget) is absent, and the run stops there.
        return {i: call.reply if call.ok else None
                for i, job in jobs.items() if (call := result.results.get(job.key)) is not None}

    def _accept(self, index: int, reply: str | None, demo_ids: list[str], report: GenerationReport) -> None:
        provenance = {"generator": self.spec.model, "prompt": self.prompt.name,
                      "prompt_version": self.prompt.version, "request": index, "demonstrations": demo_ids}
        items = parse_tasks(reply) if reply is not None else None
        if items is None:
            report.drop_counts["unparseable_reply" if reply is not None else "failed_request"] += 1
            return
        from jp_bench.selfinstruct.filters import filter_items

        outcome = filter_items([{**item, "provenance": provenance} for item in items], self.filter_config,
                               pool=self.index)
        report.accepted.extend(outcome.accepted[: self.config.num - len(report.accepted)])
        report.dropped.extend({"item": d.item, "reason": d.reason, "detail": d.detail} for d in outcome.dropped)
        report.drop_counts.update({reason: count for reason, count in outcome.counts.items() if count})
