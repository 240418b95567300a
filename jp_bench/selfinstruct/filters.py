"""Filters for generated Japanese instruction data (the Japanese counterpart of Alpaca's post-processing).

:func:`filter_items` checks each generated item (a dict with string ``instruction``, ``input`` and
``output``) in a fixed order and drops it at the first failing check, with a reason code:

1. ``malformed`` -- not a dict, or ``instruction`` / ``input`` / ``output`` missing or not a string;
2. ``length`` -- instruction or output shorter or longer than configured (characters after stripping
   surrounding whitespace);
3. ``blacklist`` -- the instruction asks for something a text-only model cannot do (see
   :data:`DEFAULT_BLACKLIST`);
4. ``japanese_share`` -- too little Japanese script in the instruction or the output (see
   :func:`japanese_share`);
5. ``near_duplicate`` -- the instruction's ROUGE-L against an instruction already accepted (or in the
   given pool) is above the threshold. The pool GROWS with each accepted item, so of two
   near-identical candidates in one batch only the first is kept (as in Alpaca).

The cheap checks run first so that only plausible items reach the near-duplicate index. Everything
here is a pure function, except that a :class:`~jp_bench.selfinstruct.dedup.NearDuplicateIndex`
passed as ``pool`` receives the accepted instructions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from jp_bench.errors import JpBenchError
from jp_bench.selfinstruct.dedup import NearDuplicateIndex

DropReason = Literal["malformed", "length", "blacklist", "japanese_share", "near_duplicate"]
#: Reason codes in the order the filters run.
REASONS: tuple[DropReason, ...] = ("malformed", "length", "blacklist", "japanese_share", "near_duplicate")

FIELDS = ("instruction", "input", "output")

#: Phrases marking tasks a text-only model cannot carry out: perceiving or producing images, audio or
#: video, opening files, links or web pages, running code, acting in the world, or knowing today's
#: facts. Matched as substrings of the NFKC-normalised, lowercased INSTRUCTION with whitespace
#: removed, so ``ＵＲＬ を開いて`` matches ``urlを開``. The input is not searched: it may quote any text
#: (a passage about photography to summarise). Like Alpaca's English list ("image", "graph", "file",
#: "draw", "video", ...), the bare nouns 画像/写真/動画/音声 also catch a few doable tasks
#: (「画像認識の仕組みを説明して」); with tens of thousands of candidates, losing a few good ones is
#: cheaper than keeping impossible ones. A bare 図 is NOT listed: it would hit 地図, 意図 and 図書館;
#: only drawing phrases are.
DEFAULT_BLACKLIST: tuple[str, ...] = (
    "画像",  # see / produce images
    "写真",
    "イラスト",
    "図を描", "図を作成", "図示",  # produce a figure
    "グラフを描", "グラフを作成",
    "絵を描",
    "音声",  # hear / speak
    "録音",
    "歌って",
    "動画",  # watch / make video
    "ビデオ",
    "ファイルを添付", "添付ファイル", "添付した",  # read attachments
    "ファイルを開",
    "urlを開", "リンク先", "ウェブサイトにアクセス",  # browse
    "プログラムを実行して結果", "コードを実行して結果", "実際に実行して",  # run code
    "スクリーンショット",
    "電話をかけ", "メールを送信",  # act in the world
    "今日の天気", "最新のニュース",  # need live data
)


class FilterConfig(BaseModel):
    """Thresholds of the self-instruct filters (defaults suit short Japanese tasks with free-form answers)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instruction_min_chars: int = Field(10, ge=0, description="shortest instruction kept (characters)")
    instruction_max_chars: int = Field(500, ge=1, description="longest instruction kept (characters)")
    output_min_chars: int = Field(1, ge=0, description="shortest output kept; 1 drops empty outputs")
    output_max_chars: int = Field(4000, ge=1, description="longest output kept (characters)")
    blacklist: tuple[str, ...] = Field(DEFAULT_BLACKLIST, description="phrases of tasks a text model cannot do")
    min_japanese_share_instruction: float = Field(0.5, ge=0.0, le=1.0)
    # Outputs may legitimately hold code, English terms or formulas, hence the lower default.
    min_japanese_share_output: float = Field(0.3, ge=0.0, le=1.0)
    rouge_threshold: float = Field(0.7, ge=0.0, le=1.0, description="drop when ROUGE-L is > this (Alpaca: 0.7)")
    tokenizer: Literal["char", "morpheme"] = "char"

    @model_validator(mode="after")
    def _ranges(self) -> FilterConfig:
        if self.instruction_min_chars > self.instruction_max_chars:
            raise ValueError("instruction_min_chars is larger than instruction_max_chars")
        if self.output_min_chars > self.output_max_chars:
            raise ValueError("output_min_chars is larger than output_max_chars")
        return self


