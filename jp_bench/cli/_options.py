"""Option types and option groups that several commands share (parsing only; nothing heavy at import)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any


def print_err(message: str) -> None:
    """One ``jp-bench: error: ...`` line on stderr: the form every error of the command line takes."""
    print(f"jp-bench: error: {message}", file=sys.stderr)


def setting(rule_name: str, parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type that checks a value by its rule in jp_bench.llm.limits (the rule the judge YAML and
    the in-harness keys use too), so a bad value is one usage error before anything runs."""
    def convert(text: str) -> Any:
        from jp_bench.llm import limits

        try:
            return limits.parse_setting(getattr(limits, rule_name), parse, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = rule_name  # argparse names the type in some messages
    return convert


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


positive_int.__name__ = "_positive_int"  # argparse names the type in "invalid ... value" (unchanged since 0.1)


def add_batch_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Batch API (half price, results within 24 h)")
    group.add_argument("--batch", action="store_true",
                       help="send through the vendor's Batch API; a re-run polls the batches already submitted")
    group.add_argument("--batch-fallback", default="resubmit", choices=["resubmit", "live"],
                       help="errored or expired requests: resubmit them in a new batch (default) or send them live")
    group.add_argument("--batch-poll", type=setting("BatchPoll", float), default=30.0, metavar="S",
                       help="seconds before the first status check (at most 300; grows to 5 minutes; default 30)")
    group.add_argument("--batch-size", type=positive_int, metavar="N",
                       help="at most N requests per batch (default: the vendor's limit)")


def batch_options(args: argparse.Namespace) -> dict[str, Any]:
    """The Batch API flags as the library's keyword arguments (``batch=False`` without ``--batch``)."""
    return {"batch": bool(getattr(args, "batch", False)), "batch_fallback": args.batch_fallback,
            "batch_poll": args.batch_poll, "batch_size": args.batch_size}


def batch_settings(args: argparse.Namespace) -> Any:
    """``--batch`` and its options as :class:`jp_bench.llm.batch.BatchSettings` (None without ``--batch``)."""
    if not getattr(args, "batch", False):
        return None
    from jp_bench.llm.batch import BatchSettings

    return BatchSettings(poll_interval_s=args.batch_poll, fallback=args.batch_fallback,
                         max_requests_per_batch=args.batch_size)
