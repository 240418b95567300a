"""How a figure and its interval are written in text tables (report, judges board, experiment): one rule,
so a missing figure reads the same everywhere."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def number(value: float | None, digits: int = 3, *, signed: bool = False, missing: str = "-") -> str:
    """``value`` with ``digits`` decimals (``+`` before a positive one when ``signed``); ``missing`` for None."""
    if value is None:
        return missing
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def interval_text(ci: Sequence[Any] | None, digits: int = 3, *, missing: str = "-") -> str:
    """``[low, high]`` with ``digits`` decimals; ``missing`` when there is no interval or an end is None."""
    if not ci or ci[0] is None or ci[1] is None:
        return missing
    return f"[{number(ci[0], digits)}, {number(ci[1], digits)}]"
