"""What the judged tasks of this process share: one object instead of loose process-wide variables.

lm-eval builds our task objects and calls our hooks without any context of ours, so what they share
(the checked set-ups, the endpoints whose access was checked, the tasks waiting to be judged, the
runs left incomplete) lives in the process's :class:`HarnessSession`. ``jp-bench lm-eval`` reads its
exit code from it; tests swap in a fresh one with :func:`fresh_session`.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class HarnessSession:
    # (settings, benchmark) -> the JudgingSetup checked for them (jp_bench.harness.judge_setup)
    setups: dict[tuple[Any, str], Any] = field(default_factory=dict)
    # endpoints (provider, base URL, key variable) whose access was checked: once per process
    checked_access: set[str] = field(default_factory=set)
    # judged runs that ended without every judgment (jp_bench.harness.judge_run.JudgedRun)
    incomplete_runs: list[Any] = field(default_factory=list)
    # the task objects that judge (weak: lm-eval owns them; a finished evaluation's tasks go away)
    judged_tasks: weakref.WeakSet = field(default_factory=weakref.WeakSet)


_session = HarnessSession()


def current_session() -> HarnessSession:
    return _session


@contextmanager
def fresh_session() -> Iterator[HarnessSession]:
    """A new, empty session for the duration of the block (the previous one comes back after)."""
    global _session
    previous, _session = _session, HarnessSession()
    try:
        yield _session
    finally:
        _session = previous
