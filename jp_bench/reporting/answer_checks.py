"""Per model, what the answers' text says about itself: how much of them is Japanese, how many fall under
the Japanese threshold, how many had reasoning removed before judging.

Read from the report tables' answer columns (:mod:`jp_bench.reporting.sources`): each answer counted once,
however many rows it appears in (a model's answer to an item meets every opponent in pairwise-all, and
every judge sample). The measurement itself belongs to :mod:`jp_bench.answer_text`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from jp_bench.answer_text.japanese import JAPANESE_THRESHOLD
from jp_bench.stats.common import to_plain


def _answers_of(frame: pd.DataFrame, model: Any) -> pd.DataFrame:
    """One row per answer of ``model`` (per item; a turn is an item): ``japanese_share``, ``reasoning_chars``."""
    columns = ("japanese_share", "reasoning_chars")
    if "model" in frame.columns:  # SINGLE: one answer per (question, turn)
        if not set(columns) <= set(frame.columns):
            return pd.DataFrame(columns=["item", *columns])
        rows = frame[frame["model"] == model]
        items = list(zip(rows["question_id"].map(repr), rows["turn"], strict=True))
        return pd.DataFrame({"item": items, **{c: rows[c].to_numpy() for c in columns}}).drop_duplicates("item")
    parts = []
    for side in ("1", "2"):
        wanted = [f"{c}_{side}" for c in columns]
        if not set(wanted) <= set(frame.columns):
            continue
        rows = frame[frame[f"model_{side}"] == model]
        parts.append(pd.DataFrame({"item": rows["question_id"].map(repr).to_numpy(),
                                   **{c: rows[w].to_numpy() for c, w in zip(columns, wanted, strict=True)}}))
    if not parts:
        return pd.DataFrame(columns=["item", *columns])
    return pd.concat(parts, ignore_index=True).drop_duplicates("item")


def answer_checks(frame: pd.DataFrame, model: Any, threshold: float = JAPANESE_THRESHOLD) -> dict[str, Any]:
    """``japanese_share``: the mean share over the model's answers that have one (None: none measured —
    older judgments, or files without the answer texts); ``non_japanese_answers``: answers whose share is
    under ``threshold``; ``measured_answers``: answers with a share; ``reasoning_removed``: answers whose
    reasoning (``<think>…</think>``) was removed before judging."""
    answers = _answers_of(frame, model)
    shares = pd.to_numeric(answers["japanese_share"], errors="coerce").dropna()
    reasoning = pd.to_numeric(answers["reasoning_chars"], errors="coerce").fillna(0)
    return to_plain({
        "japanese_share": float(shares.mean()) if len(shares) else None,
        "non_japanese_answers": int((shares < threshold).sum()),
        "measured_answers": len(shares),
        "reasoning_removed": int((reasoning > 0).sum()),
    })


def answer_check_notes(judge: str, entries: list[dict[str, Any]], threshold: float = JAPANESE_THRESHOLD) -> list[str]:
    """One line per model with answers under the threshold or with reasoning removed."""
    notes = []
    for entry in entries:
        if entry.get("non_japanese_answers"):
            notes.append(f"{judge}: {entry['non_japanese_answers']} of {entry['measured_answers']} answer(s) of "
                         f"{entry['model']!r} are under the Japanese threshold ({threshold:g} of their letters in "
                         "kana/kanji); judged with `jp-bench judge --require-japanese`, such answers get the lowest "
                         "score or lose without a judge call")
        if entry.get("reasoning_removed"):
            notes.append(f"{judge}: {entry['reasoning_removed']} answer(s) of {entry['model']!r} carried reasoning "
                         "(<think>…</think>), removed before judging")
    return notes
