"""Data-parallel lm-eval runs: two gloo processes on the tiny Llama give what one process gives.

lm-eval's hf backend splits the documents over the processes of ``accelerate launch`` (or torchrun): each
rank generates its share, filters and scores it, and rank 0 gathers every sample and metric and alone
writes the output. With a judge in ``--metadata`` each rank judges the answers it generated, against the
one store. Here the two processes are started by torchrun on the CPU (``ACCELERATE_USE_CPU``: accelerate's
gloo process group), since ``accelerate launch --cpu --num_processes 2`` starts a single process; this
file is also the script each rank runs (see ``_run_rank`` at the end).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.files import samples_by_task
from tests.support.judge_stub import JudgeStub
from tests.support.numbers import assert_close
from tests.support.paths import BIN, ROOT, SHARED
from tests.test_lm_eval_judged import between, question_of

pytestmark = pytest.mark.e2e

KEY = "sk-test-data-parallel-0123456789"
MT_BENCH = SHARED / "data" / "stability_japanese_mt_bench"
RANKS = 2
# Environment of a rank: the folder where it records what it generated, and whether rank 0 holds the
# writing of the output until the other rank has moved on from the run (see _run_rank).
TRACE_ENV, HOLD_ENV = "JP_BENCH_TEST_DP_TRACE", "JP_BENCH_TEST_DP_HOLD"


def score_for(request: dict, index: int) -> str:
    """A 1-10 score that depends on the prompt, so every subtask gets its own mean."""
    return f"理由: 採点しました。\n[[{1 + len(request['messages'][-1]['content']) % 10}]]"


def verdict_by_question(request: dict, index: int) -> str:
    """Pairwise: on questions of even length the shorter answer wins, on the others the longer, in both
    orders: the outcomes differ by question, and not by which rank asked."""
    user = request["messages"][-1]["content"]
    a = between(user, "【アシスタントAの回答：ここから】", "【アシスタントAの回答：ここまで】")
    b = between(user, "【アシスタントBの回答：ここから】", "【アシスタントBの回答：ここまで】")
    if len(a) == len(b):
        return "理由: 同程度です。\n[[C]]"
    shorter, longer = ("A", "B") if len(a) < len(b) else ("B", "A")
    return f"理由: 比較しました。\n[[{shorter if len(question_of(request)) % 2 == 0 else longer}]]"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, upstream_checkout: Path) -> Path:
    """A JP_BENCH_HOME with the paper's jp_bench and Japanese MT-Bench imported by the CLI."""
    if not (MT_BENCH / "question_full.jsonl").is_file():
        pytest.fail(f"reference data missing: {MT_BENCH} (set JP_BENCH_SHARED to the shared folder)")
    folder = tmp_path_factory.mktemp("data-parallel-home")
    for argv in (["data", "import", str(upstream_checkout)],
                 ["data", "import", "--benchmark", "ja_mt_bench", str(MT_BENCH)]):
        result = run_cli("jp-bench", *argv, env={"JP_BENCH_HOME": str(folder)})
        assert result.returncode == 0, result.stderr[-2000:]
    return folder


@pytest.fixture(scope="module")
def sharp_chat_llama(tiny_chat_llama: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny chat Llama with its layers' weights 30 times larger.

    Initialised small, the random model's next token hardly depends on anything but the last one, and
    every prompt ends alike: it answers all 80 questions with the same text. Larger weights make each
    answer depend on the question, so that a question's answer can be told from another's.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tmp_path_factory.mktemp("sharp-chat-llama")
    model = AutoModelForCausalLM.from_pretrained(str(tiny_chat_llama))
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if ".layers." in name and weight.dim() == 2:
                weight.mul_(30.0)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(tiny_chat_llama)).save_pretrained(folder)
    return folder


