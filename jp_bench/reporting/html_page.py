"""The leaderboard as one static HTML page: sortable table, plots embedded, no external assets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from jp_bench.errors import JpBenchError
from jp_bench.reporting.boards import Board, format_figure, format_wlt, judge_settings, listing_order, result_scale
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


def _template() -> Any:
    try:
        import jinja2
    except ImportError:
        raise JpBenchError("the leaderboard page needs jinja2: pip install jinja2") from None
    source = resources.files("jp_bench.reporting").joinpath("templates", TEMPLATE).read_text(encoding="utf-8")
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return environment.from_string(source)


def render_html(boards: Sequence[Board], results: Sequence[PublishedResult],
                plots: Mapping[str, Sequence[PlotImage]]) -> str:
    """``leaderboard.html``: the sortable table and the plots, in one file with nothing external."""
    sections = [{"title": board.title, "slug": board.slug, "settings": judge_settings(board),
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
