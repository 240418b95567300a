"""How a question becomes a prompt: the prompt styles our lm-eval tasks offer (``--metadata
'{"prompt_style": ...}'``) and fine-tuning trains with, so a model is evaluated in the frame it learned."""

from __future__ import annotations

from jp_bench.errors import JpBenchError

# Chat models get the question as the user message, exactly as written. Base models without a chat
# template answer far better inside an instruction frame; `alpaca-ja` is the common Japanese
# Alpaca-style frame that instruction-tuned base models are trained on.
# `qa-fewshot-ja` is for small base models that answer nothing without examples: two worked
# question/answer pairs (our own) show the form, then the question; stop generation at "質問:".
PROMPT_STYLES: dict[str, str] = {
    "plain": "{question}",
    "alpaca-ja": (
        "以下は、ある作業を指示する文章です。指示に沿って、適切な応答を書いてください。\n\n"
        "### 指示:\n{question}\n\n### 応答:\n"
    ),
    "qa-fewshot-ja": (
        "以下は、質問と、それに対する丁寧で役に立つ回答の例です。\n\n"
        "質問: 朝ごはんを食べると、どんな良いことがありますか。\n"
        "回答: 朝ごはんを食べると、眠っている間に減ったエネルギーが補われ、午前中に集中しやすくなります。"
        "また、毎日同じ時間に食べることで生活のリズムが整い、昼に食べ過ぎることも防げます。\n\n"
        "質問: 雨の日に洗濯物を早く乾かすには、どうすればよいですか。\n"
        "回答: 洗濯物どうしの間をこぶし一つ分ほど空けて干し、扇風機やエアコンの除湿で風を当てると早く乾きます。"
        "厚手の服は裏返し、ポケットを外に出しておくのも効果的です。\n\n"
        "質問: {question}\n回答:"
    ),
}
# Where a `qa-fewshot-ja` answer ends: the model starting the next example.
FEWSHOT_STOP = "質問:"


def render_prompt(question: str, prompt_style: str = "plain") -> str:
    try:
        template = PROMPT_STYLES[prompt_style]
    except KeyError:
        known = ", ".join(PROMPT_STYLES)
        raise JpBenchError(f"unknown prompt_style {prompt_style!r} (known: {known})") from None
    return template.format(question=question)
