"""The judged metrics of one lm-eval document: ``judge_score`` (single) or win/tie/loss rates (pairwise),
with the counts of judgments missing or without a verdict, as lm-eval aggregates them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from jp_bench.stats.outcomes import OUTCOME_SCORES, combine_games


def total(items: list[float]) -> float:
    """lm-eval aggregation for counts (lm-eval registers no ``sum``): 0/1 per document, summed."""
    return float(sum(items))


# lm-eval metric definitions per mode: (name, aggregation, higher_is_better).
_COUNTS: list[tuple[str, Any, bool]] = [("judge_errors", total, False), ("judge_missing", total, False)]
METRICS: dict[str, list[tuple[str, Any, bool]]] = {
    "single": [("judge_score", "mean", True), *_COUNTS],
    "pairwise": [("win_rate", "mean", True), ("adjusted_win_rate", "mean", True), ("loss_rate", "mean", False),
                 ("inconsistent_rate", "mean", False), *_COUNTS],
}
ANSWER_METRIC = {"metric": "answer_chars", "aggregation": "mean", "higher_is_better": True}


def mean_metrics(mode: str) -> tuple[str, ...]:
    """The names of ``mode``'s metrics that lm-eval averages (groups average them over subtasks too)."""
    return tuple(name for name, aggregation, _ in METRICS[mode] if aggregation == "mean")


# What a group averages over its subtasks, weighted by size: the answer length and every mean metric.
GROUP_METRICS = [ANSWER_METRIC["metric"], *(name for mode in METRICS for name in mean_metrics(mode))]


@dataclass
class DocJudgment:
    """What one document's judgment contributes: metrics for lm-eval and the record for its sample."""

    metrics: dict[str, float]
    record: dict[str, Any]


def single_judgment(rows: list[dict[str, Any]], complete: bool) -> DocJudgment:
    if not rows:
        return DocJudgment({"judge_score": math.nan, "judge_errors": 0.0, "judge_missing": 1.0},
                           {"mode": "single", "status": "missing", "rows": []})
    row = rows[0]
    metrics = {"judge_errors": float(row["status"] != "ok"), "judge_missing": 0.0}
    if row["status"] == "ok":
        metrics["judge_score"] = float(row["score"])
    if not complete:
        metrics["judge_score"] = math.nan
    return DocJudgment(metrics, {"mode": "single", "status": row["status"], "score": row["score"],
                                 "scale": row.get("scale") or [1, 10], "key": row["key"], "reply": row["reply"],
                                 "rows": rows})


# A document's pairwise rates: win_rate and loss_rate count the outcome, adjusted_win_rate is its worth.
_RATES = {outcome: (float(outcome == "win"), score, float(outcome == "loss"))
          for outcome, score in OUTCOME_SCORES.items()}


def pairwise_judgment(rows: list[dict[str, Any]], complete: bool) -> DocJudgment:
    games = {row["game"]: row for row in rows}
    names = mean_metrics("pairwise")
    if set(games) != {1, 2}:
        metrics = dict.fromkeys(names, math.nan) | {"judge_errors": 0.0, "judge_missing": 1.0}
        return DocJudgment(metrics, {"mode": "pairwise", "status": "missing", "rows": rows})
    combined = combine_games(games[1]["winner"], games[2]["winner"])
    metrics = {"judge_errors": float(combined.outcome == "error"), "judge_missing": 0.0}
    if combined.outcome != "error":
        win, adjusted, loss = _RATES[combined.outcome]
        metrics |= {"win_rate": win, "adjusted_win_rate": adjusted, "loss_rate": loss,
                    "inconsistent_rate": float(combined.inconsistent)}
    if not complete:
        metrics |= dict.fromkeys(names, math.nan)
    record = {"mode": "pairwise", "status": "ok" if combined.outcome != "error" else "error",
              "outcome": combined.outcome, "inconsistent": combined.inconsistent,
              "baseline": games[1]["model_2"],
              "games": [{"game": g, "verdict": games[g]["verdict"], "winner": games[g]["winner"],
                         "key": games[g]["key"], "reply": games[g]["reply"]} for g in (1, 2)],
              "rows": [games[1], games[2]]}
    return DocJudgment(metrics, record)
