"""Keeping an answer from forging the delimiters of the judge prompt it is pasted into.

A prompt frames each answer with delimiter lines (``[アシスタントAの答えの終わり]``, ``【参考解答：ここまで】``,
...). An answer that contains such a line could close its own block and write a fake question or
fake instructions. The delimiters are read from the template itself (any prompt file, ours or
FastChat's), and every look-alike in an answer or a reference answer is neutralised: its opening
bracket becomes ``〔``. Look-alikes are found on a skeleton of the text: NFKC-normalised (full-width
``［`` is ``[``), zero-width characters and whitespace removed, and every square-ish bracket
(``[［【〖〚⟦`` and their closers) read as ``[`` / ``]``. Text without a look-alike is returned as it
is, so prompts stay byte-identical for ordinary answers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_ZERO_WIDTH = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e"}
_OPENERS = "[［【〖〚⟦"
_CLOSERS = "]］】〗〛⟧"
_CANONICAL = {**dict.fromkeys(_OPENERS, "["), **dict.fromkeys(_CLOSERS, "]")}
NEUTRAL_OPENER = "〔"  # not a bracket of the class above, so a neutralised delimiter stays harmless

# A template construct: a FastChat placeholder {name} or a jinja2 tag {{ }}, {% %}, {# #}.
_CONSTRUCT = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|\{[^{}]*\}")


def skeleton(text: str) -> tuple[str, list[int]]:
    """The comparison form of ``text`` and, for each of its characters, the index it came from."""
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if char in _ZERO_WIDTH:
            continue
        for normal in unicodedata.normalize("NFKC", char):
            if normal.isspace() or normal in _ZERO_WIDTH:
                continue
            chars.append(_CANONICAL.get(normal, normal))
            origin.append(index)
    return "".join(chars), origin


def template_delimiters(*templates: str) -> tuple[str, ...]:
    """The delimiters a template uses: each line that starts with a bracket, up to its closing bracket
    or its first placeholder (``【ユーザーの質問{% if ... %}`` gives ``【ユーザーの質問``).

    Verdict markers (``[[A]]``, ``[[rating]]``) are not delimiters: only the judge's reply is parsed.
    """
    found: list[str] = []
    for template in templates:
        for line in template.splitlines():
            text = line.strip()
            if not text or text[0] not in _OPENERS or text[:2] in ("[[", "［［"):
                continue
            construct = _CONSTRUCT.search(text)
            head = text[: construct.start()] if construct else text
            closing = min((head.find(c) for c in _CLOSERS if c in head), default=-1)
            delimiter = head[: closing + 1] if closing > 0 else head
            if len(skeleton(delimiter)[0]) >= 3 and delimiter not in found:
                found.append(delimiter)
    return tuple(found)


def neutralise(text: str, delimiters: Iterable[str]) -> str:
    """``text`` with the opening bracket of every delimiter look-alike replaced by ``〔``."""
    patterns = [skeleton(d)[0] for d in delimiters]
    if not text or not patterns:
        return text
    skel, origin = skeleton(text)
    starts: set[int] = set()
    for pattern in patterns:
        position = skel.find(pattern)
        while position != -1:
            starts.add(origin[position])
            position = skel.find(pattern, position + 1)
    if not starts:
        return text
    return "".join(NEUTRAL_OPENER if index in starts else char for index, char in enumerate(text))
