"""Rendering a report for people (table, Markdown) and for programs (CSV, JSON)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from jp_bench._util.figures import interval_text, number
from jp_bench._util.text_table import render_table
from jp_bench.reporting.scales import ScoreScale, score_label

FORMATS = ("table", "md", "csv", "json")




def _pairwise_rows(entries: list[dict[str, Any]], turns: list[str]) -> list[list[str]]:
    """One row per model and baseline; with several turns, each turn's adjusted win rate after them."""
    return [[e["judge"], str(e["model"]), str(e["baseline"]), str(e["n"]), str(e["win"]), str(e["loss"]),
             str(e["tie"]), str(e["inconsistent"]), str(e["errors"]), number(e["win_rate"]),
             number(e["adjusted_win_rate"]), interval_text(e["ci95"]), number(e.get("length_controlled_win_rate")),
             number((e.get("style_controlled") or {}).get("win_rate")), *_answer_cells(e),
             *(number((e.get("by_turn") or {}).get(t, {}).get("adjusted_win_rate")) for t in turns)]
            for e in entries]


PAIRWISE_HEADERS = ["judge", "model", "baseline", "n", "win", "loss", "tie", "inconsistent", "errors", "win rate",
                    "adj. win rate", "95% CI", "LC win rate", "SC win rate", "ja share", "non-ja"]
SINGLE_HEADERS = ["judge", "model", "n", "mean", "95% CI", "errors", "ja share", "non-ja"]


def _answer_cells(entry: dict[str, Any]) -> list[str]:
    """The model's mean Japanese share and its answers under the threshold (``-``: not measured)."""
    measured = entry.get("japanese_share") is not None
    return [number(entry.get("japanese_share"), 2), str(entry.get("non_japanese_answers", 0)) if measured else "-"]


def pandas_figures(values: list[float | None]) -> list[str]:
    """Means as FastChat's ``show_result`` prints them (pandas' default display): 6 decimals, then
    trailing zeros cut while every figure of the column ends in one, keeping a digit after the point
    (``[8.95625, 7.5]`` -> ``8.95625``, ``7.50000``). None -> ``-`` (FastChat lists no row)."""
    texts = [f"{v:.6f}" for v in values if v is not None]
    while texts and all(t.endswith("0") for t in texts):
        texts = [t[:-1] for t in texts]
    texts = [t + "0" if t.endswith(".") else t for t in texts]
    shown = iter(texts)
    return ["-" if v is None else next(shown) for v in values]


def _turns(entries: list[dict[str, Any]]) -> list[str]:
    """The turns judged, when there is more than the first (single-turn reports need no turn columns)."""
    turns = sorted({t for e in entries for t in (e.get("by_turn") or {})}, key=int)
    return turns if turns and turns != ["1"] else []


