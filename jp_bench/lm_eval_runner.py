"""`jp-bench lm-eval ARGS...`: lm-eval's own command line with our task folder included.

The arguments are exactly lm-eval's. The exit code is 1 when judging (``--metadata judge``) left
judgments missing. We parse them with lm-eval's parser, then add our task folder to
``--include_path`` (keeping the user's own folder if one was given) and let lm-eval run.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from jp_bench import paths


def include_paths(user_value: str | list[str] | None) -> list[str]:
    ours = str(paths.tasks_path())
    if user_value is None:
        return [ours]
    given = user_value if isinstance(user_value, list) else [user_value]
    return [ours, *[p for p in given if p != ours]]


def run_lm_eval(argv: Sequence[str]) -> int:
    """Run lm-eval in this process with ``argv`` (without the program name); return an exit code."""
    try:
        from lm_eval._cli import HarnessCLI
        from lm_eval.utils import setup_logging
    except ImportError:
        from jp_bench.errors import JpBenchError

        raise JpBenchError("lm-eval is not installed: pip install 'jp-bench[hf]' (or 'jp-bench[lm-eval]')") from None

    from jp_bench.judging import in_harness

    incomplete_before = len(in_harness.INCOMPLETE_RUNS)
    saved_argv = sys.argv
    sys.argv = ["lm-eval", *argv]
    try:
        setup_logging()
        parser = HarnessCLI()
        args = parser.parse_args()
        if hasattr(args, "include_path"):
            merged = include_paths(args.include_path)
            # lm-eval's TaskManager takes a list; keep a plain string when there is only ours.
            args.include_path = merged[0] if len(merged) == 1 else merged
        parser.execute(args)
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        sys.argv = saved_argv
    # lm-eval itself exits 0 when the judge failed after generation (the answers and results are
    # written, judged metrics nan); through jp-bench the run says so in its exit code.
    return 1 if len(in_harness.INCOMPLETE_RUNS) > incomplete_before else 0
