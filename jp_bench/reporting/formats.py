"""Rendering a report for people (table, Markdown) and for programs (CSV, JSON)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from jp_bench.text_table import render_table

FORMATS = ("table", "md", "csv", "json")


def _num(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ci(ci: Any, digits: int = 3) -> str:
    if not ci or ci[0] is None:
        return "-"
    return f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def _pairwise_rows(report: dict[str, Any]) -> list[list[str]]:
    return [[e["judge"], str(e["model"]), str(e["baseline"]), str(e["n"]), str(e["win"]), str(e["loss"]),
             str(e["tie"]), str(e["inconsistent"]), str(e["errors"]), _num(e["win_rate"]),
             _num(e["adjusted_win_rate"]), _ci(e["ci95"]), _num(e.get("length_controlled_win_rate"))]
            for e in report["pairwise"]]


PAIRWISE_HEADERS = ["judge", "model", "baseline", "n", "win", "loss", "tie", "inconsistent", "errors", "win rate",
                    "adj. win rate", "95% CI", "LC win rate"]
SINGLE_HEADERS = ["judge", "model", "n", "mean", "95% CI", "errors"]


def _single_rows(report: dict[str, Any]) -> list[list[str]]:
    return [[e["judge"], str(e["model"]), str(e["n"]), _num(e["mean"], 2), _ci(e["ci95"], 2), str(e["errors"])]
            for e in report["single"]]


def _category_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    categories = sorted({c for e in report["pairwise"] + report["single"] for c in (e.get("by_category") or {})})
    rows = []
    for e in report["pairwise"]:
        cells = [e["by_category"].get(c, {}).get("adjusted_win_rate") for c in categories]
        rows.append([e["judge"], f"{e['model']} vs {e['baseline']}", *(_num(v, 2) for v in cells)])
    for e in report["single"]:
        cells = [e["by_category"].get(c, {}).get("mean") for c in categories]
        rows.append([e["judge"], f"{e['model']} (score)", *(_num(v, 1) for v in cells)])
    return ["judge", "model", *categories], rows


def _diagnostic_rows(report: dict[str, Any]) -> list[list[str]]:
    rows = []
    for judge, d in report["diagnostics"].items():
        length = d.get("length") or {}
        rows.append([judge, _num(d.get("position_consistency")), _num(d.get("first_slot_preference")),
                     _num(length.get("spearman")), _num(length.get("longer_win_rate"))])
    return rows


DIAGNOSTIC_HEADERS = ["judge", "position consistency", "first-slot preference", "spearman(outcome, Δlength)",
                      "longer answer wins"]


def _ranking_rows(report: dict[str, Any]) -> list[list[str]]:
    rows = []
    for ranking in report["rankings"]:
        for m in ranking.get("models", []):
            rows.append([ranking["judge"], str(m.get("rank")), str(m["model"]), _num(m.get("rating"), 0),
                         _ci(m.get("ci95"), 0)])
    return rows


def _markdown(headers: list[str], rows: list[list[str]]) -> str:
    escape = lambda text: str(text).replace("|", "\\|")  # noqa: E731 - a one-off cell formatter
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, ensure_ascii=False, indent=2)
    if fmt == "csv":
        return _csv(report)
    sections: list[tuple[str, list[str], list[list[str]]]] = []
    if report["pairwise"]:
        sections.append(("Pairwise (against the baseline; ties include inconsistent pairs)", PAIRWISE_HEADERS,
                         _pairwise_rows(report)))
    if report["single"]:
        sections.append(("Single scores (1-10)", SINGLE_HEADERS, _single_rows(report)))
    headers, rows = _category_rows(report)
    if rows and len(headers) > 2:
        sections.append(("By category", headers, rows))
    if report["rankings"]:
        sections.append(("Bradley-Terry ranking (with a first-position term)", ["judge", "rank", "model", "rating",
                                                                                "95% CI"], _ranking_rows(report)))
        for ranking in report["rankings"]:
            sep = ranking.get("separability")
            sections.append((f"{ranking['judge']}: separability {_num(sep, 2)} "
                             f"(share of model pairs whose CIs do not overlap)", [], []))
    if report["diagnostics"]:
        sections.append(("Judge diagnostics", DIAGNOSTIC_HEADERS, _diagnostic_rows(report)))
    out = []
    for title, headers, rows in sections:
        if fmt == "md":
            out.append(f"### {title}\n\n" + (_markdown(headers, rows) if headers else ""))
        else:
            out.append(title + ("\n" + render_table(headers, rows) if headers else ""))
    return "\n\n".join(out) + "\n"


def _csv(report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["kind", "judge", "model", "baseline", "category", "n", "win", "loss", "tie", "inconsistent",
                     "errors", "adjusted_win_rate", "mean", "ci_low", "ci_high"])
    for e in report["pairwise"]:
        for category, figures in [("all", e), *sorted((e.get("by_category") or {}).items())]:
            ci = figures.get("ci95") or [None, None]
            writer.writerow(["pairwise", e["judge"], e["model"], e["baseline"], category, figures.get("n"),
                             figures.get("win"), figures.get("loss"), figures.get("tie"), figures.get("inconsistent"),
                             figures.get("errors"), figures.get("adjusted_win_rate"), "", ci[0], ci[1]])
    for e in report["single"]:
        for category, figures in [("all", e), *sorted((e.get("by_category") or {}).items())]:
            ci = figures.get("ci95") or [None, None]
            writer.writerow(["single", e["judge"], e["model"], "", category, figures.get("n"), "", "", "", "",
                             figures.get("errors"), "", figures.get("mean"), ci[0], ci[1]])
    return buffer.getvalue()
