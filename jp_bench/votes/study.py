"""``jp_bench.agreement(...)``: judge-human, human-human, judge-judge and swapped-order agreement from vote
files, as ``jp-bench agreement`` studies it (the counting: :mod:`~jp_bench.votes.comparisons`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from jp_bench.errors import JpBenchError
from jp_bench.votes.comparisons import agreement_report
from jp_bench.votes.model import JudgeVotes, Vote
from jp_bench.votes.readers import read_human_vote_file, read_judge_votes

__all__ = ["Agreement", "agreement"]


@dataclass
class Agreement:
    """The study's entries, one per comparison (``pair``); :meth:`to_list` is exactly what
    ``jp-bench agreement --format json`` prints."""

    entries: list[dict[str, Any]]  # as computed: ``by_turn`` keyed by the turn number
    notes: list[str] = field(default_factory=list)  # votes left out, one line each

    def to_list(self) -> list[dict[str, Any]]:
        """The entries as the JSON the command prints, read back (turn keys become strings, as in JSON)."""
        return json.loads(json.dumps(self.entries, ensure_ascii=False))

    @property
    def table(self) -> pd.DataFrame:
        """One row per comparison (``pair``): agreement, its 95% CI, kappa and n, with and without ties."""
        rows = []
        for entry in self.entries:
            row: dict[str, Any] = {"pair": entry["pair"]}
            for ties in ("with_ties", "without_ties"):
                figures = entry[ties]
                row.update({f"{name}_{ties}": figures.get(name) for name in ("agreement", "ci95", "kappa", "n")})
            rows.append(row)
        return pd.DataFrame(rows)


def agreement(
    *,
    human: str | Path | Iterable[str | Path] | None = None,
    judgments: str | Path | Iterable[str | Path] | None = None,
    benchmark: str | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    on_note: Callable[[str], None] | None = None,
) -> Agreement:
    """Agreement between the votes of ``human`` (lmsys mt_bench_human_judgments layout, JSONL or CSV, or
    our annotation export) and of the judges in ``judgments`` (judging output or FastChat pairwise files).
    Every keyword is the ``jp-bench agreement`` option of that name; ``benchmark`` adds per-category
    figures. ``on_note`` hears each note (votes left out) as it is found; they are kept in ``notes`` too.
    Raises :class:`~jp_bench.errors.JpBenchError` with one line for anything wrong in the input.
    """
    notes: list[str] = []

    def note(line: str) -> None:
        notes.append(line)
        if on_note is not None:
            on_note(line)

    humans = _human_votes(_paths(human), note)
    judges = _judge_votes(_paths(judgments))
    if not humans and not judges:
        raise JpBenchError("nothing to compare: give --human votes and/or --judgments")
    categories = None
    if benchmark:
        from jp_bench.benchmarks import load_questions

        categories = {q.question_id: q.category for q in load_questions(benchmark)}
    entries = agreement_report(humans, judges, n_boot=bootstrap, seed=seed, categories=categories)
    return Agreement(entries=entries, notes=notes)


def _paths(values: str | Path | Iterable[str | Path] | None) -> list[str]:
    if values is None:
        return []
    return [str(values)] if isinstance(values, (str, Path)) else [str(value) for value in values]


def _human_votes(paths: list[str], note: Callable[[str], None]) -> list[Vote]:
    """Every file's votes, one list; whole-conversation votes are left out, and each file says how many."""
    humans: list[Vote] = []
    for path in paths:
        human_file = read_human_vote_file(path)
        humans += human_file.votes
        if human_file.conversation:  # said, not hidden: those votes would otherwise vanish without a word
            note(f"{path}: left out {human_file.conversation} whole-conversation vote(s) (\"scope\": "
                 "\"conversation\", cast by an earlier jp-bench annotate): they judge no one turn, and every "
                 "comparison is per turn")
    return humans


def _judge_votes(sources: list[str]) -> dict[str, JudgeVotes]:
    """Every source's judges in one mapping; a judge named by two sources is an error, not a silent merge."""
    judges: dict[str, JudgeVotes] = {}
    for source in sources:
        for name, votes in read_judge_votes(source).items():
            if name in judges:
                raise JpBenchError(f"judge {name!r} appears in more than one --judgments source")
            judges[name] = votes
    return judges
