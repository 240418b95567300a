"""Seed tasks: English seeds in, machine translation through a local OpenAI-compatible stand-in,
the post-edit sheet (CSV with BOM + JSONL), importing an edited sheet, and the shipped Japanese set."""

from __future__ import annotations

import csv
import json
import re
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from jp_bench.errors import InputFileError, JpBenchError
from jp_bench.llm.errors import PermanentError
from jp_bench.llm.store import Store, call_key
from jp_bench.llm.types import Completion, Message, ModelSpec
from jp_bench.selfinstruct.seeds import (
    SeedInstance,
    SeedTask,
    japanese_ratio,
    load_default_seeds,
    read_english_seeds,
    read_seed_set,
    write_seed_set,
)
from jp_bench.selfinstruct.seeds_translate import (
    RETRY_REMINDER,
    TRANSLATE_PROMPT_VERSION,
    TranslateStats,
    TranslationParseError,
    parse_translation,
    translate_seeds,
    translation_messages,
)
from jp_bench.selfinstruct.sheet import SHEET_COLUMNS, SheetError, SheetRow, import_sheet, write_sheet
from tests.support.judge_stub import JudgeStub
from tests.support.paths import ROOT, SHARED

ENGLISH_SEEDS = SHARED / "data" / "stanford_alpaca" / "seed_tasks.jsonl"
MODEL = "stub-translator"
PURPOSE = f"translate:{MODEL}"
BOM = b"\xef\xbb\xbf"


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def english_seeds() -> list[SeedTask]:
    if not ENGLISH_SEEDS.is_file():
        pytest.fail(f"reference data missing: {ENGLISH_SEEDS} (set JP_BENCH_SHARED to the shared folder)")
    return read_english_seeds(ENGLISH_SEEDS)


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # The stand-in ignores keys; a fixed one keeps a developer's real key away from it.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-secret")


def stub_spec(stub: JudgeStub) -> ModelSpec:
    return ModelSpec(provider="openai-compatible", model=MODEL, base_url=stub.base_url, max_tokens=512, timeout_s=10)


def english_payload(request: dict[str, Any]) -> dict[str, Any]:
    """The seed the translator was asked about, read back from the JSON block of the user message."""
    user = next(m["content"] for m in request["messages"] if m["role"] == "user")
    match = re.search(r"```json\n(.*?)\n```", user, re.DOTALL)
    assert match, user
    return json.loads(match.group(1))


def marker(instruction: str) -> str:
    """A tag tying a stand-in translation to its English seed (checks rows are not mixed up)."""
    return "印" + str(sum(map(ord, instruction)))


def japanese_json(request: dict[str, Any], index: int) -> str:
    """The stand-in translator: Japanese text as a JSON object, every other reply inside a code fence."""
    english = english_payload(request)
    instruction = f"次の作業をしてください。{marker(english['instruction'])}"
    if "instances" in english:
        reply: dict[str, Any] = {
            "instruction": instruction,
            "instances": [{"input": f"入力その{n}です。" if inst["input"] else "",
                           "output": f"出力その{n}です。"} for n, inst in enumerate(english["instances"])],
        }
    else:
        reply = {"instruction": instruction, "input": "日本語の入力です。" if english["input"] else "",
                 "output": "日本語で書いた模範的な出力です。"}
    text = json.dumps(reply, ensure_ascii=False)
    return f"```json\n{text}\n```" if index % 2 else text


def done_row(seed_id: str = "seed_task_0", index: int = 0, **changes: Any) -> SheetRow:
    """A reviewed row that imports cleanly, with ``changes`` applied."""
    values: dict[str, Any] = {
        "id": f"{seed_id}/{index}",
        "name": "breakfast",
        "status": "done",
        "english_instruction": "Suggest a breakfast without eggs.",
        "english_input": "",
        "english_output": "Oatmeal with yogurt and berries.",
        "machine_instruction": "卵を使わない朝食を提案してください。",
        "machine_output": "ヨーグルトとベリーを添えたオートミール。",
        "edited_instruction": "卵を使わない朝ごはんを提案してください。",
        "edited_output": "ヨーグルトとベリーをのせたオートミールはいかがでしょう。",
    }
    values.update(changes)
    # Not validated, so rows a person could produce (an unknown status, say) can be written too.
    return SheetRow.model_construct(**values)


