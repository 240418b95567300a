"""Cells that spreadsheet programs must not run: text starting with ``= + - @`` (or a tab / CR) would be
evaluated as a formula (CSV injection), so it is written with a leading ``'`` and read back without it.

One owner for every CSV jp-bench writes for people: the seed post-edit sheet and ``leaderboard.csv``.
"""

from __future__ import annotations

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def protect_cell(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def unprotect_cell(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_TRIGGERS) else text
