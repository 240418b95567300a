"""Comparisons between votes, agreement, Cohen's kappa and bootstrap intervals (pure: no I/O)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from jp_bench.stats.common import bootstrap_counts, bootstrap_weighted_means, resampling_units, unit_totals
from jp_bench.votes.model import JudgeVotes, Outcome, QuestionId, Vote, VoteKey

Stats = dict[str, Any]

_LABEL: dict[str, int] = {"lo": 0, "hi": 1, "tie": 2}
_TIE = _LABEL["tie"]
UNKNOWN_CATEGORY = "(unknown)"
KINDS = ("judge-human", "human-human", "judge-judge", "swapped-order")


@dataclass(frozen=True)
class Comparisons:
    """Vote pairs: ``first[i]`` against ``second[i]`` on ``keys[i]``; labels 0 = lo, 1 = hi, 2 = tie."""

    keys: tuple[VoteKey, ...]
    first: np.ndarray
    second: np.ndarray

    @classmethod
    def of(cls, pairs: Iterable[tuple[VoteKey, Outcome, Outcome]]) -> Comparisons:
        rows = list(pairs)
        return cls(
            tuple(key for key, _, _ in rows),
            np.array([_LABEL[a] for _, a, _ in rows], dtype=np.int64),
            np.array([_LABEL[b] for _, _, b in rows], dtype=np.int64),
        )

    def subset(self, keep: Callable[[VoteKey], bool]) -> Comparisons:
        mask = np.array([keep(key) for key in self.keys], dtype=bool)
        return Comparisons(tuple(k for k, m in zip(self.keys, mask, strict=True) if m), self.first[mask],
                           self.second[mask])


def _one_per_key(votes: Iterable[Vote]) -> dict[VoteKey, Vote]:
    by_key: dict[VoteKey, Vote] = {}
    for vote in votes:
        if vote.key in by_key:
            raise ValueError(f"{vote.voter or 'a judge'} has two votes on {vote.key!r}; a judge votes once per key")
        by_key[vote.key] = vote
    return by_key


def _group(votes: Iterable[Vote]) -> dict[VoteKey, list[Vote]]:
    groups: dict[VoteKey, list[Vote]] = {}
    for vote in votes:
        groups.setdefault(vote.key, []).append(vote)
    return groups


def judge_human_comparisons(judge: Iterable[Vote], humans: Iterable[Vote]) -> Comparisons:
    """The judge's single vote on a key against EACH human vote on that key (judge first)."""
    groups = _group(humans)
    return Comparisons.of(
        (key, vote.winner, human.winner) for key, vote in _one_per_key(judge).items() for human in groups.get(key, [])
    )


def human_human_comparisons(humans: Iterable[Vote]) -> Comparisons:
    """Every unordered pair of human votes on the same key, the earlier vote (input order) first."""
    return Comparisons.of(
        (key, a.winner, b.winner) for key, votes in _group(humans).items() for a, b in itertools.combinations(votes, 2)
    )


def judge_judge_comparisons(first: Iterable[Vote], second: Iterable[Vote]) -> Comparisons:
    """One comparison per key both voted on (also used for game 1 vs game 2 of one judge)."""
    other = _one_per_key(second)
    return Comparisons.of((key, v.winner, other[key].winner) for key, v in _one_per_key(first).items() if key in other)


def cohen_kappa(first: np.ndarray, second: np.ndarray, n_labels: int = 3) -> float | None:
    """Cohen's kappa of two label arrays (labels ``0..n_labels-1``); None when empty or undefined
    (both raters used one and the same label throughout, so chance agreement is 1)."""
    n = int(first.size)
    if n == 0:
        return None
    confusion = np.bincount(first * n_labels + second, minlength=n_labels * n_labels).reshape(n_labels, n_labels)
    chance = int(confusion.sum(axis=1) @ confusion.sum(axis=0))  # n**2 times the chance agreement
    if chance == n * n:
        return None
    observed = int(np.trace(confusion))
    return float((observed * n - chance) / (n * n - chance))


def bootstrap_ci(keys: Sequence[VoteKey], match: np.ndarray, n_boot: int = 1000, seed: int = 0) -> list[float] | None:
    """95% percentile interval of the agreement rate by a cluster bootstrap over questions; None when
    there is nothing to resample.

    The resampling unit is the question (``key[0]``), not the key: a drawn question brings every
    comparison on it, every pair of models and every turn (the turns of a multi-turn question, and the
    pairs compared on one question, share that question, so they are no independent draws). Questions
    are those of :func:`jp_bench.stats.common.resampling_units` (sorted, so the interval does not
    depend on the order of the votes) and are drawn by :func:`~jp_bench.stats.common.bootstrap_counts`
    with ``seed``, as in ``jp-bench report``; a replicate's rate is its drawn questions' agreements over
    their comparisons. With one comparison per question this is the plain bootstrap of comparisons.
    """
    if n_boot <= 0 or match.size == 0:
        return None
    questions, unit = resampling_units(pd.DataFrame({"question_id": pd.Series([key[0] for key in keys], dtype=object)}))
    every = np.ones(unit.size, dtype=bool)
    agree, total = unit_totals(unit, np.zeros(unit.size, dtype=int), match.astype(float), every, len(questions), 1)
    rates = bootstrap_weighted_means(bootstrap_counts(len(questions), n_boot, seed), agree, total)[:, 0]
    low, high = np.percentile(rates, [2.5, 97.5])
    return [float(low), float(high)]


