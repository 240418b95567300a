"""One candidate judge against the reference: every figure of its leaderboard row, on the items both judged.

**Matching.** Pairwise figures compare votes on the same key (question, pair of models, turn): the
candidate's one vote against each reference vote there (humans may have cast several; see
:func:`jp_bench.votes.judge_human_comparisons`). Where a side judged single scores only, its votes
are read off its scores (:func:`~jp_bench.judge_board.verdicts.votes_from_scores`): on the other
side's keys, or, when neither side has votes, on every pair of models the reference scored on a
question and turn. Score figures compare the scores of the same answers (question, model, turn),
the candidate's scores rescaled linearly onto the reference's scale first (``low`` to ``low``,
``high`` to ``high``). ``coverage`` says how many reference items the candidate covers.

**Ranking.** Each side ranks the models on the matched items only: by mean score when both judged
scores, else by the mean outcome of each model's votes (win 1, tie 0.5, loss 0; a "win rate" against
whatever it met).

**Self-preference.** For a judge whose model family (:func:`jp_bench.reporting.judge_noise.family_of`
of the model it called, else of its name) is among the judged models: the mean, over the matched
items of its own family's models, of its verdict minus the reference's, from its family's side
(scores: the rescaled difference; votes: outcome 1 / 0.5 / 0; an item between two models of the
family is left out). Above 0: it favours its family more than the reference does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

import jp_bench.judge_board.metrics as metrics
from jp_bench.judge_board.candidates import Candidate
from jp_bench.judge_board.costs import measure_cost
from jp_bench.judge_board.references import Reference
from jp_bench.judge_board.verdicts import ScoreKey, Verdicts, question_of, votes_from_scores
from jp_bench.reporting.judge_noise import family_of, sample_count
from jp_bench.reporting.scales import ScoreScale
from jp_bench.stats.outcomes import OUTCOME_SCORES, combine_games
from jp_bench.votes import Comparisons, Vote, VoteKey, judge_human_comparisons

LOW_COVERAGE = 0.5  # a candidate covering less of the reference's items than this is flagged
_OUTCOME = np.array([1.0, 0.0, 0.5])  # label (0 lo won, 1 hi won, 2 tie) -> lo's outcome


def rescale(value: float, source: ScoreScale, target: ScoreScale) -> float:
    """``value`` on ``source`` mapped linearly onto ``target`` (ends onto ends)."""
    return target.low + (value - source.low) * (target.high - target.low) / (source.high - source.low)


def _votes(reference: Verdicts, candidate: Verdicts) -> tuple[tuple[Vote, ...], tuple[Vote, ...], str | None]:
    """(candidate votes, reference votes, which side's votes were read off its scores)."""
    if reference.has_votes:
        if candidate.has_votes:
            return candidate.votes, reference.votes, None
        return votes_from_scores(candidate.scores, candidate.name, reference.vote_keys()), reference.votes, "candidate"
    if candidate.has_votes:
        return candidate.votes, votes_from_scores(reference.scores, reference.name, candidate.vote_keys()), "reference"
    theirs = votes_from_scores(reference.scores, reference.name)
    return votes_from_scores(candidate.scores, candidate.name, {v.key for v in theirs}), theirs, "both"


def _coverage(reference: Verdicts, candidate: Verdicts, matched_keys: set[VoteKey],
              matched_scores: list[ScoreKey]) -> dict[str, Any]:
    if reference.has_votes:
        total, covered = len(reference.vote_keys()), len(matched_keys & reference.vote_keys())
    elif candidate.has_scores:
        total, covered = len(reference.scores), len(matched_scores)
    else:  # a score reference, a pairwise candidate: an answer is covered when it was in a compared pair
        compared = {(q, model, t) for q, lo, hi, t in matched_keys for model in (lo, hi)}
        total, covered = len(reference.scores), len(compared & reference.scores.keys())
    share = covered / total if total else 0.0
    return {"items": covered, "of": total, "share": share, "low": share < LOW_COVERAGE}


def _vote_observations(votes: list[tuple[VoteKey, int]], models: list[str]) -> tuple[list, np.ndarray, np.ndarray]:
    """Two observations per vote, one per model: its outcome (label 0 = lo won, 1 = hi won, 2 = tie)."""
    position = {model: i for i, model in enumerate(models)}
    questions, where, values = [], [], []
    for (question, lo, hi, _), label in votes:
        questions += [question, question]
        where += [position[lo], position[hi]]
        values += [_OUTCOME[label], 1.0 - _OUTCOME[label]]
    return questions, np.array(where, dtype=int), np.array(values, dtype=float)


def _score_observations(items: list[ScoreKey], scores: dict[ScoreKey, float],
                        models: list[str]) -> tuple[list, np.ndarray, np.ndarray]:
    position = {model: i for i, model in enumerate(models)}
    return ([q for q, _, _ in items], np.array([position[m] for _, m, _ in items], dtype=int),
            np.array([scores[item] for item in items], dtype=float))


def _ranking(comparisons: Comparisons, reference: Verdicts, candidate: Verdicts, matched_scores: list[ScoreKey],
             n_boot: int, seed: int) -> dict[str, Any] | None:
    if matched_scores:
        models = sorted({m for _, m, _ in matched_scores}, key=str)
        figures = metrics.ranking_figures(models, _score_observations(matched_scores, candidate.scores, models),
                                          _score_observations(matched_scores, reference.scores, models), n_boot, seed)
        basis = "mean score"
    else:
        models = sorted({m for _, lo, hi, _ in comparisons.keys for m in (lo, hi)}, key=str)
        # The candidate's one vote per key; the reference's every vote (each human's).
        mine = {key: int(label) for key, label in zip(comparisons.keys, comparisons.first, strict=True)}
        theirs = [(key, int(label)) for key, label in zip(comparisons.keys, comparisons.second, strict=True)]
        figures = metrics.ranking_figures(models, _vote_observations(list(mine.items()), models),
                                          _vote_observations(theirs, models), n_boot, seed)
        basis = "win rate"
    return None if figures is None else {"basis": basis, **figures}


def _bias(candidate: Verdicts, matched_keys: set[VoteKey], n_boot: int, seed: int) -> dict[str, Any] | None:
    """Position and length biases on the candidate's own pairwise rows of the matched items."""
    table = candidate.pairwise
    if table is None or not matched_keys:
        return None
    questions = question_of(table)
    keys = [(q, *sorted((str(a), str(b))), int(t)) for q, a, b, t in
            zip(questions, table["model_1"], table["model_2"], table["turn"], strict=True)]
    keep = np.array([key in matched_keys for key in keys], dtype=bool)
    if not keep.any():
        return None
    return metrics.bias_figures(table[keep], list(questions[keep]), n_boot, seed)


def reference_bias(reference: Reference, n_boot: int, seed: int) -> dict[str, Any] | None:
    """The reference judge's own position and length biases (None for humans)."""
    table = reference.verdicts.pairwise
    if table is None:
        return None
    return metrics.bias_figures(table, list(question_of(table)), n_boot, seed)


def _self_preference(candidate: Candidate, comparisons: Comparisons, matched_scores: list[ScoreKey],
                     reference: Verdicts, scale: ScoreScale | None, n_boot: int,
                     seed: int) -> dict[str, Any] | None:
    family = family_of(candidate.judge_model) or family_of(candidate.name)
    if family is None:
        return None
    mine = candidate.verdicts
    questions: list[Any] = []
    differences: list[float] = []
    own: set[str] = set()
    if matched_scores:
        basis = "scores"
        for item in matched_scores:
            if family_of(item[1]) == family:
                own.add(item[1])
                questions.append(item[0])
                differences.append(_on_scale(mine, scale, mine.scores[item]) - reference.scores[item])
    else:
        basis = "votes"
        for key, first, second in zip(comparisons.keys, comparisons.first, comparisons.second, strict=True):
            sides = [family_of(model) == family for model in key[1:3]]
            if sides.count(True) != 1:
                continue
            own.add(key[1] if sides[0] else key[2])
            questions.append(key[0])
            lo_won = _OUTCOME[[int(first), int(second)]]
            mine_score, theirs_score = lo_won if sides[0] else 1.0 - lo_won
            differences.append(float(mine_score - theirs_score))
    if not differences:
        return None
    figure = metrics.mean_figure(questions, np.array(differences), n_boot, seed)
    return {"family": family, "models": sorted(own), "basis": basis, "difference": figure["mean"],
            "ci95": figure["ci95"], "n": figure["n"]}


def _on_scale(side: Verdicts, target: ScoreScale | None, value: float) -> float:
    if target is None or side.scale is None or side.scale == target:
        return value
    return rescale(value, side.scale, target)


def _noise(candidate: Candidate, n_boot: int, seed: int) -> dict[str, Any] | None:
    """The judge's own spread over its ``--samples`` (every sample's rows): per item, its value (pairwise:
    the combined outcome from model_1's side, 1 / 0.5 / 0; single: the score) varies by ``judge_sd``."""
    from jp_bench.stats.judge_noise import sample_matrix, two_level_bootstrap

    samples = max(sample_count(candidate.pairwise), sample_count(candidate.single))
    if samples <= 1:
        return None
    items: list[tuple[Any, int, float]] = []
    question_by_item: dict[str, Any] = {}
    for frame, kind in ((candidate.pairwise, "pairwise"), (candidate.single, "single")):
        for question, row in zip(question_of(frame), frame.itertuples(index=False), strict=True):
            if kind == "pairwise":
                label = repr((question, row.model_1, row.model_2, int(row.turn)))
                value = OUTCOME_SCORES.get(combine_games(row.g1_winner, row.g2_winner).outcome, np.nan)
            else:
                label, value = repr((question, row.model, int(row.turn))), row.score
            question_by_item[label] = question
            items.append((label, 0 if pd.isna(row.sample) else int(row.sample), float(value)))
    every = sorted(question_by_item)
    clusters = metrics.question_units([question_by_item[label] for label in every])[1]
    noise = two_level_bootstrap(sample_matrix(items, every), n_boot, seed, metrics.CI_LEVEL, clusters=clusters)
    return {"samples": samples, "judge_sd": noise["judge_sd"], "judge_share": noise["judge_share"]}


def _errors(candidate: Candidate) -> dict[str, Any]:
    games = [candidate.pairwise[column] for column in ("g1_winner", "g2_winner")]
    count = sum(int((g == "error").sum() + g.isna().sum()) for g in games) + int(candidate.single["score"].isna().sum())
    total = 2 * len(candidate.pairwise) + len(candidate.single)
    return {"count": count, "of": total, "rate": count / total if total else None}


def evaluate(candidate: Candidate, reference: Reference, *, n_boot: int, seed: int,
             store_path: Any) -> tuple[dict[str, Any], list[str]]:
    """The candidate's leaderboard entry and the notes it brings (see the module docstring)."""
    theirs, mine = reference.verdicts, candidate.verdicts
    notes: list[str] = []
    mine_votes, their_votes, derived = _votes(theirs, mine)
    comparisons = judge_human_comparisons(mine_votes, their_votes)
    matched_keys = set(comparisons.keys)
    matched_scores = sorted(theirs.scores.keys() & mine.scores.keys(), key=repr) if (
        theirs.has_scores and mine.has_scores) else []
    scale = theirs.scale
    scores = None
    if matched_scores:
        cand = np.array([_on_scale(mine, scale, mine.scores[item]) for item in matched_scores])
        ref = np.array([theirs.scores[item] for item in matched_scores])
        scores = {**metrics.score_figures([q for q, _, _ in matched_scores], cand, ref, n_boot, seed),
                  "scale": scale.as_list() if scale is not None else None,
                  "candidate_scale": mine.scale.as_list() if mine.scale is not None else None}
        if mine.scale is not None and scale is not None and mine.scale != scale:
            notes.append(f"{candidate.name}: its scores ({mine.scale}) are rescaled linearly onto the reference's "
                         f"{scale} for the mean absolute difference (correlations do not depend on the scale)")
    if derived is not None:
        which = {"candidate": f"{candidate.name}'s votes are", "reference": "the reference's votes are",
                 "both": f"both {candidate.name}'s and the reference's votes are"}[derived]
        notes.append(f"{candidate.name}: {which} read off scores for agreement (the higher score wins, equal scores "
                     "tie)")
    coverage = _coverage(theirs, mine, matched_keys, matched_scores)
    if coverage["low"]:
        notes.append(f"{candidate.name}: covers only {coverage['items']} of the reference's {coverage['of']} items "
                     f"({coverage['share']:.0%}); its figures rest on those")
    noise = _noise(candidate, n_boot, seed)
    if noise is not None:
        notes.append(f"{candidate.name}: {noise['samples']} judge samples; every figure but the noise uses sample 0 "
                     "(the one an ordinary run makes)")
    cost = measure_cost(candidate.keys, candidate.judgments, candidate.recorded_usd, store_path)
    entry = {
        "judge": candidate.name,
        "judge_model": candidate.judge_model,
        "members": candidate.members or None,
        "source": candidate.source,
        "kind": mine.kind,
        "coverage": coverage,
        "agreement": ({**metrics.agreement_figures(comparisons, n_boot, seed), "votes_from_scores": derived}
                      if len(comparisons.keys) else None),
        "scores": scores,
        "ranking": _ranking(comparisons, theirs, mine, matched_scores, n_boot, seed),
        "bias": _bias(mine, matched_keys, n_boot, seed),
        "self_preference": _self_preference(candidate, comparisons, matched_scores, theirs, scale, n_boot, seed),
        "noise": noise,
        "errors": _errors(candidate),
        "cost": cost.to_dict(),
    }
    return entry, notes
