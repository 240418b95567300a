"""Machine translation of English seed tasks into a Japanese post-edit sheet.

One model call per seed (instruction and every instance together, so the translation stays
consistent within a task), through :class:`jp_bench.llm.LLMClient`. Every call goes through the
workspace :class:`jp_bench.store.Store`: it is looked up by :func:`jp_bench.store.call_key` before
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
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from jp_bench.errors import JpBenchError
from jp_bench.llm.client import LLMClient
from jp_bench.llm.errors import LLMError, PermanentError
from jp_bench.llm.types import Message, ModelSpec
from jp_bench.selfinstruct.seeds import SeedTask
from jp_bench.selfinstruct.sheet import SheetRow, row_id
from jp_bench.store import CallRecord, Store, StoredCall, call_key

logger = logging.getLogger("jp_bench.selfinstruct")

# Part of every stored call; change it whenever the prompt text changes (the key changes anyway,
# since the messages are hashed, but the version says which prompt produced a stored reply).
TRANSLATE_PROMPT_VERSION = "seed-translate-ja-v1"

# Statuses that mean the whole run is misconfigured (bad key, no access, unknown model): stop.
_FATAL_STATUSES = {401, 403, 404}

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


@dataclass
class _Translator:
    spec: ModelSpec
    store: Store
    client: Any  # jp_bench.llm.LLMClient, or anything with ``async complete(messages)``
    stats: TranslateStats

    @property
    def purpose(self) -> str:
        return f"translate:{self.spec.model}"

    async def translate(self, seed: SeedTask, messages: list[Message], key: str) -> _Outcome:
        started = time.time()
        conversation = list(messages)
        input_tokens = output_tokens = 0
        cost = 0.0
        reply: str | None = None
        problem = ""
        self.stats.called += 1
        for attempt in (1, 2):
            try:
                completion = await self.client.complete(conversation)
            except PermanentError:
                raise
            except LLMError as exc:
                # Retries exhausted (rate limits, outages): not stored, so the next run asks again.
                return _Outcome(error=f"no reply from the model ({exc}); run the translation again", reply=reply)
            self.stats.calls += 1
            input_tokens += completion.input_tokens
            output_tokens += completion.output_tokens
            cost += self.spec.cost_usd(completion.input_tokens, completion.output_tokens)
            reply = completion.text
            try:
                instruction, pairs = parse_translation(reply, seed)
            except TranslationParseError as exc:
                problem = str(exc)
                conversation = [*messages, Message("assistant", reply), Message("user", RETRY_REMINDER)]
                continue
            parsed = {"instruction": instruction, "instances": [{"input": i, "output": o} for i, o in pairs]}
            self._record(key, messages, reply, parsed, "ok", None, attempt, input_tokens, output_tokens, cost, started)
            return _Outcome(instruction=instruction, pairs=pairs, reply=reply)
        error = f"the reply could not be read as the JSON asked for, twice ({problem})"
        self._record(key, messages, reply, None, "error", error, 2, input_tokens, output_tokens, cost, started)
        return _Outcome(error=error, reply=reply)

    def record_refusal(self, key: str, messages: list[Message], error: str) -> _Outcome:
        # A permanent error for one request (e.g. 400 from a content filter) will not change on
        # retry, so it is stored like any other finished call.
        self._record(key, messages, None, None, "error", error, 1, 0, 0, 0.0, time.time())
        return _Outcome(error=error)

    def _record(self, key: str, messages: list[Message], reply: str | None, parsed: Any, status: str,
                error: str | None, attempts: int, input_tokens: int, output_tokens: int, cost: float,
                started: float) -> None:
        self.stats.input_tokens += input_tokens
        self.stats.output_tokens += output_tokens
        self.stats.cost_usd += cost
        self.store.put(CallRecord(
            key, purpose=self.purpose, model=self.spec.model, request=CallRecord.request_of(self.spec, messages),
            reply=reply, parsed=parsed, status=status, error=error, prompt_version=TRANSLATE_PROMPT_VERSION,
            attempts=attempts, input_tokens=input_tokens, output_tokens=output_tokens, cost_usd=cost,
            started_at=started))


async def atranslate_seeds(
    seeds: Iterable[SeedTask],
    spec: ModelSpec,
    store: Store,
    *,
    concurrency: int = 8,
    client: Any | None = None,
    retry_errors: bool = False,
    stats: TranslateStats | None = None,
) -> list[SheetRow]:
    """Translate ``seeds`` into post-edit sheet rows (one per instance, in seed order).

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
    messages = [translation_messages(seed) for seed in seeds]
    keys = [call_key(spec, m) for m in messages]
    stored = store.get_many(keys)

    outcomes: dict[str, _Outcome] = {}
    todo: dict[str, int] = {}  # key -> index of the first seed with it: identical prompts are one call
    for index, (seed, key) in enumerate(zip(seeds, keys, strict=True)):
        outcome = _from_stored(seed, stored.get(key), retry_errors)
        if outcome is not None:
            outcomes[key] = outcome
            stats.reused += 1
        else:
            todo.setdefault(key, index)

    owned = client is None
    if client is None:
        client = LLMClient(spec, concurrency=concurrency)
    translator = _Translator(spec, store, client, stats)
    fatal: list[PermanentError] = []

    async def one(key: str, index: int) -> None:
        if fatal:
            return  # the run is being stopped: start nothing new
        try:
            outcomes[key] = await translator.translate(seeds[index], messages[index], key)
        except PermanentError as exc:
            if exc.status in _FATAL_STATUSES or exc.status is None:
                fatal.append(exc)
                return
            outcomes[key] = translator.record_refusal(key, messages[index], f"the model refused the request ({exc})")

    try:
        await asyncio.gather(*(one(key, index) for key, index in todo.items()))
    finally:
        if owned:
            await client.aclose()
    if fatal:
        raise JpBenchError(f"the translation model refused the request: {fatal[0]}")

    rows: list[SheetRow] = []
    for seed, key in zip(seeds, keys, strict=True):
        seed_rows = _rows(seed, outcomes[key])
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
) -> list[SheetRow]:
    """Synchronous :func:`atranslate_seeds`, for scripts and the CLI (not from inside an event loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(atranslate_seeds(seeds, spec, store, concurrency=concurrency, client=client,
                                            retry_errors=retry_errors, stats=stats))
    raise RuntimeError("translate_seeds() was called inside a running event loop; await atranslate_seeds() instead")
