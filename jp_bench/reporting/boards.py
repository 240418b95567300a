"""Leaderboard boards: one ranked table per (benchmark, judge, kind, baseline), where each entry's
judgments come from, and figure formatting."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from jp_bench.reporting.results_schema import (
    JudgeInfo,
    Provenance,
    PublishedResult,
    SingleSummary,
    SourceFile,
)
from jp_bench.reporting.scales import ScoreScale, score_label

Kind = Literal["pairwise", "single"]
_KIND_ORDER = {"pairwise": 0, "single": 1}


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
    def scale(self) -> ScoreScale | None:
        """The score scale of a single board's results (None: pairwise, or results on different scales)."""
        scales = {result_scale(e.result) for e in self.entries} if self.kind == "single" else set()
        return next(iter(scales)) if len(scales) == 1 else None

    @property
    def metric_label(self) -> str:
        if self.kind == "pairwise":
            return f"adjusted win rate vs {self.baseline}"
        return f"mean {score_label(self.scale)}" if self.scale is not None else "mean score (on different scales)"

    @property
    def categories(self) -> list[str]:
        return sorted({name for entry in self.entries for name in entry.category_values()})


def result_scale(result: PublishedResult) -> ScoreScale:
    """The scale of a result's single scores: the one its ``single.scale`` states (what ``jp-bench
    report --publish`` records from the judgments), else the result schema's score range (1–10)."""
    stated = result.single.scale if result.single is not None else None
    if stated is not None:
        return ScoreScale(float(stated[0]), float(stated[1]))
    bounds = SingleSummary.model_fields["mean"].metadata
    return ScoreScale(float(next(b.ge for b in bounds if hasattr(b, "ge"))),
                      float(next(b.le for b in bounds if hasattr(b, "le"))))


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


# --------------------------------------------------------------------------------------------- provenance


@dataclass
class SourceGroup:
    """Results of one board whose judgments share a provenance (source, commit, prompts, note) and judge:
    shown once, with each model's own judgment files. ``provenance`` None: results that record none."""

    provenance: Provenance | None
    judge: JudgeInfo | None
    models: list[tuple[str, list[SourceFile]]] = field(default_factory=list)


def source_groups(board: Board) -> list[SourceGroup]:
    """Where the board's results come from, grouped; empty when none of them records a provenance
    (so boards of results published before provenance was recorded look as they did).

    Groups are in the order of their sources (those without last); models in board order.
    """
    if all(entry.result.provenance is None for entry in board.entries):
        return []
    groups: dict[str, SourceGroup] = {}
    for entry in board.entries:
        provenance = entry.result.provenance
        if provenance is None:
            key = "\uffff"  # after every source
            group = groups.setdefault(key, SourceGroup(None, None))
            group.models.append((entry.model, []))
            continue
        shared = provenance.model_copy(update={"judgments": []})
        key = json.dumps([shared.model_dump(mode="json"), entry.result.judge.model_dump(mode="json")], sort_keys=True)
        group = groups.setdefault(key, SourceGroup(shared, entry.result.judge))
        group.models.append((entry.model, list(provenance.judgments)))
    return [groups[key] for key in sorted(groups)]


def file_label(source_file: SourceFile) -> str:
    """A judgment or prompts file as a link text: its file name (the link or the path gives the rest)."""
    return source_file.path.rstrip("/").rpartition("/")[2] or source_file.path


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


def judge_settings(board: Board) -> list[str]:
    settings = sorted({(e.result.judge.model, e.result.judge.prompt_set, e.result.judge.prompt_version)
                       for e in board.entries})
    return [f"judge model {model}, prompt set {prompt_set} (version {version})"
            for model, prompt_set, version in settings]


def listing_order(boards: Sequence[Board]) -> list[Entry]:
    """One entry per result (its headline board), in board order then rank: the CSV and HTML row order."""
    rows: list[Entry] = []
    for board in boards:
        rows += [e for e in board.entries if headline_kind(e.result) == board.kind]
    return rows
