"""What an answer's text says about itself (jp_bench.answer_text), on hand-made answers: the Japanese share
(code, math and URLs set aside), reasoning removed, markdown counts. Expected shares are letter counts
done by hand in each test."""

from __future__ import annotations

import dataclasses
import json

import pytest

from jp_bench.answer_text import (
    FEATURE_COLUMNS,
    PAIRWISE_FEATURE_COLUMNS,
    AnswerFeatures,
    answer_features,
    conversation_features,
    japanese_share,
    strip_reasoning,
    style_counts,
)
from jp_bench.answer_text.japanese import JAPANESE_THRESHOLD, is_not_japanese
from jp_bench.judging.records import AnswerFeaturesRecord
from tests.support.paths import UPSTREAM_CHECKOUT

pytestmark = pytest.mark.unit


# ----------------------------------------------------------------------------------------- Japanese share

def test_japanese_prose_with_code_blocks_stays_japanese() -> None:
    answer = ("JSON ファイルは次のように読み込めます。\n\n```python\nimport json\nwith open('data.json') as f:\n"
              "    data = json.load(f)\n```\n\n~~~bash\npython read.py --verbose\n~~~\n\n"
              "`json.load` はファイルを読み、`json.loads` は文字列を読みます。")
    # Prose letters: "JSON" (4 Latin) and the kana/kanji of three phrases; blocks and inline code are set aside.
    japanese = len("ファイルは次のように読み込めます") + len("はファイルを読み") + len("は文字列を読みます")
    assert japanese_share(answer) == pytest.approx(japanese / (japanese + 4), rel=1e-12)
    assert japanese_share(answer) > 0.85


def test_pure_japanese_and_pure_english() -> None:
    assert japanese_share("東京は日本の首都です。人口は約1400万人です！") == 1.0
    assert japanese_share("Tokyo is the capital of Japan. About 14 million people live there.") == 0.0


def test_mixed_answers_weigh_letters() -> None:
    assert japanese_share("abcdef あいうえおか") == 0.5  # six Latin letters, six kana
    assert japanese_share("Pythonはかんたん") == pytest.approx(5 / 11, rel=1e-12)  # P-y-t-h-o-n against 5 kana
    # Other scripts count against Japanese too: two Hangul syllables, two Cyrillic and two Greek letters.
    assert japanese_share("안녕 привет こんにちは") == pytest.approx(5 / 13, rel=1e-12)
    assert japanese_share("αβ あい") == 0.5


@pytest.mark.parametrize("answer", ["", "   \n\t", "```python\nprint(1)\n```", "123 + 456 = 579", "😀👍 ！？ 123",
                                    "$$\\frac{a}{b}$$", "x = 8", "def f(n):\n    return n * 2\n"])
def test_nothing_to_measure_is_none_and_never_flagged(answer: str) -> None:
    assert japanese_share(answer) is None
    assert not is_not_japanese(japanese_share(answer))


def test_formulas_and_urls_are_set_aside() -> None:
    assert japanese_share("答えは $x^2 + y^2$ です。") == 1.0
    assert japanese_share("式 \\(a+b\\) と \\[c = d\\] と $$\\int f\\,dx$$ を使います。") == 1.0
    assert japanese_share("詳しくは https://example.com/very/long/english/path を見てください。") == 1.0
    # Prices are prose, not math (no digit after the closing dollar, no space inside): "and" is 3 Latin letters.
    assert japanese_share("$5 and $10") == 0.0
    # A formula line without markup, beside a sentence in Japanese.
    assert japanese_share("f(2) = 5 × 2^3 - 2 × 2 + 3 = 39\n\nしたがって答えは39です。") == 1.0


def test_full_width_latin_counts_as_latin_and_every_kana_form_as_japanese() -> None:
    assert japanese_share("ＡＢＣあいう") == 0.5
    assert japanese_share("ｶﾀｶﾅﾞ ｰ カタカナー 々〆〇 ゝゞヽヾ") == 1.0
    assert japanese_share("・") is None  # the middle dot is punctuation, not a letter


def test_latin_terms_in_japanese_technical_prose_stay_above_the_threshold() -> None:
    answer = ("PythonとJavaScriptの主な違いは、型付けと実行環境です。"
              "Pythonはサーバーで、JavaScriptはブラウザで動きます。")
    latin = 2 * len("Python") + 2 * len("JavaScript")
    japanese = len("との主な違いは型付けと実行環境です") + len("はサーバーではブラウザで動きます")
    assert japanese_share(answer) == pytest.approx(japanese / (japanese + latin), rel=1e-12)
    assert not is_not_japanese(japanese_share(answer))


def test_the_threshold() -> None:
    assert 0 < JAPANESE_THRESHOLD < 1
    assert is_not_japanese(0.49, 0.5) and not is_not_japanese(0.5, 0.5) and not is_not_japanese(None, 0.5)


