"""Training examples: load Alpaca-layout data, render it in a prompt frame, tokenize with a
response-only loss mask, and (optionally) pack several examples into one sequence.

Records have ``instruction``, optional ``input`` and ``output`` (jp-bench's self-instruct export
also carries ``messages``, the same item as a user/assistant chat). The user turn is
``instruction`` followed by a blank line and ``input`` when there is one, exactly as the export
builds ``messages``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jp_bench.benchmarks.prompt_styles import PROMPT_STYLES, render_prompt
from jp_bench.benchmarks.questions import iter_jsonl
from jp_bench.errors import InputFileError, JpBenchError

IGNORE_INDEX = -100

_ALPACA_FRAME = PROMPT_STYLES["alpaca-ja"]
_FRAME_HEAD, _FRAME_TAIL = _ALPACA_FRAME.split("{question}")


def _jinja_literal(text: str) -> str:
    """``text`` as a Jinja string literal (JSON escapes are valid Jinja/Python escapes)."""
    return json.dumps(text, ensure_ascii=False)


# The alpaca-ja frame as a chat template: a user message is rendered inside the frame (ending with
# "### 応答:\n"), an assistant message follows as the reply and is closed by EOS. Saved with the
# adapter / merged model so `lm_eval --apply_chat_template` prompts exactly as training did. A system
# message, if any, is put before the frame.
ALPACA_JA_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] }}{{ '\\n\\n' }}"
    "{% elif message['role'] == 'user' %}"
    "{{ " + _jinja_literal(_FRAME_HEAD) + " }}{{ message['content'] }}{{ " + _jinja_literal(_FRAME_TAIL) + " }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] }}{{ eos_token }}"
    "{% endif %}{% endfor %}"
)


@dataclass(frozen=True)
class Example:
    """One training item: the user turn and the reply to learn."""

    user: str
    response: str
    messages: tuple[dict[str, str], ...] = ()

    def chat(self) -> list[dict[str, str]]:
        """The item as chat messages (the record's own ``messages`` when it had them)."""
        if self.messages:
            return [dict(m) for m in self.messages]
        return [{"role": "user", "content": self.user}, {"role": "assistant", "content": self.response}]


_ROLES = ("system", "user", "assistant")


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _text_field(record: dict[str, Any], name: str, where: str, line: int | None) -> str | None:
    """An optional text field: missing (absent, null, NaN from a Parquet gap) or a string, nothing else."""
    value = record.get(name)
    if _is_missing(value):
        return None
    if not isinstance(value, str):
        raise InputFileError(where, line, f"field '{name}': expected text, got {value!r}")
    return value


def _messages(record: dict[str, Any], where: str, line: int | None) -> tuple[dict[str, str], ...]:
    messages = record.get("messages")
    if _is_missing(messages):
        return ()
    if isinstance(messages, str):  # Parquet/CSV round trips may store it as JSON text
        try:
            messages = json.loads(messages)
        except json.JSONDecodeError:
            raise InputFileError(where, line, "field 'messages': text that is not a JSON list of messages") from None
    if hasattr(messages, "tolist"):  # Parquet list columns come back as numpy arrays
        messages = messages.tolist()
    if not isinstance(messages, list):
        raise InputFileError(where, line, f"field 'messages': expected a list of {{role, content}} messages, "
                                          f"got {messages!r}")
    chat = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InputFileError(where, line, f"field 'messages.{index}': expected {{role, content}}, got {message!r}")
        role, content = message.get("role"), message.get("content")
        if role not in _ROLES:
            raise InputFileError(where, line, f"field 'messages.{index}.role': expected one of {', '.join(_ROLES)}, "
                                              f"got {role!r}")
        if not isinstance(content, str):
            raise InputFileError(where, line, f"field 'messages.{index}.content': expected text, got {content!r}")
        chat.append({"role": role, "content": content})
    if chat and chat[-1]["role"] != "assistant":
        raise InputFileError(where, line, "the last message must be the assistant's reply")
    return tuple(chat)


def _record_to_example(record: dict[str, Any], where: str, line: int | None) -> Example:
    instruction = _text_field(record, "instruction", where, line)
    output = _text_field(record, "output", where, line)
    given = (_text_field(record, "input", where, line) or "").strip()
    chat = _messages(record, where, line)
    if instruction is not None and output is not None and instruction.strip():
        instruction = instruction.strip()
        user = f"{instruction}\n\n{given}" if given else instruction
        return Example(user=user, response=output.strip(), messages=chat)
    if chat:
        users = [m["content"] for m in chat if m["role"] == "user"]
        return Example(user=users[-1] if users else "", response=chat[-1]["content"], messages=chat)
    raise InputFileError(where, line, "expected Alpaca fields 'instruction' and 'output' (or 'messages')")


def _read_jsonl(path: Path) -> list[Example]:
    return [_record_to_example(record, str(path), number) for number, record in iter_jsonl(path)]


def _from_records(records: Iterable[dict[str, Any]], where: str) -> list[Example]:
    return [_record_to_example(record, where, index) for index, record in enumerate(records, start=1)]


def load_examples(path: str | Path) -> list[Example]:
    """Read an Alpaca-layout dataset.

    ``path`` may be a ``.jsonl``/``.json`` (one object a line) or ``.parquet`` file, a dataset
    folder written by ``jp-bench selfinstruct`` (``data/train.jsonl`` or ``data/train.parquet``), a
    folder saved with ``datasets``' ``save_to_disk`` (its ``train`` split when it is a
    ``DatasetDict``), or any folder ``datasets.load_dataset`` understands (its ``train`` split).
    """
    source = Path(path).expanduser()
    if not source.exists():
        raise JpBenchError(f"training data not found: {source}")
    if source.is_dir():
        for candidate in (source / "data" / "train.jsonl", source / "data" / "train.parquet"):
            if candidate.is_file():
                return load_examples(candidate)
        import datasets

        if (source / "dataset_dict.json").is_file() or (source / "state.json").is_file():
            loaded = datasets.load_from_disk(str(source))
            if isinstance(loaded, datasets.DatasetDict):
                if "train" not in loaded:
                    raise JpBenchError(f"{source}: the saved DatasetDict has no 'train' split")
                loaded = loaded["train"]
        else:
            try:
                loaded = datasets.load_dataset(str(source), split="train")
            except Exception as error:  # datasets raises many kinds; report one line
                raise JpBenchError(f"{source}: not a dataset folder datasets can read ({error})") from None
        examples = _from_records(loaded, str(source))
    elif source.suffix in {".jsonl", ".json"}:
        examples = _read_jsonl(source)
    elif source.suffix == ".parquet":
        import pandas as pd

        try:
            frame = pd.read_parquet(source)
        except Exception as exc:  # pyarrow raises several kinds for a damaged or foreign file
            raise InputFileError(source, None, f"not a readable Parquet file ({type(exc).__name__})") from None
        examples = _from_records(frame.to_dict(orient="records"), str(source))
    else:
        raise JpBenchError(f"{source}: expected a .jsonl or .parquet file or a dataset folder")
    if not examples:
        raise JpBenchError(f"{source}: no training examples")
    return examples


def render_example(example: Example, template: str, tokenizer: Any = None) -> tuple[str, str]:
    """``(prompt, response)`` text of ``example``; the model learns only ``response``.

    ``alpaca-ja`` uses the very frame of :func:`jp_bench.benchmarks.prompt_styles.render_prompt`; ``chat`` uses
    the tokenizer's own chat template (the response is what the full conversation adds after the
    prompt with the generation prompt).
    """
    if template == "alpaca-ja":
        return render_prompt(example.user, "alpaca-ja"), example.response
    if template == "chat":
        require_chat_template(tokenizer)
        messages = example.chat()
        prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(messages, tokenize=False)
        if not full.startswith(prompt):
            raise JpBenchError(
                "the tokenizer's chat template renders the conversation differently from its prompt "
                "(the prompt with add_generation_prompt is not a prefix); use template 'alpaca-ja'"
            )
        return prompt, full[len(prompt):]
    raise JpBenchError(f"unknown template {template!r} (known: alpaca-ja, chat)")


def require_chat_template(tokenizer: Any) -> None:
    """Raise :class:`JpBenchError` unless ``tokenizer`` has a chat template."""
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        name = getattr(tokenizer, "name_or_path", "") or "the base model"
        raise JpBenchError(
            f"template 'chat' needs the base model's chat template, but the tokenizer of {name} has none; "
            "use template 'alpaca-ja' for base models"
        )


def _encode(tokenizer: Any, text: str, *, first: bool) -> list[int]:
    """Token ids as lm-eval's hf backend would make them: the tokenizer's special tokens (BOS) only
    at the start of the sequence and only when the text does not already start with BOS."""
    bos = getattr(tokenizer, "bos_token", None)
    special = first and not (bos and text.startswith(bos))
    return list(tokenizer(text, add_special_tokens=special)["input_ids"])


def tokenize_example(example: Example, tokenizer: Any, template: str, max_seq_len: int) -> dict[str, list[int]] | None:
    """``input_ids``/``labels``/``attention_mask`` with the prompt masked (``-100``).

    The response is followed by EOS (unless the template already closed it with EOS) so the model
    learns to stop. Too long examples are cut at ``max_seq_len``; ``None`` when nothing of the
    response would remain.
    """
    prompt, response = render_example(example, template, tokenizer)
    prompt_ids = _encode(tokenizer, prompt, first=True)
    response_ids = _encode(tokenizer, response, first=False)
    eos = tokenizer.eos_token_id
    if eos is not None and (not response_ids or response_ids[-1] != eos):
        response_ids.append(eos)
    input_ids = (prompt_ids + response_ids)[:max_seq_len]
    labels = ([IGNORE_INDEX] * len(prompt_ids) + response_ids)[:max_seq_len]
    if all(label == IGNORE_INDEX for label in labels):
        return None
    return {"input_ids": input_ids, "labels": labels, "attention_mask": [1] * len(input_ids)}


def pack_examples(features: Sequence[dict[str, list[int]]], max_seq_len: int) -> list[dict[str, list[int]]]:
    """Greedy packing: concatenate consecutive examples while they fit in ``max_seq_len``.

    Examples are never split and keep their own label masks, so prompts stay out of the loss. The
    examples of one pack attend to each other (plain causal attention over the pack), as in the
    usual simple packing.
    """
    packs: list[dict[str, list[int]]] = []
    current: dict[str, list[int]] = {"input_ids": [], "labels": [], "attention_mask": []}
    for feature in features:
        if current["input_ids"] and len(current["input_ids"]) + len(feature["input_ids"]) > max_seq_len:
            packs.append(current)
            current = {"input_ids": [], "labels": [], "attention_mask": []}
        for key in current:
            current[key].extend(feature[key])
    if current["input_ids"]:
        packs.append(current)
    return packs


def build_features(examples: Sequence[Example], tokenizer: Any, template: str, max_seq_len: int,
                   packing: bool = False) -> tuple[list[dict[str, list[int]]], int]:
    """Tokenized (and optionally packed) training features, plus how many examples were dropped."""
    features = []
    dropped = 0
    for example in examples:
        feature = tokenize_example(example, tokenizer, template, max_seq_len)
        if feature is None:
            dropped += 1
        else:
            features.append(feature)
    if not features:
        raise JpBenchError(f"no example fits in max_seq_len={max_seq_len} with any of its response left")
    return (pack_examples(features, max_seq_len) if packing else features), dropped


class PadCollator:
    """Right-pad a batch: ``pad_token_id`` for inputs, ``-100`` for labels, 0 for the mask."""

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, batch: Sequence[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(item["input_ids"]) for item in batch)
        pads = {"input_ids": self.pad_token_id, "labels": IGNORE_INDEX, "attention_mask": 0}
        return {
            key: torch.tensor([item[key] + [pad] * (width - len(item[key])) for item in batch], dtype=torch.long)
            for key, pad in pads.items()
        }
