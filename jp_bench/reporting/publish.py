"""`jp-bench report --publish`: one result file per (benchmark, judge, model) under ``results/``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from jp_bench.errors import JpBenchError
from jp_bench.reporting.sources import Judgments

_SUMMARY_KEYS_DROPPED = ("judge", "model", "ci_level", "length_controlled_win_rate")


def _judge_info(judge: str, judgments: Judgments) -> dict[str, str]:
    """Name, model and prompt set of a judge, as the judgments recorded them (no YAML is re-read)."""
    if judge not in judgments.prompt_sets:  # judged elsewhere (FastChat files): all we know is its name
        return {"name": judge.replace("/", "--"), "model": judge, "prompt_set": "fastchat", "prompt_version": "unknown"}
    prompt_set, version = judgments.prompt_sets[judge]
    return {"name": judge.replace("/", "--"),
            "model": judgments.judge_models.get(judge, judge),
            "prompt_set": prompt_set or "unknown", "prompt_version": version or "unknown"}


def answers_source(sources: list[str]) -> str:
    """Where the answers came from, without local absolute paths: relative to here, else the name."""
    shown = []
    for source in sources:
        path = Path(source).expanduser()
        if not path.is_absolute():
            shown.append(str(path))
            continue
        try:
            shown.append(str(path.resolve().relative_to(Path.cwd().resolve())))
        except ValueError:
            shown.append(path.name)
    return ", ".join(shown)


def _summary(entry: dict[str, Any]) -> dict[str, Any]:
    summary = {k: v for k, v in entry.items() if k not in _SUMMARY_KEYS_DROPPED}
    lc = entry.get("length_controlled_win_rate")
    if lc is not None:
        summary["length_controlled_win_rate"] = lc
    return summary


def publish_report(report: dict[str, Any], judgments: Judgments, *, results_dir: Path,
                   benchmark: str | None, date: dt.date | None = None) -> list[Path]:
    """Write the report's figures as published results; returns the files written."""
    from pydantic import ValidationError

    from jp_bench.errors import describe_validation_error
    from jp_bench.reporting.leaderboard import write_result
    from jp_bench.reporting.results_schema import PublishedResult

    if not benchmark:
        raise JpBenchError("--publish needs --benchmark (the results are filed under it)")
    name = Path(benchmark).stem if Path(benchmark).suffix else benchmark
    by_model: dict[tuple[str, str], dict[str, Any]] = {}
    for kind in ("pairwise", "single"):
        for entry in report[kind]:
            record = by_model.setdefault((entry["judge"], str(entry["model"])), {"errors": 0})
            record[kind] = _summary(entry)
            record["errors"] += entry["errors"]
    results = []
    for (judge, model), figures in sorted(by_model.items()):
        cost = judgments.costs.get((judge, model))
        result = {
            "schema_version": 1,
            "benchmark": name,
            "model": model,
            "judge": _judge_info(judge, judgments),
            "answers": {"source": answers_source(judgments.sources), "generation": {}},
            "date": (date or dt.date.today()).isoformat(),
            "pairwise": figures.get("pairwise"),
            "single": figures.get("single"),
            "errors": figures["errors"],
            "cost_usd": cost,
        }
        try:
            results.append(PublishedResult.model_validate(result))
        except ValidationError as exc:  # checked before anything is written: all files or none
            raise JpBenchError(f"cannot publish {model} judged by {judge}: {describe_validation_error(exc)}") from None
    return [write_result(results_dir, result) for result in results]