def read_csv_sheet(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def write_csv_like_a_spreadsheet(path: Path, rows: list[dict[str, str]], columns: list[str]) -> None:
    """Save as a spreadsheet's 'CSV UTF-8' does: BOM, minimal quoting, CRLF."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


# --------------------------------------------------------------------------------------------------
# English seeds
# --------------------------------------------------------------------------------------------------


@pytest.mark.unit
def test_read_english_seeds(english_seeds: list[SeedTask]) -> None:
    assert len(english_seeds) == 175
    assert len({seed.id for seed in english_seeds}) == 175
    assert english_seeds[0].id == "seed_task_0"
    assert all(seed.source == "english" and seed.instances for seed in english_seeds)
    assert any(seed.is_classification for seed in english_seeds)
    assert any(seed.instances[0].input for seed in english_seeds)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a seed task"),
        ('{"id": "b", "instances": [{"input": "", "output": "x"}]}', "field 'instruction'"),
        ('{"id": "b", "instruction": "Do it.", "instances": []}', "field 'instances'"),
        ('{"id": "b", "instruction": "Do it.", "instances": [{"input": "x"}]}', "field 'instances.0.output'"),
        ('{"id": "a", "instruction": "Again.", "instances": [{"input": "", "output": "x"}]}',
         "duplicate id 'a' (first on line 1)"),
    ],
)
def test_read_english_seeds_names_file_and_line(tmp_path: Path, line: str, expected: str) -> None:
    path = tmp_path / "seeds.jsonl"
    good = {"id": "a", "name": "n", "instruction": "Say hi.", "instances": [{"input": "", "output": "Hi."}],
            "is_classification": False}
    path.write_text(json.dumps(good) + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(InputFileError) as caught:
        read_english_seeds(path)
    assert str(caught.value).startswith(f"{path}:3: ")
    assert expected in str(caught.value)


# --------------------------------------------------------------------------------------------------
# Translation through the stand-in
# --------------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_translate_through_the_stub_resumes_and_reruns_for_free(tmp_path: Path, english_seeds: list[SeedTask]) -> None:
    seeds = english_seeds[:6]
    requests: list[dict[str, Any]] = []

    def reply(request: dict[str, Any], index: int) -> str:
        requests.append(request)
        return japanese_json(request, index)

    store_path = tmp_path / "store.sqlite"
    with JudgeStub(reply=reply) as stub:
        spec = stub_spec(stub)
        with Store(store_path) as store:
            # A run that stopped after three seeds ...
            translate_seeds(seeds[:3], spec, store, concurrency=3)
            assert stub.calls == 3
            # ... is resumed: only the three missing seeds are paid for.
            stats = TranslateStats()
            rows = translate_seeds(seeds, spec, store, concurrency=3, stats=stats)
            assert stub.calls == 6
            assert (stats.reused, stats.called, stats.calls, stats.errors) == (3, 3, 3, 0)
            assert store.count(PURPOSE) == 6
            stored = store.get(call_key(spec, translation_messages(seeds[0])))
            assert stored is not None and stored.ok and stored.prompt_version == TRANSLATE_PROMPT_VERSION
        # A fresh process over the same store makes no calls at all.
        with Store(store_path) as store:
            again = translate_seeds(seeds, spec, store)
        assert stub.calls == 6
        assert stub.max_in_flight <= 3

    assert again == rows
    assert [row.id for row in rows] == [f"{seed.id}/0" for seed in seeds]
    for seed, row in zip(seeds, rows, strict=True):
        assert row.status == "todo"
        assert row.english_instruction == seed.instruction
        assert row.english_output == seed.instances[0].output
        assert marker(seed.instruction) in row.machine_instruction  # the right translation on the right row
        assert (row.machine_input != "") == (seed.instances[0].input != "")
        assert (row.edited_instruction, row.edited_input, row.edited_output) == (
            row.machine_instruction, row.machine_input, row.machine_output)
    first = requests[0]
    assert first["model"] == MODEL
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    assert "自然" in first["messages"][0]["content"] and "JSON" in first["messages"][0]["content"]


@pytest.mark.integration
def test_unparseable_reply_is_retried_once_then_marked_error(tmp_path: Path, english_seeds: list[SeedTask]) -> None:
    hopeless, recovers = english_seeds[10], english_seeds[11]
    seen: Counter[str] = Counter()
    lock = threading.Lock()
    retries: list[dict[str, Any]] = []

    def reply(request: dict[str, Any], index: int) -> str:
        instruction = english_payload(request)["instruction"]
        with lock:
            seen[instruction] += 1
            attempt = seen[instruction]
        if len(request["messages"]) > 2:
            retries.append(request)
        if instruction == hopeless.instruction or attempt == 1:
            return "申し訳ありませんが、この内容は翻訳できませんでした。"
        return japanese_json(request, index)

    with JudgeStub(reply=reply) as stub, Store(tmp_path / "store.sqlite") as store:
        spec = stub_spec(stub)
        rows = translate_seeds([hopeless, recovers], spec, store)
        assert stub.calls == 4  # each seed asked twice
        bad, good = rows
        assert bad.status == "error"
        assert "machine translation failed" in bad.note
        assert "申し訳ありませんが" in bad.note  # the raw reply, kept for the editor
        assert bad.edited_instruction == bad.edited_output == bad.machine_instruction == ""
        assert good.status == "todo" and marker(recovers.instruction) in good.edited_instruction
        # The re-ask shows the model its reply and asks for the JSON alone.
        assert len(retries) == 2
        for request in retries:
            assert [m["role"] for m in request["messages"]] == ["system", "user", "assistant", "user"]
            assert request["messages"][-1]["content"] == RETRY_REMINDER

        # The failure is stored: a re-run pays nothing and still shows it ...
        again = translate_seeds([hopeless, recovers], spec, store)
        assert stub.calls == 4
        assert [row.status for row in again] == ["error", "todo"]
        assert store.get(call_key(spec, translation_messages(hopeless))).status == "error"
        # ... unless asked to try the failures again.
        translate_seeds([hopeless, recovers], spec, store, retry_errors=True)
        assert stub.calls == 6


@pytest.mark.integration
def test_multi_instance_seed_gives_one_row_per_instance_and_groups_back(tmp_path: Path) -> None:
    seed = SeedTask(id="multi", name="capitals", instruction="Name the capital.", source="english",
                    instances=[SeedInstance(input="France", output="Paris"),
                               SeedInstance(input="Japan", output="Tokyo")])
    with JudgeStub(reply=japanese_json) as stub, Store(tmp_path / "store.sqlite") as store:
        rows = translate_seeds([seed], stub_spec(stub), store)
        assert stub.calls == 1  # one call per seed, all instances together
    assert [row.id for row in rows] == ["multi/0", "multi/1"]
    assert [row.machine_output for row in rows] == ["出力その0です。", "出力その1です。"]
    assert [row.english_input for row in rows] == ["France", "Japan"]

    edited = [row.model_copy(update={"status": "done"}) for row in reversed(rows)]  # order must not matter
    csv_path, _ = write_sheet(edited, tmp_path / "sheet")
    (task,) = import_sheet(csv_path)
    assert task.id == "multi" and task.name == "capitals" and task.source == "translated"
    assert [inst.output for inst in task.instances] == ["出力その0です。", "出力その1です。"]


@pytest.mark.unit
def test_parse_translation_shapes() -> None:
    single = SeedTask(id="s", instruction="Do it.", instances=[SeedInstance(input="", output="Done.")])
    fenced = '了解です。\n```json\n{"instruction": "やってください。", "input": "なし", "output": "できました。"}\n```'
    assert parse_translation(fenced, single) == ("やってください。", [("", "できました。")])  # empty input stays empty
    prose = 'はい: {"instruction": "やってください。", "output": "できました。"} 以上です。'
    assert parse_translation(prose, single) == ("やってください。", [("", "できました。")])
    double = SeedTask(id="d", instruction="Add.", instances=[SeedInstance(input="1+1", output="2"),
                                                             SeedInstance(input="2+2", output="4")])
    reply = json.dumps({"instruction": "足してください。", "instances": [{"input": "1+1", "output": "2"},
                                                                     {"input": "2+2", "output": "4"}]})
    assert parse_translation(reply, double) == ("足してください。", [("1+1", "2"), ("2+2", "4")])
    for bad, seed in [
        ("翻訳できません。", single),
        ('{"instruction": "", "output": "x"}', single),
        ('{"instruction": "やって。", "output": ""}', single),
        ('{"instruction": "やって。", "output": "x"}', double),
        ('{"instruction": "足して。", "instances": [{"input": "1+1", "output": "2"}]}', double),
        ('{"instruction": "足して。", "instances": [{"input": "", "output": "2"}, {"input": "", "output": "4"}]}',
         double),
    ]:
        with pytest.raises(TranslationParseError):
            parse_translation(bad, seed)


class _RefusingClient:
    """A client whose model refuses with a fixed HTTP status."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.calls = 0

    async def complete(self, messages: list[Message]) -> Completion:
        self.calls += 1
        raise PermanentError(f"refused with {self.status}", status=self.status)


@pytest.mark.unit
def test_refusals(tmp_path: Path) -> None:
    seed = SeedTask(id="s", instruction="Do it.", instances=[SeedInstance(output="Done.")])
    spec = ModelSpec(provider="openai-compatible", model=MODEL)
    with Store(tmp_path / "store.sqlite") as store:
        with pytest.raises(JpBenchError, match="refused"):
            translate_seeds([seed], spec, store, client=_RefusingClient(401))  # bad key: the run stops
        assert store.count() == 0
        client = _RefusingClient(400)  # this one request is refused: its row is an error, and stored
        (row,) = translate_seeds([seed], spec, store, client=client)
        assert row.status == "error" and "refused" in row.note
        translate_seeds([seed], spec, store, client=client)
        assert client.calls == 1


# --------------------------------------------------------------------------------------------------
# The sheet
# --------------------------------------------------------------------------------------------------


@pytest.mark.unit
def test_write_sheet_csv_has_bom_quotes_everything_and_opens_with_csv(tmp_path: Path) -> None:
    rows = [
        done_row(english_output="- eggs\n- bacon", edited_output="- 卵\n- ベーコン", machine_output="- 卵\n- ベーコン"),
        done_row(index=1, edited_input="=SUM(A1:A3) を計算します", english_input="=SUM(A1:A3)",
                 note="メモ, 引用\"あり\""),
    ]
    csv_path, jsonl_path = write_sheet(rows, tmp_path / "sheet.csv")  # the suffix is optional
    assert (csv_path.name, jsonl_path.name) == ("sheet.csv", "sheet.jsonl")

    raw = csv_path.read_bytes()
    assert raw.startswith(BOM)
    first_line = raw[len(BOM):].decode("utf-8").splitlines()[0]
    assert first_line == ",".join(f'"{column}"' for column in SHEET_COLUMNS)
    read = read_csv_sheet(csv_path)
    assert list(read[0]) == list(SHEET_COLUMNS)
    assert len(read) == 2
    # Cells a spreadsheet would evaluate as formulas are protected with an apostrophe ...
    assert read[0]["edited_output"] == "'- 卵\n- ベーコン"
    assert read[1]["english_input"] == "'=SUM(A1:A3)"
    assert read[1]["note"] == "メモ, 引用\"あり\""
    assert read[0]["is_classification"] == "false"
    # ... which the JSONL twin does not need.
    records = [json.loads(line) for line in jsonl_path.read_text(encoding="utf-8").splitlines()]
    assert records == [row.model_dump() for row in rows]
    assert all(list(record) == list(SHEET_COLUMNS) for record in records)
    # Both files read back to the same seeds, apostrophes removed.
    from_csv, from_jsonl = import_sheet(csv_path), import_sheet(jsonl_path)
    assert from_csv == from_jsonl
    assert [inst.output for inst in from_csv[0].instances] == ["- 卵\n- ベーコン", rows[1].edited_output]
    assert from_csv[0].instances[1].input == "=SUM(A1:A3) を計算します"

    with pytest.raises(JpBenchError, match="already exists"):
        write_sheet(rows, tmp_path / "sheet")  # an edited sheet is never replaced by accident
    write_sheet(rows[:1], tmp_path / "sheet", overwrite=True)
    assert len(read_csv_sheet(csv_path)) == 1


@pytest.mark.integration
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_edit_the_sheet_then_import(tmp_path: Path, english_seeds: list[SeedTask], fmt: str) -> None:
    seeds = english_seeds[:4]
    with JudgeStub(reply=japanese_json) as stub, Store(tmp_path / "store.sqlite") as store:
        rows = translate_seeds(seeds, stub_spec(stub), store)
    csv_path, jsonl_path = write_sheet(rows, tmp_path / "post-edit")

    breakfast = "オートミールにギリシャヨーグルトとナッツを合わせるのがおすすめです。"
    edits = {
        f"{seeds[0].id}/0": {"status": "done", "edited_instruction": "卵を使わずにたんぱく質がとれる朝食を教えて。",
                             "edited_output": breakfast},
        f"{seeds[1].id}/0": {"status": "skip", "note": "日本語では不自然な題材"},
        f"{seeds[2].id}/0": {"status": "DONE "},  # machine text accepted as is; spreadsheet-style casing and space
        f"{seeds[3].id}/0": {"status": "done", "edited_instruction": "  次の文を丁寧な言い方に直してください。\n",
                             "edited_input": "これ、やっといて。",
                             "edited_output": "こちらをお願いできますでしょうか。"},
    }
    if fmt == "csv":
        sheet = read_csv_sheet(csv_path)
        for row in sheet:
            row.update(edits[row["id"]])
        path = tmp_path / "edited.csv"
        write_csv_like_a_spreadsheet(path, sheet, list(SHEET_COLUMNS))
    else:
        records = [json.loads(line) for line in jsonl_path.read_text(encoding="utf-8").splitlines()]
        path = tmp_path / "edited.jsonl"
        path.write_text("".join(json.dumps({**r, **edits[r["id"]]}, ensure_ascii=False) + "\n" for r in records),
                        encoding="utf-8")

    tasks = import_sheet(path)
    assert [task.id for task in tasks] == [seeds[0].id, seeds[2].id, seeds[3].id]
    assert all(task.source == "translated" for task in tasks)
    first, second, third = tasks
    assert first.instruction == "卵を使わずにたんぱく質がとれる朝食を教えて。"
    assert first.instances == [SeedInstance(input="", output=breakfast)]
    assert (first.name, first.is_classification) == (seeds[0].name, seeds[0].is_classification)
    assert marker(seeds[2].instruction) in second.instruction
    assert third.instruction == "次の文を丁寧な言い方に直してください。"  # stray whitespace dropped
    assert third.instances[0].input == "これ、やっといて。"

    out = write_seed_set(tasks, tmp_path / "seed_tasks_ja.jsonl")
    record = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert list(record) == ["id", "name", "instruction", "instances", "is_classification"]
    assert read_seed_set(out) == tasks


@pytest.mark.unit
def test_todo_rows_need_allow_todo(tmp_path: Path) -> None:
    _, path = write_sheet([done_row(), done_row("seed_task_1", status="todo")], tmp_path / "sheet")
    with pytest.raises(SheetError) as caught:
        import_sheet(path)
    assert f"{path}:2: status todo" in str(caught.value)
    assert [task.id for task in import_sheet(path, allow_todo=True)] == ["seed_task_0", "seed_task_1"]


BAD_ROWS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown-status", {"status": "finished"}, "unknown status 'finished' (expected todo, done, skip, error)"),
    ("empty-instruction", {"edited_instruction": ""}, "status done but edited_instruction is empty"),
    ("empty-output", {"edited_output": "  "}, "status done but edited_output is empty"),
    ("untranslated-instruction", {"edited_instruction": "Suggest a breakfast without eggs."},
     "edited_instruction is still the English text (untranslated)"),
    ("untranslated-output", {"edited_output": "Oatmeal with  yogurt and berries."},
     "edited_output is still the English text (untranslated) (if it must stay as is, write keep:output"),
    ("untranslated-input", {"english_input": "Some eggs.", "edited_input": "Some eggs."},
     "edited_input is still the English text"),
    ("little-japanese", {"edited_instruction": "Please suggest a breakfast, ただし卵なし."},
     "edited_instruction has too little Japanese script (21% kana/kanji"),
    ("error-status", {"status": "error", "edited_instruction": ""}, "status error: the machine translation failed"),
    ("todo-status", {"status": "todo"}, "status todo: the row has not been reviewed"),
    ("bad-id", {"id": "seed_task_1"}, "id 'seed_task_1' is not '<seed id>/<instance number>'"),
    ("duplicate-id", {"id": "seed_task_0/0"}, "duplicate id 'seed_task_0/0' (also on line {good_line})"),
    ("instruction-differs", {"id": "seed_task_0/1", "edited_instruction": "卵なしの朝食を教えて。"},
     "edited_instruction differs from the row for the same seed on line {good_line}"),
]


