"""How much of an answer is written in Japanese: the share of its letters that are kana or kanji.

What is counted: letters (Unicode letters, ``str.isalpha``) of the answer's prose, with code blocks,
inline code, math and URLs set aside first (:func:`jp_bench.answer_text.code.prose`), and lines without
any Japanese letter that read as code or formulas (:func:`jp_bench.answer_text.code.looks_like_code`:
``x = 8``, ``def f(n):``), which answers often write without fences. A letter is
Japanese when it is hiragana, katakana (full and half width, the prolonged sound mark ``ー``, the small
kana and the kana supplements), a CJK ideograph (the unified blocks, their extensions and the
compatibility ideographs) or an ideographic iteration or closing mark (``々 〆 〇 〻``). Every other
letter counts against it: Latin (full-width ``ＡＢＣ`` too), Hangul, Cyrillic, Greek, Thai, ....
Digits, punctuation, spaces, symbols and emoji are neutral: they count for neither side.

Latin words that Japanese technical prose keeps in Latin letters (API, Python, JSON) count as Latin:
telling a borrowed term from an English sentence would need a dictionary, and the threshold leaves room
for them (see :data:`JAPANESE_THRESHOLD`). Han ideographs are shared with Chinese, so an answer in
Chinese counts as Japanese here: the check finds answers in English (or another alphabet), which is
how an evaluated model most often misses the language of a Japanese question.
"""

from __future__ import annotations

import re

from jp_bench.answer_text.code import looks_like_code, prose

# An answer is "not Japanese" when fewer than half of its letters are kana or kanji: most of its prose is
# in another script. The bar sits far from both kinds of answer met in practice. A Japanese sentence
# spends one character per kanji word where English spends five or six letters per word, so prose dense
# with Latin terms stays well above one half: in the paper's released jp_bench answers (seven models, 80
# questions) the median is 1.0, a tenth of them are under 0.9, and the only ones under 0.55 are two
# answers that ran a program's code into their sentences (0.26 and 0.33). An English answer that quotes
# a few Japanese terms stays far below it (near 0). Raise it for stricter answers: at 0.8, a line where
# every other word is an English term is flagged.
JAPANESE_THRESHOLD = 0.5

_JAPANESE_LETTER = re.compile(
    "["
    "\u3005-\u3007\u3031-\u3035\u303b\u303c"  # 々 〆 〇, 〱-〵 and 〻 (repeat marks), 〼
    "\u3041-\u3096\u309d-\u309f"  # hiragana, ゝ ゞ, ゟ
    "\u30a1-\u30fa\u30fc-\u30ff"  # katakana, ー, ヽ ヾ, ヿ (not the middle dot ・, which is punctuation)
    "\u31f0-\u31ff"  # small katakana for Ainu
    "\uff66-\uff9f"  # half-width katakana, ｰ and the sound marks ﾞ ﾟ (not the half-width middle dot ･)
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs: extension A, unified, compatibility
    "\U0001b000-\U0001b16f"  # kana supplement, extended and small kana
    "\U00020000-\U0003134f"  # CJK ideographs: extensions B to G and the compatibility supplement
    "]"
)


def letter_counts(text: str) -> tuple[int, int]:
    """(Japanese letters, all letters) of ``text``'s prose, as :func:`japanese_share` counts them; summed
    over several texts, they give the share of the whole (e.g. of every turn of an answer)."""
    japanese = letters = 0
    for line in prose(text).split("\n"):
        in_japanese = len(_JAPANESE_LETTER.findall(line))
        if not in_japanese and looks_like_code(line):
            continue  # code or a formula without markup: neither language
        japanese += in_japanese
        # Every Japanese letter is a Unicode letter but the ideographic zero 〇 (a number letter, Nl).
        letters += sum(map(str.isalpha, line)) + line.count("\u3007")
    return japanese, letters


def share_of(japanese: int, letters: int) -> float | None:
    """The share from :func:`letter_counts`; None when there are no letters (nothing to measure)."""
    return japanese / letters if letters else None


def japanese_share(text: str) -> float | None:
    """The share of ``text``'s letters that are Japanese, from 0 to 1 (see the module docstring).

    None when no letter is left to measure (an empty answer, only code, only numbers or symbols): such
    an answer is never flagged, since a code answer to a coding question is not in the wrong language.
    """
    return share_of(*letter_counts(text))


def is_not_japanese(share: float | None, threshold: float = JAPANESE_THRESHOLD) -> bool:
    """Whether an answer of this share is under the threshold (None, nothing measured: never)."""
    return share is not None and share < threshold
