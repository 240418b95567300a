"""`jp-bench report`: summaries with confidence intervals, rankings and judge diagnostics.

The JSON form is one object::

    {"pairwise": [{"judge", "model", "baseline", "n", "win", "loss", "tie", "inconsistent", "errors",
                   "win_rate", "loss_rate", "tie_rate", "adjusted_win_rate", "ci95", "stderr",
                   "length_controlled_win_rate", "by_category", "by_turn"}],
     "single": [{"judge", "model", "n", "mean", "ci95", "stderr", "errors", "duplicates", "scale",
                 "by_category", "by_turn"}],
     "rankings": [{"judge", "models": [{"model", "rating", "ci95", "rank"}], "first_position", "separability"}],
     "diagnostics": {"<judge>": {"position_consistency", "first_slot_preference", "length_effect", ...}},
     "notes": ["<judge>: ...", ...],
     "juries": [{"jury", "members", "pairs": [{"judge_1", "judge_2", "kappa", "kappa_without_ties", ...}],
                 "self_preference": [...]}]}

Entries of weighted judges add ``weighted_win_rate`` / ``weighted_mean`` and ``weighted_ci95``; with
judge samples they add ``samples``, ``judge_sd`` and ``judge_share`` and their interval is the
two-level one (see :mod:`jp_bench.reporting.judge_noise`). A pooled jury is one more judge.

Single entries are listed per judge best first, as FastChat's ``show_result`` prints them: by mean
descending, ties by model name. Their means count every scored row, both turns and any duplicate
row, like FastChat; ``scale`` is the score range the judgments state (``[1, 10]``; None: not
stated); ``notes`` say what was excluded (no score) or counted twice (duplicates). Pairwise entries
count every turn's item and any repeated FastChat row, as FastChat's ``show_result`` counts them;
``by_turn`` holds each turn's figures.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from jp_bench.answer_text.japanese import JAPANESE_THRESHOLD
from jp_bench.reporting.answer_checks import answer_check_notes, answer_checks
from jp_bench.reporting.sources import Judgments, item_keys
from jp_bench.stats.common import CLUSTER_COLUMN, to_plain
from jp_bench.stats.tables import REPEAT_COLUMN


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
                 ci: float = 0.95, japanese_threshold: float = JAPANESE_THRESHOLD) -> dict[str, Any]:
    from jp_bench.reporting import judge_noise
    from jp_bench.stats import (
        bradley_terry_bootstrap,
        judge_diagnostics,
        length_controlled_win_rate,
        pairwise_summary,
        single_summary,
        style_controlled_ratings,
    )

    report: dict[str, Any] = {"pairwise": [], "single": [], "rankings": [], "diagnostics": {}, "notes": []}
    pooled_pairs, pooled_single = judge_noise.pooled_frames(judgments.pairwise, judgments.single)
    pairwise_frames = pd.concat([judgments.pairwise, pooled_pairs], ignore_index=True) if len(pooled_pairs) \
        else judgments.pairwise
    single_frames = pd.concat([judgments.single, pooled_single], ignore_index=True) if len(pooled_single) \
        else judgments.single
    for judge, noisy in pairwise_frames.groupby("judge", sort=True):
        noisy = noisy.reset_index(drop=True)
        report["notes"] += _pairwise_notes(judge, noisy)
        # Several judge samples: every (question, sample) counted; intervals from the two-level bootstrap.
        frame = judge_noise.fold_samples(noisy)
        models = set(frame["model_1"]) | set(frame["model_2"])
        judge_baseline = baseline if baseline in models else infer_baseline(frame)
        lengths_known = frame[["len_1", "len_2"]].notna().all(axis=1).any()
        controlled = {}
        if judge_baseline is not None and lengths_known:
            controlled = {e["model"]: e["lc_win_rate"] for e in length_controlled_win_rate(frame, judge_baseline)}
        style = style_controlled_ratings(frame, baseline=judge_baseline, seed=seed, ci=ci)
        styled = {e["model"]: e for e in (style or {}).get("win_rates") or []}
        judge_entries = []
        for entry in pairwise_summary(frame, baseline=judge_baseline, n_boot=n_boot, seed=seed, ci=ci):
            entry.update(judge_noise.pairwise_additions(noisy, entry, n_boot, seed, ci))
            judge_entries.append({"judge": judge, **entry,
                                  "length_controlled_win_rate": controlled.get(entry["model"]),
                                  "style_controlled": _style_win_rate(styled.get(entry["model"])),
                                  **answer_checks(frame, entry["model"], japanese_threshold)})
        report["pairwise"] += judge_entries
        report["notes"] += answer_check_notes(judge, judge_entries, japanese_threshold)
        report["diagnostics"][judge] = judge_diagnostics(frame)
        if style is not None:  # how much each style feature moved this judge's verdicts
            report["diagnostics"][judge]["style"] = _style_diagnostics(style)
        if len(models) >= 3:
            ranking = bradley_terry_bootstrap(frame, seed=seed, ci=ci)
            if style is not None:
                ranking["style_controlled"] = {key: style[key] for key in STYLE_RANKING_KEYS}
            report["rankings"].append({"judge": judge, **ranking})
    for judge, frame in single_frames.groupby("judge", sort=True):
        frame = frame.reset_index(drop=True)
        scale = judgments.scales.get(judge) or _member_scale(judgments, frame)
        one_judgment = ["question_id", "model", "turn"] + (["sample"] if judge_noise.sample_count(frame) > 1 else [])
        duplicated = frame.duplicated(one_judgment, keep="first")
        report["notes"] += _single_notes(judge, frame, duplicated)
        extra_rows = frame.loc[duplicated, "model"].value_counts()
        entries = single_summary(frame, n_boot=n_boot, seed=seed, ci=ci, allow_duplicates=True)
        judge_entries = []
        for entry in sorted(entries, key=fastchat_order):
            entry.update(judge_noise.single_additions(frame, entry, n_boot, seed, ci))
            judge_entries.append({"judge": judge, **entry, "duplicates": int(extra_rows.get(entry["model"], 0)),
                                  "scale": None if scale is None else scale.as_list(),
                                  **answer_checks(frame, entry["model"], japanese_threshold)})
        report["single"] += judge_entries
        report["notes"] += answer_check_notes(judge, judge_entries, japanese_threshold)
    juries = judge_noise.jury_agreement(judgments.pairwise, judgments.single, judgments.judge_models)
    if juries:
        report["juries"] = juries
    return report


# The style-controlled figures a ranking carries beside its raw ratings (the win rates go to the pairwise
# entries, the coefficients to the judge's diagnostics).
STYLE_RANKING_KEYS = ("models", "separability", "position_bias", "features", "n_games", "n_games_left_out")


def _style_win_rate(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    """A pairwise entry's ``style_controlled``: the predicted win rate at equal style and its interval."""
    if entry is None:
        return None
    return {"win_rate": entry["win_rate"], "ci95": entry["ci95"]}


