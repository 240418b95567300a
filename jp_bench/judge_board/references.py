"""The reference candidate judges are scored against, read from a file or folder of any kind it comes in.

- **human votes**: the lmsys ``mt_bench_human_judgments`` layout or ``jp-bench annotate``'s export
  (JSONL or CSV, read by :func:`jp_bench.votes.read_human_vote_file`): pairwise votes, several per item;
- **human ratings**: llm-jp's llm-human-eval-jp layout (:mod:`~jp_bench.judge_board.human_ratings`):
  per-answer scores, the raters' mean on one axis, 1–5; the prompts and answers come with them;
- **a reference judge**: our ``judgments.jsonl`` (or its folder), judged lm-eval output, FastChat
  pairwise and single files (:func:`jp_bench.reporting.sources.load_judgments`), one judge. The
  paper's FastChat pairwise files copy the question and both answers in: those texts are kept, so a
  candidate can be run on the same items (``--judge``).

Which one a path is: a ``.csv`` file is human votes; a JSONL file whose first record has ``turns``
with ``responses`` is human ratings, one with ``model_a``, ``model_b`` and ``winner`` (and no
``mode``, which our judgments rows have) human votes; anything else is read as judgments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jp_bench.benchmarks.questions import iter_jsonl
from jp_bench.errors import JpBenchError
from jp_bench.judge_board.human_ratings import RATING_SCALE, looks_like_human_ratings, read_human_ratings
from jp_bench.judge_board.verdicts import Verdicts, judge_verdicts, question_of
from jp_bench.reporting.scales import ScoreScale
from jp_bench.votes import normalize_question_id, read_human_vote_file

HUMAN_VOTES, HUMAN_RATINGS, JUDGE = "human votes", "human ratings", "judge"
_VOTE_FIELDS = {"model_a", "model_b", "winner"}


@dataclass
class Materials:
    """The texts a reference judged: each question's turns and each model's answer turns."""

    questions: dict[Any, list[str]] = field(default_factory=dict)
    answers: dict[tuple[Any, str], list[str]] = field(default_factory=dict)  # (question, model) -> turns


@dataclass
class Reference:
    """A reference in the common form, with what the page says about it."""

    kind: str  # HUMAN_VOTES, HUMAN_RATINGS or JUDGE
    source: str
    verdicts: Verdicts
    description: str  # one line naming it, e.g. "gpt-4 (judge, pairwise)"
    judge_model: str | None = None
    axis: str | None = None  # human ratings: the axis read
    raters: int | None = None  # human votes: annotators; human ratings: raters per answer (at most)
    materials: Materials | None = None  # the texts judged, when the reference carries them
    # How the reference oriented its pairs: (model_1, model_2) -> the (question, turn) items it judged.
    pair_items: dict[tuple[str, str], set[tuple[Any, int]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.verdicts.name


def _first_record(path: Path) -> dict[str, Any] | None:
    for _, record in iter_jsonl(path):
        return record
    return None


def read_reference(path: str | Path, axis: str | None = None) -> Reference:
    """The reference at ``path`` (see the module docstring); ``axis`` picks the human ratings' axis."""
    source = Path(path).expanduser()
    if not source.exists():
        raise JpBenchError(f"{source}: no such file or folder (expected the reference: human votes, human ratings "
                           "or a judge's judgments)")
    if source.is_file():
        first = None if source.suffix.lower() == ".csv" else _first_record(source)
        if looks_like_human_ratings(first):
            return _human_ratings(source, axis)
        # Our judgments rows name model_a, model_b and a winner too; they also say their ``mode``.
        if source.suffix.lower() == ".csv" or (first is not None and first.keys() >= _VOTE_FIELDS
                                               and "mode" not in first):
            _no_axis(axis, HUMAN_VOTES)
            return _human_votes(source)
    _no_axis(axis, JUDGE)
    return _judge(source)


def _no_axis(axis: str | None, kind: str) -> None:
    if axis is not None:
        raise JpBenchError(f"--axis {axis}: only a human ratings reference has axes, and this one is {kind}")


