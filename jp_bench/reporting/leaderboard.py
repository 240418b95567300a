"""The leaderboard: published result files in, ``LEADERBOARD.md``, ``leaderboard.csv``, plots and one
self-contained ``leaderboard.html`` out.

Results are read from ``<results>/<benchmark>/<judge>/<model>.json`` (the layout :func:`write_result`
writes; see :mod:`jp_bench.reporting.results_schema`). Every ``*.json`` under the results folder must
be a valid result: a bad file stops the build with :class:`~jp_bench.errors.InputFileError` naming the
file and the field.

Results are grouped into *boards*: one per (benchmark, judge, kind), where kind is ``pairwise``
(split further by baseline, since win rates against different baselines do not compare) or
``single``. A result with both kinds of figures appears on both boards. Its *headline* (one CSV/HTML
row per result) is the pairwise adjusted win rate when it has one, else the mean score. Results that
record a provenance get it shown under their board (source commit with a link, judge, prompts, each
model's judgment files) and in the CSV's ``provenance_*`` columns.

Everything written is a function of the result files alone (sorted names, no timestamps), so a
rebuild from the same files gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jp_bench._util.atomic import write_bytes_atomic, write_text_atomic
from jp_bench.errors import InputFileError, JpBenchError, describe_validation_error, read_input_text
from jp_bench.reporting.results_schema import (
    PublishedResult,
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

from jp_bench._util.spreadsheet import protect_cell
from jp_bench.reporting.boards import (
    Board,
    SourceGroup,
    file_label,
    format_with_ci,
    format_wlt,
    judge_settings,
    listing_order,
    make_boards,
    source_groups,
)
from jp_bench.reporting.html_page import render_html
from jp_bench.reporting.plots import PLOT_SUFFIXES, PLOTS_FOLDER, PlotImage, render_plots

CSV_FIXED_COLUMNS = [
    "benchmark", "judge", "model", "date", "headline_metric", "headline", "ci_low", "ci_high", "rank", "errors",
    "cost_usd", "judge_model", "prompt_set", "prompt_version", "answers_source",
    "pairwise_baseline", "pairwise_n", "pairwise_win", "pairwise_loss", "pairwise_tie", "pairwise_inconsistent",
    "pairwise_errors", "pairwise_win_rate", "pairwise_loss_rate", "pairwise_tie_rate", "pairwise_adjusted_win_rate",
    "pairwise_ci_low", "pairwise_ci_high", "pairwise_stderr", "pairwise_style_controlled_win_rate",
    "pairwise_style_controlled_ci_low", "pairwise_style_controlled_ci_high",
    "single_n", "single_mean", "single_ci_low", "single_ci_high", "single_stderr", "single_errors",
    "japanese_share", "non_japanese_answers",
    "provenance_source", "provenance_url", "provenance_date", "provenance_judgments",
]
"""The CSV's leading columns; ``cat_<category>`` columns (the headline figure per category) follow, sorted."""


# --------------------------------------------------------------------------------------------- reading / writing


def read_result(path: str | Path) -> PublishedResult:
    """Read and validate one result file; any problem is an :class:`InputFileError` naming the file."""
    source = Path(path)
    text = read_input_text(source)
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


_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|])")
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def md_escape(text: str) -> str:
    """Text safe inside a Markdown table cell or heading (pipes, brackets, emphasis markers escaped)."""
    text = _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))
    return _MD_UNDERSCORE.sub(r"\\_", text)


def _md_link(text: str, url: str | None) -> str:
    """``[text](url)``, or the escaped text alone without a url (urls are http(s) with no spaces or quotes,
    see the result schema; parentheses are encoded so they cannot end the link early)."""
    if url is None:
        return md_escape(text)
    return f"[{md_escape(text)}]({url.replace('(', '%28').replace(')', '%29')})"


