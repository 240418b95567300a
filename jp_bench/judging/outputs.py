"""What a judging run writes: ``judgments.jsonl`` (ours) and FastChat ``model_judgment`` files.

``judgments.jsonl`` has one line per question and order (game); its schema is documented in
``docs/schemas/judgment.schema.json``. Files are written atomically, only from complete data.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jp_bench._util.atomic import write_text_atomic
from jp_bench.errors import JpBenchError
from jp_bench.stats.outcomes import PairTally, combine_games, tally


@dataclass(frozen=True)
class SingleSummary:
    model: str
    n: int
    mean: float | None
    errors: int


def _games(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[Any, dict[int, dict[str, Any]]]]:
    """Pairwise rows by model pair, then by (question, turn), then by game."""
    games: dict[tuple[str, str], dict[Any, dict[int, dict[str, Any]]]] = defaultdict(lambda: defaultdict(dict))
    for row in rows:
        if row["mode"] == "pairwise":
            games[(row["model_1"], row["model_2"])][(row["question_id"], row.get("turn"))][row["game"]] = row
    return games


def pair_tallies(rows: list[dict[str, Any]]) -> list[PairTally]:
    tallies = []
    for (model_1, model_2), by_question in _games(rows).items():
        # A question with a game not judged yet is missing, not an error (a judgment without a verdict):
        # it is left out here, and the run says it is incomplete.
        outcomes = [combine_games(g[1]["winner"], g[2]["winner"]) for g in by_question.values() if 1 in g and 2 in g]
        tallies.append(tally(model_1, model_2, outcomes))
    return tallies


def single_summaries(rows: list[dict[str, Any]]) -> list[SingleSummary]:
    scores: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    for row in rows:
        if row["mode"] != "single":
            continue
        if row["score"] is None:
            errors[row["model"]] += 1
        else:
            scores[row["model"]].append(float(row["score"]))
    models = sorted(set(scores) | set(errors))
    return [SingleSummary(m, len(scores[m]), sum(scores[m]) / len(scores[m]) if scores[m] else None, errors[m])
            for m in models]


def judgment_lines(rows: list[dict[str, Any]]) -> str:
    """The text of a ``judgments.jsonl``: strict JSON, so a NaN or an infinity (which JSON cannot hold and
    other readers refuse) stops the write with one line instead of landing in the file."""
    lines = []
    for row in rows:
        try:
            lines.append(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n")
        except ValueError:
            bad = sorted(k for k, v in row.items() if isinstance(v, float) and not math.isfinite(v))
            raise JpBenchError(f"judgments.jsonl: question {row.get('question_id')!r} has a value that is not a "
                               f"finite number ({', '.join(bad) or 'a nested field'}); nothing was written") from None
    return "".join(lines)


def write_outputs(out: Path, rows: list[dict[str, Any]], judge: str) -> list[Path]:
    from jp_bench.fastchat_io import (
        PairwiseJudgmentRecord,
        SingleJudgmentRecord,
        write_pairwise_judgments,
        write_single_judgments,
    )

    out.mkdir(parents=True, exist_ok=True)
    written = [write_text_atomic(out / "judgments.jsonl", judgment_lines(rows))]
    # FastChat's files hold one judgment per item: with --samples N they get sample 0, the one an
    # ordinary run makes (judgments.jsonl has every sample).
    rows = [r for r in rows if not r.get("sample")]
    pairwise = []
    for (model_1, model_2), by_question in _games(rows).items():
        for (question_id, turn), games in by_question.items():
            g1, g2 = games.get(1, {}), games.get(2, {})
            pairwise.append(PairwiseJudgmentRecord(
                question_id=question_id, model_1=model_1, model_2=model_2,
                g1_winner=g1.get("winner", "error"), g2_winner=g2.get("winner", "error"),
                g1_judgment=g1.get("reply") or "", g2_judgment=g2.get("reply") or "", judge=judge, turn=turn or 1,
            ))
    single = [SingleJudgmentRecord(question_id=r["question_id"], model=r["model"],
                                   score=r["score"] if r["score"] is not None else -1,
                                   judgment=r.get("reply") or "", judge=judge, turn=r.get("turn") or 1)
              for r in rows if r["mode"] == "single"]
    folder = out / "model_judgment"
    if pairwise:
        written += write_pairwise_judgments(folder, pairwise)
    if single:
        written += write_single_judgments(folder, single)
    return written

