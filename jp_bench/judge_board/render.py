"""The judges leaderboard as text: the terminal table, JSON, and the cells and flat records the page uses.

One row per judge, best agreement first; every figure is the point value, the main ones with their
95% interval in brackets; ``-`` where a figure does not apply (a single-score judge has no position
bias) or could not be measured (no cost in FastChat files).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from jp_bench._util.figures import interval_text, number

Entry = dict[str, Any]


def with_ci(value: float | None, ci: list | None, digits: int = 3) -> str:
    """``0.800 [0.738, 0.856]``; the value alone when there is no interval."""
    if value is None:
        return "-"
    shown = interval_text(ci, digits)
    return number(value, digits) if shown == "-" else f"{number(value, digits)} {shown}"


def _get(entry: Entry, *path: str) -> Any:
    value: Any = entry
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _coverage(entry: Entry) -> str:
    coverage = entry["coverage"]
    return f"{coverage['items']}/{coverage['of']}" + (" (low)" if coverage["low"] else "")


def _same_top(entry: Entry) -> str:
    ranking = entry.get("ranking")
    if ranking is None:
        return "-"
    return "yes" if ranking["same_top"] else f"no ({', '.join(ranking['top'])})"


def _self_preference(entry: Entry) -> str:
    found = entry.get("self_preference")
    if found is None:
        return "-"
    return f"{with_ci(found['difference'], found['ci95'], 3 if found['basis'] == 'votes' else 2)} ({found['family']})"


def _errors(entry: Entry) -> str:
    errors = entry["errors"]
    return "0" if not errors["count"] else f"{errors['count']} ({errors['rate']:.1%})"


def _noise(entry: Entry) -> str:
    noise = entry.get("noise")
    return "-" if noise is None else f"{number(noise['judge_sd'])} ({noise['samples']} samples)"


def _usd(entry: Entry) -> str:
    value = _get(entry, "cost", "usd_per_1000")
    return "-" if value is None else f"${value:.2f}"


def _seconds(entry: Entry) -> str:
    value = _get(entry, "cost", "wall_s_per_1000")
    return "-" if value is None else f"{value:.0f} s"


COLUMNS: list[tuple[str, Callable[[Entry], str]]] = [
    ("judge", lambda e: str(e["judge"])),
    ("items", _coverage),
    ("agreement [95% CI]", lambda e: with_ci(_get(e, "agreement", "with_ties", "agreement"),
                                             _get(e, "agreement", "with_ties", "ci95"))),
    ("kappa [95% CI]", lambda e: with_ci(_get(e, "agreement", "with_ties", "kappa"),
                                         _get(e, "agreement", "with_ties", "kappa_ci95"))),
    ("agreement w/o ties", lambda e: number(_get(e, "agreement", "without_ties", "agreement"))),
    ("Pearson r", lambda e: with_ci(_get(e, "scores", "pearson"), _get(e, "scores", "pearson_ci95"))),
    ("Spearman", lambda e: number(_get(e, "scores", "spearman"))),
    ("MAE", lambda e: number(_get(e, "scores", "mae"), 2)),
    ("ranking rho", lambda e: number(_get(e, "ranking", "spearman"))),
    ("ranking tau", lambda e: number(_get(e, "ranking", "kendall"))),
    ("same top", _same_top),
    ("position consistency", lambda e: number(_get(e, "bias", "position_consistency"))),
    ("first slot", lambda e: number(_get(e, "bias", "first_slot_preference"))),
    ("P(prefer longer)", lambda e: with_ci(_get(e, "bias", "prefer_longer"), _get(e, "bias", "prefer_longer_ci95"))),
    ("self-preference", _self_preference),
    ("judge noise", _noise),
    ("errors", _errors),
    ("USD / 1k", _usd),
    ("time / 1k", _seconds),
]
"""The table's columns (terminal, JUDGES.md, judges.html): header and cell of an entry."""