@pytest.mark.integration
@pytest.mark.parametrize(("case", "changes", "expected"), BAD_ROWS, ids=[case for case, _, _ in BAD_ROWS])
def test_each_problem_is_reported_with_file_and_line(tmp_path: Path, case: str, changes: dict[str, Any],
                                                     expected: str) -> None:
    # The good first row has multi-line cells, so the CSV's bad row starts on a later physical line.
    good = done_row(english_output="Oatmeal.\nYogurt.", machine_output="オートミール。\nヨーグルト。",
                    edited_output="オートミール。\nヨーグルト。")
    bad = done_row("seed_task_1", **changes)
    csv_path, jsonl_path = write_sheet([good, bad], tmp_path / "sheet")
    # header on line 1, the good row from line 2 over its embedded newlines, then the bad row
    csv_line = 3 + sum(value.count("\n") for value in good.model_dump().values() if isinstance(value, str))
    assert csv_path.read_text(encoding="utf-8-sig").splitlines()[csv_line - 1].startswith(f'"{bad.id}"')
    # (path, line of the bad row, line of the good row): the CSV has a header line, the JSONL has not
    for path, line, good_line in ((csv_path, csv_line, 2), (jsonl_path, 2, 1)):
        with pytest.raises(SheetError) as caught:
            import_sheet(path)
        assert f"{path}:{line}: {expected.format(good_line=good_line)}" in str(caught.value), str(caught.value)
        assert len(caught.value.problems) == 1


