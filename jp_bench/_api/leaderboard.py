"""``jp_bench.leaderboard``: the views of the published results, as ``jp-bench leaderboard`` builds them."""

from __future__ import annotations

from pathlib import Path

from jp_bench.reporting.leaderboard import build_leaderboard

__all__ = ["leaderboard"]


def leaderboard(results: str | Path = "results", *, out: str | Path | None = None) -> list[Path]:
    """Read ``results/<benchmark>/<judge>/<model>.json`` and write ``LEADERBOARD.md``, ``leaderboard.csv``,
    the PNG plots and ``leaderboard.html`` into ``out`` (default: the results folder); returns the files
    written. The same files give the same bytes. A bad result file raises
    :class:`~jp_bench.errors.InputFileError` naming the file and the field.
    """
    return build_leaderboard(Path(results), Path(results if out is None else out))
