"""``jp-bench judge``: the options of :func:`jp_bench.judge`, its plan and result printed as it runs."""

from __future__ import annotations

import argparse
from typing import Any

from jp_bench.cli._options import add_batch_options, batch_options, positive_int, setting

INTERRUPTED = "interrupted: every finished judgment is stored; run the same command again to resume"


def add_parser(commands: Any) -> None:
    from jp_bench.answer_text.japanese import JAPANESE_THRESHOLD  # plain Python: the help imports nothing heavy

    judge = commands.add_parser(
        "judge", help="judge answers with an LLM judge (single scores or position-swapped pairwise)"
    )
    judge.add_argument("answers", nargs="+", metavar="ANSWERS",
                       help="lm-eval output folders / samples_*.jsonl, or FastChat model_answer folders/files; "
                            "NAME=PATH names the model")
    judge.add_argument("--judge", required=True, action="append",
                       help="a judge name (see `jp-bench judges`) or a judge YAML; give it several times (or a "
                            "jury YAML) for a jury whose members the report pools")
    judge.add_argument("--mode", default="pairwise", choices=["single", "pairwise", "pairwise-all"])
    judge.add_argument("--baseline", help="the model every other model is compared with (pairwise)")
    judge.add_argument("--out", help="folder for judgments.jsonl and FastChat model_judgment files")
    judge.add_argument("--benchmark", help="questions: jp_bench, jp_bench_fresh or a file "
                                           "(default: taken from lm-eval samples, else jp_bench)")
    judge.add_argument("--prompts", help="a prompt set: shipped name, our YAML, or a FastChat judge_prompts.jsonl")
    judge.add_argument("--judges-dir", action="append", help="also read judge YAMLs from this folder")
    judge.add_argument("--judge-model", help="override the judge's model name")
    judge.add_argument("--base-url", type=setting("BaseUrl", str), help="override the judge's API base URL")
    judge.add_argument("--workspace", help="SQLite store (default: $JP_BENCH_HOME/workspaces/default/store.sqlite)")
    judge.add_argument("--concurrency", type=setting("Concurrency", int),
                       help="calls in flight at once (default: the judge's setting)")
    judge.add_argument("--max-cost", type=setting("MaxCost", float), metavar="USD",
                       help="refuse to start, or stop, above this spend")
    judge.add_argument("--dry-run", action="store_true", help="print the plan and the cost estimate; call nothing")
    judge.add_argument("--retry-errors", action="store_true", help="call again for judgments stored as errors")
    judge.add_argument("--weighted", action="store_true",
                       help="ask for token log-probabilities and record each verdict's probability (OpenAI "
                            "non-reasoning models, vLLM, llama.cpp); reports add the probability-weighted result")
    judge.add_argument("--samples", type=setting("Samples", int), default=1, metavar="N",
                       help="judge every item N times (temperature > 0; seeds where the server takes them); "
                            "reports put the judge's noise into the confidence intervals")
    judge.add_argument("--temperature", type=setting("Temperature", float),
                       help="override the judge's temperature (e.g. for --samples; not for Anthropic judges, "
                            "which are sent none)")
    judge.add_argument("--turn", type=positive_int, action="append", metavar="K",
                       help="multi-turn questions (ja_mt_bench): judge only turn K (repeatable; default: every "
                            "turn the answers have)")
    judge.add_argument("--require-japanese", action="store_true",
                       help="answers whose Japanese share is under the threshold get the lowest score (single) or "
                            "lose (pairwise; both under: a tie) without a judge call (the judge YAML's "
                            "require_japanese: true does the same)")
    judge.add_argument("--japanese-threshold", type=setting("JapaneseThreshold", float), metavar="SHARE",
                       help="the share of kana/kanji letters under which an answer is not Japanese (default: the "
                            f"judge YAML's japanese_threshold, else {JAPANESE_THRESHOLD:g})")
    add_batch_options(judge)
    judge.set_defaults(func=run, interrupted=INTERRUPTED)


def run(args: argparse.Namespace) -> int:
    from jp_bench._api.judge import judge

    outcome = judge(
        args.answers, judge=args.judge, mode=args.mode, baseline=args.baseline, out=args.out,
        benchmark=args.benchmark, prompts=args.prompts, judges_dir=args.judges_dir, judge_model=args.judge_model,
        base_url=args.base_url, workspace=args.workspace, concurrency=args.concurrency, max_cost=args.max_cost,
        dry_run=args.dry_run, retry_errors=args.retry_errors, weighted=args.weighted, samples=args.samples,
        temperature=args.temperature, turn=args.turn, require_japanese=args.require_japanese,
        japanese_threshold=args.japanese_threshold, **batch_options(args), verbose=True,
    )
    return 0 if args.dry_run or outcome.complete else 1
