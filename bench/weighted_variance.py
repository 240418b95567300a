"""How much of a judge's run-to-run noise the probability-weighted score removes.

A sampling stand-in judge (tests/support/judge_stub.py, OpenAI wire format) has, for every item, a fixed
distribution over the scores 1..10; at temperature > 0 it writes a score drawn from it (the draw
decided by the request's seed) and returns the distribution as the top log-probabilities of the
score token. One whole `jp-bench judge --mode single --weighted --samples RUNS --temperature 1`
command judges the paper's released answers of two models RUNS times (each sample its own seed and
store key). Per run we take each model's mean hard score and mean expected score; the figures are
their variances across runs (averaged over the models):

    hard_var      variance of the hard mean score across runs
    weighted_var  variance of the mean expected score across runs
    ratio         weighted_var / hard_var (target: <= 0.25, i.e. at least 4× less noise)

    python bench/weighted_variance.py [--runs 8]

The last line holds the figures as key=value pairs; the exit code is 0 when the target is met.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the stand-ins live in tests/support/
from tests.support.judge_stub import JudgeStub

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("JP_BENCH_SHARED", ROOT.parent / "shared"))
ANSWERS = SHARED / "data" / "ja-vicuna-qa-benchmark" / "jp_bench" / "model_answer"
MODELS = ("cyberagent--calm2-7b-chat", "openai--text-davinci-003")


def distribution(request: dict) -> dict[str, float]:
    """The item's score distribution: three neighbouring scores around its centre, the balance
    between the outer two shifting a little from sample to sample (a real judge's logits move too)."""
    content = request["messages"][-1]["content"]
    centre = 3 + int(hashlib.sha256(content.encode()).hexdigest(), 16) % 6  # 3..8
    shift = random.Random(f"{content}|{request.get('seed', 0)}|shift").uniform(-0.05, 0.05)
    return {str(centre - 1): 0.25 + shift, str(centre): 0.5, str(centre + 1): 0.25 - shift}


def reply(request: dict, _index: int) -> str:
    probs = distribution(request)
    seed = f"{request['messages'][-1]['content']}|{request.get('seed', 0)}"
    draw = random.Random(seed).choices(list(probs), weights=list(probs.values()))[0]
    return f"理由: 採点しました。\n評価: [[{draw}]]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home, \
            JudgeStub(reply=reply, verdict_probs=lambda request, _i: distribution(request)) as stub:
        env = {**os.environ, "JP_BENCH_HOME": home, "OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": stub.base_url}
        subprocess.run([sys.executable, "-m", "jp_bench", "data", "import", str(SHARED / "data" /
                        "ja-vicuna-qa-benchmark")], env=env, check=True, capture_output=True)
        out = Path(home) / "out"
        result = subprocess.run(
            [sys.executable, "-m", "jp_bench", "judge", *(str(ANSWERS / m) for m in MODELS), "--judge", "gpt-4o",
             "--mode", "single", "--weighted", "--samples", str(args.runs), "--temperature", "1",
             "--out", str(out), "--concurrency", "16"], env=env, capture_output=True, text=True)
        if result.returncode != 0:
            print(result.stderr[-2000:], file=sys.stderr)
            return 2
        rows = [json.loads(line) for line in (out / "judgments.jsonl").read_text(encoding="utf-8").splitlines()]
    hard_vars, weighted_vars = [], []
    for model in MODELS:
        hard = [statistics.mean(r["score"] for r in rows if r["model"] == model and r["sample"] == k)
                for k in range(args.runs)]
        weighted = [statistics.mean(r["expected_score"] for r in rows if r["model"] == model and r["sample"] == k)
                    for k in range(args.runs)]
        hard_vars.append(statistics.variance(hard))
        weighted_vars.append(statistics.variance(weighted))
    hard_var, weighted_var = statistics.mean(hard_vars), statistics.mean(weighted_vars)
    ratio = weighted_var / hard_var if hard_var else float("nan")
    print(f"runs={args.runs} judgments={len(rows)} hard_var={hard_var:.6f} weighted_var={weighted_var:.6f} "
          f"ratio={ratio:.4f}")
    return 0 if ratio <= 0.25 else 1


if __name__ == "__main__":
    sys.exit(main())