def _style_diagnostics(style: dict[str, Any]) -> dict[str, Any]:
    """Per style feature, how much it moved the verdicts (see :mod:`jp_bench.stats.style_control`)."""
    return {"coefficients": style["coefficients"], "n_games": style["n_games"],
            "n_games_left_out": style["n_games_left_out"]}


def _member_scale(judgments: Judgments, frame: pd.DataFrame) -> Any:
    """A pooled jury's scale: its members' (they judge on one scale, or the pooled mean means nothing)."""
    if "jury" not in frame.columns or frame["jury"].isna().all():
        return None
    members = judgments.single[judgments.single["jury"] == frame["jury"].iloc[0]]["judge"].unique()
    scales = {judgments.scales.get(m) for m in members}
    return scales.pop() if len(scales) == 1 else None


def fastchat_order(entry: dict[str, Any]) -> tuple:
    """Best mean first, ties by model name (no mean: last): FastChat's ``show_result`` order.

    FastChat sorts pandas' groupby result (models in name order) by score, descending; with a stable
    sort tied models keep name order. (pandas' default quicksort is not stable on every CPU, so
    FastChat itself may print ties among more than a handful of models in another order.)
    """
    mean = entry.get("mean")
    return (mean is None, -(mean or 0.0), str(entry["model"]))


def _pairwise_notes(judge: str, frame: pd.DataFrame) -> list[str]:
    """Pairwise rows counted twice (a FastChat file judging an item again) and missing categories, in words."""
    notes = []
    again = frame[REPEAT_COLUMN] > 0 if REPEAT_COLUMN in frame.columns else pd.Series(False, index=frame.index)
    if again.any():
        index = frame.index[again][0]
        row = frame.loc[index].map(to_plain)  # numpy scalars would print as np.int64(81)
        keys = item_keys(frame)
        same = keys.map(lambda key: key == keys[index]) & (frame[REPEAT_COLUMN] == 0)
        first = frame.loc[same, "where"].dropna()
        at = ""
        if row["where"]:
            at = f" at {row['where']}" + (f" (first at {first.iloc[0]})" if len(first) else "")
        question = row[CLUSTER_COLUMN] if row.get(CLUSTER_COLUMN) is not None else row["question_id"]
        notes.append(f"{judge}: {int(again.sum())} duplicate pairwise judgment row(s) for a (question, pair of "
                     f"models, turn) already judged, counted in win, loss and tie as FastChat's show_result counts "
                     f"them; first: {row['model_1']!r} vs {row['model_2']!r}, question {question!r}, turn "
                     f"{row['turn']}{at}")
    if frame["category"].isin(["unknown"]).all() and "where" in frame.columns and frame["where"].notna().any():
        notes.append(f"{judge}: no categories (FastChat judgment files carry none): give --benchmark NAME|FILE for "
                     "the pairwise figures by category")
    return notes


def _single_notes(judge: str, frame: pd.DataFrame, duplicated: pd.Series) -> list[str]:
    """What the single means leave out or count twice, in words (reported, never silently)."""
    notes = []
    unscored = frame["score"].isna()
    if unscored.any():
        fastchat = frame.loc[unscored, "where"].notna().all()
        why = "score -1 in the FastChat file" if fastchat else "judging errors"
        notes.append(f"{judge}: {int(unscored.sum())} single judgment(s) without a score ({why}) excluded from n "
                     "and the means, as FastChat's show_result excludes them")
    if duplicated.any():
        row = frame[duplicated].iloc[0].map(to_plain)  # numpy scalars would print as np.int64(81)
        key = (frame["question_id"] == row["question_id"]) & (frame["model"] == row["model"]) & (
            frame["turn"] == row["turn"])
        first = frame.loc[key, "where"].iloc[0]
        at = f" at {row['where']} (first at {first})" if row["where"] else ""
        notes.append(f"{judge}: {int(duplicated.sum())} duplicate single judgment row(s) for a (model, question, "
                     f"turn) already judged, counted in the means as FastChat's show_result counts them; first: "
                     f"model {row['model']!r}, question {row['question_id']!r}, turn {row['turn']}{at}")
    if frame["category"].isin(["unknown"]).all() and frame["where"].notna().any():
        notes.append(f"{judge}: no categories (FastChat judgment files carry none): give --benchmark NAME|FILE for "
                     "the per-category table and the radar plot")
    return notes