@dataclass(frozen=True)
class DroppedItem:
    """An item that failed a filter: the item as given, the reason code and a human-readable detail."""

    item: Any
    reason: DropReason
    detail: str


@dataclass
class FilterResult:
    """Outcome of :func:`filter_items`.

    ``accepted`` holds the kept items (the same objects, unchanged) in input order, ``dropped`` the
    others with their reasons, ``counts`` the number dropped per reason (every reason present, 0 when
    none), and ``index`` the near-duplicate pool after the batch (it includes the accepted
    instructions), to carry over to the next batch.
    """

    accepted: list[dict[str, Any]]
    dropped: list[DroppedItem]
    counts: dict[str, int]
    index: NearDuplicateIndex = field(repr=False)


# -- individual checks (pure) -----------------------------------------------------------------------

def is_malformed(item: Any) -> str | None:
    """Why ``item`` is not a well-formed generated item, or ``None`` when it is."""
    if not isinstance(item, Mapping):
        return f"expected a dict, got {type(item).__name__}"
    for name in FIELDS:
        if name not in item:
            return f"missing {name!r}"
        if not isinstance(item[name], str):
            return f"{name!r} is {type(item[name]).__name__}, not a string"
    return None


def length_problem(item: Mapping[str, str], config: FilterConfig) -> str | None:
    """Which length limit the item breaks, or ``None``. Lengths count characters after ``strip()``."""
    limits = (("instruction", config.instruction_min_chars, config.instruction_max_chars),
              ("output", config.output_min_chars, config.output_max_chars))
    for name, low, high in limits:
        size = len(item[name].strip())
        if size < low:
            return f"{name} has {size} characters, fewer than {low}"
        if size > high:
            return f"{name} has {size} characters, more than {high}"
    return None


