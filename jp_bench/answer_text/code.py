"""What of an answer's text is code or notation rather than prose: fenced code blocks, inline code spans,
math, URLs, and lines of code or formulas written without any markup. The one owner of setting them
aside, for every measurement of an answer's prose (:mod:`jp_bench.answer_text.japanese`,
:mod:`jp_bench.answer_text.style`).

What is set aside becomes :data:`SET_ASIDE` (one neutral character: no letter, digit, space or markdown
marker), so the lines around it stay lines and ``**`x`**`` stays a bold span.
"""

from __future__ import annotations

import re

# U+FFFC OBJECT REPLACEMENT CHARACTER: a symbol (category So), neutral for every count made here.
SET_ASIDE = "\ufffc"

# A fence is three or more backticks or tildes at the start of a line. CommonMark allows at most three
# spaces before it; answers put fences inside list items, indented deeper, so any indentation is taken.
_FENCE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})(?P<info>.*)$")

# A code span: a run of backticks, then the same run again, not across a blank line (CommonMark's rule,
# kept to one paragraph so that a stray backtick cannot swallow the rest of the answer).
_INLINE_CODE = re.compile(r"(?<!`)(?P<ticks>`+)(?!`)(?:(?!\n[ \t]*\n).)+?(?<!`)(?P=ticks)(?!`)", re.DOTALL)

# Math as markdown writers and LLMs write it: $$...$$ and \[...\] (display), \(...\) and $...$ (inline).
# An inline $...$ follows pandoc's rule: no space just inside either dollar and no digit just after the
# closing one, so prices ("$5 and $10") are prose, not math.
_MATH = re.compile(
    r"\$\$(?:(?!\n[ \t]*\n).)+?\$\$"
    r"|\\\[(?:(?!\n[ \t]*\n).)+?\\\]"
    r"|\\\((?:(?!\n[ \t]*\n).)+?\\\)"
    r"|(?<![\\$])\$(?=[^\s$])[^$\n]*?(?<=[^\s\\$])\$(?!\d)",
    re.DOTALL,
)

# A URL runs over printable ASCII only: Japanese written right after it ("https://example.com/を参照")
# is prose, not part of the address.
_URL = re.compile(r"\b(?:https?|ftp)://[!-~]+|\bwww\.[A-Za-z0-9-]+\.[!-~]+")

# Signs that a line is code or a formula, not a sentence: assignment or comparison, a statement's ``;``,
# blocks, TeX and powers (not ``|``: a markdown table's row is prose); a call or an index written
# against its name (``f(2)``, ``xs[0]``); a preprocessor line or shebang; a line that only closes
# brackets; a line opening with a keyword in lower case (English sentences open in upper case: "For
# example" is prose, "for i in" is code).
_CODE_LINE = re.compile(
    r"[=;{}<>\\^]"
    r"|[A-Za-z_][A-Za-z0-9_]*[(\[]"
    r"|^\s*#(?:include|define|pragma|import|!)"
    r"|^\s*[)\]]+[;,]?\s*$"
    r"|^\s*(?:import|from|def|class|return|if|elif|else|for|while|try|except|finally|with|print|function|var|let|"
    r"const|int|void|char|float|double|bool|public|private|protected|static|using|namespace|package|func|fn|"
    r"pub|struct|switch|case|break|continue|pass|yield|raise|throw|end|begin|select|SELECT|echo|printf)\b"
)


def looks_like_code(line: str) -> bool:
    """Whether ``line`` reads as code or a formula (``x = 8``, ``def f(n):``, ``#include <stdio.h>``) rather
    than a sentence. Answers often give code and formulas without fences or ``$``: the caller decides which
    lines to ask about (:mod:`jp_bench.answer_text.japanese` asks about lines without a Japanese letter,
    since a line with Japanese in it is prose, or code commented in Japanese)."""
    return _CODE_LINE.search(line) is not None


def without_code_blocks(text: str) -> str:
    """``text`` with each fenced code block (`````` ``` `````` or ``~~~``, fences included) replaced by one
    :data:`SET_ASIDE` line. A block never closed runs to the end of the text, as in CommonMark."""
    out: list[str] = []
    fence: str | None = None  # the opening fence of the block we are in
    for line in text.split("\n"):
        found = _FENCE.match(line)
        if fence is None:
            # A backtick fence's info string may not hold a backtick (``` `code` ``` is a code span).
            if found and not (found["fence"][0] == "`" and "`" in found["info"]):
                fence = found["fence"]
                out.append(SET_ASIDE)
            else:
                out.append(line)
        elif found and found["fence"].startswith(fence) and not found["info"].strip():
            fence = None  # the closing fence: the same character, at least as long, nothing after it
    return "\n".join(out)


def without_inline_code(text: str) -> str:
    """``text`` with each inline code span (`` `x` ``, ``` ``x`` ```) replaced by :data:`SET_ASIDE`."""
    return _INLINE_CODE.sub(SET_ASIDE, text)


def without_code(text: str) -> str:
    """``text`` without its code: fenced blocks first (they may hold backticks), then inline spans."""
    return without_inline_code(without_code_blocks(text))


def prose(text: str) -> str:
    """``text`` with code, math and URLs set aside: what is left is what the answer says in words."""
    return _URL.sub(SET_ASIDE, _MATH.sub(SET_ASIDE, without_code(text)))
