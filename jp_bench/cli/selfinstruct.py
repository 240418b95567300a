"""``jp-bench selfinstruct``: seeds (translate, import) and generation of Japanese instruction data."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from jp_bench.cli._options import add_batch_options, batch_settings, setting


def add_parser(commands: Any) -> None:
    selfinstruct = commands.add_parser("selfinstruct", help="Japanese self-instruct: seeds, generation, filtering")
    si_commands = selfinstruct.add_subparsers(dest="si_command", metavar="ACTION", required=True)
    seeds = si_commands.add_parser("seeds", help="translate English seeds to a post-edit sheet; import it")
    seeds_commands = seeds.add_subparsers(dest="seeds_command", metavar="ACTION", required=True)
    translate = seeds_commands.add_parser("translate", help="machine-translate seeds into a post-edit sheet")
    translate.add_argument("--input", required=True, help="English seeds (self-instruct/Alpaca seed_tasks.jsonl)")
    translate.add_argument("--translator", required=True, help="a model from `jp-bench judges` (e.g. gpt-4o)")
    translate.add_argument("--out", required=True, help="sheet path without suffix: writes OUT.csv and OUT.jsonl")
    translate.add_argument("--translator-model", help="override the model name")
    translate.add_argument("--base-url", type=setting("BaseUrl", str), help="override the API base URL")
    translate.add_argument("--judges-dir", action="append", help="also read model YAMLs from this folder")
    translate.add_argument("--workspace", help="SQLite store (calls are reused on re-runs)")
    translate.add_argument("--concurrency", type=setting("Concurrency", int), default=8)
    translate.add_argument("--limit", type=int, help="translate only the first N seeds")
    translate.add_argument("--overwrite", action="store_true", help="replace an existing sheet (edits are lost)")
    add_batch_options(translate)
    translate.set_defaults(func=run_seeds_translate)
    imp_sheet = seeds_commands.add_parser("import", help="validate an edited sheet and write the Japanese seed set")
    imp_sheet.add_argument("sheet", help="the edited sheet (.csv or .jsonl)")
    imp_sheet.add_argument("--out", required=True, help="Japanese seed set (JSONL)")
    imp_sheet.add_argument("--allow-todo", action="store_true", help="accept rows still marked todo")
    imp_sheet.set_defaults(func=run_seeds_import)
    generate = si_commands.add_parser("generate", help="generate Japanese tasks from seed demonstrations")
    generate.add_argument("--generator", required=True, help="a model from `jp-bench judges` (embedded works offline)")
    generate.add_argument("--num", type=int, required=True, help="accepted tasks wanted")
    generate.add_argument("--out", required=True, help="dataset folder")
    generate.add_argument("--seeds", help="Japanese seed set (JSONL); default: the shipped set")
    generate.add_argument("--prompt", help="generation prompt (shipped name or YAML file)")
    generate.add_argument("--tasks-per-request", type=int, default=10)
    generate.add_argument("--concurrency", type=setting("Concurrency", int), default=8)
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--max-cost", type=setting("MaxCost", float), metavar="USD")
    generate.add_argument("--max-requests", type=int)
    generate.add_argument("--generator-model", help="override the model name")
    generate.add_argument("--base-url", type=setting("BaseUrl", str), help="override the API base URL")
    generate.add_argument("--judges-dir", action="append", help="also read model YAMLs from this folder")
    generate.add_argument("--workspace", help="SQLite store (calls are reused on re-runs)")
    generate.add_argument("--tokenizer", default="char", choices=["char", "morpheme"],
                          help="tokens for ROUGE-L de-duplication")
    generate.add_argument("--rouge-threshold", type=float, default=0.7)
    add_batch_options(generate)
    generate.set_defaults(func=run_generate, interrupted="interrupted: every finished request is stored; run the "
                                                         "same command again to continue")


def run_seeds_translate(args: argparse.Namespace) -> int:
    from jp_bench.judging.judges import load_judge
    from jp_bench.judging.service import workspace_store
    from jp_bench.selfinstruct.seeds import read_english_seeds
    from jp_bench.selfinstruct.seeds_translate import translate_seeds
    from jp_bench.selfinstruct.sheet import write_sheet

    config = load_judge(args.translator, args.judges_dir)
    if args.batch:
        config.check_batch()
    spec = config.model_spec(model=args.translator_model, base_url=args.base_url)
    seeds = read_english_seeds(args.input)
    if args.limit:
        seeds = seeds[: args.limit]
    with workspace_store(Path(args.workspace) if args.workspace else None) as store:
        rows = translate_seeds(seeds, spec, store, concurrency=args.concurrency, batch=batch_settings(args))
    for path in write_sheet(rows, Path(args.out), overwrite=args.overwrite):
        print(path)
    errors = sum(1 for row in rows if row.status == "error")
    print(f"{len(rows)} rows ({errors} without a usable translation); edit the sheet, set status to done or skip, "
          f"then run `jp-bench selfinstruct seeds import SHEET --out seeds_ja.jsonl`")
    return 0


def run_seeds_import(args: argparse.Namespace) -> int:
    from jp_bench.selfinstruct.seeds import write_seed_set
    from jp_bench.selfinstruct.sheet import import_sheet

    seeds = import_sheet(args.sheet, allow_todo=args.allow_todo)
    path = write_seed_set(seeds, Path(args.out))
    print(f"{len(seeds)} Japanese seed tasks written to {path}")
    return 0


def run_generate(args: argparse.Namespace) -> int:
    from jp_bench.selfinstruct.service import GenerateRequest, run_generation

    request = GenerateRequest(
        generator=args.generator, num=args.num, out=Path(args.out), seeds=args.seeds, prompt=args.prompt,
        workspace=Path(args.workspace) if args.workspace else None, concurrency=args.concurrency,
        tasks_per_request=args.tasks_per_request, seed=args.seed, max_cost_usd=args.max_cost,
        max_requests=args.max_requests, generator_model=args.generator_model, base_url=args.base_url,
        judges_dirs=tuple(args.judges_dir or ()), tokenizer=args.tokenizer, rouge_threshold=args.rouge_threshold,
        batch=batch_settings(args),
    )

    def progress(report) -> None:
        print(f"requests {report.requests}: accepted {len(report.accepted)}/{args.num}, "
              f"dropped {sum(report.drop_counts.values())}, calls {report.calls_made} "
              f"(reused {report.reused}), spent ${report.spent_usd:.4f}", file=sys.stderr, flush=True)

    outcome = run_generation(request, on_progress=progress)
    report = outcome.report
    print(f"accepted {len(report.accepted)} of {len(report.accepted) + len(report.dropped)} candidates; "
          f"dropped: {dict(report.drop_counts)}")
    if report.stopped:
        print(report.stopped)
    for path in outcome.written:
        print(path)
    return 0 if len(report.accepted) >= args.num else 1
