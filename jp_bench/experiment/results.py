"""The experiment's comparison tables: every model against the baseline, and the instruction datasets
against each other on the same base model, with paired bootstrap confidence intervals.

``results.json`` layout::

    {"experiment", "benchmark", "judge", "prompt_set", "baseline",
     "vs_baseline":  [{"base", "dataset", "model", "n", "win", "tie", "loss", "inconsistent", "errors",
                       "adjusted_win_rate", "ci95", "by_category"}],
     "head_to_head": [{"base", "model_a", "model_b", "dataset_a", "dataset_b", "n", "a_wins", "tie",
                       "b_wins", "inconsistent", "errors", "a_adjusted_win_rate", "ci95", "by_category"}],
     "single":       [{"model", "n", "mean", "ci95", "errors"}],
     "runs":         [{"model", "base", "dataset", "steps", "final_loss"}],
     "diagnostics":  {"<comparison>": {"position_consistency", ...}}}

``dataset`` is null for an untuned base model. A head-to-head row reads from ``model_a``'s side.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from jp_bench._util.figures import interval_text, number
from jp_bench._util.text_table import render_table
from jp_bench.experiment.config import ExperimentConfig
from jp_bench.experiment.steps import Comparison, ModelPlan

_PAIR_KEYS = ("n", "inconsistent", "errors")


def _pair_entry(entry: dict[str, Any]) -> dict[str, Any]:
    return {key: entry[key] for key in (*_PAIR_KEYS, "win", "tie", "loss", "adjusted_win_rate", "ci95")}


def build_results(config: ExperimentConfig, plans: list[ModelPlan],
                  comparisons: list[Comparison]) -> dict[str, Any]:
    from jp_bench.reporting.sources import load_judgments
    from jp_bench.stats import judge_diagnostics, pairwise_summary, single_summary

    by_name = {p.name: p for p in plans}
    n_boot, seed = config.report.bootstrap, config.report.seed
    results: dict[str, Any] = {
        "experiment": config.name, "benchmark": config.benchmark, "judge": config.judge.name, "prompt_set": None,
        "baseline": config.baseline.name if config.baseline else None,
        "vs_baseline": [], "head_to_head": [], "single": [], "runs": [], "diagnostics": {},
    }
    for comparison in comparisons:
        judgments = load_judgments([config.output_dir / "judgments" / comparison.name])
        if judgments.prompt_sets and results["prompt_set"] is None:
            prompt_set, version = next(iter(judgments.prompt_sets.values()))
            results["prompt_set"] = f"{prompt_set}@{version}"
        if comparison.mode == "single":
            for entry in single_summary(judgments.single, n_boot=n_boot, seed=seed):
                results["single"].append({k: entry[k] for k in ("model", "n", "mean", "ci95", "errors")})
            continue
        frame = judgments.pairwise
        results["diagnostics"][comparison.name] = judge_diagnostics(frame)
        if comparison.mode == "pairwise":
            order = {name: i for i, name in enumerate(comparison.models)}
            entries = pairwise_summary(frame, baseline=comparison.baseline, n_boot=n_boot, seed=seed)
            for entry in sorted(entries, key=lambda e: order.get(e["model"], len(order))):
                plan = by_name[entry["model"]]
                results["vs_baseline"].append({
                    "base": plan.base.name if plan.base else None, "dataset": plan.dataset, "model": plan.name,
                    **_pair_entry(entry),
                    "by_category": {c: _pair_entry(e) for c, e in entry["by_category"].items()},
                })
            continue
        for model_a, model_b in combinations(comparison.models, 2):  # the config's dataset order
            rows = frame[frame["model_1"].isin([model_a, model_b]) & frame["model_2"].isin([model_a, model_b])]
            entries = pairwise_summary(rows.reset_index(drop=True), baseline=model_b, n_boot=n_boot, seed=seed)
            if not entries:
                continue
            entry = entries[0]
            plan_a, plan_b = by_name[model_a], by_name[model_b]
            results["head_to_head"].append({
                "base": comparison.base, "model_a": model_a, "model_b": model_b,
                "dataset_a": plan_a.dataset, "dataset_b": plan_b.dataset,
                **_head_to_head(entry),
                "by_category": {c: _head_to_head(e) for c, e in entry["by_category"].items()},
            })
    for plan in plans:
        if plan.kind == "finetuned" and plan.finetune_record is not None:
            results["runs"].append({"model": plan.name, "base": plan.base.name if plan.base else None,
                                    "dataset": plan.dataset, "steps": plan.finetune_record.get("steps"),
                                    "final_loss": plan.finetune_record.get("final_loss")})
    return results


def _head_to_head(entry: dict[str, Any]) -> dict[str, Any]:
    return {**{key: entry[key] for key in _PAIR_KEYS}, "a_wins": entry["win"], "tie": entry["tie"],
            "b_wins": entry["loss"], "a_adjusted_win_rate": entry["adjusted_win_rate"], "ci95": entry["ci95"]}


def _rate(value: float | None) -> str:
    return number(value, missing="–")


def _ci(ci: list[float | None] | None) -> str:
    return interval_text(ci, missing="–")


def _markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def tables(results: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, headers, rows) of each table, for Markdown and for the console."""
    found = []
    if results["vs_baseline"]:
        rows = [[r["base"] or "", r["dataset"] or "(no fine-tuning)", str(r["win"]), str(r["tie"]), str(r["loss"]),
                 _rate(r["adjusted_win_rate"]), _ci(r["ci95"]), str(r["n"]), str(r["errors"])]
                for r in results["vs_baseline"]]
        found.append((f"Against the baseline ({results['baseline']})",
                      ["base model", "data", "win", "tie", "loss", "adjusted win rate", "95% CI", "n", "errors"],
                      rows))
    if results["head_to_head"]:
        rows = [[r["base"] or "", r["dataset_a"] or r["model_a"], r["dataset_b"] or r["model_b"], str(r["a_wins"]),
                 str(r["tie"]), str(r["b_wins"]), _rate(r["a_adjusted_win_rate"]), _ci(r["ci95"]), str(r["n"])]
                for r in results["head_to_head"]]
        found.append(("Instruction data head to head (A against B)",
                      ["base model", "A", "B", "A wins", "tie", "B wins", "A's adjusted win rate", "95% CI", "n"],
                      rows))
    if results["single"]:
        rows = [[r["model"], _rate(r["mean"]), _ci(r["ci95"]), str(r["n"]), str(r["errors"])]
                for r in results["single"]]
        found.append(("Single scores (1-10)", ["model", "mean", "95% CI", "n", "errors"], rows))
    if results["runs"]:
        rows = [[r["model"], str(r["steps"]), _rate(r["final_loss"])] for r in results["runs"]]
        found.append(("Fine-tuning runs", ["model", "steps", "final loss"], rows))
    return found


def _header(results: dict[str, Any]) -> str:
    return (f"judge {results['judge']} (prompts {results['prompt_set']}), benchmark {results['benchmark']}; "
            "adjusted win rate = (win + tie/2) / n; position-swapped games that disagree count as ties; "
            "95% CI: paired bootstrap over questions")


def render_markdown(results: dict[str, Any]) -> str:
    parts = [f"# Experiment {results['experiment']}\n", _header(results) + "\n"]
    for title, headers, rows in tables(results):
        parts.append(f"## {title}\n")
        parts.append(_markdown_table(headers, rows))
    return "\n".join(parts)


def render_console(results: dict[str, Any]) -> str:
    parts = [_header(results)]
    for title, headers, rows in tables(results):
        numeric = [i for i, h in enumerate(headers) if h not in ("base model", "data", "A", "B", "model")]
        parts.append(f"\n{title}\n{render_table(headers, rows, align_right=numeric)}")
    return "\n".join(parts) + "\n"