@pytest.mark.unit
def test_missing_columns_are_reported(tmp_path: Path) -> None:
    csv_path, jsonl_path = write_sheet([done_row(), done_row("seed_task_1")], tmp_path / "sheet")
    sheet = read_csv_sheet(csv_path)
    columns = [column for column in SHEET_COLUMNS if column not in ("edited_output", "status")]
    path = tmp_path / "cut.csv"
    write_csv_like_a_spreadsheet(path, [{c: row[c] for c in columns} for row in sheet], columns)
    with pytest.raises(SheetError, match=re.escape(f"{path}:1: missing columns 'status', 'edited_output'")):
        import_sheet(path)

    records = [json.loads(line) for line in jsonl_path.read_text(encoding="utf-8").splitlines()]
    del records[1]["edited_output"]
    path = tmp_path / "cut.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    with pytest.raises(SheetError, match=re.escape(f"{path}:2: missing column 'edited_output'")):
        import_sheet(path)


@pytest.mark.unit
def test_is_classification_must_be_a_boolean(tmp_path: Path) -> None:
    csv_path, _ = write_sheet([done_row(), done_row("seed_task_1", is_classification=True)], tmp_path / "sheet")
    sheet = read_csv_sheet(csv_path)
    assert sheet[1]["is_classification"] == "true"
    sheet[0]["is_classification"] = "TRUE"  # how a spreadsheet writes it back
    sheet[1]["is_classification"] = "maybe"
    path = tmp_path / "edited.csv"
    write_csv_like_a_spreadsheet(path, sheet, list(SHEET_COLUMNS))
    with pytest.raises(SheetError, match=re.escape(f"{path}:3: is_classification 'maybe' is not true or false")):
        import_sheet(path)
    sheet[1]["is_classification"] = "false"
    write_csv_like_a_spreadsheet(path, sheet, list(SHEET_COLUMNS))
    assert [task.is_classification for task in import_sheet(path)] == [True, False]


