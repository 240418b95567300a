"""Japanese-aware self-instruct filters: tokenizers, exact ROUGE-L, the fast pool index and filter_items."""

from __future__ import annotations

import random
import sys

import pytest
from rouge_score import rouge_scorer

from jp_bench.errors import JpBenchError
from jp_bench.selfinstruct import tokenize as tokenize_module
from jp_bench.selfinstruct.dedup import NearDuplicateIndex, lcs_length, rouge_l
from jp_bench.selfinstruct.filters import (
    REASONS,
    FilterConfig,
    filter_items,
    find_blacklisted,
    japanese_share,
)
from jp_bench.selfinstruct.tokenize import RougeScoreTokenizer, char_tokens, get_tokenizer

pytestmark = pytest.mark.unit

# A small alphabet (kana, kanji, Latin, digits, punctuation, spaces) so random strings share tokens.
ALPHABET = list("あいうえおかきくけこのにをはでアイウカ日本東京語学ab1２、。！？「」 　ー・")


def random_text(rng: random.Random, low: int, high: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(low, high)))


@pytest.fixture(scope="module")
def char_scorer() -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=RougeScoreTokenizer("char"))


# -- tokenizers ---------------------------------------------------------------------------------------

def test_char_tokens_normalise_and_drop_punctuation_but_keep_symbols() -> None:
    assert char_tokens("日本の首都は？　ＡＢＣ１２３") == list("日本の首都はabc123")
    assert char_tokens("「説明して下さい。」") == list("説明して下さい")
    assert char_tokens("ｶﾀｶﾅ") == list("カタカナ")  # half-width katakana become full-width
    assert char_tokens("2+3=5、¥500") == list("2+3=5¥500")  # symbols carry meaning: kept
    assert char_tokens("1〜3") == char_tokens("1～3") == list("13")  # both wave dashes are punctuation
    assert char_tokens("") == []


def test_morpheme_tokens_on_a_sample_sentence() -> None:
    pytest.importorskip("fugashi")
    pytest.importorskip("unidic_lite")
    tokens = get_tokenizer("morpheme")("東京の天気について、詳しく教えてください。")
    assert "東京" in tokens and "天気" in tokens
    assert "、" not in tokens and "。" not in tokens
    assert "".join(tokens) == "東京の天気について詳しく教えてください"
    assert get_tokenizer("morpheme")("ＡＢＣ！") == ["abc"]
    assert tokenize_module.morpheme_tagger() is tokenize_module.morpheme_tagger()  # created once


def test_unknown_tokenizer_and_missing_fugashi_are_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(JpBenchError, match="unknown tokenizer"):
        get_tokenizer("words")
    tokenize_module._tagger.cache_clear()
    monkeypatch.setitem(sys.modules, "fugashi", None)  # makes `import fugashi` raise ImportError
    try:
        with pytest.raises(JpBenchError, match="pip install fugashi unidic-lite"):
            get_tokenizer("morpheme")
    finally:
        tokenize_module._tagger.cache_clear()


# -- ROUGE-L --------------------------------------------------------------------------------------------

def test_rouge_l_equals_rouge_score_on_random_japanese(char_scorer: rouge_scorer.RougeScorer) -> None:
    rng = random.Random(7)
    pairs = [(random_text(rng, 0, 40), random_text(rng, 0, 40)) for _ in range(300)]
    for prediction, reference in pairs:
        expected = char_scorer.score(reference, prediction)["rougeL"].fmeasure  # score(target, prediction)
        assert rouge_l(char_tokens(prediction), char_tokens(reference)) == expected, (prediction, reference)
        # The F-measure is symmetric, to the last bit.
        assert rouge_l(char_tokens(reference), char_tokens(prediction)) == expected


def test_identical_japanese_sentences_score_one_but_zero_with_rouge_score_default_tokenizer() -> None:
    sentence = "日本の首都について説明してください。"
    assert rouge_l(char_tokens(sentence), char_tokens(sentence)) == 1.0
    # The motivating bug: rouge_score keeps only [a-z0-9], so Alpaca's filter never fires on Japanese.
    default = rouge_scorer.RougeScorer(["rougeL"])
    assert default.score(sentence, sentence)["rougeL"].fmeasure == 0.0


