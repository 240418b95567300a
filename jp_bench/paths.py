"""Where jp-bench keeps downloads and workspaces."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The jp-bench home folder: ``$JP_BENCH_HOME``, else the platform cache dir.

    Read at call time (never at import) so tests and users can change it per process.
    """
    configured = os.environ.get("JP_BENCH_HOME")
    if configured:
        return Path(configured).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("jp-bench"))


def data_dir() -> Path:
    """Verified copies of upstream benchmark files."""
    return home() / "data"


def tasks_path() -> Path:
    """The folder holding jp-bench's lm-eval task YAMLs (for ``--include_path``)."""
    from jp_bench.tasks import TASKS_DIR

    return TASKS_DIR


def default_store_path() -> Path:
    """The workspace store every command uses unless told otherwise (``--workspace``)."""
    return home() / "workspaces" / "default" / "store.sqlite"