def _by_judge(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        groups.setdefault(e["judge"], []).append(e)
    return list(groups.values())


def _single_rows(entries: list[dict[str, Any]], turns: list[str]) -> list[list[str]]:
    """Per judge, best first; mean and turn means with FastChat's printed digits (compare them as they are)."""
    rows = []
    for group in _by_judge(entries):
        means = pandas_figures([e["mean"] for e in group])
        per_turn = [pandas_figures([(e.get("by_turn") or {}).get(t, {}).get("mean") for e in group]) for t in turns]
        for i, e in enumerate(group):
            rows.append([e["judge"], str(e["model"]), str(e["n"]), means[i], interval_text(e["ci95"], 2),
                         str(e["errors"]), *_answer_cells(e), *(column[i] for column in per_turn)])
    return rows


def _mt_bench_rows(entries: list[dict[str, Any]], turns: list[str]) -> tuple[list[str], list[list[str]]]:
    """MT-Bench's table: models × categories, then the turns and the average (all turns)."""
    categories = sorted({c for e in entries for c in (e.get("by_category") or {}) if c != "unknown"})
    if not categories:
        return [], []
    rows = []
    for e in entries:
        cells = [e["by_category"].get(c, {}).get("mean") for c in categories]
        cells += [(e.get("by_turn") or {}).get(t, {}).get("mean") for t in turns]
        rows.append([e["judge"], str(e["model"]), *(number(v, 2) for v in cells), number(e["mean"], 2)])
    return ["judge", "model", *categories, *(f"turn {t}" for t in turns), "average"], rows


def _scale_groups(entries: list[dict[str, Any]]) -> list[tuple[ScoreScale | None, list[dict[str, Any]]]]:
    """Entries by the scale they are on (judges on different scales never share a table)."""
    groups: dict[tuple | None, list[dict[str, Any]]] = {}
    for e in entries:
        groups.setdefault(tuple(e["scale"]) if e.get("scale") else None, []).append(e)
    return [(ScoreScale(*key) if key else None, group) for key, group in groups.items()]


def _single_sections(report: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    sections = []
    for scale, entries in _scale_groups(report["single"]):
        label = score_label(scale)
        turns = _turns(entries)
        sections.append((f"Single scores: mean {label} (as FastChat's show_result prints it; n: scored judgments)",
                         SINGLE_HEADERS + [f"turn {t}" for t in turns], _single_rows(entries, turns)))
        headers, rows = _mt_bench_rows(entries, turns)
        if rows:
            sections.append((f"Single scores by category: mean {label}", headers, rows))
    return sections


def _category_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Pairwise figures by category (single scores have their own table, with turns)."""
    categories = sorted({c for e in report["pairwise"] for c in (e.get("by_category") or {})})
    rows = []
    for e in report["pairwise"]:
        cells = [e["by_category"].get(c, {}).get("adjusted_win_rate") for c in categories]
        rows.append([e["judge"], f"{e['model']} vs {e['baseline']}", *(number(v, 2) for v in cells)])
    return ["judge", "model", *categories], rows


def _diagnostic_rows(report: dict[str, Any]) -> list[list[str]]:
    rows = []
    for judge, d in report["diagnostics"].items():
        length = d.get("length") or {}
        rows.append([judge, number(d.get("position_consistency")), number(d.get("first_slot_preference")),
                     number(length.get("spearman")), number(length.get("longer_win_rate"))])
    return rows


DIAGNOSTIC_HEADERS = ["judge", "position consistency", "first-slot preference", "spearman(outcome, Δlength)",
                      "longer answer wins"]


def _style_rows(report: dict[str, Any]) -> list[list[str]]:
    """Per judge and style feature: how much the feature moved the verdicts (style control's coefficient)."""
    rows = []
    for judge, d in report["diagnostics"].items():
        for feature, c in ((d.get("style") or {}).get("coefficients") or {}).items():
            rows.append([judge, feature, number(c.get("beta")), interval_text(c.get("ci95")),
                         number(c.get("win_prob_plus_1sd"))])
    return rows


STYLE_HEADERS = ["judge", "style feature", "beta (log-odds per typical difference)", "95% CI",
                 "P(win) one typical difference ahead"]


def _ranking_rows(report: dict[str, Any]) -> list[list[str]]:
    """Raw ratings, and beside them the style-controlled ones (``-`` where the judgments carry no style)."""
    rows = []
    for ranking in report["rankings"]:
        styled = {m["model"]: m for m in (ranking.get("style_controlled") or {}).get("models") or []}
        for m in ranking.get("models", []):
            sc = styled.get(m["model"], {})
            rows.append([ranking["judge"], str(m.get("rank")), str(m["model"]), number(m.get("rating"), 0),
                         interval_text(m.get("ci95"), 0), number(sc.get("rating"), 0),
                         interval_text(sc.get("ci95"), 0)])
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
        turns = _turns(report["pairwise"])  # per-turn columns as in the single table, here adjusted win rates
        title = "Pairwise (against the baseline; ties include inconsistent pairs" + (
            "; n counts every turn; turn k: adj. win rate on turn k)" if turns else ")")
        sections.append((title, PAIRWISE_HEADERS + [f"turn {t}" for t in turns],
                         _pairwise_rows(report["pairwise"], turns)))
    sections += _single_sections(report)
    headers, rows = _category_rows(report)
    if rows and len(headers) > 2:
        sections.append(("By category", headers, rows))
    if report["rankings"]:
        sections.append(("Bradley-Terry ranking (with a first-position term; SC: style-controlled)",
                         ["judge", "rank", "model", "rating", "95% CI", "SC rating", "SC 95% CI"],
                         _ranking_rows(report)))
        for ranking in report["rankings"]:
            sep = ranking.get("separability")
            sections.append((f"{ranking['judge']}: separability {number(sep, 2)} "
                             f"(share of model pairs whose CIs do not overlap)", [], []))
    if report["diagnostics"]:
        sections.append(("Judge diagnostics", DIAGNOSTIC_HEADERS, _diagnostic_rows(report)))
        if style_rows := _style_rows(report):
            sections.append(("Style bias (style control: how much each style feature moved the verdicts)",
                             STYLE_HEADERS, style_rows))
    from jp_bench.reporting.judge_noise import text_sections

    sections += text_sections(report)
    out = []
    for title, headers, rows in sections:
        if fmt == "md":
            out.append(f"### {title}\n\n" + (_markdown(headers, rows) if headers else ""))
        else:
            out.append(title + ("\n" + render_table(headers, rows) if headers else ""))
    if report.get("notes"):
        notes = "\n".join(f"- {note}" for note in report["notes"])
        out.append(f"### Notes\n\n{notes}" if fmt == "md" else f"Notes\n{notes}")
    return "\n\n".join(out) + "\n"


def _csv_parts(entry: dict[str, Any], *, with_turns: bool) -> list[tuple[str, str, dict[str, Any]]]:
    """(category, turn, figures) rows of one entry: turn "all" is every turn together (FastChat's
    average), per category; then one row per turn, over all categories (``with_turns``)."""
    rows = [("all", "all", entry)]
    rows += [(category, "all", figures) for category, figures in sorted((entry.get("by_category") or {}).items())]
    if with_turns:
        rows += [("all", turn, figures) for turn, figures in sorted((entry.get("by_turn") or {}).items(),
                                                                    key=lambda item: int(item[0]))]
    return rows


def _csv(report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["kind", "judge", "model", "baseline", "category", "n", "win", "loss", "tie", "inconsistent",
                     "errors", "adjusted_win_rate", "mean", "ci_low", "ci_high", "turn", "scale"])
    pairwise_turns = _turns(report["pairwise"])
    for e in report["pairwise"]:
        for category, turn, figures in _csv_parts(e, with_turns=bool(pairwise_turns)):
            ci = figures.get("ci95") or [None, None]
            writer.writerow(["pairwise", e["judge"], e["model"], e["baseline"], category, figures.get("n"),
                             figures.get("win"), figures.get("loss"), figures.get("tie"), figures.get("inconsistent"),
                             figures.get("errors"), figures.get("adjusted_win_rate"), "", ci[0], ci[1], turn, ""])
    for e in report["single"]:
        scale = str(ScoreScale(*e["scale"])) if e.get("scale") else ""
        for category, turn, figures in _csv_parts(e, with_turns=True):
            ci = figures.get("ci95") or [None, None]
            writer.writerow(["single", e["judge"], e["model"], "", category, figures.get("n"), "", "", "", "",
                             figures.get("errors"), "", figures.get("mean"), ci[0], ci[1], turn, scale])
    return buffer.getvalue()