def _human_votes(source: Path) -> Reference:
    found = read_human_vote_file(source)
    voters = sorted({vote.voter for vote in found.votes})
    reference = Reference(HUMAN_VOTES, str(source), Verdicts("human votes", found.votes),
                          f"human votes ({len(voters)} annotator(s), {len(found.votes)} votes)", raters=len(voters))
    for vote in found.votes:  # human votes keep no order: the pair as the votes sort it
        reference.pair_items.setdefault((vote.model_lo, vote.model_hi), set()).add((vote.question_id, vote.turn))
    if found.conversation:
        reference.notes.append(f"{source}: left out {found.conversation} whole-conversation vote(s): every "
                               "comparison is per turn")
    return reference


def _human_ratings(source: Path, axis: str | None) -> Reference:
    ratings = read_human_ratings(source, axis)
    verdicts = Verdicts(f"human ratings ({ratings.axis})", scores=ratings.scores, scale=ScoreScale(*RATING_SCALE))
    materials = Materials({normalize_question_id(q): turns for q, turns in ratings.prompts.items()},
                          {(normalize_question_id(q), m): turns for (q, m), turns in ratings.responses.items()})
    reference = Reference(HUMAN_RATINGS, str(source), verdicts,
                          f"human ratings, axis {ratings.axis!r} (mean of up to {ratings.raters} raters, 1–5)",
                          axis=ratings.axis, raters=ratings.raters, materials=materials)
    reference.notes.append(f"reference scores: the mean of each answer's raters on the axis {ratings.axis!r} "
                           f"(axes in the file: {', '.join(ratings.axes)}; --axis picks another)")
    if ratings.missing:
        reference.notes.append(f"{source}: {ratings.missing} rating(s) on {ratings.axis!r} were no score from 1 to 5 "
                               "(NA, null or 0) and are left out of the raters' means")
    return reference


def _judge(source: Path) -> Reference:
    from jp_bench.reporting.sources import load_judgments

    judgments = load_judgments([source])
    judges = sorted(set(judgments.pairwise["judge"]) | set(judgments.single["judge"]), key=str)
    if len(judges) != 1:
        raise JpBenchError(f"{source}: the reference holds the judgments of {len(judges)} judges ({', '.join(judges)});"
                           " give one judge's judgments as the reference")
    (name,) = judges
    pairwise = judgments.pairwise[judgments.pairwise["judge"] == name]
    single = judgments.single[judgments.single["judge"] == name]
    verdicts = judge_verdicts(name, pairwise, single, judgments.scales.get(name))
    reference = Reference(JUDGE, str(source), verdicts, f"{name} (judge, {verdicts.kind})",
                          judge_model=judgments.judge_models.get(name), materials=_fastchat_materials(source))
    if verdicts.pairwise is not None:
        for question, row in zip(question_of(verdicts.pairwise), verdicts.pairwise.itertuples(index=False),
                                 strict=True):
            reference.pair_items.setdefault((row.model_1, row.model_2), set()).add((question, int(row.turn)))
    if verdicts.has_scores and judgments.scales.get(name) is None:
        reference.notes.append(f"reference {name}: its judgments state no score scale; read as 1–10")
    return reference


def _fastchat_materials(source: Path) -> Materials | None:
    """The question and both answers that FastChat pairwise rows of the paper's layout copy in
    (``question``, ``answer_1``, ``answer_2``; single-turn), or None when any row lacks them. The rows
    were read and checked by :func:`load_judgments` already; here only the texts are picked up."""
    files = [source] if source.is_file() else sorted(source.rglob("*.jsonl"))
    materials = Materials()
    for file in files:
        for _, record in iter_jsonl(file):
            if not {"model_1", "model_2", "g1_winner"} <= record.keys():
                break  # not a pairwise judgment file (answers, questions, our rows)
            texts = [record.get(name) for name in ("question", "answer_1", "answer_2")]
            if not all(isinstance(text, str) for text in texts) or record.get("turn", 1) != 1:
                return None
            question, answer_1, answer_2 = texts
            qid = normalize_question_id(record["question_id"])
            materials.questions.setdefault(qid, [question])
            materials.answers.setdefault((qid, record["model_1"]), [answer_1])
            materials.answers.setdefault((qid, record["model_2"]), [answer_2])
    return materials if materials.questions else None
