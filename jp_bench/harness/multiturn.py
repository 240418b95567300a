"""Multi-turn answering through lm-eval: Japanese MT-Bench (80 questions, 2 turns each).

lm-eval generates every request of a run independently, so turn 2, which must follow the model's own
turn-1 answer, cannot come out of the same pass as turn 1. Each turn is therefore its own lm-eval
task group, run after the previous one:

* ``ja_mt_bench_turn1_<category>``: the question's first turn, as a chat of one user message;
* ``ja_mt_bench_turn2_<category>``: the chat so far, i.e. the turn-1 question, the model's own turn-1
  answer (read from the turn-1 ``samples_*.jsonl`` that ``--metadata history`` points at) and the
  turn-2 question.

``jp-bench lm-eval --tasks ja_mt_bench`` runs the turns one after the other (:func:`plan_turns`
decides which subtasks still need generating); plain ``lm_eval`` users run the two groups themselves.
Every document carries ``turn`` and ``previous_answers`` (the assistant messages of the history,
exactly as sent), so a turn-k sample alone holds the whole conversation it answered.

This module holds the mechanism and imports neither lm-eval nor torch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jp_bench.benchmarks.records import JA_MT_BENCH
from jp_bench.errors import InputFileError, JpBenchError
from jp_bench.harness.documents import question_fields
from jp_bench.harness.samples import answer_text, sample_files

# Japanese MT-Bench's record (jp_bench.benchmarks.records) says its categories, turns and FastChat's
# per-category temperatures and token limit; the task generator reads the same record.
GROUP = JA_MT_BENCH.name
BENCHMARK = JA_MT_BENCH.name
TURNS = JA_MT_BENCH.turns
CATEGORIES = JA_MT_BENCH.categories
TEMPERATURES: Mapping[str, float] = JA_MT_BENCH.temperatures
MAX_GEN_TOKS = JA_MT_BENCH.max_gen_toks or 1024

# Without a chat template the conversation is written in one fixed Japanese frame, FastChat-style:
# finished turns are "ロール: text", the open one is "アシスタント:" for the model to continue.
USER = "ユーザー"
ASSISTANT = "アシスタント"
TURN_SEPARATOR = "\n\n"
# A base model would go on to invent the user's next turn; stop it there.
FRAME_STOP = f"\n{USER}:"

HISTORY_KEY = "history"
GREEDY_KEY = "greedy"

_SUBTASK = re.compile(rf"^{GROUP}_turn(?P<turn>\d+)(?:_(?P<category>[a-z_]+))?$")


# ----------------------------------------------------------------------------------------- names
def turn_group(turn: int) -> str:
    return f"{GROUP}_turn{turn}"


def subtask_name(turn: int, category: str) -> str:
    return f"{turn_group(turn)}_{category}"


def parse_task_name(name: str) -> tuple[int, str | None] | None:
    """``ja_mt_bench_turn2_math`` -> ``(2, "math")``, ``ja_mt_bench_turn1`` -> ``(1, None)``, else None."""
    match = _SUBTASK.match(name)
    if match is None or (match["category"] is not None and match["category"] not in CATEGORIES):
        return None
    return int(match["turn"]), match["category"]


# ------------------------------------------------------------------------------ generation settings
def generation_kwargs(category: str) -> dict[str, Any]:
    """The subtask's ``generation_kwargs`` as its YAML states them (chat-template form: no stop string)."""
    temperature = TEMPERATURES[category]
    return {"until": [], "max_gen_toks": MAX_GEN_TOKS, "do_sample": temperature > 0, "temperature": temperature}


def greedy_requested(metadata: Mapping[str, Any] | None) -> bool:
    """``--metadata '{"greedy": true}'``: every category greedy instead of FastChat's temperatures."""
    value = (metadata or {}).get(GREEDY_KEY, False)
    if not isinstance(value, bool):
        raise JpBenchError(f"--metadata {GREEDY_KEY}: expected true or false, got {value!r}")
    return value


