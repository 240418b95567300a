"""The runner with an in-process judge client: cost limit, fatal errors, per-task errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from jp_bench.benchmarks.answers import Answer
from jp_bench.benchmarks.questions import Question
from jp_bench.errors import JpBenchError
from jp_bench.judging.plan import build_plan
from jp_bench.judging.prompts import load_prompt_set
from jp_bench.judging.runner import JudgeRunner
from jp_bench.llm.errors import PermanentError, RetriesExhausted
from jp_bench.llm.store import Store
from jp_bench.llm.types import Completion, ModelSpec

pytestmark = pytest.mark.unit

SPEC = ModelSpec(provider="openai", model="judge-x", price_input_per_mtok=1_000_000.0)  # $1 per input token


def make_plan(n: int = 5):
    questions = [Question(question_id=i, category="generic", turns=[f"質問{i}"]) for i in range(1, n + 1)]
    answers = [Answer(model, q.question_id, "generic", (f"{model}の回答",)) for q in questions for model in "xy"]
    return build_plan("pairwise", questions, answers, load_prompt_set(), SPEC, baseline="y")


class ScriptedClient:
    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.calls = 0

    async def complete(self, messages):
        self.calls += 1
        result = self.behaviour(self.calls)
        if isinstance(result, Exception):
            raise result
        return result


def runner(store: Store, client, **kwargs) -> JudgeRunner:
    return JudgeRunner(spec=SPEC, store=store, client=client, purpose="judge:test", prompt_version="v", **kwargs)


def test_max_cost_stops_starting_new_calls(tmp_path: Path) -> None:
    plan = make_plan()
    client = ScriptedClient(lambda n: Completion("[[A]]", input_tokens=1, output_tokens=0))
    with Store(tmp_path / "s.sqlite") as store:
        report = asyncio.run(runner(store, client, max_cost_usd=3.0).run(plan))
        assert report.stopped_at_cost_limit
        assert client.calls == 3 and store.count() == 3  # $1 each: the fourth call would pass the limit
        # Resuming with a higher limit pays only for the rest.
        report = asyncio.run(runner(store, client).run(plan))
        assert client.calls == 10 and report.reused == 3 and store.count() == 10


def test_authentication_error_stops_the_run(tmp_path: Path) -> None:
    client = ScriptedClient(lambda n: PermanentError("401 invalid api key", status=401))
    with Store(tmp_path / "s.sqlite") as store, pytest.raises(JpBenchError, match="refused"):
        asyncio.run(runner(store, client).run(make_plan()))


def test_exhausted_retries_and_bad_requests_are_per_judgment_errors(tmp_path: Path) -> None:
    def behaviour(n: int):
        if n == 1:
            return RetriesExhausted("gave up after 6 attempts: 503")
        if n == 2:
            return PermanentError("400 context too long", status=400)
        return Completion("[[B]]", 1, 1)

    with Store(tmp_path / "s.sqlite") as store:
        report = asyncio.run(runner(store, ScriptedClient(behaviour)).run(make_plan()))
        # A bad request is a per-judgment error; a call that never got a reply is not stored at all.
        assert report.errors == 1 and report.called == 9 and report.unreachable == 1
        errors = [c for c in report.results.values() if not c.ok]
        assert [c.error for c in errors] == ["400 context too long"]
        assert store.count() == 9
        # The next run asks again for exactly the one that got no reply.
        client = ScriptedClient(lambda n: Completion("[[B]]", 1, 1))
        report = asyncio.run(runner(store, client).run(make_plan()))
        assert client.calls == 1 and report.reused == 9 and store.count() == 10


def test_a_judge_nobody_answers_is_fatal_and_stores_nothing(tmp_path: Path) -> None:
    client = ScriptedClient(lambda n: RetriesExhausted("openai-compatible: connection failed (ConnectError)"))
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(JpBenchError, match=r"no call reached the judge \(10 tried; .*ConnectError"):
            asyncio.run(runner(store, client).run(make_plan()))
        assert store.count() == 0