def _md_sources(groups: Sequence[SourceGroup]) -> list[str]:
    """The board's provenance: one item per source, each model's judgment files below it."""
    lines = ["Where the judgments come from:", ""]
    for group in groups:
        if group.provenance is None or group.judge is None:
            lines.append("- no provenance recorded: " + ", ".join(md_escape(model) for model, _ in group.models))
            continue
        provenance, judge = group.provenance, group.judge
        head = _md_link(provenance.source, provenance.url)
        if provenance.date is not None:
            head += f" ({provenance.date.isoformat()})"
        head += f"; judge {md_escape(judge.name)} (model {md_escape(judge.model)})"
        if provenance.prompts is not None:
            prompts = provenance.prompts
            named = f" ({', '.join(md_escape(n) for n in prompts.names)})" if prompts.names else ""
            head += f"; prompts {_md_link(file_label(prompts) if prompts.url else prompts.path, prompts.url)}{named}"
        else:
            head += f"; prompt set {md_escape(judge.prompt_set)} (version {md_escape(judge.prompt_version)})"
        if provenance.note:
            head += f". {md_escape(provenance.note)}"
        lines.append(f"- {head}")
        for model, files in group.models:
            shown = [_md_link(file_label(f) if f.url else f.path, f.url)
                     + (f" (sha256 `{f.sha256[:12]}`)" if f.sha256 else "") for f in files]
            lines.append(f"  - {md_escape(model)}: {', '.join(shown) if shown else 'no judgment files recorded'}")
    return lines


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
        "with its 95% bootstrap interval; single tables rank by the mean score (on the scale in the table header) "
        "with its 95% interval. "
        "W/L/T and n count questions; errors are questions without a usable verdict, left out of n. "
        "Where shown, the style-controlled win rate is the win rate predicted at equal answer style (length and "
        "markdown headers, list items, bold), and the Japanese share the mean share of kana/kanji letters in the "
        "model's answers (code and formulas set aside), with the number of answers under the threshold.",
    ]
    for board in boards:
        lines += ["", f"## {md_escape(board.title)}", ""]
        settings = judge_settings(board)
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
            if any(e.result.pairwise.style_controlled for e in board.entries if e.result.pairwise is not None):
                header.append("Style-controlled win rate [95% CI]")
                for row, e in zip(rows, [e for e in board.entries if e.result.pairwise is not None], strict=True):
                    styled = e.result.pairwise.style_controlled
                    row.append("-" if styled is None else format_with_ci(styled.win_rate, styled.ci95 or (None, None),
                                                                          "pairwise"))
        else:
            header = ["Rank", "Model", f"{md_escape(board.metric_label[:1].upper() + board.metric_label[1:])} [95% CI]",
                      "n", "Errors"]
            rows = [[str(e.rank), md_escape(e.model), format_with_ci(e.value, e.ci, "single"),
                     str(e.result.single.n), str(e.result.single.errors)]
                    for e in board.entries if e.result.single is not None]
        summaries = [e.result.pairwise if board.kind == "pairwise" else e.result.single for e in board.entries]
        if any(summary is not None and summary.japanese_share is not None for summary in summaries):
            header.append("Japanese share (answers under the threshold)")
            shown = [summary for summary in summaries if summary is not None]
            for row, summary in zip(rows, shown, strict=True):
                row.append("-" if summary.japanese_share is None else
                           f"{summary.japanese_share:.2f} ({summary.non_japanese_answers or 0})")
        align = ["---:", ":---", *["---:"] * (len(header) - 2)]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join(align) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        groups = source_groups(board)
        if groups:
            lines += ["", *_md_sources(groups)]
        images = plots.get(board.slug, ())
        for image in images:
            lines += ["", f"![{md_escape(image.alt)}]({PLOTS_FOLDER}/{image.filename})"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------- CSV


def csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    return protect_cell(str(value))  # a model named "=HYPERLINK(...)" stays text in a spreadsheet




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
        provenance = result.provenance
        if provenance is not None:
            record.update({
                "provenance_source": provenance.source, "provenance_url": provenance.url,
                "provenance_date": provenance.date.isoformat() if provenance.date else None,
                # the links where there are (public files), else the paths: space-separated, one cell
                "provenance_judgments": " ".join(f.url or f.path for f in provenance.judgments) or None,
            })
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
            if pairwise.style_controlled is not None:
                low, high = pairwise.style_controlled.ci95 or (None, None)
                record.update({"pairwise_style_controlled_win_rate": pairwise.style_controlled.win_rate,
                               "pairwise_style_controlled_ci_low": low, "pairwise_style_controlled_ci_high": high})
        if single is not None:
            record.update({
                "single_n": single.n, "single_mean": single.mean, "single_ci_low": single.ci95[0],
                "single_ci_high": single.ci95[1], "single_stderr": single.stderr, "single_errors": single.errors,
            })
        checked = pairwise if entry.kind == "pairwise" else single
        if checked is not None:
            record.update({"japanese_share": checked.japanese_share,
                           "non_japanese_answers": checked.non_japanese_answers})
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
        writer.writerow([csv_cell(record.get(column)) for column in columns])
    return buffer.getvalue()


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
        if stale.is_file() and stale.name.endswith(PLOT_SUFFIXES) and stale.name not in names:
            stale.unlink()
    return written
