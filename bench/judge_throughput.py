"""Judging throughput and resilience, measured as a user sees it: the whole `jp-bench judge` command.

Pairwise judging of 80 questions (160 calls, both orders) at concurrency 16 against a local stand-in
that takes LATENCY seconds per call. Every figure is the wall time of the command in a new process,
start-up (imports, answer loading, planning) and writing the outputs included.

* clean: target ``ratio`` = wall / ideal <= 1.15, where ideal = ceil(160 / concurrency) * latency;
* rerun: the same command again makes 0 calls in under 3 s;
* mixed faults: every 4th call fails, in turn with 429 (Retry-After 1 s; answered at once, as a rate
  limiter answers), HTTP 500 (after the latency), a reply 2 s slower, and a reply without a verdict:
  target ``mixed_wall_s`` <= 15 (at 1 s latency) and 0 errors. About 197 calls are needed (retries
  fail every 4th time too), ~209 slot-seconds at concurrency 16: 13.1 s of perfectly packed work plus
  ~0.75 s of start-up is the floor; a fresh call that draws the 3 s slow reply near the end sets the tail;
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from judge_stub import JudgeStub, always

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


def timed_command(stub: JudgeStub, folder: Path, name: str, concurrency: int) -> tuple[float, int, str]:
    """Wall time of one `jp-bench judge` command (a new process), calls it made, and its stdout."""
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
    return elapsed, stub.calls - before, result.stdout


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
            wall, made, stdout = timed_command(stub, folder, "clean", args.concurrency)
            figures.update(wall_s=round(wall, 2), ratio=round(wall / ideal, 3), calls_made=made,
                           errors=errors_of(stdout), max_in_flight=stub.max_in_flight)
            wall, made, _ = timed_command(stub, folder, "clean", args.concurrency)  # the same command again
            figures.update(rerun_s=round(wall, 2), rerun_calls=made)
        with JudgeStub(reply=always("理由: 短評。\n[[B]]"), latency_s=args.latency, fail_every=4, failure="mixed",
                       retry_after_s=1.0) as stub:
            wall, made, stdout = timed_command(stub, folder, "mixed", args.concurrency)
            figures.update(mixed_wall_s=round(wall, 2), mixed_ratio=round(wall / ideal, 3),
                           mixed_errors=errors_of(stdout), mixed_calls=made)
        with JudgeStub(reply=always("[[B]]"), latency_s=args.latency, fail_every=4, failure="truncated") as stub:
            wall, made, stdout = timed_command(stub, folder, "truncated", args.concurrency)
            figures.update(truncated_ratio=round(wall / ideal, 3), truncated_errors=errors_of(stdout),
                           truncated_calls=made)
    print("\n".join(f"{key}: {value}" for key, value in figures.items()))
    print(" ".join(f"{key}={value}" for key, value in figures.items()))
    ok = (figures["ratio"] <= 1.15 and figures["rerun_calls"] == 0 and figures["rerun_s"] < 3  # type: ignore[operator]
          and figures["errors"] == figures["mixed_errors"] == figures["truncated_errors"] == 0
          and figures["mixed_wall_s"] <= 15 * args.latency)  # type: ignore[operator]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
