"""Running a plan: the judge's part of the one call engine (:mod:`jp_bench.llm.engine`).

The engine looks every judgment up in the store, calls the judge for the rest and records each; the
judge owns only reading the verdict. A reply without a verdict is asked again (once as is, then with
a short request for the verdict alone); if it still has none, the judgment is stored as an error:
never a win, loss or tie.

With ``--require-japanese`` (:class:`JapaneseRule`), a task whose answer is not in Japanese is never
sent: the rule gives its verdict (the lowest score; a loss against a Japanese answer, a tie between two
answers that are not Japanese), recorded as a result that cost nothing and is not stored, so turning
the rule off later asks the judge as if it had never been on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jp_bench.answer_text import AnswerFeatures
from jp_bench.answer_text.japanese import JAPANESE_THRESHOLD, is_not_japanese
from jp_bench.judging.grammars import grammar_for_scale
from jp_bench.judging.plan import JudgeTask, Plan
from jp_bench.judging.verdicts import parse_pairwise_verdict, parse_score
from jp_bench.llm.engine import CallEngine, CallJob, EngineReport, ReplyPolicy, UnreadableReply
from jp_bench.llm.store import Store, StoredCall
from jp_bench.llm.tokens import estimate_messages_tokens
from jp_bench.llm.types import Message, ModelSpec

PAIRWISE_REMINDER = "判定だけを最後の行に [[A]]、[[B]]、[[C]] のいずれか一つで書いてください。"
SCORE_REMINDER = "点数だけを最後の行に [[{low}]] から [[{high}]] の形で書いてください。"


@dataclass(frozen=True)
class Verdict:
    """What a judge call asks for (a job's context): a pairwise verdict, or a score on the prompt's ``scale``."""

    kind: str  # "pairwise" | "single"
    scale: tuple[int, int] = (1, 10)

    def reminder(self) -> str:
        if self.kind == "pairwise":
            return PAIRWISE_REMINDER
        return SCORE_REMINDER.format(low=self.scale[0], high=self.scale[1])


def parse_reply(kind: str, text: str, scale: tuple[int, int] = (1, 10)) -> Any:
    """The verdict or score of a reply: its JSON (structured verdicts) first, else its ``[[...]]`` markers.
    A score outside ``scale`` is no score (the judge's last word is invalid)."""
    from jp_bench.judging.structured import read_json_verdict
    from jp_bench.judging.verdicts import strip_reasoning

    found = read_json_verdict(kind, strip_reasoning(text)) if "{" in text else None
    if found is not None:
        return found if kind == "pairwise" or scale[0] <= found <= scale[1] else None
    return parse_pairwise_verdict(text) if kind == "pairwise" else parse_score(text, *scale)


@dataclass(frozen=True)
class CostEstimate:
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


def estimate_cost(tasks: list[JudgeTask], spec: ModelSpec, expected_output_tokens: int, *,
                  batch: bool = False) -> CostEstimate:
    input_tokens = sum(estimate_messages_tokens(list(task.messages)) for task in tasks)
    output_tokens = expected_output_tokens * len(tasks)
    return CostEstimate(len(tasks), input_tokens, output_tokens,
                        spec.cost_usd(input_tokens, output_tokens, batch=batch))


# A judging run's report is the engine's (reused, called, errors, spend, unreachable, results).
RunReport = EngineReport

# The ``rule`` a judgment row names when the judge was not asked: an answer under the Japanese threshold.
NOT_JAPANESE = "not_japanese"


@dataclass(frozen=True)
class JapaneseRule:
    """Which answers count as not Japanese (share of kana/kanji letters under ``threshold``), and whether
    they are scored without the judge (``required``: ``--require-japanese`` or the judge YAML's
    ``require_japanese``); when not required, they are only flagged (reports count them)."""

    threshold: float = JAPANESE_THRESHOLD
    required: bool = False

    def flagged(self, features: AnswerFeatures | None) -> bool:
        """Whether an answer is under the threshold (one without letters to measure never is)."""
        return features is not None and is_not_japanese(features.japanese_share, self.threshold)

    def ruling(self, task: JudgeTask) -> Any:
        """The verdict the rule gives ``task`` without asking the judge; None: the judge is asked.

        Single: the lowest score of the prompt's scale. Pairwise: the Japanese answer wins (the verdict
        names the position it is shown in: A in one game, B in the other); two answers under the
        threshold tie."""
        if not self.required:
            return None
        first, second = (self.flagged(features) for features in task.features)
        if task.kind == "single":
            return float(task.scale[0]) if first else None
        if not (first or second):
            return None
        if first and second:
            return "C"
        model_1_wins = second
        return "A" if model_1_wins == (task.game == 1) else "B"  # game 1 shows model_1 as A


def _verdict(job: CallJob) -> Verdict:
    # Callers of the engine may still give the bare kind ("pairwise" / "single") as the context.
    return job.context if isinstance(job.context, Verdict) else Verdict(str(job.context))


def _read_verdict(job: CallJob, reply: str) -> Any:
    parsed = parse_reply(_verdict(job).kind, reply, _verdict(job).scale)
    if parsed is None:
        raise UnreadableReply("no verdict in the judge's reply")
    return parsed


def _ask_for_the_verdict(job: CallJob, reply: str, unreadable: int) -> list[Message]:
    # First the same question again (sampling noise); then the verdict alone, showing the judge its reasoning.
    if unreadable < 2:
        return list(job.messages)
    return [*job.messages, Message("assistant", reply), Message("user", _verdict(job).reminder())]


def _verdict_probabilities(job: CallJob, completion: Any, parsed: Any) -> dict[str, Any] | None:
    from jp_bench.judging.weighted import verdict_distribution

    distribution = verdict_distribution(_verdict(job).kind, parsed, getattr(completion, "logprobs", None))
    return {"verdict_probs": distribution} if distribution else None


def verdict_policy(attempts: int = 3) -> ReplyPolicy:
    """A judge's part of a call: read the verdict; ask again (at most ``attempts`` replies) when there is
    none; keep the verdict's probabilities when the reply carries token log-probabilities."""
    return ReplyPolicy(read=_read_verdict, attempts=attempts, follow_up=_ask_for_the_verdict,
                       describe=_verdict_probabilities)


def judge_jobs(tasks: list[JudgeTask], spec: ModelSpec | None = None) -> list[CallJob]:
    """The engine's jobs. When ``spec`` is given, a job whose request differs from it carries its own
    spec: judge sample k > 0 (its seed), a score on another scale under a verdict grammar (1–5)."""
    def spec_of(task: JudgeTask) -> ModelSpec | None:
        if spec is None:
            return None
        own = grammar_for_scale(spec, task.kind, task.scale)
        own = dataclasses.replace(own, sample=task.sample) if task.sample else own
        return None if own == spec else own

    return [CallJob(task.key, tuple(task.messages), Verdict(task.kind, task.scale), spec_of(task)) for task in tasks]


@dataclass
class JudgeRunner:
    """Executes the tasks of a plan against one judge, through the one call engine and the store."""

    spec: ModelSpec
    store: Store
    client: Any  # jp_bench.llm.LLMClient (duck-typed so tests can pass a stand-in); None: client_factory
    purpose: str
    prompt_version: str
    verdict_attempts: int = 3
    max_cost_usd: float | None = None
    retry_errors: bool = False
    on_progress: Callable[[RunReport, int], None] | None = None
    client_factory: Callable[[], Any] | None = None
    expected_output_tokens: int = 400
    batch: Any = None  # jp_bench.llm.batch.BatchSettings
    japanese: JapaneseRule = field(default_factory=JapaneseRule)  # --require-japanese

    def engine(self) -> CallEngine:
        return CallEngine(spec=self.spec, store=self.store, purpose=self.purpose, prompt_version=self.prompt_version,
                          policy=verdict_policy(self.verdict_attempts), client=self.client,
                          client_factory=self.client_factory, max_cost_usd=self.max_cost_usd,
                          retry_errors=self.retry_errors, expected_output_tokens=self.expected_output_tokens,
                          on_progress=self.on_progress, refused_what="the judge", batch=self.batch)

    def ruled(self, plan: Plan) -> tuple[list[JudgeTask], dict[str, StoredCall]]:
        """The tasks for the judge, and the results of those the Japanese rule decides (by key): the one
        place where the rule keeps a task from the judge, for the run and its estimates alike."""
        asked: list[JudgeTask] = []
        decided: dict[str, StoredCall] = {}
        for task in plan.tasks:
            verdict = self.japanese.ruling(task)
            if verdict is None:
                asked.append(task)
            else:
                decided[task.key] = StoredCall(
                    key=task.key, purpose=self.purpose, prompt_version=self.prompt_version, model=self.spec.model,
                    reply=None, parsed=verdict, status="ok", error=None, attempts=0, input_tokens=0,
                    output_tokens=0, cost_usd=0.0, finished_at=0.0, details={"rule": NOT_JAPANESE})
        return asked, decided

    def pending(self, plan: Plan) -> tuple[list[JudgeTask], dict[str, StoredCall]]:
        asked, _ = self.ruled(plan)
        todo, stored = self.engine().pending(judge_jobs(asked, self.spec))
        first: dict[str, JudgeTask] = {}
        for task in asked:
            first.setdefault(task.key, task)
        return [first[job.key] for job in todo], stored

    async def run(self, plan: Plan) -> RunReport:
        asked, decided = self.ruled(plan)
        report = await self.engine().run(judge_jobs(asked, self.spec))
        report.results.update(decided)
        return report
