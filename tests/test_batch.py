"""`--batch`: the call engine through both vendors' Batch APIs (real SDKs against the wire-format stand-in):
out-of-order results, re-asks in the next batch, resubmission of errored requests, refusals stored,
the batch discount, a SIGKILL between submission and completion that never submits twice, a SIGKILL
while the batch is being created (adopted on the re-run, never paid twice), two runs on one workspace,
and a refused key that stops at the first request."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jp_bench.judging.runner import verdict_policy
from jp_bench.llm import LLMClient
from jp_bench.llm.batch import BatchSettings
from jp_bench.llm.batch_vendors import OpenAIBatches
from jp_bench.llm.engine import CallEngine, CallJob
from jp_bench.llm.store import BatchIntent, BatchRequest, Store
from jp_bench.llm.types import Message, ModelSpec
from tests.support.batch_stub import BatchStub
from tests.support.paths import BIN, ROOT, SHARED

KEY = "sk-test-BATCH-0123456789abcdef"
PRICES = {"price_input_per_mtok": 1_000_000.0, "price_output_per_mtok": 2_000_000.0, "batch_discount": 0.5}


def spec_for(vendor: str, stub: BatchStub) -> ModelSpec:
    base_url = stub.openai_base_url if vendor == "openai" else stub.anthropic_base_url
    return ModelSpec(provider=vendor, model="judge-batch", base_url=base_url, api_key_env="JP_TEST_BATCH_KEY",
                     max_tokens=64, **PRICES)


def jobs(n: int) -> list[CallJob]:
    return [CallJob(f"q{i}", (Message("system", "審査員"), Message("user", f"質問{i}")), "pairwise")
            for i in range(1, n + 1)]


def reply(request: dict, custom_id: str) -> str:
    # q4's first reply has no verdict: the engine must ask again, in the next batch.
    return "どちらとも言えません。" if custom_id == "q4-1-0" else f"{custom_id}: [[A]]"


@pytest.mark.integration
@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_a_batch_run_stores_every_result_once(vendor: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("JP_TEST_BATCH_KEY", KEY)
    faults = {"q2-1-0": "errored", "q3-1-0": "invalid"}
    with BatchStub(reply=reply, polls_to_complete=2, fail_custom_ids=faults, require_key=KEY) as stub, \
            Store(tmp_path / "ws.sqlite") as store:
        spec = spec_for(vendor, stub)

        def run() -> object:
            engine = CallEngine(spec=spec, store=store, purpose="judge:test", prompt_version="v",
                                policy=verdict_policy(), client_factory=lambda: LLMClient(spec),
                                batch=BatchSettings(poll_interval_s=0.01), expected_output_tokens=8)
            return asyncio.run(engine.run(jobs(6)))

        report = run()
        # Batch 1: all six. Batch 2: q2 (errored: resubmitted) and q4 (no verdict: asked again).
        assert [sorted(s["custom_ids"]) for s in stub.submissions] == [
            [f"q{i}-1-0" for i in range(1, 7)], ["q2-1-1", "q4-2-0"]]
        assert report.called == 6 and store.count() == 6
        results = {key: store.get(key) for key in (f"q{i}" for i in range(1, 7))}
        assert {key for key, call in results.items() if call.ok} == {"q1", "q2", "q4", "q5", "q6"}
        # Refused (HTTP 400 / invalid_request_error): a stored error for that judgment, never resent.
        assert results["q3"].status == "error" and ("HTTP 400" in results["q3"].error
                                                    or "invalid_request_error" in results["q3"].error)
        assert "q3-1-1" not in stub.requests_seen
        assert results["q4"].attempts == 2 and results["q4"].reply == "q4-2-0: [[A]]"
        assert results["q1"].reply == "q1-1-0: [[A]]" and results["q1"].parsed == "A"  # matched by custom_id
        # The batch price: half of the live price of the usage the API reported.
        q1 = results["q1"]
        assert q1.cost_usd == pytest.approx(spec.cost_usd(q1.input_tokens, q1.output_tokens) / 2)
        assert q1.input_tokens > 0 and q1.output_tokens == len("q1-1-0: [[A]]")
        assert q1.cost_usd == pytest.approx(spec.cost_usd(q1.input_tokens, q1.output_tokens, batch=True))
        assert report.spent_usd == pytest.approx(sum(c.cost_usd for c in results.values()))
        # q4's stored cost covers both of its replies.
        rows = store.batch_requests(keys=["q4"])
        assert [r.attempt for r in rows] == [1, 2] and results["q4"].cost_usd == pytest.approx(
            sum(r.cost_usd for r in rows))
        # A re-run submits nothing and pays nothing.
        again = run()
        assert len(stub.submissions) == 2 and again.reused == 6 and again.called == 0
    assert KEY.encode() not in (tmp_path / "ws.sqlite").read_bytes()


@pytest.mark.integration
def test_expired_requests_can_be_sent_live(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("JP_TEST_BATCH_KEY", KEY)

    def answer(request: dict, custom_id: str) -> str:
        return "[[B]]" if custom_id == "live" else f"{custom_id}: [[A]]"

    with BatchStub(reply=answer, polls_to_complete=1, fail_custom_ids={"q1-1-0": "expired"}) as stub, \
            Store(tmp_path / "ws.sqlite") as store:
        spec = spec_for("openai", stub)
        engine = CallEngine(spec=spec, store=store, purpose="judge:test", prompt_version="v",
                            policy=verdict_policy(), client_factory=lambda: LLMClient(spec),
                            batch=BatchSettings(poll_interval_s=0.01, fallback="live"))
        report = asyncio.run(engine.run(jobs(3)))
        assert len(stub.submissions) == 1 and stub.live_calls == 1
        assert store.get("q1").reply == "[[B]]" and store.get("q2").reply == "q2-1-0: [[A]]"
        # The live call is paid at the live price, the batch ones at half.
        q1, q2 = store.get("q1"), store.get("q2")
        assert q1.cost_usd == pytest.approx(spec.cost_usd(q1.input_tokens, q1.output_tokens))
        assert q2.cost_usd == pytest.approx(spec.cost_usd(q2.input_tokens, q2.output_tokens, batch=True))
        assert report.called == 3


@pytest.mark.integration
def test_sigkill_while_waiting_then_rerun_submits_once(imported_home: Path, tmp_path: Path) -> None:
    answers = SHARED / "data" / "ja-vicuna-qa-benchmark" / "jp_bench" / "model_answer"
    out, workspace = tmp_path / "out", tmp_path / "ws.sqlite"
    args = [str(BIN / "jp-bench"), "judge", str(answers / "cyberagent--calm2-7b-chat"),
            str(answers / "openai--text-davinci-003"), "--judge", "gpt-4o", "--baseline", "openai--text-davinci-003",
            "--out", str(out), "--workspace", str(workspace), "--batch", "--batch-poll", "0.05"]
    with BatchStub(reply=lambda request, custom_id: "理由: 互角です。\n[[C]]", polls_to_complete=10**6) as stub:
        env = {**os.environ, "JP_BENCH_HOME": str(imported_home), "OPENAI_API_KEY": KEY,
               "OPENAI_BASE_URL": stub.openai_base_url}
        process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while (not stub.submissions or stub.polls < 2) and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)  # submitted, polling, nothing finished
        process.wait()
        assert len(stub.submissions) == 1 and len(stub.submissions[0]["custom_ids"]) == 160
        with sqlite3.connect(workspace) as db:
            assert db.execute("SELECT COUNT(*) FROM batches WHERE status = 'open'").fetchone() == (1,)
            assert db.execute("SELECT COUNT(*) FROM calls").fetchone() == (0,)
        assert not out.exists()

        stub.polls_to_complete = 1  # the vendor finishes the batch while nobody is polling
        resumed = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert len(stub.submissions) == 1  # polled the recorded batch; never submitted again
        assert set(stub.requests_seen.values()) == {1}
    with sqlite3.connect(workspace) as db:
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM calls").fetchone() == (160, 160)
        assert db.execute("SELECT COUNT(*) FROM batches WHERE status = 'collected'").fetchone() == (1,)
    rows = [json.loads(line) for line in (out / "judgments.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 160 and {row["verdict"] for row in rows} == {"C"}
    assert "batches=1" in resumed.stderr and "finished=160/160" in resumed.stderr  # the progress line
    assert KEY not in resumed.stdout + resumed.stderr


@pytest.mark.integration
def test_batch_needs_a_judge_with_a_batch_api(imported_home: Path, tmp_path: Path) -> None:
    from tests.support.cli import main_in_process

    answers = SHARED / "data" / "ja-vicuna-qa-benchmark" / "jp_bench" / "model_answer"
    result = main_in_process("judge", str(answers / "cyberagent--calm2-7b-chat"),
                     str(answers / "openai--text-davinci-003"), "--judge", "openai-compatible", "--batch",
                     "--workspace", str(tmp_path / "ws.sqlite"), env={"JP_BENCH_HOME": str(imported_home)})
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"jp-bench: error: --batch: openai-compatible ({ROOT / 'judges' / 'openai-compatible.yaml'}) has no Batch "
        "API (its YAML says batch: false); run without --batch"]
    bad = main_in_process("judge", "x", "--judge", "gpt-4o", "--batch", "--batch-poll", "0")
    assert bad.returncode == 2 and "--batch-poll: expected a positive number" in bad.stderr


def _vendor_env(vendor: str, stub: BatchStub) -> dict[str, str]:
    if vendor == "openai":
        return {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": stub.openai_base_url}
    return {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": stub.anthropic_base_url}


@pytest.mark.integration
@pytest.mark.parametrize(("vendor", "judge"), [("openai", "gpt-4o"), ("anthropic", "claude-sonnet")])
def test_judge_batch_through_each_vendor(vendor: str, judge: str, imported_home: Path, tmp_path: Path) -> None:
    from tests.support.cli import run_cli

    answers = SHARED / "data" / "ja-vicuna-qa-benchmark" / "jp_bench" / "model_answer"
    args = ("judge", str(answers / "cyberagent--calm2-7b-chat"), str(answers / "openai--text-davinci-003"),
            "--judge", judge, "--baseline", "openai--text-davinci-003", "--out", str(tmp_path / "out"),
            "--workspace", str(tmp_path / "ws.sqlite"), "--batch", "--batch-poll", "0.05", "--batch-size", "100")
    with BatchStub(reply=lambda request, custom_id: "理由: Aが良い。\n[[A]]", polls_to_complete=2) as stub:
        env = {"JP_BENCH_HOME": str(imported_home), **_vendor_env(vendor, stub)}
        result = run_cli("jp-bench", *args, env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        # 160 requests at most 100 per batch: two batches, each request once.
        assert [len(s["custom_ids"]) for s in stub.submissions] == [100, 60]
        assert {s["vendor"] for s in stub.submissions} == {vendor}
        assert set(stub.requests_seen.values()) == {1}
        again = run_cli("jp-bench", *args, env=env)
        assert again.returncode == 0 and len(stub.submissions) == 2
    rows = [json.loads(line) for line in (tmp_path / "out" / "judgments.jsonl").read_text(encoding="utf-8")
            .splitlines()]
    assert len(rows) == 160 and {row["verdict"] for row in rows} == {"A"}
    # The shipped judges' batch price: half of their live prices.
    from jp_bench.judging.judges import load_judge

    spec = load_judge(judge).model_spec()
    assert rows[0]["cost_usd"] == pytest.approx(spec.cost_usd(rows[0]["input_tokens"], rows[0]["output_tokens"]) / 2)


def _tasks_reply(request: dict, custom_id: str) -> str:
    from tests.test_selfinstruct_generate import fresh_task

    base = int(custom_id.split("-")[0][:8], 16) % 100_000 * 7
    return json.dumps({"tasks": [fresh_task(base + k) for k in range(7)]}, ensure_ascii=False)


@pytest.mark.integration
@pytest.mark.parametrize(("vendor", "generator"), [("openai", "gpt-4o"), ("anthropic", "claude-sonnet")])
def test_generate_batch_through_each_vendor(vendor: str, generator: str, jp_home: Path, tmp_path: Path) -> None:
    from tests.support.cli import run_cli

    args = ("selfinstruct", "generate", "--generator", generator, "--num", "20", "--out", str(tmp_path / "data"),
            "--workspace", str(tmp_path / "ws.sqlite"), "--batch", "--batch-poll", "0.05")
    with BatchStub(reply=_tasks_reply, polls_to_complete=2) as stub:
        result = run_cli("jp-bench", *args, env=_vendor_env(vendor, stub))
        assert result.returncode == 0, result.stderr[-3000:]
        assert len(stub.submissions) == 1 and len(stub.submissions[0]["custom_ids"]) == 8
        again = run_cli("jp-bench", *args, env=_vendor_env(vendor, stub))
        assert again.returncode == 0 and len(stub.submissions) == 1  # replayed from the store
    rows = (tmp_path / "data" / "data" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 20


@pytest.mark.integration
def test_translate_batch(jp_home: Path, tmp_path: Path) -> None:
    from tests.support.cli import run_cli

    def translation(request: dict, custom_id: str) -> str:
        return json.dumps({"instruction": "日本語の指示です。", "input": "", "output": "日本語の答えです。"},
                          ensure_ascii=False)

    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"id": f"seed_task_{i}", "name": f"n{i}", "instruction": f"Do task {i}.",
                                         "instances": [{"input": "", "output": f"Done {i}."}],
                                         "is_classification": False}) + "\n" for i in range(5)), encoding="utf-8")
    with BatchStub(reply=translation, polls_to_complete=1) as stub:
        result = run_cli("jp-bench", "selfinstruct", "seeds", "translate", "--input", str(seeds), "--translator",
                         "gpt-4o", "--out", str(tmp_path / "sheet"), "--workspace", str(tmp_path / "ws.sqlite"),
                         "--batch", "--batch-poll", "0.05", env=_vendor_env("openai", stub))
        assert result.returncode == 0, result.stderr[-3000:]
        assert len(stub.submissions) == 1 and len(stub.submissions[0]["custom_ids"]) == 5
    sheet = [json.loads(line) for line in (tmp_path / "sheet.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [row["status"] for row in sheet] == ["todo"] * 5 and sheet[0]["machine_output"] == "日本語の答えです。"


@pytest.mark.integration
def test_the_budget_holds_for_batches(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("JP_TEST_BATCH_KEY", KEY)
    with BatchStub(reply=lambda request, custom_id: "[[A]]", polls_to_complete=1) as stub, \
            Store(tmp_path / "ws.sqlite") as store:
        spec = spec_for("openai", stub)

        def engine(limit: float | None) -> CallEngine:
            return CallEngine(spec=spec, store=store, purpose="judge:test", prompt_version="v",
                              policy=verdict_policy(), client_factory=lambda: LLMClient(spec), max_cost_usd=limit,
                              batch=BatchSettings(poll_interval_s=0.01), expected_output_tokens=5)

        one = engine(None).estimate_usd(jobs(1)[0].messages) / 2  # a request's estimate at the batch price
        report = asyncio.run(engine(3 * one).run(jobs(6)))
        # Requests are counted at their estimate when submitted: three fit in the first batch. The stand-in
        # reports less usage than estimated, so what is left of the limit pays for more, never beyond it.
        sizes = [len(s["custom_ids"]) for s in stub.submissions]
        assert sizes[0] == 3 and sum(sizes) < 6
        assert report.stopped_at_cost_limit and store.count() == sum(sizes) == report.called
        assert report.spent_usd < 3 * one + one  # past the limit by less than one request's estimate
        again = asyncio.run(engine(None).run(jobs(6)))
        assert again.reused == sum(sizes) and again.called == 6 - sum(sizes)
        assert set(stub.requests_seen.values()) == {1}  # nothing submitted twice


def _judge_args(judge: str, out: Path, workspace: Path) -> list[str]:
    answers = SHARED / "data" / "ja-vicuna-qa-benchmark" / "jp_bench" / "model_answer"
    return [str(BIN / "jp-bench"), "judge", str(answers / "cyberagent--calm2-7b-chat"),
            str(answers / "openai--text-davinci-003"), "--judge", judge, "--baseline", "openai--text-davinci-003",
            "--out", str(out), "--workspace", str(workspace), "--batch", "--batch-poll", "0.05"]


@pytest.mark.integration
@pytest.mark.parametrize(("vendor", "judge", "hold", "sig"), [
    ("openai", "gpt-4o", "create", signal.SIGKILL), ("anthropic", "claude-sonnet", "create", signal.SIGKILL),
    ("openai", "gpt-4o", "upload", signal.SIGKILL), ("anthropic", "claude-sonnet", "create", signal.SIGINT)])
def test_sigkill_while_the_batch_is_created_never_pays_twice(vendor: str, judge: str, hold: str, sig: int,
                                                              imported_home: Path, tmp_path: Path) -> None:
    """The window of the double billing: the vendor has the batch (or its input file), the store has not
    recorded it. The stand-in holds its answer to that request, so the kill (or Ctrl-C) lands inside it."""
    out, workspace = tmp_path / "out", tmp_path / "ws.sqlite"
    args = _judge_args(judge, out, workspace)
    with BatchStub(reply=lambda request, custom_id: "理由: 互角です。\n[[C]]", polls_to_complete=2,
                   hold=hold) as stub:
        env = {**os.environ, "JP_BENCH_HOME": str(imported_home), **_vendor_env(vendor, stub)}
        process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert stub.held.wait(120), "the run never reached the held request"
        finally:
            process.send_signal(sig)
            rc = process.wait(timeout=120)
        stub.release_held()
        assert rc == (130 if sig == signal.SIGINT else -signal.SIGKILL)
        created = 1 if hold == "create" else 0
        assert len(stub.submissions) == created and stub.polls == 0
        with sqlite3.connect(workspace) as db:
            assert db.execute("SELECT COUNT(*) FROM batches").fetchone() == (0,)  # the store never heard of it
            assert db.execute("SELECT COUNT(*) FROM batch_intents").fetchone() == (1,)

        resumed = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        # One paid batch in all: the orphan was adopted (create), or never existed (upload).
        assert len(stub.submissions) == 1 and len(stub.submissions[0]["custom_ids"]) == 160
        assert set(stub.requests_seen.values()) == {1} and stub.cancelled == []
        if vendor == "openai":
            assert stub.files_uploaded == 1 + (hold == "upload")
            assert stub.submissions[0]["metadata"]["jp_bench_intent"]
    with sqlite3.connect(workspace) as db:
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM calls WHERE status = 'ok'").fetchone() == (160,
                                                                                                               160)
        assert db.execute("SELECT COUNT(*) FROM batch_intents").fetchone() == (0,)
        assert db.execute("SELECT id FROM batches").fetchall() == [(stub.submissions[0]["id"],)]
    rows = [json.loads(line) for line in (out / "judgments.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 160 and {row["verdict"] for row in rows} == {"C"}
    assert KEY not in resumed.stdout + resumed.stderr


@pytest.mark.integration
@pytest.mark.parametrize(("vendor", "judge"), [("openai", "gpt-4o"), ("anthropic", "claude-sonnet")])
def test_a_refused_key_stops_the_batch_path_at_its_first_request(vendor: str, judge: str, imported_home: Path,
                                                                 tmp_path: Path) -> None:
    from tests.support.cli import run_cli

    args = _judge_args(judge, tmp_path / "out", tmp_path / "ws.sqlite")[1:]
    with BatchStub(require_key="sk-the-right-one") as stub:
        result = run_cli("jp-bench", *args, env={"JP_BENCH_HOME": str(imported_home), **_vendor_env(vendor, stub)})
        assert stub.requests_received == 1  # 160 judgments, one request: the upload / the create
        assert stub.submissions == [] and stub.files_uploaded == 0
    assert result.returncode == 1 and "written:" not in result.stdout  # the plan only
    errors = [line for line in result.stderr.splitlines() if line.startswith("jp-bench: error:")]
    assert len(errors) == 1 and "refused the batch" in errors[0] and "401" in errors[0], result.stderr
    assert KEY not in result.stderr
    with sqlite3.connect(tmp_path / "ws.sqlite") as db:  # the refusal created nothing: nothing to look up later
        assert db.execute("SELECT COUNT(*) FROM batch_intents").fetchone() == (0,)


@pytest.mark.integration
@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_two_runs_on_one_workspace_both_end_complete(vendor: str, tmp_path: Path, monkeypatch) -> None:
    """The second run starts while the first is creating its batch: it waits for that batch instead of
    ending with nothing, and the judgments the other run stored count as results, not as missing."""
    monkeypatch.setenv("JP_TEST_BATCH_KEY", KEY)
    with BatchStub(reply=lambda request, custom_id: f"{custom_id}: [[A]]", polls_to_complete=3) as stub, \
            Store(tmp_path / "ws.sqlite") as first_store, Store(tmp_path / "ws.sqlite") as second_store:
        spec = spec_for(vendor, stub)

        def engine(store: Store) -> CallEngine:
            return CallEngine(spec=spec, store=store, purpose="judge:test", prompt_version="v",
                              policy=verdict_policy(), client_factory=lambda: LLMClient(spec),
                              batch=BatchSettings(poll_interval_s=0.01), expected_output_tokens=8)

        async def both() -> list:
            # The first run's first wait is on the vendor's answer to its create: the second starts there.
            return await asyncio.gather(engine(first_store).run(jobs(6)), engine(second_store).run(jobs(6)))

        first, second = asyncio.run(both())
        assert len(stub.submissions) == 1 and set(stub.requests_seen.values()) == {1}
        for report in (first, second):
            assert sorted(report.results) == [f"q{i}" for i in range(1, 7)]
            assert report.errors == 0 and report.unreachable == 0
        assert first_store.count() == 6
        assert second.by_other_process + first.by_other_process >= 6  # one of them stored each judgment


def _dead_owner() -> str:
    """The claim owner of a process of this machine that has ended (a run killed mid-submission)."""
    import socket

    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    return f"{socket.gethostname()}:{ended.pid}:deadbeef"


def _left_intent(store: Store, spec: ModelSpec, tag: str, n: int) -> BatchIntent:
    from jp_bench.llm.endpoints import endpoint_of

    requests = [BatchRequest(f"q{i}-1-0", f"q{i}", 1, [[m.role, m.content] for m in job.messages])
                for i, job in enumerate(jobs(n), 1)]
    intent = BatchIntent(tag, spec.provider, endpoint_of(spec.base_url), "judge:test", spec.model, _dead_owner(),
                         time.time(), requests)
    store.record_intent(intent)
    return intent


@pytest.mark.integration
def test_a_second_batch_under_the_same_intent_is_cancelled(tmp_path: Path, monkeypatch, capsys) -> None:
    """Two batches at the vendor carry the tag of one intent (the same requests sent twice before the run
    died): the first is adopted, the other cancelled with one line, and nothing is submitted again."""
    import openai

    monkeypatch.setenv("JP_TEST_BATCH_KEY", KEY)
    with BatchStub(reply=lambda request, custom_id: f"{custom_id}: [[B]]", polls_to_complete=2) as stub, \
            Store(tmp_path / "ws.sqlite") as store:
        spec = spec_for("openai", stub)
        intent = _left_intent(store, spec, "tag0123", 3)
        client = openai.OpenAI(base_url=stub.openai_base_url, api_key=KEY, max_retries=0)
        vendor = OpenAIBatches(LLMClient(spec).provider)
        data = "".join(json.dumps(vendor.request_line(r.custom_id, jobs(3)[i].messages, spec)) + "\n"
                       for i, r in enumerate(intent.requests)).encode()
        ids = []
        for _ in range(2):
            uploaded = client.files.create(file=("in.jsonl", data), purpose="batch")
            ids.append(client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                             completion_window="24h", metadata={"jp_bench_intent": "tag0123"}).id)
        engine = CallEngine(spec=spec, store=store, purpose="judge:test", prompt_version="v", policy=verdict_policy(),
                            client_factory=lambda: LLMClient(spec), batch=BatchSettings(poll_interval_s=0.01))
        report = asyncio.run(engine.run(jobs(3)))
        assert len(stub.submissions) == 2 and stub.cancelled == [ids[1]]
        assert report.batch.adopted == [ids[0]] and report.batch.cancelled == [ids[1]]
        assert {key: call.reply for key, call in report.results.items()} == {
            f"q{i}": f"q{i}-1-0: [[B]]" for i in range(1, 4)}
        assert store.batch_intents() == []
    lines = [line for line in capsys.readouterr().err.splitlines() if ids[1] in line]
    assert len(lines) == 1 and "cancelled" in lines[0]


@pytest.mark.integration
def test_an_anthropic_guess_that_was_not_ours_is_resubmitted(tmp_path: Path, monkeypatch) -> None:
    """Message Batches carry no tag: the batch of the intent's size created about then is adopted. When
    it turns out to be someone else's (none of our custom_ids in its results), nothing of it is stored and
    the requests are submitted again."""
    import anthropic

    monkeypatch.setenv("JP_TEST_BATCH_KEY", KEY)
    with BatchStub(reply=lambda request, custom_id: f"{custom_id}: [[A]]", polls_to_complete=2) as stub, \
            Store(tmp_path / "ws.sqlite") as store:
        spec = spec_for("anthropic", stub)
        foreign = anthropic.Anthropic(base_url=stub.anthropic_base_url, api_key=KEY, max_retries=0)
        other = foreign.messages.batches.create(requests=[  # type: ignore[arg-type]
            {"custom_id": f"other-{i}", "params": {"model": "m", "max_tokens": 8,
                                                   "messages": [{"role": "user", "content": "x"}]}}
            for i in range(3)])
        _left_intent(store, spec, "tag4567", 3)  # a run died before its create reached the vendor
        engine = CallEngine(spec=spec, store=store, purpose="judge:test", prompt_version="v", policy=verdict_policy(),
                            client_factory=lambda: LLMClient(spec), batch=BatchSettings(poll_interval_s=0.01))
        report = asyncio.run(engine.run(jobs(3)))
        assert report.batch.adopted == [other.id] and stub.cancelled == []
        assert [s["custom_ids"] for s in stub.submissions][1:] == [["q1-1-1", "q2-1-1", "q3-1-1"]]
        assert {key: call.reply for key, call in report.results.items()} == {
            f"q{i}": f"q{i}-1-1: [[A]]" for i in range(1, 4)}


@pytest.mark.unit
def test_a_store_from_before_batch_intents_opens_and_keeps_its_batches(tmp_path: Path) -> None:
    from jp_bench.llm.store import BatchRecord

    path = tmp_path / "ws.sqlite"
    with Store(path) as store:
        store.record_batch(BatchRecord("batch_old", "openai", "127.0.0.1", "judge:test", "m", 1.0, 1),
                           [BatchRequest("q1-1-0", "q1", 1, [["user", "x"]])])
    with sqlite3.connect(path) as db:  # what a store written before the table existed looks like
        db.execute("DROP TABLE batch_intents")
    with Store(path) as store:
        assert store.batch_intents() == [] and store.knows_batch("batch_old")
        assert [b.id for b in store.open_batches("judge:test", "m", "127.0.0.1")] == ["batch_old"]
        assert [r.state for r in store.batch_requests(keys=["q1"])] == ["submitted"]
