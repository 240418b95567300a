"""The leaderboard: published result files in, ``LEADERBOARD.md``, ``leaderboard.csv``, plots and one
self-contained ``leaderboard.html`` out.

Results are read from ``<results>/<benchmark>/<judge>/<model>.json`` (the layout :func:`write_result`
writes; see :mod:`jp_bench.reporting.results_schema`). Every ``*.json`` under the results folder must
be a valid result: a bad file stops the build with :class:`~jp_bench.errors.InputFileError` naming the
file and the field.

Results are grouped into *boards*: one per (benchmark, judge, kind), where kind is ``pairwise``
(split further by baseline, since win rates against different baselines do not compare) or
``single``. A result with both kinds of figures appears on both boards. Its *headline* (one CSV/HTML
row per result) is the pairwise adjusted win rate when it has one, else the mean score.

Everything written is a function of the result files alone (sorted names, no timestamps), so a
rebuild from the same files gives the same bytes.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from jp_bench.atomic import write_bytes_atomic, write_text_atomic
from jp_bench.errors import InputFileError, JpBenchError
from jp_bench.reporting.results_schema import (
    PublishedResult,
    describe_validation_error,
    render_result_json_schema,
    result_json_schema,
    safe_name,
)

__all__ = [
    "CSV_FIXED_COLUMNS",
    "PublishedResult",
    "build_leaderboard",
    "load_results",
    "read_result",
    "render_result_json_schema",
    "result_json_schema",
    "safe_name",
    "write_result",
]

Kind = Literal["pairwise", "single"]
_KIND_ORDER = {"pairwise": 0, "single": 1}
PLOTS_FOLDER = "plots"
_PLOT_SUFFIXES = (".ci.png", ".categories.png")
TEMPLATE = "leaderboard.html.j2"

CSV_FIXED_COLUMNS = [
    "benchmark", "judge", "model", "date", "headline_metric", "headline", "ci_low", "ci_high", "rank", "errors",
    "cost_usd", "judge_model", "prompt_set", "prompt_version", "answers_source",
    "pairwise_baseline", "pairwise_n", "pairwise_win", "pairwise_loss", "pairwise_tie", "pairwise_inconsistent",
    "pairwise_errors", "pairwise_win_rate", "pairwise_loss_rate", "pairwise_tie_rate", "pairwise_adjusted_win_rate",
    "pairwise_ci_low", "pairwise_ci_high", "pairwise_stderr",
    "single_n", "single_mean", "single_ci_low", "single_ci_high", "single_stderr", "single_errors",
]
"""The CSV's leading columns; ``cat_<category>`` columns (the headline figure per category) follow, sorted."""


# --------------------------------------------------------------------------------------------- reading / writing