def test_lcs_length_small_cases() -> None:
    assert lcs_length("abcbdab", "bdcaba") == 4
    assert lcs_length("", "abc") == 0
    assert rouge_l([], ["a"]) == 0.0


# -- NearDuplicateIndex -------------------------------------------------------------------------------

TOPICS = ["日本の首都", "光合成", "江戸時代の文化", "機械学習", "俳句の作り方", "円安の影響", "地震の仕組み", "茶道"]
REQUESTS = ["について説明してください。", "を簡単に教えて", "の要点をまとめてください", "について短い文章を書いて。",
            "とは何ですか？", "の長所と短所を挙げてください。"]


def instruction_like(rng: random.Random, previous: list[str]) -> str:
    """Template instructions, many of them within a particle or two of an earlier one (near the threshold)."""
    if previous and rng.random() < 0.3:
        text = rng.choice(previous)
        text = text.replace(rng.choice("のをにはて"), rng.choice("がでもと"), 1)
        return text + rng.choice(["", "。", "ね", "下さい"])
    prefix = rng.choice(["", "", "小学生向けに、", "具体例を挙げて", "詳しく"])
    return prefix + rng.choice(TOPICS) + rng.choice(REQUESTS)


@pytest.mark.parametrize("tokenizer", ["char", "morpheme"])
def test_index_decisions_equal_brute_force(tokenizer: str) -> None:
    if tokenizer == "morpheme":
        pytest.importorskip("fugashi")
    tokenize = get_tokenizer(tokenizer)
    rng = random.Random(11)
    texts: list[str] = []
    for _ in range(250):
        texts.append(instruction_like(rng, texts))
    index = NearDuplicateIndex(tokenizer, 0.7)
    kept_tokens: list[list[str]] = []
    drops = 0
    for text in texts:
        tokens = tokenize(text)
        scores = [rouge_l(item, tokens) for item in kept_tokens]
        brute_max = max(scores, default=0.0)
        expected_index = scores.index(brute_max) if scores and brute_max > 0 else None
        assert index.max_similarity(text) == (brute_max if expected_index is not None else 0.0, expected_index)
        duplicate = brute_max > 0.7
        assert index.is_duplicate(text) == duplicate, text
        assert (index.add_unless_duplicate(text) is not None) == duplicate
        if not duplicate:
            kept_tokens.append(tokens)
        drops += duplicate
    assert len(index) == len(kept_tokens)
    assert 0 < drops < len(texts)  # the sample exercises both decisions


def test_index_is_exact_for_long_texts_and_at_the_threshold() -> None:
    rng = random.Random(3)
    # Long texts take the multi-word (> 64 tokens) path of the bit-parallel LCS.
    pool = [random_text(rng, 0, 200) for _ in range(60)]
    index = NearDuplicateIndex("char", 0.3)
    index.extend(pool)
    pool_tokens = [char_tokens(text) for text in pool]
    assert max(map(len, pool_tokens)) > 128  # three 64-bit words
    for _ in range(20):
        query = random_text(rng, 1, 160)
        scores = [rouge_l(item, char_tokens(query)) for item in pool_tokens]
        best = max(scores)
        assert index.max_similarity(query) == (best, scores.index(best))
        assert index.is_duplicate(query) == (best > 0.3)
    # F = 2·7/(9+11) is exactly 0.7, but rouge_score's float formula gives 0.7000000000000001 > 0.7:
    # the index must follow rouge_score, not the exact rational. 2·7/(10+10) gives exactly 0.7: kept.
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=RougeScoreTokenizer("char"))
    boundary_cases = [("あいうえおかきくけ", "あいうえおかきさしすせ", True),
                      ("あいうえおかきくけこ", "あいうえおかきさしす", False)]
    for first, second, flagged in boundary_cases:
        assert (scorer.score(second, first)["rougeL"].fmeasure > 0.7) is flagged
        index = NearDuplicateIndex("char", 0.7)
        index.add(first)
        assert index.is_duplicate(second) is flagged
    assert NearDuplicateIndex().max_similarity("何か") == (0.0, None)


def test_index_rejects_bad_arguments() -> None:
    with pytest.raises(JpBenchError):
        NearDuplicateIndex("char", 1.5)
    index = NearDuplicateIndex(lambda text: text.split(), 0.5)  # any callable tokenizer works
    index.add("a b c d")
    assert index.is_duplicate("a b c e") and not index.is_duplicate("x y z")