def _blacklist_form(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


@lru_cache(maxsize=8)
def _blacklist_forms(phrases: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(phrase, normalised phrase) pairs, computed once per blacklist rather than once per item."""
    return tuple((phrase, _blacklist_form(phrase)) for phrase in phrases)


def find_blacklisted(text: str, phrases: Iterable[str]) -> str | None:
    """The first phrase of ``phrases`` found in ``text`` (NFKC, lowercase, whitespace ignored), or ``None``."""
    haystack = _blacklist_form(text)
    for phrase, form in _blacklist_forms(tuple(phrases)):
        if form and form in haystack:
            return phrase
    return None


_FENCED_CODE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)  # an unterminated fence runs to the end
_INLINE_CODE = re.compile(r"`[^`\n]*`")


def strip_code(text: str) -> str:
    """``text`` without fenced (```...```) and inline (`...`) code, which need not be Japanese."""
    return _INLINE_CODE.sub(" ", _FENCED_CODE.sub(" ", text))


def is_japanese_char(char: str) -> bool:
    """Hiragana, katakana (incl. ``ー`` and phonetic extensions) or kanji (incl. ``々``, ``〆``)."""
    code = ord(char)
    return (0x3040 <= code <= 0x30FF  # hiragana, katakana (with ー U+30FC)
            or 0x31F0 <= code <= 0x31FF  # katakana phonetic extensions
            or 0x3400 <= code <= 0x4DBF  # CJK extension A
            or 0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
            or 0xF900 <= code <= 0xFAFF  # CJK compatibility ideographs
            or 0x20000 <= code <= 0x3FFFF  # CJK extensions B and later
            or char in "々〆〇")


def japanese_share(text: str) -> float | None:
    """Share of Japanese-script characters among the letters of ``text``; ``None`` when it has no letters.

    Letters are characters of Unicode category ``L*`` after NFKC (so half-width katakana count as
    katakana and full-width Latin as Latin) once code in backticks is removed; digits, punctuation,
    symbols and whitespace count neither way, so 「2024年」 is all Japanese and 「GPT-4を説明して」 is
    5 Japanese letters out of 8.
    """
    letters = japanese = 0
    for char in unicodedata.normalize("NFKC", strip_code(text)):
        if unicodedata.category(char)[0] == "L":
            letters += 1
            japanese += is_japanese_char(char)
    return japanese / letters if letters else None


def japanese_share_problem(item: Mapping[str, str], config: FilterConfig) -> str | None:
    """Whether instruction or output has too little Japanese script, or ``None``.

    An instruction without letters fails (it cannot be a Japanese task); an output without letters
    (a number, or only code) passes, since there is nothing to judge.
    """
    share = japanese_share(item["instruction"])
    if share is None or share < config.min_japanese_share_instruction:
        shown = "no letters" if share is None else f"{share:.2f}"
        return f"instruction Japanese share {shown} < {config.min_japanese_share_instruction}"
    share = japanese_share(item["output"])
    if share is not None and share < config.min_japanese_share_output:
        return f"output Japanese share {share:.2f} < {config.min_japanese_share_output}"
    return None


# -- the pipeline -------------------------------------------------------------------------------------

def _pool_index(pool: NearDuplicateIndex | Iterable[str] | None, config: FilterConfig) -> NearDuplicateIndex:
    if isinstance(pool, NearDuplicateIndex):
        if pool.tokenizer_name != config.tokenizer or pool.threshold != config.rouge_threshold:
            raise JpBenchError(f"the pool index uses tokenizer {pool.tokenizer_name!r} and threshold "
                               f"{pool.threshold}, but the filter config says {config.tokenizer!r} and "
                               f"{config.rouge_threshold}")
        return pool
    index = NearDuplicateIndex(config.tokenizer, config.rouge_threshold)
    if pool is not None:
        if isinstance(pool, str):
            raise JpBenchError("pool must be a NearDuplicateIndex or a list of instructions, not a string")
        index.extend(pool)
    return index


def filter_items(items: Iterable[Any], config: FilterConfig | None = None,
                 pool: NearDuplicateIndex | Iterable[str] | None = None) -> FilterResult:
    """Run the filters over ``items`` in order; see the module docstring for the checks and reasons.

    ``pool`` holds instructions accepted earlier (in previous batches or an existing data set):
    either a :class:`NearDuplicateIndex` built with the config's tokenizer and threshold, which is
    extended in place with the accepted instructions, or an iterable of instruction strings, which
    is copied into a new index. Items themselves are never modified.
    """
    config = config or FilterConfig()
    index = _pool_index(pool, config)
    accepted: list[dict[str, Any]] = []
    dropped: list[DroppedItem] = []
    counts: dict[str, int] = dict.fromkeys(REASONS, 0)

    def drop(item: Any, reason: DropReason, detail: str) -> None:
        dropped.append(DroppedItem(item, reason, detail))
        counts[reason] += 1

    for item in items:
        if (problem := is_malformed(item)) is not None:
            drop(item, "malformed", problem)
        elif (problem := length_problem(item, config)) is not None:
            drop(item, "length", problem)
        elif (phrase := find_blacklisted(item["instruction"], config.blacklist)) is not None:
            drop(item, "blacklist", f"mentions {phrase!r}")
        elif (problem := japanese_share_problem(item, config)) is not None:
            drop(item, "japanese_share", problem)
        elif (match := index.add_unless_duplicate(item["instruction"])) is not None:
            drop(item, "near_duplicate", f"ROUGE-L {match.score:.3f} > {config.rouge_threshold} against pool "
                                         f"item {match.index}: {index[match.index]!r}")
        else:
            accepted.append(item)
    return FilterResult(accepted=accepted, dropped=dropped, counts=counts, index=index)
