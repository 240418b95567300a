"""``jp-bench demo``: an offline end-to-end run with a packaged model, summarised per category."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(commands: Any) -> None:
    demo = commands.add_parser("demo", help="offline end-to-end run with a packaged model")
    demo.add_argument("--out", default="jp_bench_demo", help="output folder (default: ./jp_bench_demo)")
    demo.add_argument("--per-category", type=int, default=1, help="questions per category (default 1)")
    demo.add_argument("--max-gen-toks", type=int, default=128, help="answer length cap in tokens (default 128)")
    demo.add_argument("--backend", default="auto", choices=["auto", "transformers", "llama-cpp"],
                      help="auto uses llama-cpp-python when installed, else transformers")
    demo.add_argument("--no-judge", dest="judge", action="store_false",
                      help="answers only: skip the embedded judge (faster)")
    demo.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from jp_bench._util.text_table import clip, render_table
    from jp_bench.local.demo import run_demo

    result = run_demo(
        args.out,
        per_category=args.per_category,
        max_gen_toks=args.max_gen_toks,
        backend=args.backend,
        judge=args.judge,
        log=lambda message: print(message, flush=True),
    )
    rows = [(c.category, c.answers, "-" if c.mean_score is None else f"{c.mean_score:.1f}", c.mean_chars,
             clip(c.first_answer, 36)) for c in result.by_category()]
    print()
    print(render_table(["category", "answers", "score (1-10)", "mean chars", "first answer"], rows,
                       align_right=[1, 2, 3]))
    print()
    print(f"{len(result.answers)} answers from the packaged Gemma 3 270M ({result.backend}); "
          f"scores: {result.judged_with}.")
    if result.example is not None:
        example = result.example
        print("\nOne answer in full:")
        for label, text in (("question", example["question"]), ("answer", example["answer"].strip()),
                            (f"judge's reply (score {example['score']})", example["reply"])):
            print(f"--- {label} ---\n{text}")
        print()
    print("This proves the pipeline, not model quality. Samples (lm-eval format):")
    for path in result.sample_files:
        print(f"  {path}")
    if result.judgment_files:
        print("Judgments:")
        for path in result.judgment_files:
            print(f"  {path}")
    return 0
