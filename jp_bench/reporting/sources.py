"""Judgment sources for reports: our ``judgments.jsonl`` (or the folder holding it), lm-eval output of
a judged run (``--metadata judge``: each sample carries its rows), and FastChat ``model_judgment`` files
of either layout, turned into the two tables the statistics work on.

PAIRWISE: one row per (judge, question, model pair, turn): question_id, category, model_1, model_2,
g1_winner, g2_winner, len_1, len_2, judge, prompt_version, cluster (the question: a turn of a
multi-turn question is an item of its own, question_id "81/2", of cluster 81 (:func:`turn_item`), and
the bootstrap draws whole questions), turn (our rows without one: 1), where (``file:line`` of a
FastChat row, else None), repeat (0; 1, 2, ... for a FastChat row judging an item already judged:
kept and counted, as FastChat's ``show_result`` counts it, and reported).
SINGLE: one row per (judge, question, model, turn): question_id, category, model, score (NaN: no
score), length, judge, prompt_version, turn (our rows without one: 1), where (``file:line`` of a
FastChat row, else None). FastChat files may hold a (model, question, turn) twice: those rows are
kept, since FastChat's ``show_result`` counts both, and the report says so.

Both tables also carry what the answers judged say about themselves (:mod:`jp_bench.answer_text`; the
names are :data:`jp_bench.answer_text.FEATURE_COLUMNS`): headers, list_items, bold, japanese_share and
reasoning_chars in SINGLE; the same with ``_1`` (model_1's answer) and ``_2`` (model_2's) in PAIRWISE
(:data:`jp_bench.answer_text.PAIRWISE_FEATURE_COLUMNS`). Floats, NaN where unknown: rows written before
answers were measured, FastChat files without the answer texts (single-answer files never have them),
an answer without letters (japanese_share).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from jp_bench.answer_text import FEATURE_COLUMNS, PAIRWISE_FEATURE_COLUMNS
from jp_bench.benchmarks.questions import iter_jsonl
from jp_bench.errors import InputFileError, JpBenchError
from jp_bench.reporting.scales import ScoreScale, scale_from_prompt, schema_scale
from jp_bench.stats.common import CLUSTER_COLUMN
from jp_bench.stats.outcomes import OUTCOME_SCORES
from jp_bench.stats.tables import REPEAT_COLUMN

PAIRWISE_COLUMNS = ["question_id", "category", "model_1", "model_2", "g1_winner", "g2_winner", "len_1", "len_2",
                    "judge", "prompt_version", CLUSTER_COLUMN, "turn", "where", REPEAT_COLUMN]
SINGLE_COLUMNS = ["question_id", "category", "model", "score", "length", "judge", "prompt_version", "turn", "where"]
# Columns of judge noise and juries (jp_bench.reporting.judge_noise): the judge sample (None: the one
# sample of an ordinary run), the probability-weighted value (NaN: no log-probabilities; pairwise:
# model_1's mean over both games of P(win) + 0.5·P(tie)) and the jury the judge sat on.
NOISE_COLUMNS = ["sample", "weighted_score", "jury"]


def _feature_values(features: dict | None, suffix: str = "") -> dict[str, Any]:
    """A table row's answer feature columns from a judgment row's features object (None: not measured)."""
    return {f"{name}{suffix}": (features or {}).get(name) for name in FEATURE_COLUMNS}


@dataclass
class Judgments:
    pairwise: pd.DataFrame
    single: pd.DataFrame
    sources: list[str] = field(default_factory=list)
    costs: dict[tuple[str, str], float] = field(default_factory=dict)  # (judge, judged model) -> USD
    prompt_sets: dict[str, tuple[str, str]] = field(default_factory=dict)  # judge -> (prompt set, version)
    judge_models: dict[str, str] = field(default_factory=dict)  # judge -> the model it called (when recorded)
    # judge -> the score scale its single judgments state (None: they state none); see reporting.scales
    scales: dict[str, ScoreScale | None] = field(default_factory=dict)


def _ours(path: Path) -> list[dict]:
    from jp_bench.judging.records import read_judgments_file

    return read_judgments_file(path)


def _lm_eval_rows(path: Path) -> list[dict]:
    """judgments.jsonl rows carried by lm-eval samples of a judged run (``doc.judgment.rows``).

    The judged model is named as the answers reader names it (lm-eval's ``model_name``).
    """
    from jp_bench.harness.samples import lm_eval_sample_files, model_name_for
    from jp_bench.judging.records import read_judgment_rows

    rows: list[dict] = []
    for sample_file in lm_eval_sample_files(path):
        model = model_name_for(sample_file)
        carried = []
        for line, record in iter_jsonl(sample_file):
            doc = record.get("doc")
            judgment = doc.get("judgment") if isinstance(doc, dict) else None
            found = judgment.get("rows") if isinstance(judgment, dict) else None
            if found is not None and not isinstance(found, list):
                raise InputFileError(sample_file, line, "field 'doc.judgment.rows': expected a list of judgments")
            carried += [(line, row if isinstance(row, dict) else {"row": row}) for row in found or []]
        for row in read_judgment_rows(carried, sample_file):
            rows.append({**row, "model" if row["mode"] == "single" else "model_1": model})
    return rows


def judge_labels(rows: Iterable[dict]) -> dict[tuple[str, str | None], str]:
    """The name a judge goes by in reports: its judge name, qualified by the model actually called
    when one judge name covers several models (``openai-compatible (Qwen/...)``), so they never merge."""
    models: dict[str, set] = {}
    for row in rows:
        models.setdefault(row.get("judge", ""), set()).add(row.get("judge_model"))
    return {(judge, model): judge if len(found) == 1 or model is None else f"{judge} ({model})"
            for judge, found in models.items() for model in found}


def turn_item(question_id: Any, turn: int | None) -> Any:
    """The pairwise item of one turn of a question: ``"81/2"`` for turn 2 of question 81 (its cluster is
    the question); a judgment without a turn (the whole answer) is the question itself.

    The one owner of the folding: our judgments.jsonl rows and FastChat's pairwise rows (which always
    have a turn; the paper's layout, which writes none, is read as turn 1) become items alike.
    """
    return question_id if turn is None else f"{question_id}/{turn}"


def _our_rows(rows: list[dict], costs: dict, prompt_sets: dict,
              judge_models: dict) -> tuple[list[dict], list[dict]]:
    games: dict[tuple, dict] = {}
    single: list[dict] = []
    labels = judge_labels(rows)
    for row in rows:
        judge = labels[(row.get("judge", ""), row.get("judge_model"))]
        if row.get("judge_model"):
            judge_models.setdefault(judge, row["judge_model"])
        # Pairwise cost is the judged model's (model_2 is the baseline in our pairwise mode).
        judged = row.get("model") if row.get("mode") == "single" else row.get("model_1")
        costs[(judge, str(judged))] = costs.get((judge, str(judged)), 0.0) + float(row.get("cost_usd") or 0.0)
        prompt_sets.setdefault(judge, (row.get("prompt_set", ""), row.get("prompt_version", "")))
        if row.get("mode") == "single":
            # turn null means the whole answer was judged at once: for per-turn tables that is turn 1.
            single.append({"question_id": row["question_id"], "category": row.get("category") or "unknown",
                           "model": row["model"], "score": row.get("score"), "length": row.get("answer_chars"),
                           "judge": judge, "prompt_version": row.get("prompt_version"),
                           "turn": row.get("turn") or 1, "where": None,
                           # A rubric prompt's rows state their scale (1-5); the rest score 1-10.
                           "scale": ScoreScale(*map(float, row["scale"])) if row.get("scale") else schema_scale(),
                           "sample": row.get("sample"), "weighted_score": row.get("expected_score"),
                           "jury": row.get("jury"), **_feature_values(row.get("answer_features"))})
            continue
        key = (judge, row["question_id"], row.get("turn"), row["model_1"], row["model_2"], row.get("sample"))
        entry = games.setdefault(key, {
            # The pairwise table holds one row per question and pair: each turn of a multi-turn question
            # is an item of its own there ("81/2": question 81, turn 2), as FastChat counts MT-Bench games;
            # its cluster is the question, which the bootstrap draws with all its turns.
            "question_id": turn_item(row["question_id"], row.get("turn")),
            CLUSTER_COLUMN: row["question_id"], "turn": row.get("turn") or 1, "where": None,
            "category": row.get("category") or "unknown",
            "model_1": row["model_1"], "model_2": row["model_2"], "g1_winner": "error", "g2_winner": "error",
            "len_1": row.get("answer_1_chars"), "len_2": row.get("answer_2_chars"),
            "judge": judge, "prompt_version": row.get("prompt_version"),
            "sample": row.get("sample"), "jury": row.get("jury"), "_weights": {},
            **_feature_values(row.get("answer_1_features"), "_1"),
            **_feature_values(row.get("answer_2_features"), "_2"),
        })
        entry[f"g{row['game']}_winner"] = row.get("winner", "error")
        probs = row.get("verdict_probs")
        if probs and row.get("status") == "ok":
            mine = "A" if row["game"] == 1 else "B"  # game 2 shows model_1 as B
            entry["_weights"][row["game"]] = (probs.get(mine, 0.0) * OUTCOME_SCORES["win"]
                                              + probs.get("C", 0.0) * OUTCOME_SCORES["tie"])
    for entry in games.values():
        weights = entry.pop("_weights")
        entry["weighted_score"] = (weights[1] + weights[2]) / 2 if len(weights) == 2 else None
    return list(games.values()), single


def _fastchat(path: Path) -> tuple[list[dict], list[dict]]:
    from jp_bench.fastchat_io import judge_model_name, read_pairwise_judgments, read_single_judgments

    kinds = _fastchat_kinds(path)
    # Each turn is an item of its question, as our rows' turns are; duplicates are kept (FastChat counts
    # them) and reported.
    pairwise = [{"question_id": turn_item(r.question_id, r.turn), "category": "unknown", "model_1": r.model_1,
                 "model_2": r.model_2, "g1_winner": r.g1_winner, "g2_winner": r.g2_winner,
                 "len_1": r.answer_1_chars, "len_2": r.answer_2_chars, "judge": judge_model_name(r.judge),
                 "prompt_version": None, CLUSTER_COLUMN: r.question_id, "turn": r.turn, "where": r.where,
                 **_feature_values(r.answer_1_features and r.answer_1_features.row_fields(), "_1"),
                 **_feature_values(r.answer_2_features and r.answer_2_features.row_fields(), "_2")}
                for r in (read_pairwise_judgments(path, keep_duplicates=True) if "pairwise" in kinds else [])]
    # Duplicates are kept (FastChat counts them) and reported; the prompt states the score scale.
    single = [{"question_id": r.question_id, "category": "unknown", "model": r.model, "score": r.score,
               "length": None, "judge": judge_model_name(r.judge), "prompt_version": None, "turn": r.turn,
               "where": r.where, "scale": scale_from_prompt(r.user_prompt)}
              for r in (read_single_judgments(path, keep_duplicates=True) if "single" in kinds else [])]
    return pairwise, single


def _fastchat_kinds(path: Path) -> set[str]:
    """Which FastChat judgment kinds ``path`` holds, from the first record of each file."""
    files = [path] if path.is_file() else sorted(path.rglob("*.jsonl"))
    kinds: set[str] = set()
    for file in files:
        first = _first_record(file)
        if first is None:
            continue
        if "g1_winner" in first:
            kinds.add("pairwise")
        elif "score" in first and "model" in first:
            kinds.add("single")
    return kinds


def _first_record(path: Path) -> dict | None:
    try:
        with path.open(encoding="utf-8-sig") as handle:
            for line in handle:
                if line.strip():
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        return None
                    return record if isinstance(record, dict) else None
    except UnicodeDecodeError:
        raise InputFileError(path, None, "not UTF-8 text") from None
    return None


def _is_ours(path: Path) -> bool:
    first = _first_record(path)
    return first is not None and "mode" in first and "key" in first


def load_judgments(sources: Sequence[str | Path]) -> Judgments:
    pairwise: list[dict] = []
    single: list[dict] = []
    from jp_bench.judging.records import judgment_identity

    ours: list[dict] = []  # our judgment rows of every source, labelled together
    origins: dict[tuple, str] = {}
    for source in sources:
        path = Path(source).expanduser()
        if not path.exists():
            raise JpBenchError(f"{path}: no such file or folder")
        own = path / "judgments.jsonl" if path.is_dir() else path
        rows = _ours(own) if own.is_file() and _is_ours(own) else _lm_eval_rows(path)
        found = ([], []) if rows else _fastchat(path)
        if not rows and not found[0] and not found[1]:
            raise JpBenchError(f"{path}: no judgments found (expected judgments.jsonl, judged lm-eval output or "
                               "FastChat judgment files)")
        for row in rows:  # the same judgment from two sources would count twice
            identity = judgment_identity(row)
            if identity in origins:
                raise JpBenchError(f"{path}: holds judgments already read from {origins[identity]} (question "
                                   f"{row['question_id']!r}); give each judgments file once")
            origins[identity] = str(path)
        ours += rows
        pairwise += found[0]
        single += found[1]
    costs: dict[tuple[str, str], float] = {}
    prompt_sets: dict[str, tuple[str, str]] = {}
    judge_models: dict[str, str] = {}
    if ours:
        found = _our_rows(ours, costs, prompt_sets, judge_models)
        pairwise += found[0]
        single += found[1]
    scales = _judge_scales(single)
    pair_frame = pd.DataFrame(pairwise, columns=PAIRWISE_COLUMNS + NOISE_COLUMNS + list(PAIRWISE_FEATURE_COLUMNS))
    single_frame = pd.DataFrame(single, columns=SINGLE_COLUMNS + NOISE_COLUMNS + list(FEATURE_COLUMNS))
    for frame in (pair_frame, single_frame):
        frame["weighted_score"] = pd.to_numeric(frame["weighted_score"], errors="coerce")
    for column in ("len_1", "len_2"):
        pair_frame[column] = pd.to_numeric(pair_frame[column], errors="coerce")
    for column in PAIRWISE_FEATURE_COLUMNS:
        pair_frame[column] = pd.to_numeric(pair_frame[column], errors="coerce").astype(float)
    for column in FEATURE_COLUMNS:
        single_frame[column] = pd.to_numeric(single_frame[column], errors="coerce").astype(float)
    single_frame["score"] = pd.to_numeric(single_frame["score"], errors="coerce")
    single_frame["length"] = pd.to_numeric(single_frame["length"], errors="coerce")
    single_frame["turn"] = single_frame["turn"].astype(int)
    pair_frame["turn"] = pair_frame["turn"].astype(int)
    pair_frame[REPEAT_COLUMN] = repeats(pair_frame)
    return Judgments(pairwise=pair_frame, single=single_frame, sources=[str(s) for s in sources], costs=costs,
                     prompt_sets=prompt_sets, judge_models=judge_models, scales=scales)


def item_keys(pairwise: pd.DataFrame) -> pd.Series:
    """Per PAIRWISE row, what makes it one judgment: judge, item (question and turn), the pair of models
    in either order, judge sample."""
    return pd.Series([(judge, repr(item), tuple(sorted((str(a), str(b)))), repr(sample)) for judge, item, a, b, sample
                      in zip(pairwise["judge"], pairwise["question_id"], pairwise["model_1"], pairwise["model_2"],
                             pairwise["sample"], strict=True)], index=pairwise.index, dtype=object)


def repeats(pairwise: pd.DataFrame) -> pd.Series:
    """Per PAIRWISE row, how many rows before it are the same judgment (:func:`item_keys`): 0 for the
    first. FastChat files may hold an item twice, and FastChat's ``show_result`` counts every row; the
    report counts them too, and says so."""
    return pairwise.groupby(item_keys(pairwise), sort=False).cumcount().astype(int)


def _judge_scales(single: list[dict]) -> dict[str, ScoreScale | None]:
    """Per judge, the one score scale its rows state; rows that state none (FastChat's turn-2 prompts
    keep the scale in the system prompt, which the file does not copy) go with the others."""
    stated: dict[str, dict[ScoreScale, str]] = {}
    for row in single:
        found = stated.setdefault(row["judge"], {})
        if row["scale"] is not None:
            found.setdefault(row["scale"], row["where"] or "judgments.jsonl")
    for judge, found in stated.items():
        if len(found) > 1:
            listed = ", ".join(f"{scale} ({where})" for scale, where in found.items())  # in reading order
            raise JpBenchError(f"judge {judge!r}: its single judgments state different score scales: {listed}; "
                               "a mean over them means nothing: report each scale's judgments on its own")
    return {judge: next(iter(found), None) for judge, found in stated.items()}


def attach_categories(judgments: Judgments, categories: dict) -> None:
    """Fill unknown categories from a question set (FastChat judgment files carry none), looked up by
    the question: a pairwise item's cluster ("81/2" is question 81's), else its question id."""
    for frame in (judgments.pairwise, judgments.single):
        if frame.empty:
            continue
        unknown = frame["category"].isin(["", "unknown"]) | frame["category"].isna()
        question = frame["question_id"]
        if CLUSTER_COLUMN in frame.columns:
            question = frame[CLUSTER_COLUMN].where(frame[CLUSTER_COLUMN].notna(), question)
        frame.loc[unknown, "category"] = question[unknown].map(categories).fillna("unknown")
