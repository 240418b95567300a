"""Candidate judges: the judges of every ``JUDGED`` source, each in the common form with what its cost is
measured from.

A source is what :func:`jp_bench.reporting.sources.load_judgments` reads (our ``judgments.jsonl`` or
its folder, judged lm-eval output, FastChat pairwise and single files); every judge in it is a
candidate, named as ``jp-bench report`` names it, and so is every jury whose members are in it (the
members' verdicts pooled as the report pools them: :func:`jp_bench.reporting.judge_noise.pooled_frames`).
A name given by two sources is an error, not a silent merge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from jp_bench.benchmarks.questions import iter_jsonl
from jp_bench.errors import JpBenchError
from jp_bench.judge_board.verdicts import Verdicts, judge_verdicts


@dataclass
class Candidate:
    """One candidate judge: its verdicts (first sample), every sample's rows, and its calls."""

    verdicts: Verdicts
    source: str
    judge_model: str | None
    pairwise: pd.DataFrame  # every judge sample's PAIRWISE rows (the noise figure)
    single: pd.DataFrame
    judgments: int = 0  # calls it took: two games per pairwise row, one per single row, every sample
    keys: list[str] = field(default_factory=list)  # store keys of its calls (our judgments rows)
    recorded_usd: float | None = None  # cost_usd its rows record (our rows); None: FastChat files
    members: list[str] = field(default_factory=list)  # a jury's judges

    @property
    def name(self) -> str:
        return self.verdicts.name


def _our_rows(source: Path) -> list[dict]:
    """Our judgments rows of ``source`` (a judgments.jsonl or the folder holding one), else none."""
    from jp_bench.judging.records import read_judgments_file

    own = source / "judgments.jsonl" if source.is_dir() else source
    if not own.is_file():
        return []
    for _, first in iter_jsonl(own):
        return read_judgments_file(own) if "mode" in first and "key" in first else []
    return []


def _keys_by_judge(rows: list[dict]) -> dict[str, list[str]]:
    from jp_bench.reporting.sources import judge_labels

    labels = judge_labels(rows)
    keys: dict[str, list[str]] = {}
    for row in rows:
        keys.setdefault(labels[(row.get("judge", ""), row.get("judge_model"))], []).append(row["key"])
    return keys


def read_candidates(sources: Sequence[str | Path]) -> list[Candidate]:
    """Every judge (and jury) of every source, in source order then by name."""
    from jp_bench.reporting.judge_noise import pooled_frames
    from jp_bench.reporting.sources import load_judgments

    candidates: list[Candidate] = []
    origin: dict[str, str] = {}
    for source in sources:
        path = Path(source).expanduser()
        judgments = load_judgments([path])
        keys = _keys_by_judge(_our_rows(path))
        pooled_pairs, pooled_single = pooled_frames(judgments.pairwise, judgments.single)
        pairwise = pd.concat([judgments.pairwise, pooled_pairs], ignore_index=True)
        single = pd.concat([judgments.single, pooled_single], ignore_index=True)
        juries = {str(jury): sorted(set(frame.loc[frame["jury"] == jury, "judge"]))
                  for frame in (judgments.pairwise, judgments.single) for jury in frame["jury"].dropna().unique()}
        names = sorted(set(pairwise["judge"]) | set(single["judge"]), key=str)
        for name in names:
            if name in origin:
                raise JpBenchError(f"judge {name!r} is in {origin[name]} and in {path}; give each judge's judgments "
                                   "once")
            origin[name] = str(path)
            members = juries.get(name, [])
            own_pairs, own_single = pairwise[pairwise["judge"] == name], single[single["judge"] == name]
            # A jury's figures are its members' verdicts pooled; its calls are its members' calls.
            callers = members or [name]
            recorded = [cost for (judge, _), cost in judgments.costs.items() if judge in callers]
            calls = (2 * int(judgments.pairwise["judge"].isin(callers).sum())
                     + int(judgments.single["judge"].isin(callers).sum()))
            candidates.append(Candidate(
                verdicts=judge_verdicts(name, own_pairs, own_single, judgments.scales.get(callers[0])),
                source=str(path), judge_model=judgments.judge_models.get(name), pairwise=own_pairs,
                single=own_single, judgments=calls, keys=[key for judge in callers for key in keys.get(judge, [])],
                recorded_usd=sum(recorded) if recorded else None, members=members))
    return candidates