@pytest.mark.unit
def test_all_bad_rows_are_reported_at_once(tmp_path: Path) -> None:
    rows = [
        done_row("s0"),
        done_row("s1", status="finished"),
        done_row("s2"),
        done_row("s3", edited_instruction=""),
        done_row("s4", edited_output="Oatmeal with yogurt and berries."),
        done_row("s5", status="skip", edited_instruction=""),  # skipped rows are not checked
    ]
    _, path = write_sheet(rows, tmp_path / "sheet")
    with pytest.raises(SheetError) as caught:
        import_sheet(path)
    message = str(caught.value)
    assert message.splitlines()[0] == f"{path}: 3 problems in the sheet"
    assert [line for line, _ in caught.value.problems] == [2, 4, 5]
    for line in (2, 4, 5):
        assert f"\n{path}:{line}: " in message
    assert isinstance(caught.value, JpBenchError)  # the CLI prints it without a traceback


@pytest.mark.unit
def test_keep_note_and_code_waive_the_script_checks(tmp_path: Path) -> None:
    french = {"english_instruction": "Translate into French.", "edited_instruction": "フランス語に翻訳してください。",
              "english_input": "Good morning.", "edited_input": "おはようございます。",
              "english_output": "Bonjour.", "edited_output": "Bonjour."}
    code = "```python\nprint('hello')\n```"
    rows = [
        done_row("fr", **french, note="keep:output フランス語のまま"),
        done_row("code", english_output=code, edited_output=code),  # nothing but code: may stay identical
        done_row("mixed", edited_output="`numbers.sort(reverse=True)` で降順に並べ替えます。"),
    ]
    _, path = write_sheet(rows, tmp_path / "sheet")
    assert [task.id for task in import_sheet(path)] == ["fr", "code", "mixed"]

    _, path = write_sheet([done_row("fr", **french)], tmp_path / "no-keep")
    with pytest.raises(SheetError, match="edited_output is still the English text"):
        import_sheet(path)