def make_greedy(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {**kwargs, "do_sample": False, "temperature": 0.0}


def with_frame_stop(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Add :data:`FRAME_STOP` to ``until`` (in place): the plain-text frame's end of an answer."""
    until = kwargs.get("until") or []
    until = [until] if isinstance(until, str) else list(until)
    if FRAME_STOP not in until:
        until.append(FRAME_STOP)
    kwargs["until"] = until
    return kwargs


def request_kwargs(category: str, *, greedy: bool, chat_template: bool,
                   gen_kwargs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The generation kwargs a request of ``category`` carries, composed in lm-eval's order.

    YAML, then our ``greedy`` switch (task construction), then ``--gen_kwargs`` (lm-eval updates the
    task's kwargs after building it), then the frame's stop string (request construction).
    """
    kwargs = generation_kwargs(category)
    if greedy:
        kwargs = make_greedy(kwargs)
    kwargs.update(gen_kwargs or {})
    return kwargs if chat_template else with_frame_stop(kwargs)


# ------------------------------------------------------------------------------------ conversations
def conversation(doc: Mapping[str, Any]) -> list[dict[str, str]]:
    """The chat messages of a document's turn: user, assistant, ..., user (the open question)."""
    turn, turns, answers = int(doc["turn"]), list(doc["turns"]), list(doc.get("previous_answers") or [])
    if len(answers) != turn - 1:
        raise JpBenchError(
            f"{subtask_name(turn, str(doc.get('category')))}: question {doc.get('question_id')!r} has no "
            f"turn-{turn - 1} answer in the history given with --metadata {HISTORY_KEY} (generate turn "
            f"{turn - 1} for it first, with the same --limit; `jp-bench lm-eval --tasks {GROUP}` does both)"
        )
    messages: list[dict[str, str]] = []
    for index in range(turn):
        messages.append({"role": "user", "content": turns[index]})
        if index < turn - 1:
            messages.append({"role": "assistant", "content": answers[index]})
    return messages


def render_text(messages: Sequence[Mapping[str, str]]) -> str:
    """The plain-text frame of a conversation, for models used without a chat template."""
    labels = {"user": USER, "assistant": ASSISTANT}
    parts = []
    for message in messages:
        if message["role"] == "system":
            parts.append(message["content"])
        else:
            parts.append(f"{labels[message['role']]}: {message['content']}")
    return TURN_SEPARATOR.join([*parts, f"{ASSISTANT}:"])


# ------------------------------------------------------------------------------- samples (history)
@dataclass(frozen=True)
class TurnSample:
    """What one logged sample of a ``ja_mt_bench_turn<k>`` subtask says."""

    question_id: int | str
    turns: tuple[str, ...]
    previous_answers: tuple[str, ...]
    answer: str
    gen_kwargs: dict[str, Any] | None
    judgment: dict[str, Any] | None = None  # doc.judgment of a run judged in the harness

    def history(self) -> list[str]:
        """The assistant messages the next turn's prompt carries: the earlier ones and this answer.

        Stripped, as FastChat strips every answer before it goes back into the conversation.
        """
        return [*self.previous_answers, self.answer.strip()]


def read_turn_samples(path: Path) -> dict[str, TurnSample]:
    """The samples of one file by ``str(question_id)``; a malformed file is an InputFileError."""
    from jp_bench.benchmarks.questions import iter_jsonl

    samples: dict[str, TurnSample] = {}
    for line, record in iter_jsonl(path):
        doc = record.get("doc")
        if not isinstance(doc, dict) or "question_id" not in doc:
            raise InputFileError(path, line, "expected an lm-eval sample with doc.question_id")
        answer = answer_text(record, path, line)
        arguments = record.get("arguments")
        first = arguments.get("gen_args_0") if isinstance(arguments, dict) else None
        gen_kwargs = first.get("arg_1") if isinstance(first, dict) else None
        samples[str(doc["question_id"])] = TurnSample(
            question_id=doc["question_id"],
            turns=tuple(doc.get("turns") or ()),
            previous_answers=tuple(doc.get("previous_answers") or ()),
            answer=answer,
            gen_kwargs=gen_kwargs if isinstance(gen_kwargs, dict) else None,
            judgment=doc["judgment"] if isinstance(doc.get("judgment"), dict) else None,
        )
    return samples


def newest_samples(folder: Path, task: str) -> tuple[Path, dict[str, TurnSample]] | None:
    """The newest samples file of ``task`` in ``folder`` and its samples; None when there is none.

    The newest file, as every jp-bench reader of lm-eval output takes it (`jp-bench judge`), so the
    next turn is built from exactly the answers a judge will read.
    """
    files = sample_files(folder, task)
    if not files:
        return None
    return files[-1], read_turn_samples(files[-1])


def history_folder(history: str | Path, task: str) -> Path:
    """The folder of ``task``'s samples: ``history`` itself, or the one folder under it that has them."""
    root = Path(history).expanduser()
    if not root.is_dir():
        raise JpBenchError(f"--metadata {HISTORY_KEY}: {root} is not a folder (give the lm-eval output folder "
                           "that holds the previous turn's samples_*.jsonl)")
    if sample_files(root, task):
        return root
    folders = sorted({path.parent for path in root.rglob(f"samples_{task}_*.jsonl") if sample_files(path.parent, task)})
    if len(folders) == 1:
        return folders[0]
    if not folders:
        raise JpBenchError(f"--metadata {HISTORY_KEY}: no samples_{task}_*.jsonl under {root} (run {task} "
                           "first, with --log_samples and --output_path there)")
    listed = ", ".join(str(folder) for folder in folders)
    raise JpBenchError(f"--metadata {HISTORY_KEY}: several models' samples of {task} under {root} ({listed}); "
                       "give the folder of the model being evaluated")


# ---------------------------------------------------------------------------------------- documents
def mt_docs(benchmark: str, category: str, turn: int, *, history: str | Path | None = None,
            questions_file: str | None = None, reference_set: str | None = None) -> list[dict[str, Any]]:
    """The documents of ``ja_mt_bench_turn<turn>_<category>``, one per question of ``category``."""
    from jp_bench.benchmarks import load_questions

    task = subtask_name(turn, category)
    if turn > 1 and not history:
        raise JpBenchError(
            f"{task}: turn {turn} follows the model's own turn-{turn - 1} answers. Run all turns with "
            f"`jp-bench lm-eval ... --tasks {GROUP} --output_path OUT --log_samples`, or run "
            f"{turn_group(turn - 1)} first and then {turn_group(turn)} with "
            f"--metadata '{{\"{HISTORY_KEY}\": \"OUT/<model>\"}}'"
        )
    if turn == 1 and history:
        # A run that (re)generates turn 1 must not build turn 2 from the older answers in the same pass.
        raise JpBenchError(f"{task}: --metadata {HISTORY_KEY} is for turns 2 and later; run {turn_group(1)} "
                           f"without it, then {turn_group(2)} with it (or `jp-bench lm-eval --tasks {GROUP}`)")
    # Only named when given: which published references to attach is the benchmark's business.
    chosen = {"reference_set": reference_set} if reference_set else {}
    questions = [q for q in load_questions(questions_file or benchmark, **chosen) if q.category == category]
    if not questions:
        raise JpBenchError(f"benchmark {benchmark!r} has no questions in category {category!r}")
    short = [q.question_id for q in questions if len(q.turns) < turn]
    if short:
        raise JpBenchError(f"{task}: question(s) {short} have fewer than {turn} turns")
    previous: dict[str, list[str]] = {}
    if turn > 1:
        previous = _previous_answers(Path(history), subtask_name(turn - 1, category),  # type: ignore[arg-type]
                                     {str(q.question_id): tuple(q.turns) for q in questions})
    return [{**doc, "turn": turn, "previous_answers": previous.get(str(q.question_id), [])}
            for q, doc in zip(questions, question_fields(questions), strict=True)]


def _previous_answers(history: Path, task: str, turns: Mapping[str, tuple[str, ...]]) -> dict[str, list[str]]:
    folder = history_folder(history, task)
    found = newest_samples(folder, task)
    assert found is not None  # history_folder found the files
    path, samples = found
    previous: dict[str, list[str]] = {}
    for key, sample in samples.items():
        if key not in turns:
            continue
        asked = turns[key][: len(sample.previous_answers) + 1]
        if sample.turns[: len(asked)] != asked:
            raise JpBenchError(f"{path}: question {sample.question_id!r} was asked differently there than in "
                               "this benchmark (samples of another question set?)")
        previous[key] = sample.history()
    return previous


# ------------------------------------------------------------------------------ resuming (the runner)
@dataclass(frozen=True)
class TurnPlan:
    """One turn of a ``jp-bench lm-eval --tasks ja_mt_bench`` run: what to generate, what is kept."""

    turn: int
    todo: tuple[str, ...]  # categories whose subtask runs
    kept: tuple[str, ...]  # categories whose samples are complete and current
    reasons: dict[str, str]  # why each category in todo runs

    @property
    def tasks(self) -> list[str]:
        if len(self.todo) == len(CATEGORIES):
            return [turn_group(self.turn)]  # the group: lm-eval then reports its aggregate as well
        return [subtask_name(self.turn, category) for category in self.todo]


def sample_size(total: int, limit: float | None) -> int:
    """How many documents lm-eval evaluates under ``--limit`` (its ``get_sample_size``)."""
    if limit is None:
        return total
    return math.ceil(total * limit) if limit < 1.0 else int(limit)


def _why_not_current(folder: Path, turn: int, category: str, needed: Sequence[str],
                     expected_kwargs: Mapping[str, Any], previous: Mapping[str, list[str]] | None,
                     judged: str | None = None) -> str | None:
    """None when the newest turn samples of ``category`` cover ``needed`` as this run would write them."""
    task = subtask_name(turn, category)
    try:
        found = newest_samples(folder, task)
    except JpBenchError as exc:  # a file cut short by an interrupted write: generate it again
        return f"unreadable ({exc})"
    if found is None:
        return "no samples yet"
    _, samples = found
    missing = [key for key in needed if key not in samples]
    if missing:
        return f"{len(missing)} of {len(needed)} questions missing"
    for key in needed:
        sample = samples[key]
        if sample.gen_kwargs is not None and sample.gen_kwargs != dict(expected_kwargs):
            changed = sorted(set(sample.gen_kwargs) | set(expected_kwargs))
            return "other generation settings (" + ", ".join(
                f"{key} {sample.gen_kwargs.get(key)!r} -> {expected_kwargs.get(key)!r}" for key in changed
                if sample.gen_kwargs.get(key) != expected_kwargs.get(key)) + ")"
        if previous is not None and list(sample.previous_answers) != previous.get(key):
            return f"built from other turn-{turn - 1} answers than the current ones"
    if judged is not None:
        # A run with a judge reports judged metrics for every subtask it keeps; samples not judged, or
        # judged with other settings, have none to offer, so their subtask runs (and is judged) again.
        for key in needed:
            judgment = samples[key].judgment
            if judgment is None or judgment.get("setup") != judged:
                return "not judged with these judging settings"
            if judgment.get("status") == "missing":
                return "judgments missing"
    return None


def plan_turns(folder: Path, needed: Mapping[str, Sequence[str]],
               expected_kwargs: Mapping[str, Mapping[str, Any]], judged: str | None = None) -> list[TurnPlan]:
    """Which subtasks of each turn to generate in ``folder`` (the model's lm-eval output folder).

    ``needed``: per category, the ``str(question_id)`` this run evaluates (``--limit`` applied);
    ``expected_kwargs``: per category, the generation kwargs its requests will carry. A category is
    kept when its newest samples cover every needed question with those kwargs and, from turn 2 on,
    were built from the newest answers of the turn before, and, when ``judged`` is given (the
    in-harness judging set-up's identity), carry complete judgments made with that set-up; a category
    regenerated at turn k is regenerated at every later turn.
    """
    plans: list[TurnPlan] = []
    regenerated: set[str] = set()
    for turn in range(1, TURNS + 1):
        todo, kept, reasons = [], [], {}
        for category in CATEGORIES:
            reason = f"follows turn {turn - 1}, generated in this run" if category in regenerated else None
            if reason is None:
                previous = None
                if turn > 1:
                    found = newest_samples(folder, subtask_name(turn - 1, category))
                    previous = {key: s.history() for key, s in found[1].items()} if found else {}
                reason = _why_not_current(folder, turn, category, needed[category],
                                          expected_kwargs[category], previous, judged)
            if reason is None:
                kept.append(category)
            else:
                todo.append(category)
                reasons[category] = reason
        plans.append(TurnPlan(turn, tuple(todo), tuple(kept), reasons))
        regenerated = set(todo)
    return plans
