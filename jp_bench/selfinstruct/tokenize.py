"""Tokenizers for Japanese near-duplicate detection.

``rouge_score``'s default tokenizer lowercases and keeps only ``[a-z0-9]`` runs, so Japanese text
becomes an empty token list and every ROUGE score is 0. The tokenizers here produce tokens that
make ROUGE-L meaningful for Japanese:

* :func:`char_tokens` -- one token per character. No dependency, fast, and robust to the lack of
  spaces in Japanese; this is the default for the self-instruct filter.
* :func:`morpheme_tokens` -- surface forms from MeCab (via ``fugashi``) with the ``unidic-lite``
  dictionary, for word-level ROUGE-L.

Both NFKC-normalise first, so full-width Latin letters and digits (``ＡＢＣ１２３``) and half-width
katakana (``ｶﾀｶﾅ``) compare equal to their usual forms, then lowercase.

Which characters are dropped (:func:`is_ignorable_char`):

* Unicode categories ``Z*`` (whitespace/separators), ``C*`` (control, format such as zero-width
  spaces) and ``P*`` (punctuation: 。、！？「」『』（）・〜 and ASCII ``.,!?'"()-`` ...). Punctuation
  differences (「説明してください。」 vs 「説明してください」) should not make two instructions look
  different, and punctuation is frequent enough to inflate the similarity of unrelated sentences.
* ``~``: NFKC turns the full-width tilde ``～`` (which Japanese text uses as a wave dash, like
  ``〜``, category Pd) into ASCII ``~`` (category Sm); treating it as punctuation makes 「1～3」 and
  「1〜3」 tokenize alike.

Symbols (categories ``S*``: ``+ = < > ¥ $ ° → ©`` and emoji) are KEPT: they carry meaning in
instructions (「2+3を計算」 vs 「2×3を計算」, 「¥500」) and are rare, so they do not inflate overlap.
Letters (including ``ー`` and ``々``), marks and digits are kept.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from jp_bench.errors import JpBenchError

Tokenizer = Callable[[str], list[str]]

TOKENIZER_NAMES = ("char", "morpheme")

_PIP_HINT = "pip install fugashi unidic-lite  (or: pip install 'jp-bench[selfinstruct]')"

# Characters dropped although their category is kept; see the module docstring.
_EXTRA_IGNORED = frozenset("~")


@lru_cache(maxsize=65536)
def is_ignorable_char(char: str) -> bool:
    """Whether ``char`` (already NFKC-normalised) is whitespace, a control/format character or punctuation.

    Cached because the same few thousand characters recur in every instruction.
    """
    if char in _EXTRA_IGNORED:
        return True
    return unicodedata.category(char)[0] in "PZC"


def normalize(text: str) -> str:
    """NFKC-normalise and lowercase ``text`` (the first step of both tokenizers)."""
    return unicodedata.normalize("NFKC", text).lower()


def char_tokens(text: str) -> list[str]:
    """One token per character of the NFKC-normalised, lowercased text, without whitespace and punctuation.

    >>> char_tokens("日本の首都は？ ＡＢ")
    ['日', '本', 'の', '首', '都', 'は', 'a', 'b']
    """
    return [char for char in normalize(text) if not is_ignorable_char(char)]


@lru_cache(maxsize=1)
def _tagger() -> Any:
    """The MeCab tagger, created once on first use (loading the dictionary takes a moment).

    The unidic-lite dictionary is named explicitly: fugashi's own default prefers the full ``unidic``
    package when that is installed, even if its (separately downloaded) dictionary is missing.
    """
    try:
        import fugashi
        import unidic_lite
    except ImportError as exc:
        raise JpBenchError(f"the morpheme tokenizer needs fugashi and unidic-lite ({exc.name} is missing): "
                           f"{_PIP_HINT}") from exc
    dicdir = unidic_lite.DICDIR
    try:
        return fugashi.Tagger(f'-d "{dicdir}" -r "{os.path.join(dicdir, "mecabrc")}"')
    except RuntimeError as exc:  # fugashi raises RuntimeError when MeCab cannot load the dictionary
        raise JpBenchError(f"could not load the unidic-lite dictionary from {dicdir}: {exc}; "
                           f"reinstall it: {_PIP_HINT}") from exc


def morpheme_tagger() -> Any:
    """The shared fugashi tagger, for callers that need more than surfaces (``word.feature.pos1``, ``.lemma``)."""
    return _tagger()


def morpheme_tokens(text: str) -> list[str]:
    """Surface forms of the morphemes of ``text`` (MeCab + unidic-lite), lowercased, without punctuation.

    The text is NFKC-normalised before tagging (so the analyser sees ``ABC`` rather than ``ＡＢＣ``);
    surfaces are lowercased afterwards, so case does not change the segmentation. A morpheme made
    only of ignorable characters (see :func:`is_ignorable_char`) is dropped.

    >>> morpheme_tokens("東京の天気を教えて。")
    ['東京', 'の', '天気', 'を', '教え', 'て']
    """
    tagger = _tagger()
    tokens = []
    for word in tagger(unicodedata.normalize("NFKC", text)):
        surface = word.surface
        if surface and not all(is_ignorable_char(char) for char in surface):
            tokens.append(surface.lower())
    return tokens


_TOKENIZERS: dict[str, Tokenizer] = {"char": char_tokens, "morpheme": morpheme_tokens}


def get_tokenizer(name: str) -> Tokenizer:
    """The tokenizer called ``name``: ``"char"`` (:func:`char_tokens`) or ``"morpheme"`` (:func:`morpheme_tokens`).

    Asking for ``"morpheme"`` checks right away that fugashi and unidic-lite can be loaded, so a
    missing dependency is reported before any work starts.
    """
    try:
        tokenizer = _TOKENIZERS[name]
    except KeyError:
        raise JpBenchError(f"unknown tokenizer {name!r}: expected one of {', '.join(TOKENIZER_NAMES)}") from None
    if name == "morpheme":
        _tagger()
    return tokenizer


class RougeScoreTokenizer:
    """Adapter that plugs one of our tokenizers into ``rouge_score``.

    ``rouge_scorer.RougeScorer(["rougeL"], tokenizer=RougeScoreTokenizer("char"))`` scores Japanese
    text the way :func:`jp_bench.selfinstruct.dedup.rouge_l` does; ``RougeScorer`` only needs an
    object with a ``tokenize(text)`` method.
    """

    def __init__(self, tokenizer: str | Tokenizer = "char") -> None:
        self._tokenize = get_tokenizer(tokenizer) if isinstance(tokenizer, str) else tokenizer

    def tokenize(self, text: str) -> list[str]:
        """Tokens of ``text``."""
        return self._tokenize(text)
