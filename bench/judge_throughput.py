"""Judging throughput and resilience against a local judge stand-in with a fixed latency per call.

Pairwise judging of 80 questions (160 calls, both orders) at concurrency 16 against a server that
takes LATENCY seconds per call. Targets: wall time / ideal <= 1.15, where
ideal = ceil(160 / concurrency) * latency; the same command again makes 0 calls in under 3 s.
Also measured: the same run with every 4th call failing (HTTP 500) and with every 4th body cut
short, which must finish with 0 errors.

    python bench/judge_throughput.py [--latency 1.0] [--concurrency 16]

The last line holds the figures as key=value pairs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from judge_stub import JudgeStub, always

from jp_bench.judging.service import JudgeRequest, run_judging

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


def timed_run(stub: JudgeStub, folder: Path, name: str, concurrency: int) -> tuple[float, int, int]:
    questions, answers = write_inputs(folder)
    request = JudgeRequest(answers=[str(p) for p in answers], judge="openai-compatible", mode="pairwise",
                           baseline="baseline", out=folder / f"out-{name}", benchmark=str(questions),
                           workspace=folder / f"{name}.sqlite", concurrency=concurrency, base_url=stub.base_url)
    calls_before = stub.calls
    started = time.perf_counter()
    outcome = run_judging(request)
    elapsed = time.perf_counter() - started
    assert outcome.report is not None
    return elapsed, stub.calls - calls_before, outcome.report.errors


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
            wall, made, errors = timed_run(stub, folder, "clean", args.concurrency)
            figures.update(wall_s=round(wall, 2), ratio=round(wall / ideal, 3), calls_made=made, errors=errors,
                           max_in_flight=stub.max_in_flight)
            # The same command again, as a user runs it: a new process, everything from the store.
            questions, answers = folder / "question.jsonl", [folder / "model-x.jsonl", folder / "baseline.jsonl"]
            command = [str(Path(sys.executable).parent / "jp-bench"), "judge", *map(str, answers),
                       "--judge", "openai-compatible", "--base-url", stub.base_url, "--baseline", "baseline",
                       "--benchmark", str(questions), "--workspace", str(folder / "clean.sqlite"),
                       "--out", str(folder / "out-clean"), "--concurrency", str(args.concurrency)]
            before = stub.calls
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            figures.update(rerun_s=round(time.perf_counter() - started, 2), rerun_calls=stub.calls - before)
        for failure in ("500", "truncated"):
            with JudgeStub(reply=always("[[B]]"), latency_s=args.latency, fail_every=4, failure=failure) as stub:
                wall, made, errors = timed_run(stub, folder, f"fail-{failure}", args.concurrency)
                figures.update({f"every4th_{failure}_ratio": round(wall / ideal, 3),
                                f"every4th_{failure}_errors": errors,
                                f"every4th_{failure}_calls": made})
    print("\n".join(f"{key}: {value}" for key, value in figures.items()))
    print(" ".join(f"{key}={value}" for key, value in figures.items()))
    ok = figures["ratio"] <= 1.15 and figures["rerun_calls"] == 0 and figures["rerun_s"] < 3  # type: ignore[operator]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
