"""Machine translation of English seed tasks into a Japanese post-edit sheet.

One model call per seed (instruction and every instance together, so the translation stays
consistent within a task), through :class:`jp_bench.llm.LLMClient`. Every call goes through the
workspace :class:`jp_bench.llm.store.Store`: it is looked up by :func:`jp_bench.llm.store.call_key` before
calling and recorded the moment it finishes (purpose ``translate:<model>``), so an interrupted run
resumes where it stopped and a re-run costs nothing.

The model is asked for a JSON object; a reply that cannot be read as one is asked for once more
(showing the model its reply and asking for the JSON alone). If that fails too, the seed's rows get
status ``error`` with the raw reply in ``note``, for the editor to translate by hand. Such a failure
is stored, so re-runs do not pay for it again; pass ``retry_errors=True`` to ask again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from jp_bench.errors import JpBenchError
from jp_bench.llm.client import LLMClient
from jp_bench.llm.engine import CallEngine, CallJob, ReplyPolicy, UnreadableReply
from jp_bench.llm.store import Store, StoredCall, call_key
from jp_bench.llm.types import Message, ModelSpec
from jp_bench.selfinstruct.seeds import SeedTask
from jp_bench.selfinstruct.sheet import SheetRow, row_id

logger = logging.getLogger("jp_bench.selfinstruct")

# Part of every stored call; change it whenever the prompt text changes (the key changes anyway,
# since the messages are hashed, but the version says which prompt produced a stored reply).
TRANSLATE_PROMPT_VERSION = "seed-translate-ja-v1"

# Kept in code rather than a template file: it is short, has no variables, and its version is
# TRANSLATE_PROMPT_VERSION. Adjacent string literals only to respect the line length.
SYSTEM_PROMPT = (
    "あなたは英語から日本語への翻訳を専門とする翻訳者です。"
    "大規模言語モデルの学習に使う「タスク例」を英語から日本語に翻訳します。"
    "タスク例は、指示(instruction)、入力(input。空のこともあります)、"
    "そして指示と入力に対する模範的な出力(output)からなります。\n"
    "\n"
    "翻訳の方針:\n"
    "1. 日本語を母語とする人が最初から日本語で書いたような、自然で読みやすい日本語にしてください。"
    "直訳調は避けますが、内容を付け足したり省いたりしないでください。\n"
    "2. 指示は、日本語の依頼文や質問文として自然な形(「〜してください」「〜は何ですか」など)にしてください。"
    "出力の文体は、元の文章の調子(丁寧、くだけた口調、箇条書きなど)に合わせてください。\n"
    "3. プログラムのコード、数式、数値、単位、URL、固有名詞(人名、地名、組織名、作品名、製品名)は"
    "そのまま保ってください。固有名詞に日本で定着した表記があれば、それを使ってかまいません。"
    "コード中のコメントや、画面に表示する文字列は翻訳してかまいません。\n"
    "4. 英語の単語、綴り、文法そのものを扱うタスクのように、"
    "英語であることに意味がある部分は英語のまま残してください。\n"
    "5. 通貨、度量衡、祝日、日本ではなじみのない習慣など、文化に依存する内容は、"
    "そのままでは日本の読者に通じにくい場合に限って、タスクの意図を変えずに日本の事情に合わせて置き換えてください。"
    "置き換えたときは、入力と出力の整合性(計算結果など)が崩れないようにしてください。\n"
    "6. 元の文章に明らかな誤字があれば、正しい意味で訳してください。\n"
    "7. 入力が空のときは、空文字列のままにしてください。\n"
    "\n"
    "返答の形式: 指定されたキーを持つJSONオブジェクトを一つだけ返してください。"
    "前置き、説明、コメントは付けないでください。"
)

_CLASSIFICATION_NOTE = (
    "これは分類タスクです。出力はラベルなので、ラベルとして自然な訳語を選び、一貫して使ってください。\n"
)

RETRY_REMINDER = (
    "先ほどの返答は、指定した形式のJSONとして読み取れませんでした。"
    "前置きや説明を付けずに、指定したキーを持つJSONオブジェクトだけを返してください。"
)


def translation_messages(seed: SeedTask) -> list[Message]:
    """The messages that ask for ``seed`` in Japanese; their hash is the store key of the call."""
    if len(seed.instances) == 1:
        payload: dict[str, Any] = {
            "instruction": seed.instruction,
            "input": seed.instances[0].input,
            "output": seed.instances[0].output,
        }
        shape = "上と同じキー(instruction、input、output)を持つJSONオブジェクトだけを返してください。"
    else:
        payload = {
            "instruction": seed.instruction,
            "instances": [{"input": inst.input, "output": inst.output} for inst in seed.instances],
        }
        shape = (
            "上と同じ構造(instruction と、input・output を持つ要素の配列 instances)のJSONオブジェクトだけを"
            f"返してください。instances の要素は元と同じ{len(seed.instances)}個、同じ順番にしてください。"
        )
    body = json.dumps(payload, ensure_ascii=False, indent=2)
    user = (
        "次のタスク例を日本語に翻訳してください。\n"
        + (_CLASSIFICATION_NOTE if seed.is_classification else "")
        + f"\n```json\n{body}\n```\n\n{shape}"
    )
    return [Message("system", SYSTEM_PROMPT), Message("user", user)]


class TranslationParseError(ValueError):
    """A reply that is not the JSON object asked for."""


_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)```", re.DOTALL)


def _json_object(text: str) -> dict[str, Any]:
    """The JSON object in a reply: bare, inside a code fence, or between the first ``{`` and last ``}``."""
    candidates = [match.group(1) for match in _FENCE.finditer(text)] + [text]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])  # prose around the object, no fence
    for candidate in candidates:
        try:
            value = json.loads(candidate.strip())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    raise TranslationParseError("the reply holds no JSON object")


def _text(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TranslationParseError(f"{what} is not a string")
    return value.strip()


def parse_translation(reply: str, seed: SeedTask) -> tuple[str, list[tuple[str, str]]]:
    """``(instruction, [(input, output), ...])`` read from a translator's reply to ``seed``'s prompt.

    Accepts the object bare or in a code fence, with ``input``/``output`` keys or an ``instances``
    list (whichever shape the seed was asked in). Raises :class:`TranslationParseError`.
    """
    obj = _json_object(reply)
    instruction = _text(obj.get("instruction"), "instruction")
    if not instruction:
        raise TranslationParseError("the instruction is missing or empty")
    if "instances" in obj:
        raw = obj["instances"]
        if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
            raise TranslationParseError("instances is not a list of objects")
    elif len(seed.instances) == 1:
        raw = [obj]
    else:
        raise TranslationParseError("instances is missing")
    if len(raw) != len(seed.instances):
        raise TranslationParseError(f"{len(raw)} instances instead of {len(seed.instances)}")
    pairs: list[tuple[str, str]] = []
    for number, (item, english) in enumerate(zip(raw, seed.instances, strict=True), start=1):
        where = f"instance {number}" if len(seed.instances) > 1 else "the reply"
        source_input = english.input.strip()
        translated_input = _text(item.get("input"), f"input of {where}")
        output = _text(item.get("output"), f"output of {where}")
        if not output:
            raise TranslationParseError(f"the output of {where} is missing or empty")
        if source_input and not translated_input:
            raise TranslationParseError(f"the input of {where} is missing or empty")
        # An empty English input stays empty: models like to fill it with "なし".
        pairs.append((translated_input if source_input else "", output))
    return instruction, pairs


@dataclass
class TranslateStats:
    """What a translation run did; pass one in to read it afterwards."""

    seeds: int = 0
    reused: int = 0  # seeds answered from the store
    called: int = 0  # seeds sent to the model in this run
    calls: int = 0  # model replies received, re-asks included
    errors: int = 0  # seeds whose rows have status "error"
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class _Outcome:
    instruction: str = ""
    pairs: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None
    reply: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _from_stored(seed: SeedTask, found: StoredCall | None, retry_errors: bool) -> _Outcome | None:
    """The outcome a stored call gives, or None when the seed must be (re)translated."""
    if found is None:
        return None
    if not found.ok:
        return None if retry_errors else _Outcome(error=found.error or "translation failed", reply=found.reply)
    parsed = found.parsed
    try:
        pairs = [(str(item["input"]), str(item["output"])) for item in parsed["instances"]]
        if len(pairs) != len(seed.instances) or not parsed["instruction"]:
            return None
        return _Outcome(instruction=str(parsed["instruction"]), pairs=pairs, reply=found.reply)
    except (KeyError, TypeError):
        return None  # written by something else under the same key: translate again


def _rows(seed: SeedTask, outcome: _Outcome) -> list[SheetRow]:
    rows: list[SheetRow] = []
    for index, instance in enumerate(seed.instances):
        common = {
            "id": row_id(seed.id, index),
            "name": seed.name,
            "is_classification": seed.is_classification,
            "english_instruction": seed.instruction,
            "english_input": instance.input,
            "english_output": instance.output,
        }
        if outcome.ok:
            machine_input, machine_output = outcome.pairs[index]
            rows.append(SheetRow(
                **common, status="todo",
                machine_instruction=outcome.instruction, machine_input=machine_input, machine_output=machine_output,
                edited_instruction=outcome.instruction, edited_input=machine_input, edited_output=machine_output,
            ))
        else:
            # edited_* stay empty: marking the row done without translating it then fails import_sheet.
            note = f"machine translation failed: {outcome.error}"
            if outcome.reply:
                note += f"\nraw reply:\n{outcome.reply}"
            rows.append(SheetRow(**common, status="error", note=note))
    return rows


def _read_translation(job: CallJob, reply: str) -> dict[str, Any]:
    try:
        instruction, pairs = parse_translation(reply, job.context)
    except TranslationParseError as exc:
        raise UnreadableReply(str(exc)) from None
    return {"instruction": instruction, "instances": [{"input": i, "output": o} for i, o in pairs]}


def _ask_for_the_json(job: CallJob, reply: str, unreadable: int) -> list[Message]:  # noqa: ARG001
    return [*job.messages, Message("assistant", reply), Message("user", RETRY_REMINDER)]


# The translator's part of a call: read the JSON; once more, showing the model its reply, when it is not.
TRANSLATION_POLICY = ReplyPolicy(
    read=_read_translation, attempts=2, follow_up=_ask_for_the_json,
    final_error=lambda problem: f"the reply could not be read as the JSON asked for, twice ({problem})",
)


def _outcome(seed: SeedTask, call: StoredCall | None, no_reply: str | None) -> _Outcome:
    if call is None:
        # Never got a reply (rate limits, outages): nothing stored, so the next run asks again.
        return _Outcome(error=f"no reply from the model ({no_reply}); run the translation again")
    outcome = _from_stored(seed, call, retry_errors=False)
    return outcome if outcome is not None else _Outcome(error="the stored translation is unreadable")


async def atranslate_seeds(
    seeds: Iterable[SeedTask],
    spec: ModelSpec,
    store: Store,
    *,
    concurrency: int = 8,
    client: Any | None = None,
    retry_errors: bool = False,
    stats: TranslateStats | None = None,
    batch: Any = None,
) -> list[SheetRow]:
    """Translate ``seeds`` into post-edit sheet rows (one per instance, in seed order).

    The calls go through :class:`jp_bench.llm.engine.CallEngine` (store, claims, re-ask, error policy).
    ``client`` defaults to a new :class:`jp_bench.llm.LLMClient` for ``spec`` with ``concurrency``
    calls in flight, closed at the end; a client passed in is left open. Raises JpBenchError when
    the model refuses the run as a whole (bad key, no access, unknown model); calls finished
    before that are kept in the store.
    """
    seeds = list(seeds)
    ids = [seed.id for seed in seeds]
    if len(set(ids)) != len(ids):
        duplicates = sorted({seed_id for seed_id in ids if ids.count(seed_id) > 1})
        raise JpBenchError(f"duplicate seed ids: {', '.join(duplicates)}")
    stats = stats if stats is not None else TranslateStats()
    stats.seeds += len(seeds)
    jobs = [CallJob(call_key(spec, messages), tuple(messages), seed)
            for seed, messages in ((seed, translation_messages(seed)) for seed in seeds)]
    engine = CallEngine(spec=spec, store=store, purpose=f"translate:{spec.model}",
                        prompt_version=TRANSLATE_PROMPT_VERSION, policy=TRANSLATION_POLICY, client=client,
                        client_factory=lambda: LLMClient(spec, concurrency=concurrency), retry_errors=retry_errors,
                        # A stored reply written by something else under the same key is no translation.
                        reusable=lambda job, found: _from_stored(job.context, found, False) is not None,
                        refused_what="the translation model", batch=batch)
    stored = store.get_many(job.key for job in jobs)
    to_call = {job.key for job in jobs if not engine.answered(job, stored.get(job.key))}
    stats.reused += sum(job.key not in to_call for job in jobs)
    report = await engine.run(jobs)
    new = [report.results[key] for key in to_call if key in report.results]
    stats.called += len(to_call)
    stats.calls += sum(call.attempts for call in new if call.reply is not None)
    stats.input_tokens += sum(call.input_tokens for call in new)
    stats.output_tokens += sum(call.output_tokens for call in new)
    stats.cost_usd += sum(call.cost_usd for call in new)

    rows: list[SheetRow] = []
    for job in jobs:
        seed_rows = _rows(job.context, _outcome(job.context, report.results.get(job.key), report.last_unreachable))
        stats.errors += seed_rows[0].status == "error"
        rows.extend(seed_rows)
    logger.info("translated %d seeds: %d from the store, %d sent to %s, %d with errors",
                len(seeds), stats.reused, stats.called, spec.model, stats.errors)
    return rows


def translate_seeds(
    seeds: Iterable[SeedTask],
    spec: ModelSpec,
    store: Store,
    *,
    concurrency: int = 8,
    client: Any | None = None,
    retry_errors: bool = False,
    stats: TranslateStats | None = None,
    batch: Any = None,
) -> list[SheetRow]:
    """Synchronous :func:`atranslate_seeds`, for scripts and the CLI (not from inside an event loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(atranslate_seeds(seeds, spec, store, concurrency=concurrency, client=client,
                                            retry_errors=retry_errors, stats=stats, batch=batch))
    raise RuntimeError("translate_seeds() was called inside a running event loop; await atranslate_seeds() instead")
