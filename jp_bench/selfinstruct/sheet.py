"""The post-edit sheet of translated seeds: its rows, writing it for people, reading it back.

The post-edit sheet
-------------------
One row per *instance*: a seed with three instances gives three rows, with ids ``seed_task_7/0``,
``seed_task_7/1`` and ``seed_task_7/2`` (``<seed id>/<instance index>``). Every row repeats the
instruction, so an editor sees each example whole; :func:`import_sheet` groups the rows back into
one seed and requires the edited instruction to agree across them. Columns (:data:`SHEET_COLUMNS`):

* ``id``, ``name``, ``is_classification`` — from the English seed;
* ``status`` — ``todo`` (machine text not yet reviewed), ``done`` (reviewed), ``skip`` (leave this
  instance out) or ``error`` (the machine translation failed; the raw reply is in ``note``);
* ``english_*`` — the source text, for reference;
* ``machine_*`` — the machine translation, kept unchanged so edits can be measured later;
* ``edited_*`` — pre-filled with the machine text: this is what the editor changes;
* ``note`` — free text. Writing ``keep:input`` or ``keep:output`` there waives the Japanese-script
  checks for that field, for tasks whose input or output must stay in another language (a
  translation into French, an English sentence to correct).

:func:`write_sheet` writes the same rows twice: ``<out>.csv`` for spreadsheets (UTF-8 *with* a
byte-order mark, because Excel otherwise decodes UTF-8 as the local code page and shows Japanese as
mojibake; every field quoted) and ``<out>.jsonl`` for scripts. In the CSV only, a cell that begins
with ``=``, ``+``, ``-`` or ``@`` gets a leading apostrophe, because spreadsheet programs would
otherwise evaluate a bullet list such as ``- item`` as a formula and save ``#NAME?`` back;
:func:`import_sheet` removes that apostrophe again.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from jp_bench._util.atomic import write_bytes_atomic, write_text_atomic
from jp_bench._util.spreadsheet import protect_cell, unprotect_cell
from jp_bench.errors import InputFileError, JpBenchError
from jp_bench.selfinstruct.seeds import SeedTask, japanese_ratio

SheetStatus = Literal["todo", "done", "skip", "error"]

# Below this share of kana/kanji among the letters of an edited field, the field is taken to be
# (mostly) untranslated. Japanese prose with a few Latin product names or terms stays well above it.
MIN_JAPANESE_RATIO = 0.3

SHEET_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "is_classification",
    "status",
    "english_instruction",
    "english_input",
    "english_output",
    "machine_instruction",
    "machine_input",
    "machine_output",
    "edited_instruction",
    "edited_input",
    "edited_output",
    "note",
)
# What import_sheet cannot do without; the rest (name, machine text, note) may be deleted by an editor.
REQUIRED_SHEET_COLUMNS: tuple[str, ...] = (
    "id",
    "status",
    "english_instruction",
    "english_input",
    "english_output",
    "edited_instruction",
    "edited_input",
    "edited_output",
)
SHEET_STATUSES: tuple[str, ...] = ("todo", "done", "skip", "error")
_TEXT_FIELDS = ("instruction", "input", "output")



class SheetRow(BaseModel):
    """One row of the post-edit sheet: one instance of one seed (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str = ""
    is_classification: bool = False
    status: SheetStatus = "todo"
    english_instruction: str = ""
    english_input: str = ""
    english_output: str = ""
    machine_instruction: str = ""
    machine_input: str = ""
    machine_output: str = ""
    edited_instruction: str = ""
    edited_input: str = ""
    edited_output: str = ""
    note: str = ""

    @property
    def seed_id(self) -> str:
        return split_row_id(self.id)[0]

    @property
    def instance_index(self) -> int:
        return split_row_id(self.id)[1]


def row_id(seed_id: str, index: int) -> str:
    """The sheet id of instance ``index`` of seed ``seed_id``."""
    return f"{seed_id}/{index}"


def _is_row_id(value: str) -> bool:
    try:
        split_row_id(value)
    except ValueError:
        return False
    return True


def split_row_id(value: str) -> tuple[str, int]:
    """``"seed_task_3/1"`` → ``("seed_task_3", 1)``; ValueError when it has no ``/<number>`` suffix.

    Split at the last slash, so seed ids that themselves contain ``/`` still work.
    """
    seed_id, sep, index = value.strip().rpartition("/")
    if not sep or not seed_id or not index.isdigit():
        raise ValueError(f"id {value!r} is not '<seed id>/<instance number>' (e.g. 'seed_task_0/0')")
    return seed_id, int(index)



# --------------------------------------------------------------------------------------------------
# Writing the sheet
# --------------------------------------------------------------------------------------------------

def sheet_paths(out: str | Path) -> tuple[Path, Path]:
    """``(<out>.csv, <out>.jsonl)``; ``out`` may be given with or without either suffix."""
    base = Path(out)
    if base.suffix.lower() in (".csv", ".jsonl"):
        base = base.with_suffix("")
    return base.parent / f"{base.name}.csv", base.parent / f"{base.name}.jsonl"


def write_sheet(rows: Sequence[SheetRow], out: str | Path, *, overwrite: bool = False) -> tuple[Path, Path]:
    """Write the post-edit sheet as ``<out>.csv`` (UTF-8 with BOM, all fields quoted) and ``<out>.jsonl``.

    Each file is written atomically. An existing sheet may hold hours of a person's edits, so it is
    replaced only with ``overwrite=True``. Returns the two paths.
    """
    csv_path, jsonl_path = sheet_paths(out)
    if not overwrite:
        for path in (csv_path, jsonl_path):
            if path.exists():
                raise JpBenchError(f"{path}: already exists and may hold edits; choose another name or overwrite it")
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
    writer.writerow(SHEET_COLUMNS)
    for row in rows:
        values = row.model_dump()
        writer.writerow([
            ("true" if values[column] else "false") if column == "is_classification" else protect_cell(values[column])
            for column in SHEET_COLUMNS
        ])
    jsonl = "".join(json.dumps({c: getattr(row, c) for c in SHEET_COLUMNS}, ensure_ascii=False) + "\n" for row in rows)
    write_text_atomic(jsonl_path, jsonl)
    write_bytes_atomic(csv_path, buffer.getvalue().encode("utf-8-sig"))  # utf-8-sig writes the BOM
    return csv_path, jsonl_path


# --------------------------------------------------------------------------------------------------
# Reading the edited sheet
# --------------------------------------------------------------------------------------------------


class SheetError(JpBenchError):
    """Problems found in an edited sheet, all of them, one ``file:line: problem`` per line."""

    def __init__(self, path: str | Path, problems: Sequence[tuple[int | None, str]]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        lines = [f"{self.path}:{line}: {problem}" if line is not None else f"{self.path}: {problem}"
                 for line, problem in self.problems]
        count = len(lines)
        header = f"{self.path}: {count} problem{'s' if count != 1 else ''} in the sheet"
        super().__init__("\n".join([header, *lines]))


class _RawRow:
    """A row as read from the file: its first line number and its cells (None where a column is missing)."""

    __slots__ = ("cells", "line")

    def __init__(self, line: int, cells: dict[str, Any]) -> None:
        self.line = line
        self.cells = cells


def _read_csv_rows(path: Path, problems: list[tuple[int | None, str]]) -> Iterator[_RawRow]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        # The usual cause: Excel's plain "CSV" save, which writes Shift_JIS on Japanese Windows.
        raise InputFileError(path, None, "not UTF-8; save the sheet as 'CSV UTF-8 (comma delimited)'") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    header: list[str] | None = None
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1  # a quoted cell may span lines: report where the row starts
            if header is None:
                header = [cell.strip() for cell in cells]
                missing = [column for column in REQUIRED_SHEET_COLUMNS if column not in header]
                if missing:
                    problems.append((line, "missing column" + ("s " if len(missing) > 1 else " ")
                                     + ", ".join(repr(column) for column in missing)))
                    return
                continue
            if not any(cell.strip() for cell in cells):
                continue  # spreadsheets like to leave empty rows at the end
            values: dict[str, Any] = {column: None for column in header}
            for column, cell in zip(header, cells, strict=False):
                values[column] = unprotect_cell(cell)
            yield _RawRow(line, values)
    except csv.Error as exc:
        problems.append((reader.line_num, f"unreadable CSV ({exc})"))
    if header is None:
        problems.append((None, "empty sheet: no header row"))


def _read_jsonl_rows(path: Path, problems: list[tuple[int | None, str]]) -> Iterator[_RawRow]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(path, None, "not UTF-8 text") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append((number, f"not valid JSON ({exc.msg})"))
            continue
        if not isinstance(record, dict):
            problems.append((number, "expected a JSON object with the sheet's columns"))
            continue
        yield _RawRow(number, record)


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if text in ("", "false", "0", "no"):
        return False
    if text in ("true", "1", "yes"):
        return True
    raise ValueError(f"is_classification {value!r} is not true or false")


def _kept_fields(note: str) -> set[str]:
    """Fields marked as intentionally not Japanese: ``keep:input``, ``keep:output`` or ``keep:input,output``."""
    kept: set[str] = set()
    for match in re.finditer(r"keep:([a-z,\s]+)", note.lower()):
        kept.update(part.strip() for part in match.group(1).split(","))
    return kept & {"input", "output"}


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def _check_text(row: dict[str, str], field: str, kept: set[str]) -> str | None:
    """The problem with ``edited_<field>`` of a reviewed row, or None."""
    edited = row[f"edited_{field}"]
    if not edited or field in kept:
        return None
    english = row[f"english_{field}"]
    hint = "" if field == "instruction" else f" (if it must stay as is, write keep:{field} in the note)"
    # Text with no letters outside code (numbers, a code block) may rightly be identical to the English.
    if _same_text(edited, english) and japanese_ratio(english) is not None:
        return f"edited_{field} is still the English text (untranslated){hint}"
    ratio = japanese_ratio(edited)
    if ratio is not None and ratio < MIN_JAPANESE_RATIO:
        return (f"edited_{field} has too little Japanese script ({ratio:.0%} kana/kanji among letters outside "
                f"code, at least {MIN_JAPANESE_RATIO:.0%} expected){hint}")
    return None


def _check_row(cells: dict[str, Any], allow_todo: bool) -> tuple[str | None, dict[str, str]]:
    """(problem, normalised text cells) for one row; the first problem only, so each bad row gets one message."""
    missing = [column for column in REQUIRED_SHEET_COLUMNS if cells.get(column) is None]
    if missing:
        return "missing column" + ("s " if len(missing) > 1 else " ") + ", ".join(map(repr, missing)), {}
    text: dict[str, str] = {}
    for column, value in cells.items():
        if column == "is_classification" or value is None:
            continue
        if not isinstance(value, str):
            return f"column {column!r} must be text, not {type(value).__name__}", {}
        # Spreadsheets add stray spaces and trailing newlines; they are never meaningful here.
        text[column] = value.strip()
    for column in SHEET_COLUMNS:
        text.setdefault(column, "")
    try:
        split_row_id(text["id"])
    except ValueError as exc:
        return str(exc), text
    status = text["status"].lower()
    text["status"] = status
    if status not in SHEET_STATUSES:
        return f"unknown status {text['status']!r} (expected {', '.join(SHEET_STATUSES)})", text
    if status == "skip":
        return None, text
    if status == "error":
        return ("status error: the machine translation failed (see note); translate the row by hand and mark it "
                "done, or mark it skip"), text
    if status == "todo" and not allow_todo:
        return "status todo: the row has not been reviewed; mark it done or skip (or import with allow_todo)", text
    if not text["edited_instruction"]:
        return f"status {status} but edited_instruction is empty", text
    if not text["edited_output"]:
        return f"status {status} but edited_output is empty", text
    kept = _kept_fields(text["note"])
    for field in _TEXT_FIELDS:
        problem = _check_text(text, field, kept)
        if problem:
            return problem, text
    return None, text


def import_sheet(path: str | Path, *, allow_todo: bool = False) -> list[SeedTask]:
    """Read an edited sheet (``.csv`` or ``.jsonl``) back into Japanese seeds (``source="translated"``).

    Every row is checked and *all* problems are raised together as one :class:`SheetError`
    (``file:line: problem`` each), so an editor fixes the sheet in one pass. Rows marked ``skip`` are
    dropped (a seed whose rows are all skipped disappears); ``todo`` rows are an error unless
    ``allow_todo`` is set, in which case their (machine) text is used as is. Seeds come back in
    sheet order, their instances ordered by instance index.
    """
    file = Path(path)
    if not file.is_file():
        raise InputFileError(file, None, "file not found")
    suffix = file.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise InputFileError(file, None, "expected a .csv or .jsonl sheet")
    problems: list[tuple[int | None, str]] = []
    rows = _read_csv_rows(file, problems) if suffix == ".csv" else _read_jsonl_rows(file, problems)

    seen_ids: dict[str, int] = {}
    seeds: dict[str, dict[str, Any]] = {}  # seed id -> fields and instances, in first-seen order
    for raw in rows:
        problem, text = _check_row(raw.cells, allow_todo)
        is_classification = False
        row_key = text.get("id", "")
        if _is_row_id(row_key):  # a malformed id already has its own problem
            if row_key in seen_ids:
                # Reported over the row's other problems: two rows for one instance is the bigger mistake.
                problem = f"duplicate id {row_key!r} (also on line {seen_ids[row_key]})"
            else:
                seen_ids[row_key] = raw.line
        if problem is None and text["status"] != "skip":
            try:
                is_classification = _parse_bool(raw.cells.get("is_classification"))
            except ValueError as exc:
                problem = str(exc)
        if problem is not None:
            problems.append((raw.line, problem))
            continue
        if text["status"] == "skip":
            continue
        seed_id, index = split_row_id(row_key)
        seed = seeds.get(seed_id)
        if seed is None:
            seeds[seed_id] = {"instruction": text["edited_instruction"], "line": raw.line, "name": text["name"],
                              "is_classification": is_classification, "instances": []}
        elif not _same_text(seed["instruction"], text["edited_instruction"]):
            problems.append((raw.line, f"edited_instruction differs from the row for the same seed on line "
                                       f"{seed['line']}; the instruction must be the same for every instance"))
            continue
        seeds[seed_id]["instances"].append((index, text["edited_input"], text["edited_output"]))
    if problems:
        raise SheetError(file, problems)
    return [
        SeedTask(
            id=seed_id,
            name=seed["name"],
            instruction=seed["instruction"],
            instances=[{"input": inp, "output": out} for _, inp, out in sorted(seed["instances"])],
            is_classification=seed["is_classification"],
            source="translated",
        )
        for seed_id, seed in seeds.items()
    ]
