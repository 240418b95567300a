"""The judging progress bar (on stderr): calls done of those to make, errors, money spent.

One owner for ``jp-bench judge`` and for judging inside an lm-eval run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def progress_bar(desc: str = "judging") -> tuple[Callable[[Any, int], None], Callable[[], None]]:
    """``(update, close)``: ``update(report, total)`` is the runner's ``on_progress`` callback."""
    from tqdm import tqdm

    state: dict[str, Any] = {}

    def update(report: Any, total: int) -> None:
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = tqdm(total=total, desc=desc, unit="call", file=sys.stderr, disable=total == 0)
        bar.n = report.called
        postfix: dict[str, Any] = {"errors": report.errors, "spent": f"${report.spent_usd:.4f}"}
        batch = getattr(report, "batch", None)
        if batch is not None and batch.batches:
            # Batch API: requests submitted / finished / failed over every batch, and the time waited.
            postfix["batches"] = len(batch.batches)
            postfix["finished"] = (f"{sum(b.finished for b in batch.batches.values())}/"
                                   f"{sum(b.requests for b in batch.batches.values())}")
            postfix["failed"] = sum(b.failed for b in batch.batches.values())
            postfix["waited"] = f"{batch.waited_s:.0f}s"
            seen = state.setdefault("batches", {})
            for progress in batch.batches.values():
                line = (f"batch {progress.id}: {progress.status}, {progress.finished}/{progress.requests} finished, "
                        f"{progress.failed} failed")
                if seen.get(progress.id) != line:  # one line per change of a batch's state
                    seen[progress.id] = line
                    bar.write(f"{line} (waited {batch.waited_s:.0f}s)", file=sys.stderr)
        bar.set_postfix(postfix, refresh=False)
        bar.refresh()

    def close() -> None:
        bar = state.pop("bar", None)
        if bar is not None:
            bar.close()

    return update, close
