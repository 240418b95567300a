"""The answer record: one model's answer to one benchmark question, whatever file it was read from
(lm-eval samples: :mod:`jp_bench.harness.samples`; FastChat answers: :mod:`jp_bench.fastchat_io.answers`)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Answer:
    """One model's answer to one question (``turns`` holds one string per turn)."""

    model_id: str
    question_id: int | str
    category: str
    turns: tuple[str, ...]
    source: str = field(default="", compare=False)
    # The turn a multi-turn task's sample answered (its turns: the conversation up to it); None otherwise.
    turn: int | None = field(default=None, compare=False)