@pytest.mark.unit
def test_import_sheet_file_problems(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="file not found"):
        import_sheet(tmp_path / "missing.csv")
    other = tmp_path / "sheet.xlsx"
    other.write_bytes(b"PK")
    with pytest.raises(InputFileError, match=r"expected a \.csv or \.jsonl sheet"):
        import_sheet(other)
    shift_jis = tmp_path / "sjis.csv"
    shift_jis.write_bytes(",".join(SHEET_COLUMNS).encode() + "\n\"日本語\"".encode("shift_jis"))
    with pytest.raises(InputFileError, match="CSV UTF-8"):
        import_sheet(shift_jis)


@pytest.mark.unit
def test_japanese_ratio() -> None:
    assert japanese_ratio("これはペンです。") == 1.0
    assert japanese_ratio("Hello 世界") == pytest.approx(2 / 7)
    assert japanese_ratio("`sorted(items)` で並べ替えます") == 1.0  # inline code does not count
    assert japanese_ratio("説明:\n```python\nprint('hello world')\n```") == 1.0
    assert japanese_ratio("12,345 + 6") is None
    assert japanese_ratio("ＡＢＣ") == 0.0  # full-width Latin is still Latin


# --------------------------------------------------------------------------------------------------
# The shipped Japanese seed set
# --------------------------------------------------------------------------------------------------