def jp_bench_lm_eval(home: Path, out: Path, ranks: int, *argv: str,
                     hold: bool = False) -> tuple[subprocess.CompletedProcess[str], dict[int, list[tuple[str, int]]]]:
    """`jp-bench lm-eval ARGV` in one process, or on ``ranks`` gloo processes started by torchrun; the
    result and, per rank, the (task, doc_id) of every request it generated."""
    trace = out.parent / f"{out.name}-trace"
    trace.mkdir(parents=True)
    env = {**os.environ, "JP_BENCH_HOME": str(home), "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": "",
           "ACCELERATE_USE_CPU": "true", TRACE_ENV: str(trace), HOLD_ENV: "1" if hold else ""}
    if ranks == 1:
        command = [str(BIN / "jp-bench"), "lm-eval", *argv]
    else:
        # --standalone: a rendezvous on a free local port, so runs never collide.
        command = [str(BIN / "torchrun"), "--standalone", f"--nproc_per_node={ranks}", __file__, "lm-eval", *argv]
        # Each rank runs this file as a script, which imports tests.support from the repository root.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    generated = {int(path.stem.removeprefix("rank")): [tuple(json.loads(line)) for line in
                                                      path.read_text(encoding="utf-8").splitlines()]
                 for path in trace.glob("rank*.jsonl")}
    return result, generated


def lm_eval_args(model: Path, out: Path, tasks: str, metadata: dict, *extra: str) -> list[str]:
    return ["--model", "hf", "--model_args", f"pretrained={model}", "--tasks", tasks, "--output_path", str(out),
            "--log_samples", "--gen_kwargs", "max_gen_toks=8", "--metadata", json.dumps(metadata), *extra]


def results_file(out: Path) -> dict:
    (path,) = out.rglob("results_*.json")  # one run, one results file: rank 0 alone writes it
    return json.loads(path.read_text(encoding="utf-8"))


def judged_on(ranks: int, stub: JudgeStub, home: Path, model: Path, tmp_path: Path, metadata: dict,
              *extra: str) -> tuple[dict, dict[str, list[dict]], int, dict[int, list[tuple[str, int]]]]:
    """jp_bench judged in the harness, with a workspace of its own: the results file, the samples by
    task, the judge calls made and what each rank generated."""
    out, calls_before = tmp_path / f"out-{ranks}", stub.calls
    settings = {"judge": "openai-compatible", "judge_base_url": stub.base_url,
                "judge_workspace": str(tmp_path / f"ws-{ranks}"), **metadata}
    result, generated = jp_bench_lm_eval(home, out, ranks, *lm_eval_args(model, out, "jp_bench", settings), *extra)
    assert result.returncode == 0, result.stderr[-4000:]
    return results_file(out), samples_by_task(out), stub.calls - calls_before, generated


def assert_split(generated: dict[int, list[tuple[str, int]]], expected: set[tuple[str, int]]) -> None:
    """Each document was generated by exactly one rank, and every rank generated some."""
    assert sorted(generated) == list(range(RANKS))
    shares = [set(generated[rank]) for rank in range(RANKS)]
    assert all(shares) and not set.intersection(*shares)
    assert set.union(*shares) == expected


def by_doc(samples: dict[str, list[dict]]) -> dict[tuple[str, int], dict]:
    records = {(task, row["doc_id"]): row for task, rows in samples.items() for row in rows}
    assert len(records) == sum(len(rows) for rows in samples.values())  # no document twice
    return records


def test_single_judging_on_two_ranks_gives_the_one_process_table(home, tiny_llama, tmp_path: Path) -> None:
    with JudgeStub(reply=score_for, require_key=KEY) as stub:
        one, one_samples, one_calls, _ = judged_on(1, stub, home, tiny_llama, tmp_path, {})
        two, two_samples, two_calls, generated = judged_on(RANKS, stub, home, tiny_llama, tmp_path, {})
    assert one_calls == two_calls == 80  # every question judged once, by the rank that answered it
    assert_split(generated, set(by_doc(one_samples)))
    # The same table: every metric and stderr of every subtask and of the group.
    assert_close(two["results"], one["results"], where="results")
    assert_close(two["groups"], one["groups"], where="groups")
    assert two["n-samples"] == one["n-samples"]
    assert one["results"]["jp_bench"]["judge_score_stderr,none"] > 0
    # The same answers with the same judgments, each document once.
    ones, twos = by_doc(one_samples), by_doc(two_samples)
    assert len(twos) == 80 and twos.keys() == ones.keys()
    for key, row in ones.items():
        assert twos[key]["filtered_resps"] == row["filtered_resps"]
        assert twos[key]["doc"]["judgment"]["score"] == row["doc"]["judgment"]["score"]
        assert twos[key]["doc"]["judgment"]["key"] == row["doc"]["judgment"]["key"]