def table_rows(board: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Headers and one row of cells per judge; columns with no figure for any judge are left out."""
    rows = [[cell(entry) for _, cell in COLUMNS] for entry in board["judges"]]
    keep = [i for i, (name, _) in enumerate(COLUMNS)
            if i < 2 or name == "agreement [95% CI]" or any(row[i] not in ("-", "0") for row in rows)]
    return [COLUMNS[i][0] for i in keep], [[row[i] for i in keep] for row in rows]


def reference_line(reference: dict[str, Any]) -> str:
    parts = []
    if reference["pairwise_items"]:
        parts.append(f"{reference['pairwise_items']} pairwise items ({reference['votes']} votes)")
    if reference["scored_answers"]:
        parts.append(f"{reference['scored_answers']} scored answers")
    return (f"reference: {reference['description']}: {', '.join(parts)} on {reference['questions']} questions, "
            f"{len(reference['models'])} models ({reference['source']})")


def reference_bias_line(reference: dict[str, Any]) -> str | None:
    bias = reference.get("bias")
    if not bias:
        return None
    return (f"the reference's own biases: position consistency {number(bias['position_consistency'])}, first slot "
            f"{number(bias['first_slot_preference'])}, P(prefer longer) {number(bias['prefer_longer'])}")


def render_text(board: dict[str, Any]) -> str:
    """The terminal view: the reference, the table, and the notes."""
    from jp_bench._util.text_table import render_table

    headers, rows = table_rows(board)
    lines = [reference_line(board["reference"])]
    bias = reference_bias_line(board["reference"])
    if bias:
        lines.append(bias)
    lines += ["", render_table(headers, rows), ""]
    lines += [f"note: {note}" for note in board["notes"]]
    return "\n".join(lines).rstrip("\n") + "\n"


def render_json(board: dict[str, Any]) -> str:
    return json.dumps(board, ensure_ascii=False, indent=2) + "\n"


CSV_COLUMNS = [
    "rank", "judge", "judge_model", "kind", "source", "items", "reference_items", "coverage",
    "agreement", "agreement_ci_low", "agreement_ci_high", "kappa", "kappa_ci_low", "kappa_ci_high", "n_comparisons",
    "agreement_without_ties", "agreement_without_ties_ci_low", "agreement_without_ties_ci_high",
    "kappa_without_ties", "votes_from_scores",
    "pearson", "pearson_ci_low", "pearson_ci_high", "spearman", "spearman_ci_low", "spearman_ci_high",
    "mae", "mae_ci_low", "mae_ci_high", "n_scores",
    "ranking_basis", "ranking_spearman", "ranking_spearman_ci_low", "ranking_spearman_ci_high", "ranking_kendall",
    "ranking_kendall_ci_low", "ranking_kendall_ci_high", "top_model", "reference_top_model", "same_top",
    "same_top_share",
    "position_consistency", "position_consistency_ci_low", "position_consistency_ci_high",
    "first_slot_preference", "first_slot_preference_ci_low", "first_slot_preference_ci_high",
    "prefer_longer", "prefer_longer_ci_low", "prefer_longer_ci_high",
    "self_preference_family", "self_preference", "self_preference_ci_low", "self_preference_ci_high",
    "noise_samples", "judge_sd", "errors", "judgments", "error_rate", "usd_per_1000", "wall_s_per_1000", "cost_source",
]
"""``judges.csv``'s columns, one row per judge (intervals as ``_ci_low``/``_ci_high``)."""


def _joined(models: list[str] | None) -> str | None:
    return None if models is None else " ".join(models)


def _ci_fields(prefix: str, ci: list | None) -> dict[str, Any]:
    low, high = ci if ci else (None, None)
    return {f"{prefix}_ci_low": low, f"{prefix}_ci_high": high}


def csv_record(rank: int, entry: Entry) -> dict[str, Any]:
    """One flat CSV row of an entry (see :data:`CSV_COLUMNS`)."""
    with_ties = _get(entry, "agreement", "with_ties") or {}
    without = _get(entry, "agreement", "without_ties") or {}
    scores, ranking, bias = entry.get("scores") or {}, entry.get("ranking") or {}, entry.get("bias") or {}
    mine = entry.get("self_preference") or {}
    record: dict[str, Any] = {
        "rank": rank, "judge": entry["judge"], "judge_model": entry["judge_model"], "kind": entry["kind"],
        "source": entry["source"], "items": entry["coverage"]["items"], "reference_items": entry["coverage"]["of"],
        "coverage": entry["coverage"]["share"],
        "agreement": with_ties.get("agreement"), **_ci_fields("agreement", with_ties.get("ci95")),
        "kappa": with_ties.get("kappa"), **_ci_fields("kappa", with_ties.get("kappa_ci95")),
        "n_comparisons": with_ties.get("n"), "agreement_without_ties": without.get("agreement"),
        **_ci_fields("agreement_without_ties", without.get("ci95")), "kappa_without_ties": without.get("kappa"),
        "votes_from_scores": _get(entry, "agreement", "votes_from_scores"),
        "pearson": scores.get("pearson"), **_ci_fields("pearson", scores.get("pearson_ci95")),
        "spearman": scores.get("spearman"), **_ci_fields("spearman", scores.get("spearman_ci95")),
        "mae": scores.get("mae"), **_ci_fields("mae", scores.get("mae_ci95")), "n_scores": scores.get("n"),
        "ranking_basis": ranking.get("basis"), "ranking_spearman": ranking.get("spearman"),
        **_ci_fields("ranking_spearman", ranking.get("spearman_ci95")), "ranking_kendall": ranking.get("kendall"),
        **_ci_fields("ranking_kendall", ranking.get("kendall_ci95")), "top_model": _joined(ranking.get("top")),
        "reference_top_model": _joined(ranking.get("reference_top")), "same_top": ranking.get("same_top"),
        "same_top_share": ranking.get("same_top_share"),
        "self_preference_family": mine.get("family"), "self_preference": mine.get("difference"),
        **_ci_fields("self_preference", mine.get("ci95")),
        "noise_samples": _get(entry, "noise", "samples"), "judge_sd": _get(entry, "noise", "judge_sd"),
        "errors": entry["errors"]["count"], "judgments": entry["errors"]["of"], "error_rate": entry["errors"]["rate"],
        "usd_per_1000": entry["cost"]["usd_per_1000"], "wall_s_per_1000": entry["cost"]["wall_s_per_1000"],
        "cost_source": entry["cost"]["source"],
    }
    for name in ("position_consistency", "first_slot_preference", "prefer_longer"):
        record[name] = bias.get(name)
        record.update(_ci_fields(name, bias.get(f"{name}_ci95")))
    return record