def agreement_stats(comparisons: Comparisons, *, ties: bool, n_boot: int = 1000, seed: int = 0) -> Stats:
    """``agreement`` (= ``agree`` / ``n`` comparisons over ``n_keys`` keys of ``n_questions`` questions),
    ``kappa`` and ``ci95`` (:func:`bootstrap_ci`: the ``n_questions`` questions are what it resamples).

    With ``ties=False`` every comparison in which either vote is a tie is dropped first and kappa uses
    two labels. Values are None when there is no comparison.
    """
    first, second, keys = comparisons.first, comparisons.second, comparisons.keys
    if not ties:
        keep = (first != _TIE) & (second != _TIE)
        first, second = first[keep], second[keep]
        keys = tuple(key for key, k in zip(keys, keep, strict=True) if k)
    match = first == second
    n = int(match.size)
    return {
        "agreement": float(match.mean()) if n else None,
        "agree": int(match.sum()),
        "n": n,
        "n_keys": len(set(keys)),
        "n_questions": len({key[0] for key in keys}),
        "kappa": cohen_kappa(first, second, 3 if ties else 2),
        "ci95": bootstrap_ci(keys, match, n_boot, seed),
    }


def summarize(
    pair: str,
    kind: str,
    comparisons: Comparisons,
    categories: Mapping[QuestionId, str] | None = None,
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """The report entry of one comparison: overall, ``by_turn`` and (when ``categories`` is given)
    ``by_category`` (questions missing from it under ``"(unknown)"``), each with and without ties."""

    def both(comp: Comparisons) -> Stats:
        return {
            "with_ties": agreement_stats(comp, ties=True, n_boot=n_boot, seed=seed),
            "without_ties": agreement_stats(comp, ties=False, n_boot=n_boot, seed=seed),
        }

    by_category: dict[str, Stats] = {}
    if categories:
        category_of = {key: categories.get(key[0], UNKNOWN_CATEGORY) for key in comparisons.keys}
        for name in sorted(set(category_of.values())):
            by_category[name] = both(comparisons.subset(lambda key, name=name: category_of[key] == name))
    turns = sorted({key[3] for key in comparisons.keys})
    by_turn = {turn: both(comparisons.subset(lambda key, turn=turn: key[3] == turn)) for turn in turns}
    return {"pair": pair, "kind": kind, **both(comparisons), "by_category": by_category, "by_turn": by_turn}


def agreement_report(
    human_votes: Sequence[Vote],
    judge_votes_by_name: Mapping[str, JudgeVotes | Sequence[Vote]],
    n_boot: int = 1000,
    seed: int = 0,
    categories: Mapping[QuestionId, str] | None = None,
    kinds: Collection[str] = KINDS,
) -> list[dict[str, Any]]:
    """One :func:`summarize` entry per comparison, in this order: each judge vs human, human vs human
    (both only when there are human votes), each pair of judges (in the mapping's order), and each
    judge's original vs swapped order (judges with per-game votes). ``kinds`` picks among
    ``judge-human``, ``human-human``, ``judge-judge`` and ``swapped-order`` (all by default); a plain
    sequence of votes counts as a judge's combined votes without per-game data. A question's category
    comes from ``categories``, else from the first vote that carries one."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown comparison kinds {sorted(unknown)}; expected some of {list(KINDS)}")
    judges = {name: v if isinstance(v, JudgeVotes) else JudgeVotes(tuple(v)) for name, v in judge_votes_by_name.items()}
    known: dict[QuestionId, str] = {}
    for vote in itertools.chain(human_votes, *(jv.votes for jv in judges.values())):
        if vote.category:
            known.setdefault(vote.question_id, vote.category)
    known.update(categories or {})

    def entry(pair: str, kind: str, comparisons: Comparisons) -> dict[str, Any]:
        return summarize(pair, kind, comparisons, known, n_boot=n_boot, seed=seed)

    report = []
    if human_votes and "judge-human" in kinds:
        report += [entry(f"{n} vs human", "judge-human", judge_human_comparisons(jv.votes, human_votes))
                   for n, jv in judges.items()]
    if human_votes and "human-human" in kinds:
        report.append(entry("human vs human", "human-human", human_human_comparisons(human_votes)))
    if "judge-judge" in kinds:
        report += [entry(f"{a} vs {b}", "judge-judge", judge_judge_comparisons(judges[a].votes, judges[b].votes))
                   for a, b in itertools.combinations(judges, 2)]
    if "swapped-order" in kinds:
        report += [entry(f"{n} original vs swapped order", "swapped-order", judge_judge_comparisons(jv.game1, jv.game2))
                   for n, jv in judges.items() if jv.game1 or jv.game2]
    return report
