"""The leaderboard as one static HTML page: sortable table, plots embedded, no external assets (links to
the judgments' sources are plain links, followed only when clicked)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jp_bench._util.html_templates import package_template
from jp_bench.reporting.boards import (
    Board,
    SourceGroup,
    file_label,
    format_figure,
    format_wlt,
    judge_settings,
    listing_order,
    result_scale,
    source_groups,
)
from jp_bench.reporting.plots import PlotImage
from jp_bench.reporting.results_schema import (
    PublishedResult,
)
from jp_bench.reporting.scales import score_label

TEMPLATE = "leaderboard.html.j2"


# --------------------------------------------------------------------------------------------- HTML

HTML_COLUMNS: list[dict[str, str]] = [
    {"key": "benchmark", "label": "Benchmark", "type": "text"},
    {"key": "judge", "label": "Judge", "type": "text"},
    {"key": "model", "label": "Model", "type": "text"},
    {"key": "metric", "label": "Headline metric", "type": "text"},
    {"key": "value", "label": "Value", "type": "number"},
    {"key": "ci_low", "label": "CI low", "type": "number"},
    {"key": "ci_high", "label": "CI high", "type": "number"},
    {"key": "n", "label": "W/L/T or n", "type": "number"},
    {"key": "errors", "label": "Errors", "type": "number"},
    {"key": "date", "label": "Date", "type": "text"},
]
"""The HTML table's columns; ``key`` is what ``#sort=<key>:<asc|desc>`` names."""


def _cell(text: str, value: object = None) -> dict[str, str | None]:
    return {"text": text, "value": None if value is None else repr(value) if isinstance(value, float) else str(value)}


def html_rows(boards: Sequence[Board]) -> list[dict[str, Any]]:
    """One row per published result: its id and cells in :data:`HTML_COLUMNS` order."""
    rows = []
    for entry in listing_order(boards):
        result = entry.result
        if entry.kind == "pairwise":
            assert result.pairwise is not None
            metric = f"adjusted win rate vs {result.pairwise.baseline}"
            counts = _cell(f"{format_wlt(result)} (n={result.pairwise.n})", result.pairwise.n)
        else:
            assert result.single is not None
            metric = f"mean {score_label(result_scale(result))}"
            counts = _cell(f"n={result.single.n}", result.single.n)
        cells = [
            _cell(result.benchmark), _cell(result.judge.name), _cell(result.model), _cell(metric),
            _cell(format_figure(entry.value, entry.kind), entry.value),
            _cell(format_figure(entry.ci[0], entry.kind), entry.ci[0]),
            _cell(format_figure(entry.ci[1], entry.kind), entry.ci[1]),
            counts, _cell(str(result.errors), result.errors), _cell(result.date.isoformat()),
        ]
        rows.append({"id": "/".join(result.key), "cells": cells})
    return rows


def _link(text: str, url: str | None) -> dict[str, str | None]:
    return {"text": text, "url": url}


def html_sources(groups: list[SourceGroup]) -> list[dict[str, Any]]:
    """A board's provenance for the template: per source its link, date, judge, prompts and note, and each
    model's judgment files (links where public, else paths) with their sha256."""
    shown = []
    for group in groups:
        models = [{"model": model,
                   "files": [{**_link(file_label(f) if f.url else f.path, f.url), "sha256": (f.sha256 or "")[:12]}
                             for f in files]}
                  for model, files in group.models]
        if group.provenance is None or group.judge is None:
            shown.append({"recorded": False, "models": models})
            continue
        provenance, judge, prompts = group.provenance, group.judge, group.provenance.prompts
        shown.append({
            "recorded": True, "source": _link(provenance.source, provenance.url),
            "date": provenance.date.isoformat() if provenance.date else "",
            "judge": f"{judge.name} (model {judge.model})",
            "prompts": None if prompts is None else {**_link(file_label(prompts) if prompts.url else prompts.path,
                                                             prompts.url), "names": ", ".join(prompts.names)},
            "prompt_set": f"{judge.prompt_set} (version {judge.prompt_version})",
            "note": provenance.note or "", "models": models,
        })
    return shown


def _template() -> Any:
    return package_template("jp_bench.reporting", TEMPLATE, "the leaderboard page")


def render_html(boards: Sequence[Board], results: Sequence[PublishedResult],
                plots: Mapping[str, Sequence[PlotImage]]) -> str:
    """``leaderboard.html``: the sortable table and the plots, in one file with nothing external."""
    sections = [{"title": board.title, "slug": board.slug, "settings": judge_settings(board),
                 "sources": html_sources(source_groups(board)),
                 "plots": [{"alt": image.alt, "src": image.data_uri} for image in plots.get(board.slug, ())]}
                for board in boards]
    return _template().render(
        columns=HTML_COLUMNS,
        rows=html_rows(boards),
        sections=sections,
        n_results=len(results),
        n_models=len({r.model for r in results}),
        n_benchmarks=len({r.benchmark for r in results}),
    )
