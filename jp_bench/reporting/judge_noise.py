"""The report's view of the judge: its noise (``--samples N``), its probabilities (weighted judges)
and juries (several judges pooled, with judge–judge agreement and a self-preference check).

Everything here adds to the entries :func:`jp_bench.reporting.report.build_report` makes; with one
sample, no log-probabilities and no jury, nothing is added and nothing changes.

- **Samples.** Entries say ``samples`` (N), ``judge_sd`` and ``judge_share``; their ``ci95`` and
  ``stderr`` come from the two-level bootstrap (:mod:`jp_bench.stats.judge_noise`), and the point
  value is the mean over questions of each question's mean over samples. Rankings draw the same two
  levels from the folded table's ``cluster`` and ``sample`` (:func:`fold_samples`).
- **Weighted.** ``weighted_mean`` (single: the mean expected score) or ``weighted_win_rate``
  (pairwise: the mean over questions of the mean over both games of P(win) + 0.5·P(tie)), each with
  ``weighted_ci95`` from the same bootstrap.
- **Juries.** The members' rows of one jury are pooled into a judge named after the jury: per game
  the majority of the members' winners (no majority: tie), per single item the mean score. The
  report lists ``juries``: members, Cohen's kappa for each pair of members (with and without ties)
  and mean absolute score differences, and ``self_preference``: members whose own model family
  answered, with how much higher it scored that family than the other members did.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from jp_bench._util.figures import interval_text, number
from jp_bench.stats.common import CLUSTER_COLUMN, resampling_units, sorted_unique, to_plain
from jp_bench.stats.judge_noise import sample_matrix, two_level_bootstrap

_SWAP = {"model_1": "model_2", "model_2": "model_1", "tie": "tie", "error": "error"}

# Model families by the names vendors and hubs give their models; a judge is suspected of
# self-preference when a model of its own family is among those judged.
# OpenAI's GPT models by their versions (gpt-3.5, gpt-4o, gpt-5, gpt-oss): "gpt" alone also names other
# makers' models (rinna's japanese-gpt-neox, EleutherAI's gpt-neox and gpt-j), which are no kin of the judge.
FAMILIES = (
    ("openai", r"(?<![a-z])gpt-?(?:3\.?5|4|5|oss)|openai|\bo[134]\b|o[134]-|davinci|chatgpt"),
    ("anthropic", r"claude|anthropic"),
    ("google", r"gemini|gemma|palm|bard"),
    ("meta", r"llama"),
    ("qwen", r"qwen"),
    ("mistral", r"mistral|mixtral"),
    ("deepseek", r"deepseek"),
)


def family_of(name: str | None) -> str | None:
    if not name:
        return None
    lowered = name.lower()
    return next((family for family, pattern in FAMILIES if re.search(pattern, lowered)), None)


def sample_count(frame: pd.DataFrame) -> int:
    if "sample" not in frame.columns:
        return 1
    return max(1, frame["sample"].dropna().nunique())


def fold_samples(frame: pd.DataFrame) -> pd.DataFrame:
    """With several judge samples, each (question, sample) becomes one row of its own question id, so
    the one-level summaries (which allow one row per question) count every sample; their intervals
    are then replaced by the two-level ones. The row keeps its question as its ``cluster`` and its
    ``sample``, from which Bradley–Terry draws the two levels itself."""
    if sample_count(frame) <= 1:
        return frame
    folded = frame.copy()
    folded["question_id"] = [f"{q}#{int(s) if pd.notna(s) else 0}" for q, s in zip(frame["question_id"],
                                                                                   frame["sample"], strict=True)]
    questions, position = resampling_units(frame)
    folded[CLUSTER_COLUMN] = [questions[i] for i in position]
    return folded


def _pairwise_values(frame: pd.DataFrame, model: Any, baseline: Any, column: str) -> list[tuple[Any, int, float]]:
    """(question, sample, value) from ``model``'s side against ``baseline``: ``column`` "score" is the
    combined hard outcome (1 / 0.5 / 0), "weighted_score" the probability-weighted one."""
    from jp_bench.stats.outcomes import OUTCOME_SCORES, combine_games

    hard = OUTCOME_SCORES
    items = []
    for row in frame.itertuples(index=False):
        if {row.model_1, row.model_2} != {model, baseline}:
            continue
        flipped = row.model_1 != model
        if column == "score":
            g1, g2 = (_SWAP[row.g2_winner], _SWAP[row.g1_winner]) if flipped else (row.g1_winner, row.g2_winner)
            value = hard.get(combine_games(g1, g2).outcome, np.nan)
        else:
            value = row.weighted_score
            value = 1.0 - value if flipped and pd.notna(value) else value
        items.append((row.question_id, int(row.sample) if pd.notna(row.sample) else 0, float(value)))
    return items


def _single_values(frame: pd.DataFrame, model: Any, column: str) -> list[tuple[Any, int, float]]:
    rows = frame[frame["model"] == model]
    samples = rows["sample"].fillna(0).astype(int) if "sample" in rows.columns else pd.Series(0, index=rows.index)
    # One value per question and sample: several turns (or duplicate rows) are averaged.
    table = pd.DataFrame({"q": rows["question_id"], "s": samples, "v": pd.to_numeric(rows[column], errors="coerce")})
    grouped = table.groupby(["q", "s"], sort=False)["v"].mean()
    return [(q, int(s), float(v)) for (q, s), v in grouped.items()]


def _noise_fields(items: list[tuple[Any, int, float]], rows: pd.DataFrame, n_boot: int, seed: int,
                  ci: float) -> dict[str, Any]:
    """The two-level figures of ``items`` over every item of ``rows`` (so that the question draws are
    those of the one-level bootstrap of the same rows), each item drawn with its question."""
    _, position = resampling_units(rows)
    question_of = dict(zip(rows["question_id"], position, strict=True))
    every_item = sorted_unique(rows["question_id"])
    clusters = np.array([question_of[item] for item in every_item], dtype=int)
    return two_level_bootstrap(sample_matrix(items, every_item), n_boot, seed, ci, clusters=clusters)


def pairwise_additions(frame: pd.DataFrame, entry: dict[str, Any], n_boot: int, seed: int,
                       ci: float) -> dict[str, Any]:
    """The judge-noise and weighted fields of one pairwise entry (``frame``: that judge's rows)."""
    return _additions(frame, entry, n_boot, seed, ci, ("adjusted_win_rate", "weighted_win_rate"),
                      lambda rows, column: _pairwise_values(rows, entry["model"], entry["baseline"], column))


def single_additions(frame: pd.DataFrame, entry: dict[str, Any], n_boot: int, seed: int,
                     ci: float) -> dict[str, Any]:
    """The judge-noise and weighted fields of one single-score entry (``frame``: that judge's rows)."""
    return _additions(frame, entry, n_boot, seed, ci, ("mean", "weighted_mean"),
                      lambda rows, column: _single_values(rows, entry["model"], column))


def _additions(frame: pd.DataFrame, entry: dict[str, Any], n_boot: int, seed: int, ci: float,
               names: tuple[str, str], values_of: Any) -> dict[str, Any]:
    """``names``: the entry's value and its weighted counterpart; ``values_of(rows, column)`` gives the
    (question, sample, value) triples of ``column`` ("score" or "weighted_score")."""
    value, weighted_value = names
    out: dict[str, Any] = {}
    samples = sample_count(frame)
    if samples > 1:
        noise = _noise_fields(values_of(frame, "score"), frame, n_boot, seed, ci)
        out.update({value: noise["mean"], "ci95": noise["ci95"], "stderr": noise["stderr"], "samples": samples,
                    "judge_sd": noise["judge_sd"], "judge_share": noise["judge_share"]})
        out["by_category"] = _by_category(entry, frame, n_boot, seed, ci, value,
                                          lambda rows: values_of(rows, "score"))
    if "weighted_score" in frame.columns and frame["weighted_score"].notna().any():
        weighted = _noise_fields(values_of(frame, "weighted_score"), frame, n_boot, seed, ci)
        out.update({weighted_value: weighted["mean"], "weighted_ci95": weighted["ci95"],
                    "weighted_stderr": weighted["stderr"]})
    return to_plain(out)


def _by_category(entry: dict[str, Any], frame: pd.DataFrame, n_boot: int, seed: int, ci: float, value: str,
                 values_of: Any) -> dict[str, Any]:
    """The entry's per-category figures with two-level intervals over the category's own questions."""
    updated = {}
    for category, figures in (entry.get("by_category") or {}).items():
        rows = frame[frame["category"] == category]
        noise = _noise_fields(values_of(rows), rows, n_boot, seed, ci)
        updated[category] = {**figures, value: noise["mean"], "ci95": noise["ci95"], "stderr": noise["stderr"]}
    return updated


# ------------------------------------------------------------------------------------------ juries


def _majority(winners: list[str]) -> str:
    # A pooled verdict needs every member's: a member without one (an error) leaves the jury without one,
    # rather than letting the others decide as if the jury were smaller.
    if not winners or "error" in winners:
        return "error"
    top, count = Counter(winners).most_common(1)[0]
    return top if count > len(winners) / 2 else "tie"


_POOL_KEYS = {"pairwise": ["question_id", "model_1", "model_2", "sample"],
              "single": ["question_id", "model", "turn", "sample"]}


def _jury_items(frame: pd.DataFrame, kind: str) -> Any:
    """(jury, item rows, every member judged it) for each item of each jury. An item some member has no
    row for is missing for the jury (not an error, which is a judgment without a verdict): never pooled
    from the members present, and counted apart (:func:`jury_agreement`'s ``missing``)."""
    if "jury" not in frame.columns or not frame["jury"].notna().any():
        return
    for jury, rows in frame[frame["jury"].notna()].groupby("jury", sort=True):
        members = set(rows["judge"])
        for _, item in rows.groupby(_POOL_KEYS[kind], sort=False, dropna=False):
            yield jury, item, set(item["judge"]) == members


def pooled_frames(pairwise: pd.DataFrame, single: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each jury's members pooled into one judge named after the jury (rows to append to the tables)."""
    pooled_pairs, pooled_single = [], []
    if "jury" in pairwise.columns and pairwise["jury"].notna().any():
        for jury, item, whole in _jury_items(pairwise, "pairwise"):
            if whole:
                first = item.iloc[0]
                pooled_pairs.append({**first.to_dict(), "judge": jury, "prompt_version": None,
                                     "g1_winner": _majority(item["g1_winner"].tolist()),
                                     "g2_winner": _majority(item["g2_winner"].tolist()),
                                     "weighted_score": item["weighted_score"].mean()})
    if "jury" in single.columns and single["jury"].notna().any():
        for jury, item, whole in _jury_items(single, "single"):
            if whole:
                first = item.iloc[0]
                # Every member's score, or none: a member's error is the jury's (its mean is not the others').
                score = item["score"].mean() if item["score"].notna().all() else None
                pooled_single.append({**first.to_dict(), "judge": jury, "prompt_version": None,
                                      "score": score, "weighted_score": item["weighted_score"].mean()})
    return (pd.DataFrame(pooled_pairs, columns=pairwise.columns), pd.DataFrame(pooled_single, columns=single.columns))


def jury_agreement(pairwise: pd.DataFrame, single: pd.DataFrame, judge_models: dict[str, str]) -> list[dict]:
    """Per jury: its members, judge–judge agreement of every pair of members, and self-preference."""
    from jp_bench.votes.comparisons import agreement_stats, judge_judge_comparisons
    from jp_bench.votes.model import combine_games, make_vote

    juries = sorted(set(pairwise.get("jury", pd.Series(dtype=object)).dropna())
                    | set(single.get("jury", pd.Series(dtype=object)).dropna()))
    found = []
    for jury in juries:
        pair_rows = pairwise[pairwise["jury"] == jury] if "jury" in pairwise.columns else pairwise.iloc[0:0]
        single_rows = single[single["jury"] == jury] if "jury" in single.columns else single.iloc[0:0]
        members = sorted(set(pair_rows["judge"]) | set(single_rows["judge"]))
        entry: dict[str, Any] = {"jury": jury, "members": members, "pairs": [], "self_preference": [],
                                 "missing": sum(not whole for kind, frame in (("pairwise", pair_rows),
                                                                                ("single", single_rows))
                                                for _, _, whole in _jury_items(frame, kind))}
        votes: dict[str, list] = {}
        for judge, rows in pair_rows.groupby("judge"):
            votes[judge] = [make_vote(r.question_id if pd.isna(r.sample) else f"{r.question_id}#{int(r.sample)}",
                                      r.model_1, r.model_2, winner, voter=judge)
                            for r in rows.itertuples(index=False)
                            if (winner := combine_games(r.g1_winner, r.g2_winner)) is not None]
        for first, second in itertools.combinations(members, 2):
            pair: dict[str, Any] = {"judge_1": first, "judge_2": second}
            if first in votes and second in votes:
                comparisons = judge_judge_comparisons(votes[first], votes[second])
                with_ties = agreement_stats(comparisons, ties=True, n_boot=0)
                without = agreement_stats(comparisons, ties=False, n_boot=0)
                pair.update(n=with_ties["n"], agreement=with_ties["agreement"], kappa=with_ties["kappa"],
                            agreement_without_ties=without["agreement"], kappa_without_ties=without["kappa"])
            scores = single_rows.pivot_table(index=["question_id", "model", "turn"], columns="judge", values="score",
                                             aggfunc="mean") if len(single_rows) else None
            if scores is not None and first in scores and second in scores:
                both = scores[[first, second]].dropna()
                pair.update(n_scores=len(both), mean_abs_score_difference=float((both[first] - both[second]).abs()
                                                                                .mean()) if len(both) else None,
                            score_correlation=float(both[first].corr(both[second])) if len(both) > 2 else None)
            entry["pairs"].append(pair)
        entry["self_preference"] = _self_preference(members, pair_rows, single_rows, judge_models)
        found.append(to_plain(entry))
    return found


def _self_preference(members: list[str], pair_rows: pd.DataFrame, single_rows: pd.DataFrame,
                     judge_models: dict[str, str]) -> list[dict]:
    """Members whose own family answered: that model's result from this member and from the others."""
    notes = []
    for judge in members:
        family = family_of(judge_models.get(judge)) or family_of(judge)
        if family is None:
            continue
        judged = sorted(set(single_rows["model"]) | set(pair_rows["model_1"]) | set(pair_rows["model_2"]), key=str)
        for model in (m for m in judged if family_of(str(m)) == family):
            note: dict[str, Any] = {"judge": judge, "family": family, "model": model}
            if len(single_rows):
                mine = single_rows[(single_rows["judge"] == judge) & (single_rows["model"] == model)]["score"]
                others = single_rows[(single_rows["judge"] != judge) & (single_rows["model"] == model)]["score"]
                if mine.notna().any() and others.notna().any():
                    note.update(own_judge_mean=float(mine.mean()), other_judges_mean=float(others.mean()),
                                difference=float(mine.mean() - others.mean()))
            if len(pair_rows):
                def rate(rows: pd.DataFrame, model: Any = model) -> float | None:
                    values = [v for _, _, v in _pairwise_values_any(rows, model) if not np.isnan(v)]
                    return float(np.mean(values)) if values else None
                mine_rate = rate(pair_rows[pair_rows["judge"] == judge])
                other_rate = rate(pair_rows[pair_rows["judge"] != judge])
                if mine_rate is not None and other_rate is not None:
                    note.update(own_judge_win_rate=mine_rate, other_judges_win_rate=other_rate,
                                difference=mine_rate - other_rate)
            notes.append(note)
    return notes


def _pairwise_values_any(rows: pd.DataFrame, model: Any) -> list[tuple[Any, int, float]]:
    """``model``'s adjusted outcomes against whichever model it met."""
    found = []
    for opponent in sorted(set(rows["model_1"]) | set(rows["model_2"]), key=str):
        if opponent != model:
            found += _pairwise_values(rows, model, opponent, "score")
    return found


# ------------------------------------------------------------------------------------- text report




def text_sections(report: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """The report's tables for weighted verdicts, judge samples and juries (none when there are none)."""
    sections: list[tuple[str, list[str], list[list[str]]]] = []
    weighted = [e for e in report["pairwise"] if e.get("weighted_win_rate") is not None]
    weighted += [e for e in report["single"] if e.get("weighted_mean") is not None]
    if weighted:
        rows = [[e["judge"], str(e["model"]), str(e.get("baseline") or "-"),
                 number(e.get("adjusted_win_rate", e.get("mean"))), interval_text(e.get("ci95")),
                 number(e.get("weighted_win_rate", e.get("weighted_mean"))), interval_text(e.get("weighted_ci95"))]
                for e in weighted]
        sections.append(("Hard and probability-weighted results (adj. win rate or mean score)",
                         ["judge", "model", "baseline", "hard", "95% CI", "weighted", "95% CI"], rows))
    noisy = [e for e in report["pairwise"] + report["single"] if (e.get("samples") or 1) > 1]
    if noisy:
        rows = [[e["judge"], str(e["model"]), str(e["samples"]), number(e.get("adjusted_win_rate", e.get("mean"))),
                 interval_text(e.get("ci95")), number(e.get("judge_sd")), number(e.get("judge_share"), 2)]
                for e in noisy]
        sections.append(("Judge noise (two-level bootstrap over questions, then judge samples)",
                         ["judge", "model", "samples", "value", "95% CI", "judge SD per item", "judge share of var"],
                         rows))
    for jury in report.get("juries", []):
        rows = [[p["judge_1"], p["judge_2"], str(p.get("n", "-")), number(p.get("kappa")),
                 number(p.get("kappa_without_ties")), number(p.get("mean_abs_score_difference"), 2)]
                for p in jury["pairs"]]
        sections.append((f"Jury {jury['jury']}: judge-judge agreement (pooled as {jury['jury']})",
                         ["judge", "judge", "n", "kappa", "kappa w/o ties", "mean |score diff|"], rows))
        if jury.get("missing"):
            sections.append((f"jury {jury['jury']}: {jury['missing']} item(s) lack some member's judgment; they are "
                             "missing from the pooled result (not counted as errors)", [], []))
        for note in jury["self_preference"]:
            detail = (f"{note['own_judge_mean']:.2f} by it vs {note['other_judges_mean']:.2f} by the others"
                      if "own_judge_mean" in note else
                      f"win rate {note['own_judge_win_rate']:.3f} by it vs {note['other_judges_win_rate']:.3f} "
                      "by the others" if "own_judge_win_rate" in note else "no other member's result to compare")
            sections.append((f"self-preference check: {note['judge']} ({note['family']}) judged {note['model']} "
                             f"of its own family: {detail}", [], []))
    return sections