# -- filter_items -----------------------------------------------------------------------------------------

def good(instruction: str, output: str = "日本の首都は東京です。政治と経済の中心地です。") -> dict[str, str]:
    return {"instruction": instruction, "input": "", "output": output}


def test_japanese_near_duplicates_are_dropped_and_distinct_ones_kept() -> None:
    items = [
        good("日本の首都について説明してください。"),
        good("日本の首都について説明して下さい"),  # spelling + punctuation
        good("日本の首都に関して説明してください。"),  # particle phrase changed
        good("光合成の仕組みを小学生向けに解説して。"),
        good("「光合成の仕組み」を、小学生向けに解説して！"),  # punctuation only
        good("俳句の作り方を初心者に教えてください。"),
        good("江戸時代の庶民の暮らしはどのようなものでしたか？"),
    ]
    result = filter_items(items, FilterConfig())
    assert [item["instruction"] for item in result.accepted] == [
        "日本の首都について説明してください。", "光合成の仕組みを小学生向けに解説して。",
        "俳句の作り方を初心者に教えてください。", "江戸時代の庶民の暮らしはどのようなものでしたか？"]
    assert result.counts["near_duplicate"] == 3
    assert all(d.reason == "near_duplicate" for d in result.dropped)
    # Against an existing pool (and with the morpheme tokenizer), the first one goes too.
    again = filter_items(items[:1], FilterConfig(), pool=[item["instruction"] for item in result.accepted])
    assert again.accepted == [] and again.counts["near_duplicate"] == 1
    if _has_fugashi():
        morpheme = filter_items(items, FilterConfig(tokenizer="morpheme"))
        assert items[0] in morpheme.accepted and items[1] not in morpheme.accepted


def _has_fugashi() -> bool:
    try:
        get_tokenizer("morpheme")
    except JpBenchError:
        return False
    return True


def test_every_filter_reason_is_counted() -> None:
    items = [
        good("日本の四季の特徴を説明してください。"),
        "not a dict",
        {"instruction": "質問です", "input": "", "output": None},  # malformed
        {"instruction": "短い", "input": "", "output": "はい"},  # length: instruction < 10 characters
        good("富士山について詳しく説明してください。", output=""),  # length: empty output
        good("この画像に写っている動物の名前を答えてください。"),  # blacklist
        good("ＵＲＬ を開いて内容を要約してください。"),  # blacklist after NFKC, whitespace ignored
        good("Please explain the history of Japan briefly."),  # japanese_share (instruction)
        good("好きな季節とその理由を書いてください。", output="I like spring because the weather is mild."),
        good("日本の四季の特徴を説明して下さい。"),  # near_duplicate
        good("Pythonでリストを並べ替える方法を教えて。", output="```python\nitems.sort()\n```"),  # code-only: kept
    ]
    result = filter_items(items)
    assert result.counts == {"malformed": 2, "length": 2, "blacklist": 2, "japanese_share": 2, "near_duplicate": 1}
    assert list(result.counts) == list(REASONS)
    assert sum(result.counts.values()) == len(result.dropped) == len(items) - len(result.accepted)
    assert result.accepted == [items[0], items[-1]]
    assert len(result.index) == 2


def test_filter_items_pool_index_must_match_and_grows() -> None:
    index = NearDuplicateIndex("char", 0.7)
    result = filter_items([good("日本の四季の特徴を説明してください。")], FilterConfig(), pool=index)
    assert result.index is index and len(index) == 1
    with pytest.raises(JpBenchError, match="threshold"):
        filter_items([], FilterConfig(rouge_threshold=0.5), pool=index)


def test_japanese_share_and_blacklist_helpers() -> None:
    assert japanese_share("2024年の日本") == 1.0  # digits do not count
    assert japanese_share("GPT-4を説明して") == pytest.approx(5 / 8)
    assert japanese_share("次のコードです。`print('hello world')`") == 1.0  # inline code ignored
    assert japanese_share("123 + 456") is None
    assert find_blacklisted("地図の読み方を教えて", ("図を描", "画像")) is None  # no bare 図
    assert find_blacklisted("グラフ を 描いて", ("グラフを描",)) == "グラフを描"
    with pytest.raises(ValueError):
        FilterConfig(instruction_min_chars=100, instruction_max_chars=10)