@pytest.mark.unit
def test_shipped_seed_set(tmp_path: Path) -> None:
    seeds = load_default_seeds()
    assert len(seeds) == 60
    assert [seed.id for seed in seeds] == [f"ja_seed_{n}" for n in range(1, 61)]
    assert len({seed.name for seed in seeds}) == 60
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", seed.name) for seed in seeds)
    assert all(seed.source == "ours" for seed in seeds)
    for seed in seeds:
        ratio = japanese_ratio(seed.instruction)
        assert ratio is not None and ratio >= 0.5, seed.id
        assert all(instance.output.strip() for instance in seed.instances), seed.id
    assert sum(bool(seed.instances[0].input) for seed in seeds) >= 15
    assert sum(seed.is_classification for seed in seeds) >= 3
    assert len({seed.instruction for seed in seeds}) == 60

    # The file is exactly the seed format, and writing it again gives the same bytes.
    shipped = ROOT / "jp_bench" / "selfinstruct" / "data" / "seed_tasks_ja.jsonl"
    for line in shipped.read_text(encoding="utf-8").splitlines():
        assert list(json.loads(line)) == ["id", "name", "instruction", "instances", "is_classification"]
    copy = write_seed_set(seeds, tmp_path / "copy.jsonl")
    assert copy.read_bytes() == shipped.read_bytes()
    assert read_seed_set(copy, source="ours") == seeds