def test_no_answer_of_three_paper_models_is_flagged() -> None:
    """The released jp_bench answers of three models, code answers without fences included (text-davinci-003
    answers the coding questions with bare code): none falls under the threshold."""
    folder = UPSTREAM_CHECKOUT / "jp_bench" / "model_answer"
    shares = []
    models = ("cyberagent--calm2-7b-chat", "openai--text-davinci-003", "rinna--japanese-gpt-neox-3.6b-instruction-ppo")
    for model in models:
        for path in sorted((folder / model).glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                shares += [japanese_share(turn) for turn in json.loads(line)["choices"][0]["turns"]]
    assert len(shares) == 240
    assert not [share for share in shares if is_not_japanese(share)]


# -------------------------------------------------------------------------------------------- reasoning

@pytest.mark.parametrize("tag", ["think", "thinking", "reasoning", "THINK", "Thinking"])
def test_each_kind_of_reasoning_block_is_removed(tag: str) -> None:
    block = f"<{tag}>\nThe user asks in Japanese.\nLet me answer in Japanese.\n</{tag}>\n\n"
    assert strip_reasoning(block + "答えは4です。") == ("答えは4です。", len(block))


def test_blocks_anywhere_and_several_are_removed() -> None:
    text = "前置き<think>a</think>本文<reasoning>b\nc</reasoning>です"
    assert strip_reasoning(text) == ("前置き本文です", len("<think>a</think>") + len("<reasoning>b\nc</reasoning>"))


def test_a_closing_tag_alone_keeps_what_follows_the_last_one() -> None:
    # A chat template opened the block in the prompt: the answer starts inside it (lm-eval's think_end_token).
    text = "First I consider the question.</think>\n\n答えです。"
    assert strip_reasoning(text) == ("答えです。", len(text) - len("答えです。"))
    text = "a</think>b</think>  c"
    assert strip_reasoning(text) == ("c", len(text) - 1)


def test_an_unclosed_block_at_the_start_is_all_reasoning() -> None:
    assert strip_reasoning("  <think>still thinking when cut off") == ("", 36)


def test_text_without_reasoning_is_returned_as_it_is() -> None:
    for text in ("  \n答えです。", "答えの途中の <think> タグの使い方を説明します。", "", "a < think > b"):
        assert strip_reasoning(text) == (text, 0)


# ------------------------------------------------------------------------------------------------ style

def test_style_counts() -> None:
    answer = "\n".join([
        "# 見出し", "## 小見出し", "###### 六つ", "####### 七つは見出しではない", "#タグ",
        "- 一つ目", "* 二つ目", "+ 三つ目", "1. 番号", "2) 番号", "  - 入れ子", "・中黒", "１．全角", "•点",
        "-ハイフンだけ", "1.5倍は項目ではない", "---", "***", "- - -",
        # '__' inside a word (and a Japanese sentence is one word to markdown) is no emphasis; '**' may be.
        "**太字**と __強調__ と 語__中__、snake__case__ と **", "***太字斜体***",
    ])
    assert style_counts(answer) == dataclasses.replace(style_counts(""), headers=3, list_items=9, bold=3)


def test_code_is_set_aside_for_style() -> None:
    answer = "```python\n# コメント\n- 1\n**kwargs\nx = a ** 2 ** b\n```\n`**x**` と `# y`\n~~~\n# z\n~~~"
    assert style_counts(answer) == style_counts("")
    assert (style_counts("").headers, style_counts("").list_items, style_counts("").bold) == (0, 0, 0)


# ------------------------------------------------------------------------------------------- features

def test_answer_features_strip_reasoning_first() -> None:
    reasoning = "<think>Answer in Japanese with a list.</think>\n"
    cleaned = "## 答え\n- **はい**、できます。\n- Python でも"
    text, features = answer_features(reasoning + cleaned)
    assert text == cleaned
    japanese = len("答えはいできますでも")
    assert features == AnswerFeatures(chars=len(cleaned), headers=1, list_items=2, bold=1,
                                      japanese_share=pytest.approx(japanese / (japanese + 6), rel=1e-12),
                                      reasoning_chars=len(reasoning))


def test_a_whole_conversation_sums_counts_and_shares_letters() -> None:
    turns, each, whole = conversation_features(["# 日本語", "<think>x</think>- English", ""])
    assert turns == ("# 日本語", "- English", "")
    assert [f.japanese_share for f in each] == [1.0, 0.0, None]
    assert whole.japanese_share == pytest.approx(3 / 10, rel=1e-12)  # not the mean of the turns' shares
    assert (whole.chars, whole.headers, whole.list_items, whole.reasoning_chars) == (
        len("# 日本語") + len("- English"), 1, 1, len("<think>x</think>"))


def test_the_feature_names_are_the_rows_and_the_tables() -> None:
    assert tuple(AnswerFeaturesRecord.model_fields) == FEATURE_COLUMNS
    assert set(answer_features("x")[1].row_fields()) == set(FEATURE_COLUMNS)
    assert PAIRWISE_FEATURE_COLUMNS[:5] == tuple(f"{name}_1" for name in FEATURE_COLUMNS)
    assert PAIRWISE_FEATURE_COLUMNS[5:] == tuple(f"{name}_2" for name in FEATURE_COLUMNS)
