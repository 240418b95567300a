"""The judges page beside the leaderboard: ``JUDGES.md``, ``judges.csv``, ``judges.html`` (self-contained)
and ``judges_agreement_cost.png`` (agreement against cost per 1,000 judgments, one labelled point per judge).

Everything written is a function of the board alone (no timestamps; the plot drawn with the
leaderboard's matplotlib setup, :func:`jp_bench.reporting.fonts.plot_style`, and saved as its PNGs are),
so the same comparison rewrites the same bytes.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from jp_bench._util.atomic import write_bytes_atomic, write_text_atomic
from jp_bench._util.html_templates import package_template
from jp_bench.judge_board.render import (
    CSV_COLUMNS,
    csv_record,
    reference_bias_line,
    reference_line,
    table_rows,
)
from jp_bench.reporting.leaderboard import csv_cell, md_escape

PAGE_FILES = ("JUDGES.md", "judges.csv", "judges.html", "judges_agreement_cost.png")
TEMPLATE = "judges.html.j2"
EXPLANATION = ("Each judge is scored against the reference on the items both judged. Agreement: the share of "
               "comparisons whose verdicts are equal (ties count), with Cohen's kappa; without ties: comparisons "
               "where either side said tie are left out. Scores: Pearson, Spearman and the mean absolute difference "
               "on the reference's scale. Ranking: how the model ranking the judge gives correlates with the "
               "reference's. Biases: position consistency (same winner in both orders), first slot (share of decided "
               "games won by the answer shown first; 0.5 is none), P(prefer longer) (the longer answer's outcome; "
               "0.5 is none), self-preference (how much more it favours its own model family than the reference "
               "does). Brackets: 95% intervals from a bootstrap over questions. Cost and time per 1,000 judgments "
               "(calls) as the workspace store measured them.")


def render_markdown(board: dict[str, Any], plot_name: str | None) -> str:
    headers, rows = table_rows(board)
    lines = ["# Which judge?", "", md_escape(reference_line(board["reference"])) + "."]
    bias = reference_bias_line(board["reference"])
    if bias:
        lines += ["", md_escape(bias) + "."]
    lines += ["", md_escape(EXPLANATION), ""]
    lines.append("| " + " | ".join(md_escape(h) for h in headers) + " |")
    lines.append("|" + "|".join([":---", *["---:"] * (len(headers) - 1)]) + "|")
    lines += ["| " + " | ".join(md_escape(cell) for cell in row) + " |" for row in rows]
    if plot_name:
        lines += ["", f"![agreement against cost per 1,000 judgments]({plot_name})"]
    if board["notes"]:
        lines += ["", "## Notes", ""] + [f"- {md_escape(note)}" for note in board["notes"]]
    return "\n".join(lines) + "\n"


def render_csv(board: dict[str, Any]) -> str:
    """``judges.csv`` (``\\n`` line ends; floats as Python writes them; text protected from spreadsheets)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for rank, entry in enumerate(board["judges"], start=1):
        record = csv_record(rank, entry)
        writer.writerow([csv_cell(record.get(column)) for column in CSV_COLUMNS])
    return buffer.getvalue()


def render_plot(board: dict[str, Any]) -> bytes | None:
    """Agreement (with ties, 95% interval bars) against USD per 1,000 judgments, one labelled point per
    judge; a judge without a measured cost sits at 0 as a hollow marker labelled "(no cost)". None when
    no judge has an agreement figure."""
    from jp_bench.reporting.fonts import plot_style
    from jp_bench.reporting.plots import new_figure, png_bytes

    points = [(e["judge"], e["agreement"]["with_ties"], e["cost"]["usd_per_1000"]) for e in board["judges"]
              if e.get("agreement") and e["agreement"]["with_ties"]["agreement"] is not None]
    if not points:
        return None
    with plot_style():
        fig = new_figure(7.5, 4.8)
        ax = fig.add_subplot()
        for name, figures, cost in points:
            value, ci = figures["agreement"], figures.get("ci95") or [figures["agreement"]] * 2
            measured = cost is not None
            x = cost if measured else 0.0
            ax.errorbar([x], [value], yerr=[[max(value - ci[0], 0.0)], [max(ci[1] - value, 0.0)]], fmt="o",
                        color="#1f5fa8", ecolor="#6a8fc4", elinewidth=2, capsize=4, markersize=7,
                        markerfacecolor="#1f5fa8" if measured else "white", zorder=3)
            ax.annotate(name if measured else f"{name} (no cost)", (x, value), xytext=(6, 6),
                        textcoords="offset points", fontsize=8)
        ax.set_xlabel("USD per 1,000 judgments (measured in the workspace store)")
        ax.set_ylabel("agreement with the reference (95% CI)")
        ax.set_title(f"Agreement against cost: reference {board['reference']['name']}", fontsize=10)
        # Agreement is a share: the whole 0–1 range, so judges compare at a glance; cost from 0.
        highest = max((cost for _, _, cost in points if cost is not None), default=0.0) or 1.0
        ax.set_xlim(-0.04 * highest, 1.15 * highest)
        ax.set_ylim(0.0, 1.05)
        ax.grid(alpha=0.3)
        return png_bytes(fig)


def _template() -> Any:
    return package_template("jp_bench.judge_board", TEMPLATE, "the judges page")


def render_html(board: dict[str, Any], plot: bytes | None) -> str:
    """``judges.html``: the table, the plot embedded and the notes, in one file with nothing external."""
    import base64

    headers, rows = table_rows(board)
    image = None if plot is None else {"src": "data:image/png;base64," + base64.b64encode(plot).decode("ascii"),
                                       "alt": "agreement with the reference against USD per 1,000 judgments"}
    return _template().render(reference=reference_line(board["reference"]),
                              reference_bias=reference_bias_line(board["reference"]), explanation=EXPLANATION,
                              headers=headers, rows=rows, plot=image, notes=board["notes"])


def write_page(board: Any, out: Path) -> list[Path]:
    """Write the page's files into ``out``; returns their paths (the plot only when there is one)."""
    data = board.to_dict()
    plot = render_plot(data)
    md, csv_name, html, png = PAGE_FILES
    written = [write_text_atomic(out / md, render_markdown(data, png if plot is not None else None)),
               write_text_atomic(out / csv_name, render_csv(data)),
               write_text_atomic(out / html, render_html(data, plot))]
    if plot is not None:
        written.append(write_bytes_atomic(out / png, plot))
    else:  # no judge to plot: an earlier comparison's plot would tell of judges no longer on the page
        (out / png).unlink(missing_ok=True)
    return written
