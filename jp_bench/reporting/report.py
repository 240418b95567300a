"""`jp-bench report`: summaries with confidence intervals, rankings and judge diagnostics.

The JSON form is one object::

    {"pairwise": [{"judge", "model", "baseline", "n", "win", "loss", "tie", "inconsistent", "errors",
                   "win_rate", "loss_rate", "tie_rate", "adjusted_win_rate", "ci95", "stderr",
                   "length_controlled_win_rate", "by_category"}],
     "single": [{"judge", "model", "n", "mean", "ci95", "stderr", "errors", "by_category"}],
     "rankings": [{"judge", "models": [{"model", "rating", "ci95", "rank"}], "first_position", "separability"}],
     "diagnostics": {"<judge>": {"position_consistency", "first_slot_preference", "length_effect", ...}}}
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from jp_bench.reporting.sources import Judgments


def infer_baseline(frame: pd.DataFrame) -> str | None:
    """The model every comparison involves: our pairwise mode puts the baseline second in every pair.

    One pair: its second model. Several pairs: the model present in all of them (None if there is
    none or more than one, e.g. a pairwise-all run).
    """
    pairs = frame[["model_1", "model_2"]].drop_duplicates()
    if pairs.empty:
        return None
    if len(pairs) == 1:
        return str(pairs.iloc[0]["model_2"])
    common = set(pairs["model_1"]) | set(pairs["model_2"])
    for _, row in pairs.iterrows():
        common &= {row["model_1"], row["model_2"]}
    return str(next(iter(common))) if len(common) == 1 else None


def build_report(judgments: Judgments, *, baseline: str | None = None, n_boot: int = 1000, seed: int = 0,
                 ci: float = 0.95) -> dict[str, Any]:
    from jp_bench.stats import (
        bradley_terry_bootstrap,
        judge_diagnostics,
        length_controlled_win_rate,
        pairwise_summary,
        single_summary,
    )

    report: dict[str, Any] = {"pairwise": [], "single": [], "rankings": [], "diagnostics": {}}
    for judge, frame in judgments.pairwise.groupby("judge", sort=True):
        frame = frame.reset_index(drop=True)
        models = set(frame["model_1"]) | set(frame["model_2"])
        judge_baseline = baseline if baseline in models else infer_baseline(frame)
        lengths_known = frame[["len_1", "len_2"]].notna().all(axis=1).any()
        controlled = {}
        if judge_baseline is not None and lengths_known:
            controlled = {e["model"]: e["lc_win_rate"] for e in length_controlled_win_rate(frame, judge_baseline)}
        for entry in pairwise_summary(frame, baseline=judge_baseline, n_boot=n_boot, seed=seed, ci=ci):
            report["pairwise"].append({"judge": judge, **entry,
                                       "length_controlled_win_rate": controlled.get(entry["model"])})
        report["diagnostics"][judge] = judge_diagnostics(frame)
        if len(models) >= 3:
            ranking = bradley_terry_bootstrap(frame, seed=seed, ci=ci)
            report["rankings"].append({"judge": judge, **ranking})
    for judge, frame in judgments.single.groupby("judge", sort=True):
        for entry in single_summary(frame.reset_index(drop=True), n_boot=n_boot, seed=seed, ci=ci):
            report["single"].append({"judge": judge, **entry})
    return report

