"""Agreement between LLM judges and human annotators on pairwise votes, as in FastChat's agreement study.

A *vote* says which of two models answered one question better (or that it is a tie). Every vote is
normalised to a key ``(question_id, model_lo, model_hi, turn)`` with ``model_lo < model_hi`` and a
winner ``"lo"``, ``"hi"`` or ``"tie"``; a vote written with the models the other way round is
flipped. Anything whose winner contains ``"tie"`` (``"tie (bothbad)"``, ...) is a tie.

Where the votes come from (the only functions here that read files):

* :func:`read_human_votes`: the layout of lmsys ``mt_bench_human_judgments`` (``question_id``,
  ``model_a``, ``model_b``, ``winner``, ``judge``, ``turn``) as JSONL or CSV, or our annotation tool's
  JSONL export (``annotator`` instead of ``judge``, optional ``turn``, ``scope`` and ``category``).
  A row with ``scope`` ``conversation`` (a vote an earlier ``jp-bench annotate`` cast on a whole
  multi-turn conversation) is no vote on any one turn: :func:`read_human_vote_file` counts it and
  leaves it out, never taking it for turn 1.
* :func:`read_judge_votes`: FastChat pairwise judgment files (a file or a folder) or our
  ``judgments.jsonl``. A judge's two games on a question (game 1 shows ``model_1`` as A, game 2 as B)
  become ONE vote: the winner when both games name the same winner, otherwise a tie; a question where
  either game is an error (or missing) gives no vote. The games are also kept one by one, for the
  original-versus-swapped-order comparison.

What is counted (FastChat's ``compute_agreement``): a *comparison* is two votes on the same key and
*agreement* is the share of comparisons whose votes are equal (two ties are equal).

* judge vs human: the judge's one vote on a key against each human vote on that key;
* human vs human: each unordered pair of human votes on a key;
* judge vs judge: one comparison per key both judges voted on;
* original vs swapped order: a judge's game-1 vote against its game-2 vote, per key.

"with ties" uses every comparison; "without ties" drops each comparison in which either vote is a tie.
FastChat's study counts only ``expert_*`` annotators as humans; filter ``Vote.voter`` for that.
Bootstrap intervals resample whole questions (:func:`bootstrap_ci`): a drawn question brings every
comparison on it, all its turns and pairs of models, as ``jp-bench report``'s intervals do.

Modules: :mod:`~jp_bench.votes.model` (the vote model), :mod:`~jp_bench.votes.readers` (files)
and :mod:`~jp_bench.votes.comparisons` (comparisons, kappa, bootstrap, :func:`agreement_report`).
"""


from jp_bench.votes.comparisons import (
    KINDS,
    UNKNOWN_CATEGORY,
    Comparisons,
    agreement_report,
    agreement_stats,
    bootstrap_ci,
    cohen_kappa,
    human_human_comparisons,
    judge_human_comparisons,
    judge_judge_comparisons,
    summarize,
)
from jp_bench.votes.model import (
    CONVERSATION_SCOPE,
    SCOPES,
    TURN_SCOPE,
    JudgeVotes,
    Outcome,
    QuestionId,
    Scope,
    Vote,
    VoteKey,
    combine_games,
    make_vote,
    normalize_question_id,
)
from jp_bench.votes.readers import (
    HumanVoteFile,
    judge_model_name,
    judge_votes_from_records,
    read_human_vote_file,
    read_human_votes,
    read_judge_votes,
)
from jp_bench.votes.study import Agreement, agreement

__all__ = [
    "CONVERSATION_SCOPE",
    "KINDS",
    "SCOPES",
    "TURN_SCOPE",
    "UNKNOWN_CATEGORY",
    "Agreement",
    "Comparisons",
    "HumanVoteFile",
    "JudgeVotes",
    "Outcome",
    "QuestionId",
    "Scope",
    "Vote",
    "VoteKey",
    "agreement",
    "agreement_report",
    "agreement_stats",
    "bootstrap_ci",
    "cohen_kappa",
    "combine_games",
    "human_human_comparisons",
    "judge_human_comparisons",
    "judge_judge_comparisons",
    "judge_model_name",
    "judge_votes_from_records",
    "make_vote",
    "normalize_question_id",
    "read_human_vote_file",
    "read_human_votes",
    "read_judge_votes",
    "summarize",
]
