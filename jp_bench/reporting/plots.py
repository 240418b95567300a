"""Plots (matplotlib, Agg): the leaderboard's headline figure with CI bars per model and category heat map;
the report's MT-Bench radar (single scores per category, one polygon per model).

Fonts and style are set up in one place, :func:`jp_bench.reporting.fonts.plot_style`.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from jp_bench.errors import JpBenchError
from jp_bench.reporting.boards import Board, format_figure
from jp_bench.reporting.fonts import plot_style

PLOTS_FOLDER = "plots"
PLOT_SUFFIXES = (".ci.png", ".categories.png")


# --------------------------------------------------------------------------------------------- plots


@dataclass(frozen=True)
class PlotImage:
    """A rendered plot: where it goes under ``plots/``, its caption, and the PNG bytes."""

    filename: str
    alt: str
    png: bytes

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def png_bytes(fig: Any) -> bytes:
    buffer = io.BytesIO()
    # No "Software" tag: the bytes depend on the figure alone.
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def new_figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)  # the Agg canvas, without pyplot or a global backend switch
    return fig


def _label_width(labels: Iterable[str]) -> float:
    """Rough inches a tick label column needs (full-width characters count double)."""
    from jp_bench._util.text_table import display_width

    return 0.085 * max((display_width(label) for label in labels), default=0)


def _title_width(title: str) -> float:
    """Inches a 10-point title needs, with a margin."""
    from jp_bench._util.text_table import display_width

    return 0.5 + 0.075 * display_width(title)


def _ci_plot(board: Board) -> bytes:
    import numpy as np

    entries = board.entries
    models = [e.model for e in entries]
    width = max(4.5 + _label_width(models), _title_width(board.title))
    fig = new_figure(min(width, 14.0), 1.3 + 0.42 * len(entries))
    ax = fig.add_subplot()
    ys = np.arange(len(entries))[::-1]  # best at the top
    values = np.array([e.value for e in entries])
    lows = np.array([e.ci[0] for e in entries])
    highs = np.array([e.ci[1] for e in entries])
    ax.errorbar(values, ys, xerr=[np.maximum(values - lows, 0), np.maximum(highs - values, 0)], fmt="o",
                color="#1f5fa8", ecolor="#6a8fc4", elinewidth=2, capsize=4, markersize=6, zorder=3)
    for value, y in zip(values, ys, strict=True):
        ax.annotate(format_figure(float(value), board.kind), (value, y), xytext=(0, 7), textcoords="offset points",
                    ha="center", va="bottom", fontsize=8)
    ax.set_yticks(ys, labels=models)
    ax.set_ylim(-0.7, len(entries) - 0.3)
    if board.kind == "pairwise":
        ax.axvline(0.5, color="#888888", linestyle="--", linewidth=1, zorder=1)
        ax.set_xlim(-0.02, 1.02)
    else:
        low, high = (board.scale.low, board.scale.high) if board.scale is not None else (-math.inf, math.inf)
        ax.set_xlim(max(low, float(lows.min()) - 0.5), min(high, float(highs.max()) + 0.5))
    ax.set_xlabel(f"{board.metric_label} (95% CI)")
    ax.set_title(board.title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return png_bytes(fig)


def _heatmap(board: Board) -> bytes | None:
    import numpy as np
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    categories = board.categories
    if not categories:
        return None
    models = [e.model for e in board.entries]
    data = np.full((len(models), len(categories)), np.nan)
    for i, entry in enumerate(board.entries):
        values = entry.category_values()
        for j, name in enumerate(categories):
            value = values.get(name)
            data[i, j] = np.nan if value is None else value
    if board.kind == "pairwise":
        cmap, norm = colormaps["RdBu"].with_extremes(bad="#eeeeee"), Normalize(0.0, 1.0)
    else:
        scale = board.scale  # colours span the stated scale, so equal colours mean equal scores across boards
        norm = Normalize(scale.low, scale.high) if scale is not None else Normalize(float(np.nanmin(data)),
                                                                                    float(np.nanmax(data)))
        cmap = colormaps["YlGnBu"].with_extremes(bad="#eeeeee")
    width = max(3.0 + _label_width(models) + 0.75 * len(categories), _title_width(board.title))
    height = 1.8 + _label_width(categories) * 0.7 + 0.42 * len(models)
    fig = new_figure(min(width, 20.0), height)
    ax = fig.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, norm=norm, aspect="auto")
    for i in range(len(models)):
        for j in range(len(categories)):
            value = data[i, j]
            if np.isnan(value):
                ax.text(j, i, "–", ha="center", va="center", fontsize=8, color="#777777")
                continue
            red, green, blue, _ = cmap(norm(value))
            dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
            text = f"{value:.2f}" if board.kind == "pairwise" else f"{value:.1f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set_xticks(range(len(categories)), labels=categories, rotation=40, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(len(models)), labels=models)
    ax.set_title(f"{board.title}\nby category", fontsize=10)
    fig.colorbar(image, ax=ax, shrink=0.85, label="adjusted win rate" if board.kind == "pairwise" else "mean score")
    return png_bytes(fig)


def render_plots(boards: Sequence[Board]) -> dict[str, list[PlotImage]]:
    """Per board: the headline chart with interval bars and (if any category figures) the category heat map.

    Japanese labels use the font the report extra ships (see :mod:`jp_bench.reporting.fonts`).
    """
    plots: dict[str, list[PlotImage]] = {}
    with plot_style():
        for board in boards:
            images = [PlotImage(f"{board.slug}.ci.png", f"{board.title}: {board.metric_label} with 95% CI",
                                _ci_plot(board))]
            heatmap = _heatmap(board)
            if heatmap is not None:
                images.append(PlotImage(f"{board.slug}.categories.png", f"{board.title}: by category", heatmap))
            plots[board.slug] = images
    return plots


# --------------------------------------------------------------------------------------------- report radar


def _radar_entries(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in report["single"] if any(c != "unknown" for c in e.get("by_category") or {})]


def render_radar(report: dict[str, Any]) -> bytes:
    """MT-Bench's radar plot of a report's single scores, as PNG bytes: per judge a polar chart over
    the categories (first at the top, clockwise), one closed polygon per model through its mean score
    per category (all turns), the radius from 0 to the top of the scale the judgments state.

    No single scores with categories is a :class:`JpBenchError` (FastChat files need ``--benchmark``).
    """
    import numpy as np

    from jp_bench.reporting.scales import ScoreScale, score_label

    entries = _radar_entries(report)
    if not entries:
        raise JpBenchError("--plot draws single scores by category, and there are none (FastChat judgment files "
                           "carry no categories: give --benchmark NAME|FILE)")
    judges = list(dict.fromkeys(e["judge"] for e in entries))
    with plot_style():
        models = [str(e["model"]) for e in entries]
        fig = new_figure(min(5.5 * len(judges), 22.0), 6.2 + 0.22 * len(models) / len(judges))
        for index, judge in enumerate(judges, start=1):
            group = [e for e in entries if e["judge"] == judge]
            categories = sorted({c for e in group for c in e["by_category"] if c != "unknown"})
            angles = np.linspace(0.0, 2 * np.pi, len(categories), endpoint=False)
            ax = fig.add_subplot(1, len(judges), index, projection="polar")
            ax.set_theta_offset(np.pi / 2)
            ax.set_theta_direction(-1)
            scale = ScoreScale(*group[0]["scale"]) if group[0].get("scale") else None
            observed = [f["mean"] for e in group for f in e["by_category"].values() if f.get("mean") is not None]
            top = scale.high if scale is not None else float(math.ceil(max(observed, default=1.0)))
            for entry in group:
                values = np.array([entry["by_category"].get(c, {}).get("mean") for c in categories], dtype=float)
                closed_angles, closed = np.append(angles, angles[0]), np.append(values, values[0])
                (line,) = ax.plot(closed_angles, closed, linewidth=1.6, marker="o", markersize=3,
                                  label=str(entry["model"]))
                if not np.isnan(values).any():  # a gap (a category not judged) would fill the wrong shape
                    ax.fill(closed_angles, closed, color=line.get_color(), alpha=0.08)
            ax.set_xticks(angles, labels=categories, fontsize=9)
            ax.set_ylim(0.0, top)
            ax.tick_params(axis="y", labelsize=7)
            ax.set_title(f"judge {judge}\nmean {score_label(scale)} by category", fontsize=10, pad=14)
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), fontsize=8, frameon=False,
                      ncol=2 if len(group) > 4 else 1)
        return png_bytes(fig)
