"""``jp_bench.compare_judges(...)``: candidate judges scored against a reference, as ``jp-bench judges compare``
does it: read the reference, run the ``--judge`` candidates on its items, read every candidate, score
each (:mod:`~jp_bench.judge_board.evaluate`), order them (best agreement first) and write the page.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jp_bench.errors import JpBenchError
from jp_bench.judge_board.candidates import read_candidates
from jp_bench.judge_board.evaluate import evaluate, reference_bias
from jp_bench.judge_board.judge_runs import JudgeRunSettings, run_candidate_judges
from jp_bench.judge_board.references import Reference, read_reference

__all__ = ["JudgesBoard", "compare_judges"]

JUDGED_FOLDER = "judged"  # under --out: the judgments of the --judge candidates


@dataclass
class JudgesBoard:
    """The judges leaderboard: the reference, one entry per candidate (best agreement first) and notes.

    :meth:`to_dict` is exactly what ``jp-bench judges compare --format json`` prints."""

    reference: dict[str, Any]
    judges: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    written: list[Path] = field(default_factory=list)  # the page's files (with ``out``)

    def to_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "judges": self.judges, "notes": self.notes, "settings": self.settings}

    def render(self, fmt: str = "table") -> str:
        """The text the command prints: ``table`` (one row per judge) or ``json``."""
        from jp_bench.judge_board.render import render_json, render_text

        if fmt == "json":
            return render_json(self.to_dict())
        if fmt == "table":
            return render_text(self.to_dict())
        raise JpBenchError(f"--format: expected table or json, got {fmt!r}")


def _order(entry: dict[str, Any]) -> tuple:
    """Best agreement (with ties) first; then the score correlation; then the name."""
    agreement = (entry.get("agreement") or {}).get("with_ties", {}).get("agreement")
    pearson = (entry.get("scores") or {}).get("pearson")
    return (agreement is None, -(agreement or 0.0), pearson is None, -(pearson or 0.0), entry["judge"])


def _reference_entry(reference: Reference, n_boot: int, seed: int) -> dict[str, Any]:
    verdicts = reference.verdicts
    questions = ({key[0] for key in verdicts.vote_keys()} | {key[0] for key in verdicts.scores})
    models = ({m for key in verdicts.vote_keys() for m in key[1:3]} | {key[1] for key in verdicts.scores})
    return {"name": reference.name, "kind": reference.kind, "description": reference.description,
            "source": reference.source, "judge_model": reference.judge_model, "judged": verdicts.kind,
            "pairwise_items": len(verdicts.vote_keys()), "votes": len(verdicts.votes),
            "scored_answers": len(verdicts.scores), "questions": len(questions),
            "models": sorted(models, key=str), "scale": verdicts.scale.as_list() if verdicts.scale else None,
            "axis": reference.axis, "raters": reference.raters, "bias": reference_bias(reference, n_boot, seed)}


def compare_judges(
    reference: str | Path,
    judged: str | Path | Iterable[str | Path] | None = None,
    *,
    judge: str | Iterable[str] | None = None,
    axis: str | None = None,
    answers: str | Path | Iterable[str | Path] | None = None,
    benchmark: str | None = None,
    out: str | Path | None = None,
    workspace: str | Path | None = None,
    concurrency: int | None = None,
    max_cost: float | None = None,
    judges_dir: str | Path | Iterable[str | Path] | None = None,
    judge_model: str | None = None,
    base_url: str | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    verbose: bool = False,
    on_note: Callable[[str], None] | None = None,
) -> JudgesBoard:
    """Score candidate judges against ``reference`` on the same items (``jp-bench judges compare``).

    ``reference``: human votes, a human ratings file (``axis`` picks its axis; default ``overall``)
    or one judge's judgments. ``judged``: judgments of candidate judges (our folders or
    ``judgments.jsonl``, FastChat files; every judge in them is a candidate). ``judge``: judge names
    (or YAMLs) to run on the reference's items first, through :func:`jp_bench.judge` and the store
    (``answers``/``benchmark`` give the texts when the reference carries none; ``workspace``,
    ``concurrency``, ``max_cost``, ``judges_dir``, ``judge_model``, ``base_url`` pass through).
    ``out``: write the judges page (``JUDGES.md``, ``judges.csv``, ``judges.html``,
    ``judges_agreement_cost.png``) and the ``--judge`` judgments there. ``bootstrap``/``seed``: the
    question bootstrap of every interval. ``on_note`` hears each note as it is found.
    Raises :class:`~jp_bench.errors.JpBenchError` with one line for anything wrong in the input.
    """
    from jp_bench._api._settings import as_list, check_setting

    if isinstance(bootstrap, bool) or not isinstance(bootstrap, int) or bootstrap < 0:
        raise JpBenchError(f"--bootstrap: expected a whole number >= 0, got {bootstrap!r}")
    notes: list[str] = []

    def note(line: str) -> None:
        notes.append(line)
        if on_note is not None:
            on_note(line)

    candidates_to_run = [judge] if isinstance(judge, str) else list(judge or [])
    judged_paths = as_list(judged)
    if not judged_paths and not candidates_to_run:
        raise JpBenchError("nothing to compare: give judgments of candidate judges (JUDGED) and/or --judge NAME")
    settings = JudgeRunSettings(workspace=workspace,
                                concurrency=check_setting("--concurrency", "Concurrency", int, concurrency),
                                max_cost=check_setting("--max-cost", "MaxCost", float, max_cost),
                                judges_dir=as_list(judges_dir), judge_model=judge_model,
                                base_url=check_setting("--base-url", "BaseUrl", str, base_url), verbose=verbose)
    ref = read_reference(reference, axis)
    for line in ref.notes:
        note(line)
    with tempfile.TemporaryDirectory(prefix="jp-bench-judges-") as scratch:
        if candidates_to_run:
            where = Path(out) / JUDGED_FOLDER if out is not None else Path(scratch)
            judged_paths += [str(folder) for folder in run_candidate_judges(
                candidates_to_run, ref, where, answers=as_list(answers) or None, benchmark=benchmark,
                settings=settings, on_note=note)]
        candidates = read_candidates(judged_paths)
        store_path = _store_path(workspace)
        entries = []
        for candidate in candidates:
            entry, found = evaluate(candidate, ref, n_boot=bootstrap, seed=seed, store_path=store_path)
            entries.append(entry)
            for line in found:
                note(line)
    if not entries:
        raise JpBenchError("no candidate judge found in the judgments given")
    for entry in entries:
        if entry["cost"]["source"] is None:
            note(f"{entry['judge']}: no cost recorded (FastChat files say nothing of it)")
    entries.sort(key=_order)
    board = JudgesBoard(_reference_entry(ref, bootstrap, seed), entries, notes,
                        {"bootstrap": bootstrap, "seed": seed, "ci_level": 0.95})
    if out is not None:
        from jp_bench.judge_board.page import write_page

        board.written = write_page(board, Path(out))
    return board


def _store_path(workspace: str | Path | None) -> Path:
    from jp_bench import paths

    return Path(workspace).expanduser() if workspace else paths.default_store_path()
