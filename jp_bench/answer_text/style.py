"""The markdown an answer is dressed in: how many headers, list items and bold spans it has. Judges are
known to favour answers with more of them, whatever they say; style control (Bradley–Terry with style
covariates) takes these counts per answer from the judgment rows.

Code blocks and inline code are set aside first (:func:`jp_bench.answer_text.code.without_code`): a
``# comment`` in a Python block is no header and ``**kwargs`` no bold span.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from jp_bench.answer_text.code import without_code

# An ATX header: one to six '#' at the start of a line (at most three spaces in), then a space or the
# line's end (CommonMark: "#5" and "#hashtag" are not headers).
_HEADER = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)", re.MULTILINE)

# A list item: a markdown marker ('-', '*', '+', '1.', '1)') followed by a space and some text, at any
# indentation (nested items count); or a Japanese bullet ('・', '•') or a full-width number ('１．',
# '１）', also '1．'), which Japanese writers put straight before the text, without a space.
_LIST_ITEM = re.compile(
    r"^[ \t]*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+\S|(?:[・•]|[０-９]{1,9}[．.)）]|\d{1,9}[．）])[ \t]*\S)",
    re.MULTILINE,
)
# A thematic break ("- - -", "***") starts like a list item but is a rule.
_BREAK = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$", re.MULTILINE)

# A bold span: '**' or '__' around text that neither starts nor ends with a space, within one line.
# '__' inside a word is no emphasis in markdown (snake__case); '**' may be (in-word bold is allowed).
_BOLD = re.compile(r"\*\*(?=[^\s*])(?:(?!\*\*).)*?(?<=[^\s*])\*\*|(?<!\w)__(?=[^\s_])(?:(?!__).)*?(?<=[^\s_])__(?!\w)")


@dataclass(frozen=True)
class StyleCounts:
    headers: int
    list_items: int
    bold: int


def style_counts(text: str) -> StyleCounts:
    """The counts of ``text``'s markdown headers, list items and bold spans, code set aside."""
    shown = _BREAK.sub("", without_code(text))
    return StyleCounts(headers=len(_HEADER.findall(shown)), list_items=len(_LIST_ITEM.findall(shown)),
                       bold=len(_BOLD.findall(shown)))
