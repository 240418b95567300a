"""Tiny random Hugging Face models built on the spot: a real `LlamaForCausalLM` with a real
byte-level BPE tokenizer, small enough to generate on a CPU in milliseconds."""

from __future__ import annotations

from pathlib import Path

# A little Japanese and English text so the BPE merges cover common characters.
_CORPUS = [
    "時間管理を上手にするには、まず予定を書き出すことが大切です。",
    "東京から大阪までは新幹線で約二時間半かかります。",
    "関数を書いてください。Pythonでリストを並べ替える方法を説明します。",
    "もし江戸時代に鉄道があったら、日本の歴史はどう変わったでしょうか？",
    "The quick brown fox jumps over the lazy dog. 1 2 3 4 5 6 7 8 9 0",
    "以下は指示です。応答を書いてください。### 指示: ### 応答:",
]

CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_llama(directory: str | Path, *, chat_template: bool = False, seed: int = 0) -> Path:
    """Save a random 2-layer Llama and its tokenizer to ``directory``; return the path."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    special = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(_CORPUS, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="</s>"
    )
    if chat_template:
        fast.chat_template = CHATML_TEMPLATE
    fast.save_pretrained(out)

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = fast.pad_token_id
    model.save_pretrained(out)
    return out


def untie_output_head(source: str | Path, directory: str | Path) -> Path:
    """Copy the model at ``source`` with its output head untied from the input embeddings (same weights).

    LoRA on a tied head can be neither merged nor loaded by lm-eval, and the tiny model only learns
    visibly when its head is adapted too, so fine-tuning tests train an untied copy.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = Path(directory)
    model = AutoModelForCausalLM.from_pretrained(str(source), tie_word_embeddings=False)
    model.lm_head.weight.data = model.get_input_embeddings().weight.data.clone()
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(str(source)).save_pretrained(out)
    return out
