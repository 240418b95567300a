"""Leaderboard plots (matplotlib, Agg): the headline figure with CI bars per model; a category heat map."""

from __future__ import annotations

import base64
import io
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from jp_bench.errors import JpBenchError
from jp_bench.reporting.boards import Board, format_figure

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


_CJK_FONTS = ("Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", "IPAGothic", "TakaoGothic", "VL Gothic")


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise JpBenchError("the leaderboard plots need matplotlib: pip install matplotlib "
                           "(or install jp-bench with its reporting extra)") from None
    return matplotlib


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    # No "Software" tag: the bytes depend on the figure alone.
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)  # the Agg canvas, without pyplot or a global backend switch
    return fig


def _label_width(labels: Iterable[str]) -> float:
    """Rough inches a tick label column needs (full-width characters count double)."""
    from jp_bench.text_table import display_width

    return 0.085 * max((display_width(label) for label in labels), default=0)


def _title_width(title: str) -> float:
    """Inches a 10-point title needs, with a margin."""
    from jp_bench.text_table import display_width

    return 0.5 + 0.075 * display_width(title)


def _ci_plot(board: Board) -> bytes:
    import numpy as np

    entries = board.entries
    models = [e.model for e in entries]
    width = max(4.5 + _label_width(models), _title_width(board.title))
    fig = _figure(min(width, 14.0), 1.3 + 0.42 * len(entries))
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
        ax.set_xlim(max(1.0, float(lows.min()) - 0.5), min(10.0, float(highs.max()) + 0.5))
    ax.set_xlabel(f"{board.metric_label} (95% CI)")
    ax.set_title(board.title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


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
        cmap, norm = colormaps["YlGnBu"].with_extremes(bad="#eeeeee"), Normalize(1.0, 10.0)
    width = max(3.0 + _label_width(models) + 0.75 * len(categories), _title_width(board.title))
    height = 1.8 + _label_width(categories) * 0.7 + 0.42 * len(models)
    fig = _figure(min(width, 20.0), height)
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
    return _png(fig)


def render_plots(boards: Sequence[Board]) -> dict[str, list[PlotImage]]:
    """Per board: the headline chart with interval bars and (if any category figures) the category heat map.

    Labels fall back to an installed CJK font (Noto Sans CJK JP, IPAexGothic, ...) for Japanese text;
    without one, a single warning says so (instead of one per missing glyph).
    """
    matplotlib = _matplotlib()
    from matplotlib import font_manager, style

    installed = {font.name for font in font_manager.fontManager.ttflist}
    families = ["DejaVu Sans", *(name for name in _CJK_FONTS if name in installed)]
    plots: dict[str, list[PlotImage]] = {}
    # Matplotlib's own defaults, not the user's matplotlibrc: the images depend on the results alone.
    with matplotlib.rc_context(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        style.use("default")
        matplotlib.rcParams.update({"font.family": families, "svg.hashsalt": "jp-bench", "figure.dpi": 100})
        for board in boards:
            images = [PlotImage(f"{board.slug}.ci.png", f"{board.title}: {board.metric_label} with 95% CI",
                                _ci_plot(board))]
            heatmap = _heatmap(board)
            if heatmap is not None:
                images.append(PlotImage(f"{board.slug}.categories.png", f"{board.title}: by category", heatmap))
            plots[board.slug] = images
    missing_glyphs = False
    for warning in caught:
        if re.match(r"Glyph \d+ .*missing from font", str(warning.message)):
            missing_glyphs = True
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if missing_glyphs:
        warnings.warn("leaderboard plots: some labels use characters no installed font has (shown as boxes); "
                      "install a CJK font (Debian: apt-get install fonts-noto-cjk) and remove matplotlib's font "
                      "cache (~/.cache/matplotlib) so it is found", UserWarning, stacklevel=2)
    return plots