def read_result(path: str | Path) -> PublishedResult:
    """Read and validate one result file; any problem is an :class:`InputFileError` naming the file."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError(source, None, "file not found") from None
    except UnicodeDecodeError:
        raise InputFileError(source, None, "not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(source, exc.lineno, f"not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise InputFileError(source, None, "expected a JSON object (a schema_version 1 result)")
    if data.get("schema_version") != 1:
        raise InputFileError(source, None, f"field 'schema_version': expected 1, got {data.get('schema_version')!r}")
    try:
        return PublishedResult.model_validate(data)
    except ValidationError as exc:
        raise InputFileError(source, None, describe_validation_error(exc)) from None


def load_results(results_dir: str | Path) -> list[PublishedResult]:
    """Every result under ``results_dir`` (``**/*.json``), validated, sorted by (benchmark, judge, model).

    Nothing is skipped: a file that is not a valid result, one whose path does not match its content
    (``<benchmark>/<judge>/<model>.json``), or two files for the same (benchmark, judge, model) are
    an :class:`InputFileError`. A missing folder is a :class:`JpBenchError`; an empty one gives ``[]``.
    """
    root = Path(results_dir)
    if not root.is_dir():
        raise JpBenchError(f"{root}: results folder not found")
    seen: dict[tuple[str, str, str], Path] = {}
    results: list[PublishedResult] = []
    for path in sorted(p for p in root.rglob("*.json") if p.is_file()):
        result = read_result(path)
        expected = result.relative_path.split("/")
        actual = list(path.parts[-3:])
        if actual != expected:
            raise InputFileError(path, None, "file is misplaced: its benchmark, judge.name and model say it belongs "
                                             f"at <results>/{result.relative_path}")
        if result.key in seen:
            raise InputFileError(path, None, f"a second result for {result.key} (the first: {seen[result.key]})")
        seen[result.key] = path
        results.append(result)
    return sorted(results, key=lambda r: r.key)


def write_result(results_dir: str | Path, result: PublishedResult | Mapping[str, Any]) -> Path:
    """Validate ``result`` and write it atomically to ``<results_dir>/<benchmark>/<judge>/<model>.json``.

    ``/`` in names becomes ``--`` in the path. An existing file for the same result is replaced.
    A plain mapping is validated first (a :class:`JpBenchError` names the bad field).
    """
    if not isinstance(result, PublishedResult):
        try:
            result = PublishedResult.model_validate(result)
        except ValidationError as exc:
            raise JpBenchError(f"not a valid result: {describe_validation_error(exc)}") from None
    return write_text_atomic(Path(results_dir) / result.relative_path, result.to_json())


# --------------------------------------------------------------------------------------------- boards


@dataclass
class Entry:
    """One result on one board, with its figure and interval for that board."""

    result: PublishedResult
    kind: Kind
    value: float
    ci: tuple[float, float]
    rank: int = 0

    @property
    def model(self) -> str:
        return self.result.model

    def category_values(self) -> dict[str, float | None]:
        """The board's figure per category (None where the category has no figure)."""
        if self.kind == "pairwise":
            assert self.result.pairwise is not None
            return {name: c.adjusted_win_rate for name, c in self.result.pairwise.by_category.items()}
        assert self.result.single is not None
        return {name: c.mean for name, c in self.result.single.by_category.items()}


@dataclass
class Board:
    """The results of one (benchmark, judge, kind[, baseline]), best first."""

    benchmark: str
    judge: str
    kind: Kind
    baseline: str | None
    entries: list[Entry] = field(default_factory=list)
    slug: str = ""

    @property
    def title(self) -> str:
        what = f"pairwise vs {self.baseline}" if self.kind == "pairwise" else "single-answer score"
        return f"{self.benchmark} · judge {self.judge} · {what}"

    @property
    def metric_label(self) -> str:
        if self.kind == "pairwise":
            return f"adjusted win rate vs {self.baseline}"
        return "mean score (1-10)"

    @property
    def categories(self) -> list[str]:
        return sorted({name for entry in self.entries for name in entry.category_values()})


def _entry(result: PublishedResult, kind: Kind) -> Entry:
    if kind == "pairwise":
        assert result.pairwise is not None
        return Entry(result, kind, result.pairwise.adjusted_win_rate, result.pairwise.ci95)
    assert result.single is not None
    return Entry(result, kind, result.single.mean, result.single.ci95)


def headline_kind(result: PublishedResult) -> Kind:
    """The figure a result is listed by: pairwise when it has pairwise figures, else single."""
    return "pairwise" if result.pairwise is not None else "single"


def _rank(entries: list[Entry]) -> list[Entry]:
    """Best first (figure, then interval low end, then model name); equal figures share a rank."""
    ordered = sorted(entries, key=lambda e: (-e.value, -e.ci[0], e.model))
    for position, entry in enumerate(ordered, start=1):
        previous = ordered[position - 2] if position > 1 else None
        entry.rank = previous.rank if previous is not None and previous.value == entry.value else position
    return ordered


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "board"


def make_boards(results: Iterable[PublishedResult]) -> list[Board]:
    """Group results into boards, each ranked best first; boards sorted by benchmark, judge, kind, baseline."""
    groups: dict[tuple[str, str, Kind, str | None], list[Entry]] = {}
    for result in results:
        if result.pairwise is not None:
            key = (result.benchmark, result.judge.name, "pairwise", result.pairwise.baseline)
            groups.setdefault(key, []).append(_entry(result, "pairwise"))
        if result.single is not None:
            key = (result.benchmark, result.judge.name, "single", None)
            groups.setdefault(key, []).append(_entry(result, "single"))
    boards = []
    used: set[str] = set()
    for key in sorted(groups, key=lambda k: (k[0], k[1], _KIND_ORDER[k[2]], k[3] or "")):
        benchmark, judge, kind, baseline = key
        slug = _slug("__".join([benchmark, judge, kind, *([f"vs__{baseline}"] if baseline else [])]))
        unique, counter = slug, 2
        while unique.lower() in used:
            unique, counter = f"{slug}-{counter}", counter + 1
        used.add(unique.lower())
        boards.append(Board(benchmark, judge, kind, baseline, _rank(groups[key]), unique))
    return boards


# --------------------------------------------------------------------------------------------- formatting


def format_figure(value: float | None, kind: Kind) -> str:
    """A rate with 3 decimals, a score with 2; ``-`` for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3f}" if kind == "pairwise" else f"{value:.2f}"


def format_with_ci(value: float, ci: Sequence[float], kind: Kind) -> str:
    """``0.775 [0.700, 0.850]`` (rates) or ``6.40 [6.00, 6.80]`` (scores)."""
    return f"{format_figure(value, kind)} [{format_figure(ci[0], kind)}, {format_figure(ci[1], kind)}]"


def format_wlt(result: PublishedResult) -> str:
    """``56/12/12`` (win/loss/tie of the pairwise figures)."""
    assert result.pairwise is not None
    return f"{result.pairwise.win}/{result.pairwise.loss}/{result.pairwise.tie}"


_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|])")
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def md_escape(text: str) -> str:
    """Text safe inside a Markdown table cell or heading (pipes, brackets, emphasis markers escaped)."""
    text = _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))
    return _MD_UNDERSCORE.sub(r"\\_", text)


def _judge_settings(board: Board) -> list[str]:
    settings = sorted({(e.result.judge.model, e.result.judge.prompt_set, e.result.judge.prompt_version)
                       for e in board.entries})
    return [f"judge model {model}, prompt set {prompt_set} (version {version})"
            for model, prompt_set, version in settings]


def render_markdown(boards: Sequence[Board], results: Sequence[PublishedResult],
                    plots: Mapping[str, Sequence[PlotImage]]) -> str:
    """``LEADERBOARD.md``: one ranked table per board, with its plots linked below."""
    models = {r.model for r in results}
    benchmarks = {r.benchmark for r in results}
    lines = [
        "# jp-bench leaderboard",
        "",
        f"{len(results)} published result(s): {len(models)} model(s) on {len(benchmarks)} benchmark(s).",
        "",
        "Pairwise tables rank models by the adjusted win rate against the baseline, (win + tie/2) / n, "
        "with its 95% bootstrap interval; single tables rank by the mean 1-10 score with its 95% interval. "
        "W/L/T and n count questions; errors are questions without a usable verdict, left out of n.",
    ]
    for board in boards:
        lines += ["", f"## {md_escape(board.title)}", ""]
        settings = _judge_settings(board)
        if len(settings) == 1:
            lines += [md_escape(settings[0][0].upper() + settings[0][1:]) + ".", ""]
        else:
            lines += ["**Note:** these results come from different judge settings, so they may not compare:", ""]
            lines += [f"- {md_escape(s)}" for s in settings]
            lines += [""]
        if board.kind == "pairwise":
            header = ["Rank", "Model", f"Adjusted win rate vs {md_escape(board.baseline or '')} [95% CI]", "W/L/T",
                      "n", "Errors"]
            rows = [[str(e.rank), md_escape(e.model), format_with_ci(e.value, e.ci, "pairwise"),
                     format_wlt(e.result), str(e.result.pairwise.n), str(e.result.pairwise.errors)]
                    for e in board.entries if e.result.pairwise is not None]
        else:
            header = ["Rank", "Model", "Mean score [95% CI]", "n", "Errors"]
            rows = [[str(e.rank), md_escape(e.model), format_with_ci(e.value, e.ci, "single"),
                     str(e.result.single.n), str(e.result.single.errors)]
                    for e in board.entries if e.result.single is not None]
        align = ["---:", ":---", *["---:"] * (len(header) - 2)]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join(align) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        images = plots.get(board.slug, ())
        for image in images:
            lines += ["", f"![{md_escape(image.alt)}]({PLOTS_FOLDER}/{image.filename})"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------- CSV


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def listing_order(boards: Sequence[Board]) -> list[Entry]:
    """One entry per result (its headline board), in board order then rank: the CSV and HTML row order."""
    rows: list[Entry] = []
    for board in boards:
        rows += [e for e in board.entries if headline_kind(e.result) == board.kind]
    return rows


def csv_rows(boards: Sequence[Board]) -> tuple[list[str], list[dict[str, object]]]:
    """The CSV's columns and one row per result (flat; ``cat_<name>``: the headline figure per category)."""
    records: list[dict[str, object]] = []
    categories: set[str] = set()
    for entry in listing_order(boards):
        result, pairwise, single = entry.result, entry.result.pairwise, entry.result.single
        record: dict[str, object] = {
            "benchmark": result.benchmark, "judge": result.judge.name, "model": result.model,
            "date": result.date.isoformat(), "headline_metric": "adjusted_win_rate" if entry.kind == "pairwise"
            else "mean", "headline": entry.value, "ci_low": entry.ci[0], "ci_high": entry.ci[1], "rank": entry.rank,
            "errors": result.errors, "cost_usd": result.cost_usd, "judge_model": result.judge.model,
            "prompt_set": result.judge.prompt_set, "prompt_version": result.judge.prompt_version,
            "answers_source": result.answers.source,
        }
        if pairwise is not None:
            record.update({
                "pairwise_baseline": pairwise.baseline, "pairwise_n": pairwise.n, "pairwise_win": pairwise.win,
                "pairwise_loss": pairwise.loss, "pairwise_tie": pairwise.tie,
                "pairwise_inconsistent": pairwise.inconsistent, "pairwise_errors": pairwise.errors,
                "pairwise_win_rate": pairwise.win_rate, "pairwise_loss_rate": pairwise.loss_rate,
                "pairwise_tie_rate": pairwise.tie_rate, "pairwise_adjusted_win_rate": pairwise.adjusted_win_rate,
                "pairwise_ci_low": pairwise.ci95[0], "pairwise_ci_high": pairwise.ci95[1],
                "pairwise_stderr": pairwise.stderr,
            })
        if single is not None:
            record.update({
                "single_n": single.n, "single_mean": single.mean, "single_ci_low": single.ci95[0],
                "single_ci_high": single.ci95[1], "single_stderr": single.stderr, "single_errors": single.errors,
            })
        for name, value in entry.category_values().items():
            record[f"cat_{name}"] = value
            categories.add(name)
        records.append(record)
    columns = CSV_FIXED_COLUMNS + [f"cat_{name}" for name in sorted(categories)]
    return columns, records


def render_csv(boards: Sequence[Board]) -> str:
    """``leaderboard.csv`` text (``\\n`` line ends; floats as Python writes them, so they read back exactly)."""
    columns, records = csv_rows(boards)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([_csv_cell(record.get(column)) for column in columns])
    return buffer.getvalue()


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
            metric = "mean score (1-10)"
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
    sections = [{"title": board.title, "slug": board.slug, "settings": _judge_settings(board),
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


# --------------------------------------------------------------------------------------------- build


def build_leaderboard(results_dir: str | Path, out_dir: str | Path) -> list[Path]:
    """Read every result under ``results_dir`` and write the leaderboard into ``out_dir``.

    Writes ``LEADERBOARD.md``, ``leaderboard.csv``, ``leaderboard.html`` and ``plots/<board>.ci.png``
    (plus ``plots/<board>.categories.png`` where there are category figures); returns their paths in
    that order. Plot files of boards that no longer exist are removed from ``plots/``. No results at
    all is a :class:`JpBenchError`.
    """
    results = load_results(results_dir)
    if not results:
        raise JpBenchError(f"{results_dir}: no result files (*.json) found")
    boards = make_boards(results)
    plots = render_plots(boards)
    out = Path(out_dir)
    plots_dir = out / PLOTS_FOLDER
    written = [
        write_text_atomic(out / "LEADERBOARD.md", render_markdown(boards, results, plots)),
        write_text_atomic(out / "leaderboard.csv", render_csv(boards)),
        write_text_atomic(out / "leaderboard.html", render_html(boards, results, plots)),
    ]
    names = set()
    for board in boards:
        for image in plots[board.slug]:
            written.append(write_bytes_atomic(plots_dir / image.filename, image.png))
            names.add(image.filename)
    for stale in sorted(plots_dir.iterdir()):
        if stale.is_file() and stale.name.endswith(_PLOT_SUFFIXES) and stale.name not in names:
            stale.unlink()
    return written