def test_pairwise_judging_on_two_ranks_gives_the_one_process_table(home, tiny_chat_llama, tmp_path: Path) -> None:
    metadata = {"judge_mode": "pairwise", "baseline": "paper", "judge_concurrency": 8}
    with JudgeStub(reply=verdict_by_question, require_key=KEY) as stub:
        one, one_samples, one_calls, _ = judged_on(1, stub, home, tiny_chat_llama, tmp_path, metadata,
                                                   "--apply_chat_template")
        two, two_samples, two_calls, generated = judged_on(RANKS, stub, home, tiny_chat_llama, tmp_path, metadata,
                                                           "--apply_chat_template")
    assert one_calls == two_calls == 160  # both orders of each of the 80 questions, once
    assert_split(generated, set(by_doc(one_samples)))
    assert_close(two["results"], one["results"], where="results")
    assert_close(two["groups"], one["groups"], where="groups")
    assert 0 < one["results"]["jp_bench"]["win_rate,none"] < 1  # the stand-in's verdicts differ by question
    assert one["results"]["jp_bench"]["loss_rate,none"] > 0
    ones, twos = by_doc(one_samples), by_doc(two_samples)
    assert len(twos) == 80
    for key, row in ones.items():
        assert twos[key]["doc"]["judgment"]["outcome"] == row["doc"]["judgment"]["outcome"]


def test_mt_bench_turn_two_follows_each_questions_own_turn_one_answer(home, sharp_chat_llama, tmp_path: Path) -> None:
    from jp_bench.harness import multiturn

    out = tmp_path / "out"
    with JudgeStub(reply=score_for, require_key=KEY) as stub:
        metadata = {"judge": "openai-compatible", "judge_base_url": stub.base_url,
                    "judge_workspace": str(tmp_path / "ws")}
        argv = lm_eval_args(sharp_chat_llama, out, multiturn.GROUP, {**metadata, "greedy": True},
                            "--apply_chat_template")
        # hold: rank 0 writes each turn's samples only once the other rank has left that turn's run, so
        # a rank that does not wait for them reads turn-1 samples that are not there yet.
        result, generated = jp_bench_lm_eval(home, out, RANKS, *argv, hold=True)
        assert result.returncode == 0, result.stderr[-4000:]
        assert stub.calls == 160  # each question judged once at each turn
    samples = samples_by_task(out)
    turns = {turn: [row for category in multiturn.CATEGORIES for row in samples[multiturn.subtask_name(turn, category)]]
             for turn in (1, 2)}
    assert [len(turns[1]), len(turns[2])] == [80, 80]
    assert_split(generated, {(task, row["doc_id"]) for task, rows in samples.items() for row in rows})
    for rank in range(RANKS):  # both ranks took part in both turns
        assert {multiturn.parse_task_name(task)[0] for task, _ in generated[rank]} == {1, 2}

    first = {row["doc"]["question_id"]: row for row in turns[1]}
    # Answers that tell the questions apart (two of 80 alike at most), or the check below could not see
    # a turn 2 built from another question's answer.
    assert len(first) == 80 and len({row["filtered_resps"][0] for row in turns[1]}) >= 78
    for row in turns[2]:
        doc, prompt = row["doc"], row["arguments"]["gen_args_0"]["arg_0"]
        own = first[doc["question_id"]]["filtered_resps"][0].strip()
        assert doc["previous_answers"] == [own], doc["question_id"]
        # The conversation sent: this question's turn 1, its own answer, then its turn 2.
        positions = [prompt.find(part) for part in (doc["turns"][0], own, doc["turns"][1])]
        assert -1 < positions[0] < positions[1] < positions[2], (doc["question_id"], prompt)
        assert row["doc"]["judgment"]["status"] == "ok" and row["doc"]["judgment"]["turn"] == 2

    # Rank 0 alone wrote the one results file of both turns, once every turn's samples were in.
    combined = [line for line in result.stderr.splitlines() if "all turns in one lm-eval results file" in line]
    assert len(combined) == 1 and "(written)" in combined[0], result.stderr[-4000:]
    assert "no combined" not in result.stderr
    folder = next(path for path in out.iterdir() if path.is_dir())
    data = json.loads(Path(combined[0].rsplit(": ", 1)[1]).read_text(encoding="utf-8"))
    assert data["results"][multiturn.GROUP]["sample_len"] == 160
    assert len(list(folder.glob("results_*.json"))) == 3  # turn 1, turn 2, both


