"""The one call engine under real awaiting clients: budgets that hold, two processes on one workspace,
claims of a killed process that lapse."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from jp_bench.judging.runner import verdict_policy
from jp_bench.llm import LLMClient
from jp_bench.llm.engine import CallEngine, CallJob
from jp_bench.llm.store import Store
from jp_bench.llm.types import Message, ModelSpec
from tests.support.judge_stub import JudgeStub, always
from tests.support.paths import BIN, SHARED

pytestmark = pytest.mark.integration

ANSWERS = SHARED / "data" / "ja-vicuna-qa-benchmark" / "jp_bench" / "model_answer"
CALM = ANSWERS / "cyberagent--calm2-7b-chat"
DAVINCI = ANSWERS / "openai--text-davinci-003"
REPLY = "理由: 互角です。\n[[C]]"


def jobs(n: int) -> list[CallJob]:
    return [CallJob(f"k{i}", (Message("user", f"質問{i}"),), "pairwise") for i in range(n)]


def engine(store: Store, spec: ModelSpec, **kwargs) -> CallEngine:
    return CallEngine(spec=spec, store=store, purpose="judge:test", prompt_version="v", policy=verdict_policy(),
                      client_factory=lambda: LLMClient(spec, concurrency=4), **kwargs)


def test_the_budget_counts_calls_in_flight(tmp_path: Path) -> None:
    # Every call starts before any finishes (latency, concurrency 4): the limit still holds exactly,
    # because each request is counted at its estimate the moment it is sent.
    with JudgeStub(reply=always(REPLY), latency_s=0.2) as stub, Store(tmp_path / "ws.sqlite") as store:
        spec = ModelSpec(provider="openai-compatible", model="m", base_url=stub.base_url,
                         price_output_per_mtok=1_000_000.0)  # $1 per output token, input free
        one_call = spec.cost_usd(0, len(REPLY))
        # An exact estimate: the limit allows ten calls, and ten are made.
        run = engine(store, spec, max_cost_usd=10 * one_call, expected_output_tokens=len(REPLY))
        report = asyncio.run(run.run(jobs(40)))
        assert stub.calls == 10 and report.called == 10 and report.stopped_at_cost_limit
        assert store.count() == 10


def test_a_run_over_its_estimate_stops_within_one_window_and_resumes(imported_home: Path, tmp_path: Path) -> None:
    judges = tmp_path / "judges"
    judges.mkdir()
    long_reply = "理由: " + "詳しく比べます。" * 20 + "\n[[A]]"
    # The judge is expected to write 1 token; it writes about 170 (the server reports more than estimated).
    (judges / "pricey.yaml").write_text(
        "name: pricey\nprovider: openai-compatible\nmodel: m\nprices: {input_per_mtok: 0, output_per_mtok: 1000000}\n"
        "expected_output_tokens: 1\nconcurrency: 8\n", encoding="utf-8")
    workspace = tmp_path / "ws.sqlite"
    common = [str(CALM), str(DAVINCI), "--judge", "pricey", "--judges-dir", str(judges), "--baseline",
              "openai--text-davinci-003", "--workspace", str(workspace), "--out", str(tmp_path / "out")]
    per_call = len(long_reply)  # dollars: one output token per character at the stand-in
    with JudgeStub(reply=always(long_reply), latency_s=0.2) as stub:
        env = {**os.environ, "JP_BENCH_HOME": str(imported_home), "OPENAI_BASE_URL": stub.base_url}
        first = subprocess.run([str(BIN / "jp-bench"), "judge", *common, "--max-cost", str(3 * per_call)],
                               env=env, capture_output=True, text=True, timeout=300)
        assert first.returncode == 1, first.stderr[-2000:]  # incomplete: nothing written to --out
        assert "stopped at the --max-cost limit" in first.stdout
        assert 3 <= stub.calls <= 3 + 8  # at most one concurrency window past the limit
        made = stub.calls
        assert not (tmp_path / "out" / "judgments.jsonl").exists()
        second = subprocess.run([str(BIN / "jp-bench"), "judge", *common, "--max-cost", "1000000"],
                                env=env, capture_output=True, text=True, timeout=300)
        assert second.returncode == 0, second.stderr[-2000:]
        assert f"calls made: {160 - made}, reused from the store: {made}" in second.stdout
        assert stub.calls == 160


def test_two_processes_on_one_workspace_split_the_work(imported_home: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws.sqlite"
    with JudgeStub(reply=always(REPLY), latency_s=0.1) as stub:
        env = {**os.environ, "JP_BENCH_HOME": str(imported_home), "OPENAI_API_KEY": "sk-test-two-0123456789",
               "OPENAI_BASE_URL": stub.base_url}
        processes = [subprocess.Popen(
            [str(BIN / "jp-bench"), "judge", str(CALM), str(DAVINCI), "--judge", "gpt-4o", "--baseline",
             "openai--text-davinci-003", "--workspace", str(workspace), "--out", str(tmp_path / f"out{n}"),
             "--concurrency", "4"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for n in (1, 2)]
        outputs = [process.communicate(timeout=300) for process in processes]
        for process, (_stdout, stderr) in zip(processes, outputs, strict=True):
            assert process.returncode == 0, stderr[-2000:]
        assert stub.calls == 160  # no judgment paid twice
    made = [int(re.search(r"calls made: (\d+)", stdout).group(1)) for stdout, _ in outputs]
    assert sum(made) == 160 and min(made) > 0  # both did part of it
    for n in (1, 2):
        assert len((tmp_path / f"out{n}" / "judgments.jsonl").read_text(encoding="utf-8").splitlines()) == 160


def test_a_killed_process_claims_lapse(tmp_path: Path) -> None:
    with JudgeStub(reply=always(REPLY)) as stub, Store(tmp_path / "ws.sqlite") as store:
        spec = ModelSpec(provider="openai-compatible", model="m", base_url=stub.base_url)
        assert store.claim("k0", "a-process-that-died", lease_s=0.6) == "mine"
        started = time.monotonic()
        report = asyncio.run(engine(store, spec, poll_interval_s=0.05).run(jobs(3)))
        assert report.called == 3 and stub.calls == 3 and store.get("k0").ok
        assert time.monotonic() - started >= 0.5  # it waited for the lease, then did k0 itself


def test_claims_that_lapse_one_by_one_are_all_done(tmp_path: Path) -> None:
    # A killed process held claims made at different times, so they lapse at different times: the
    # ones still held when the first lapses must be waited for too, not dropped from the run.
    with JudgeStub(reply=always(REPLY)) as stub, Store(tmp_path / "ws.sqlite") as store:
        spec = ModelSpec(provider="openai-compatible", model="m", base_url=stub.base_url)
        for key, lease in (("k0", 0.3), ("k1", 0.8), ("k2", 1.3)):
            assert store.claim(key, "a-process-that-died", lease_s=lease) == "mine"
        report = asyncio.run(engine(store, spec, poll_interval_s=0.05).run(jobs(5)))
        assert report.called == 5 and stub.calls == 5
        assert all(store.get(f"k{i}").ok for i in range(5))


def test_claims_of_a_dead_process_of_this_machine_are_taken_at_once(tmp_path: Path) -> None:
    """A SIGKILLed run's claims name its host and process id: a re-run sees the process is gone (also
    while it is an unreaped zombie) and does not wait for the lease; a live process's claim, another
    machine's and one in an older jp-bench's form are respected until they lapse."""
    import os
    import signal
    import socket
    import subprocess
    import sys

    from jp_bench.llm.store import new_claim_owner, owner_is_gone

    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    zombie = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    zombie.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not Path(f"/proc/{zombie.pid}/stat").read_text().rsplit(")", 1)[1].startswith(" Z"):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    host = socket.gethostname()
    try:
        assert owner_is_gone(f"{host}:{finished.pid}:0") and owner_is_gone(f"{host}:{zombie.pid}:0")
        assert not owner_is_gone(f"{host}:{os.getppid()}:0") and not owner_is_gone(new_claim_owner())
        assert not owner_is_gone(f"another-{host}:{finished.pid}:0") and not owner_is_gone(f"{finished.pid}-ab12")
        with JudgeStub(reply=always(REPLY)) as stub, Store(tmp_path / "ws.sqlite") as store:
            spec = ModelSpec(provider="openai-compatible", model="m", base_url=stub.base_url)
            for key, pid in (("k0", finished.pid), ("k1", zombie.pid)):
                assert store.claim(key, f"{host}:{pid}:0", lease_s=600) == "mine"
            assert store.claim("k2", f"{host}:{os.getppid()}:0", lease_s=600) == "mine"
            assert store.claim("k0", "me", lease_s=60) == "mine"  # the dead owner's live-looking lease yields
            assert store.claim("k2", "me", lease_s=60) == "taken"
            assert store.unclaimed(["k1", "k2", "k3"]) == ["k1", "k3"]
            store.release_claims("me")
            store.release_claims(f"{host}:{os.getppid()}:0")
            started = time.monotonic()
            report = asyncio.run(engine(store, spec, poll_interval_s=0.05).run(jobs(3)))
            assert report.called == 3 and time.monotonic() - started < 5  # no 600 s lease waited for
    finally:
        zombie.wait()
