"""`jp-bench experiment CONFIG.yaml`: data variants × base models → fine-tune → answer → judge → table.

The layout of the output folder::

    OUT/
      runs/<base>+<data>/          one fine-tuning run each (see docs/finetune.md)
      settings/                    the settings file each run was launched with
      answers/<model>/             lm-eval output + generation.json (what produced it)
      judgments/<comparison>/      judgments.jsonl + FastChat model_judgment/ files
      store.sqlite                 every judge call (a re-run pays only for missing ones)
      results.json, results.md     the comparison tables

Every step is skipped when its result is there and was made with the current settings.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jp_bench._util.atomic import write_text_atomic
from jp_bench.errors import JpBenchError
from jp_bench.experiment.config import ExperimentConfig, variant_name
from jp_bench.experiment.steps import (
    Comparison,
    ModelPlan,
    answers_done,
    finetune_done,
    generation_argv,
    run_finetune_step,
    run_generation_step,
)

Log = Callable[[str], None]
ProgressFactory = Callable[[], tuple[Callable[[Any, int], None], Callable[[], None]]]


@dataclass
class StepStatus:
    step: str
    target: str
    state: str  # "done" (found), "ran", "to do"


@dataclass
class ExperimentOutcome:
    config: ExperimentConfig
    steps: list[StepStatus] = field(default_factory=list)
    results: dict[str, Any] | None = None
    written: list[Path] = field(default_factory=list)


def model_plans(config: ExperimentConfig) -> list[ModelPlan]:
    """Every model of the experiment: fine-tuned variants (base-major), untuned bases, the baseline."""
    answers = config.output_dir / "answers"
    plans = []
    for base in config.bases:
        for dataset in config.datasets:
            name = variant_name(base.name, dataset.name)
            plans.append(ModelPlan(name=name, kind="finetuned", answers_dir=answers / name, base=base,
                                   dataset=dataset.name, finetune=config.finetune_config(base, dataset),
                                   generation=config.generation_for(base)))
        if config.include_untuned:
            plans.append(ModelPlan(name=base.name, kind="untuned", answers_dir=answers / base.name, base=base,
                                   generation=config.generation_for(base)))
    if config.baseline is not None:
        source = config.baseline
        where = source.answers if source.answers is not None else answers / source.name
        plans.append(ModelPlan(name=source.name, kind="baseline", answers_dir=where, source=source))
    return plans


def comparisons(config: ExperimentConfig, plans: list[ModelPlan]) -> list[Comparison]:
    """Every model against the baseline; fine-tuned variants against each other; optional 1-10 scores."""
    tuned = [p for p in plans if p.kind == "finetuned"]
    found: list[Comparison] = []
    if config.baseline is not None:
        judged = tuple(p.name for p in plans if p.kind != "baseline")
        found.append(Comparison(f"vs-{config.baseline.name}", "pairwise", (*judged, config.baseline.name),
                                baseline=config.baseline.name))
    if config.compare == "same-base":
        for base in config.bases:
            group = tuple(p.name for p in tuned if p.base is base)
            if len(group) >= 2:
                found.append(Comparison(f"head-to-head-{base.name}", "pairwise-all", group, base=base.name))
    elif config.compare == "all" and len(tuned) >= 2:
        found.append(Comparison("head-to-head", "pairwise-all", tuple(p.name for p in tuned)))
    if config.single:
        found.append(Comparison("single", "single", tuple(p.name for p in plans)))
    return found


class ExperimentRunner:
    def __init__(self, config: ExperimentConfig, *, log: Log = print, progress: ProgressFactory | None = None,
                 dry_run: bool = False) -> None:
        self.config = config
        self.log = log
        self.progress = progress
        self.dry_run = dry_run
        self.plans = model_plans(config)
        self.comparisons = comparisons(config, self.plans)
        self.outcome = ExperimentOutcome(config)
        self.answers_to_do: set[str] = set()  # dry run: models whose answers are still to be made

    # ------------------------------------------------------------------------------------- run
    def run(self) -> ExperimentOutcome:
        out = self.config.output_dir
        missing = [f"{d.name}: {d.path}" for d in self.config.datasets if not d.path.exists()]
        if missing:  # a dry run says what the real run would say
            raise JpBenchError(f"dataset not found ({'; '.join(missing)}); paths are relative to the experiment file")
        if not self.dry_run:
            out.mkdir(parents=True, exist_ok=True)
            write_text_atomic(out / "experiment.json", self.config.model_dump_json(indent=2) + "\n")
        for plan in self.plans:
            self._finetune(plan)
            self._answer(plan)
        judged = {c.name: self._judge(c) for c in self.comparisons}
        if self.dry_run or not all(judged.values()):
            return self.outcome
        from jp_bench.experiment.results import build_results, render_markdown

        results = build_results(self.config, self.plans, self.comparisons)
        self.outcome.results = results
        write_text_atomic(out / "results.json", json.dumps(results, indent=2, ensure_ascii=False) + "\n")
        write_text_atomic(out / "results.md", render_markdown(results))
        self.outcome.written += [out / "results.json", out / "results.md"]
        return self.outcome

    def _status(self, step: str, target: str, state: str) -> None:
        self.outcome.steps.append(StepStatus(step, target, state))
        if state != "ran":
            self.log(f"{step:<9} {target}: {state}")

    def _finetune(self, plan: ModelPlan) -> None:
        if plan.finetune is None:
            return
        done = finetune_done(plan.finetune)
        if done is not None:
            plan.finetune_record = done
            self._status("finetune", plan.name, "done")
        elif self.dry_run:
            self._status("finetune", plan.name, "to do")
        else:
            plan.finetune_record = run_finetune_step(plan.finetune, self.config.launcher_argv,
                                                     self.config.output_dir / "settings", self.log)
            self._status("finetune", plan.name, "ran")

    def _answer(self, plan: ModelPlan) -> None:
        if plan.kind == "baseline" and plan.source is not None and plan.source.answers is not None:
            if not plan.answers_dir.exists():
                raise JpBenchError(f"baseline answers {plan.answers_dir}: no such file or folder")
            self._status("answers", plan.name, "given")
            return
        argv = generation_argv(plan, self.config.benchmark, self.config.generation)
        if self.dry_run:
            ready = plan.finetune is None or plan.finetune_record is not None
            record = {"lm_eval_args": argv, "finetune": plan.finetune_record}
            if not (ready and answers_done(plan, record)):
                self.answers_to_do.add(plan.name)
            self._status("answers", plan.name, "to do" if plan.name in self.answers_to_do else "done")
            return
        ran = run_generation_step(plan, argv, self.log)
        self._status("answers", plan.name, "ran" if ran else "done")

    def _judge(self, comparison: Comparison) -> bool:
        """Judge one comparison (free for stored calls); True when every judgment is in."""
        from jp_bench.judging.service import JudgeRequest, run_judging

        judge = self.config.judge
        by_name = {p.name: p for p in self.plans}
        if self.dry_run and self.answers_to_do.intersection(comparison.models):
            self._status("judge", comparison.name, "to do (after the answers)")
            return False
        request = JudgeRequest(
            answers=[by_name[m].answer_source for m in comparison.models], judge=judge.name, mode=comparison.mode,
            baseline=comparison.baseline, out=self.config.output_dir / "judgments" / comparison.name,
            benchmark=self.config.benchmark, prompts=judge.prompts, judges_dirs=[str(d) for d in judge.judges_dir],
            workspace=self.config.output_dir / "store.sqlite", concurrency=judge.concurrency,
            max_cost_usd=judge.max_cost_usd, dry_run=self.dry_run, judge_model=judge.model, base_url=judge.base_url,
        )
        if self.dry_run:
            outcome = run_judging(request)
            estimate = outcome.estimate
            state = "done" if estimate.calls == 0 else f"to do: {estimate.calls} calls, ~${estimate.cost_usd:.2f}"
            self._status("judge", comparison.name, state)
            return False
        update, close = self.progress() if self.progress else (None, lambda: None)
        self.log(f"judging {comparison.name} ({comparison.mode}, {len(comparison.models)} models)")
        try:
            outcome = run_judging(request, on_progress=update)
        finally:
            close()
        report = outcome.report
        called = report.called if report is not None else 0
        self._status("judge", comparison.name, "ran" if called else "done")
        if not outcome.complete:
            errors = report.errors if report is not None else 0
            self.log(f"judging {comparison.name} is incomplete ({errors} errors); "
                     "run again (errors are retried with --retry-errors in `jp-bench judge`)")
        return outcome.complete


def run_experiment(config: ExperimentConfig, *, log: Log = print, progress: ProgressFactory | None = None,
                   dry_run: bool = False) -> ExperimentOutcome:
    return ExperimentRunner(config, log=log, progress=progress, dry_run=dry_run).run()