# ------------------------------------------------------------------------------------ one rank
def _run_rank() -> int:
    """One rank of a data-parallel run: `jp-bench ARGV` as `accelerate launch` would run it on GPUs.

    lm-eval's hf backend splits the documents over accelerate's processes only when it counts more than one
    device (one GPU per process); on a CPU it counts none, and every process would evaluate everything. It
    is made to count one device per process, for the time the model is set up; everything else is lm-eval's
    and jp-bench's own code.
    """
    from unittest import mock

    import torch
    from lm_eval.models.huggingface import HFLM

    from jp_bench.console import run

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    trace = Path(os.environ[TRACE_ENV])

    setup = HFLM.__init__

    def one_device_per_process(self, *args, **kwargs) -> None:
        with mock.patch.object(torch.cuda, "device_count", return_value=world):
            setup(self, *args, **kwargs)

    generate = HFLM.generate_until

    def traced(self, requests, *args, **kwargs):
        with (trace / f"rank{rank}.jsonl").open("a", encoding="utf-8") as file:
            for request in requests:
                file.write(json.dumps([request.task_name, request.doc_id]) + "\n")
        return generate(self, requests, *args, **kwargs)

    HFLM.__init__, HFLM.generate_until = one_device_per_process, traced

    if os.environ.get(HOLD_ENV):
        hold_the_output(rank, trace / "moved-on")
    sys.argv = ["jp-bench", *sys.argv[1:]]
    return run()


def hold_the_output(rank: int, moved_on: Path) -> None:
    """Rank 0 writes the output of its k-th lm-eval run only once the other rank has left its own k-th run
    and gone on to what comes next: the runner's wait for the other ranks, reading the turn before's
    samples (the next turn's documents) or combining the turns' results. A rank that does not wait for
    rank 0's files then finds them missing, every time, instead of now and then."""
    import lm_eval.evaluator

    from jp_bench.harness import multiturn
    from jp_bench.harness import runner as lm_eval_runner

    if rank == 0:
        from lm_eval.loggers.evaluation_tracker import EvaluationTracker

        save, runs = EvaluationTracker.save_results_aggregated, []

        def held(self, *args, **kwargs):
            runs.append(len(runs) + 1)
            give_up = time.monotonic() + 300  # a safety net against a hung test, not a timing condition
            while str(runs[-1]) not in (moved_on.read_text(encoding="utf-8").split() if moved_on.exists() else []):
                if time.monotonic() > give_up:
                    raise RuntimeError(f"rank 1 never left lm-eval run {runs[-1]}")
                time.sleep(0.05)
            return save(self, *args, **kwargs)

        EvaluationTracker.save_results_aggregated = held
        return

    evaluate, left = lm_eval.evaluator.evaluate, [0]  # how many lm-eval runs this rank has left

    def counted(*args, **kwargs):
        result = evaluate(*args, **kwargs)
        left[0] += 1
        return result

    def signal() -> None:
        with moved_on.open("a", encoding="utf-8") as file:
            file.write(f"{left[0]}\n")

    def before(function):
        def signalled(*args, **kwargs):
            signal()
            return function(*args, **kwargs)
        return signalled

    mt_docs = multiturn.mt_docs

    def reading_history(*args, **kwargs):
        try:
            return mt_docs(*args, **kwargs)
        finally:  # after the read (or its failure): rank 0 writes only then
            if left[0]:
                signal()

    lm_eval.evaluator.evaluate = counted
    multiturn.mt_docs = reading_history
    lm_eval_runner.combine_turns = before(lm_eval_runner.combine_turns)
    if hasattr(lm_eval_runner, "wait_for_all_ranks"):
        lm_eval_runner.wait_for_all_ranks = before(lm_eval_runner.wait_for_all_ranks)


if __name__ == "__main__":
    sys.exit(_run_rank())
