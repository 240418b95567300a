"""``jp_bench.report``: win rates with bootstrap CIs, rankings and judge diagnostics, as ``jp-bench report``.

The figures are one JSON-shaped object (its layout: :mod:`jp_bench.reporting.report`);
:class:`Report` holds it, gives its tables as DataFrames and renders it in the command's formats.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from jp_bench._api._settings import as_list, check_setting
from jp_bench._util.atomic import write_bytes_atomic
from jp_bench.answer_text.japanese import JAPANESE_THRESHOLD
from jp_bench.reporting.formats import render
from jp_bench.reporting.report import build_report
from jp_bench.reporting.sources import attach_categories, load_judgments

__all__ = ["Report", "report"]


@dataclass
class Report:
    """A report's figures. :meth:`to_dict` is exactly what ``jp-bench report --format json`` prints."""

    data: dict[str, Any]
    plot: Path | None = None  # the radar plot written (``plot=``)
    published: list[Path] = field(default_factory=list)  # result files written (``publish=True``)

    def to_dict(self) -> dict[str, Any]:
        """The figures as the JSON the command prints, read back: plain dicts, lists, numbers, strings."""
        return json.loads(self.render("json"))

    def render(self, fmt: str = "table") -> str:
        """The text ``jp-bench report --format FMT`` prints: ``table``, ``md``, ``csv`` or ``json``."""
        return render(self.data, fmt)

    @property
    def pairwise(self) -> pd.DataFrame:
        """One row per (judge, model, baseline): counts, rates, adjusted win rate and its 95% CI."""
        return pd.DataFrame(copy.deepcopy(self.data["pairwise"]))

    @property
    def single(self) -> pd.DataFrame:
        """One row per (judge, model): mean score, its 95% CI, errors; best first per judge."""
        return pd.DataFrame(copy.deepcopy(self.data["single"]))

    @property
    def rankings(self) -> pd.DataFrame:
        """One row per (judge, model): Bradley-Terry rating, its 95% CI and rank."""
        rows = [{"judge": ranking["judge"], **model} for ranking in self.data["rankings"]
                for model in ranking["models"]]
        return pd.DataFrame(rows, columns=["judge", "model", "rating", "ci95", "rank"] if not rows else None)

    @property
    def diagnostics(self) -> pd.DataFrame:
        """One row per judge: position consistency, first-slot preference, length effect, ..."""
        return pd.DataFrame.from_dict(copy.deepcopy(self.data["diagnostics"]), orient="index")

    @property
    def notes(self) -> list[str]:
        """What the figures leave out or count twice, one line each (``<judge>: ...``)."""
        return list(self.data["notes"])


def report(
    judged: str | Path | Iterable[str | Path],
    *,
    baseline: str | None = None,
    benchmark: str | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    plot: str | Path | None = None,
    publish: bool = False,
    results: str | Path = "results",
    japanese_threshold: float | None = None,
) -> Report:
    """The report over ``judged``: judging output folders or judgments.jsonl, or FastChat model_judgment
    files or folders. Every keyword is the ``jp-bench report`` option of that name: ``benchmark`` gives
    the categories (FastChat judgment files carry none), ``plot`` writes MT-Bench's radar plot (PNG),
    ``publish`` writes ``results/<benchmark>/<judge>/<model>.json``, ``japanese_threshold`` is the share of
    kana/kanji letters under which an answer counts as not Japanese (default 0.5).
    Raises :class:`~jp_bench.errors.JpBenchError` with one line for anything wrong in the input.
    """
    judgments = load_judgments(as_list(judged))
    if benchmark:
        from jp_bench.benchmarks import load_questions

        attach_categories(judgments, {q.question_id: q.category for q in load_questions(benchmark)})
    threshold = check_setting("--japanese-threshold", "JapaneseThreshold", float, japanese_threshold)
    result = Report(build_report(judgments, baseline=baseline, n_boot=bootstrap, seed=seed,
                                 japanese_threshold=JAPANESE_THRESHOLD if threshold is None else threshold))
    if plot:
        from jp_bench.reporting.plots import render_radar

        result.plot = write_bytes_atomic(Path(plot), render_radar(result.data))
    if publish:
        from jp_bench.reporting.publish import publish_report

        result.published = publish_report(result.data, judgments, results_dir=Path(results), benchmark=benchmark)
    return result

