"""Seed tasks for Japanese self-instruct: the shipped Japanese seed set and the translate → post-edit route.

Two ways to a Japanese seed set, both ending in :class:`SeedTask` lists:

* **Ours** — :func:`load_default_seeds` loads the 60 tasks written directly in Japanese that ship
  with the package (``jp_bench/selfinstruct/data/seed_tasks_ja.jsonl``).
* **Translated** — English seeds in the self-instruct/Alpaca seed format::

      {"id": "seed_task_0", "name": "...", "instruction": "...",
       "instances": [{"input": "...", "output": "..."}], "is_classification": false}

  are read with :func:`read_english_seeds`, machine-translated into a post-edit sheet with
  :func:`~jp_bench.selfinstruct.seeds_translate.translate_seeds`, written with
  :func:`~jp_bench.selfinstruct.sheet.write_sheet`, edited by a person in a spreadsheet, and read back
  with :func:`~jp_bench.selfinstruct.sheet.import_sheet` (the sheet's layout is documented there).
  :func:`write_seed_set` writes the result in the seed format again, :func:`read_seed_set` reads it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jp_bench._util.atomic import write_text_atomic
from jp_bench.benchmarks.questions import iter_jsonl_lines
from jp_bench.errors import InputFileError, JpBenchError, describe_validation_error, read_input_text
from jp_bench.selfinstruct.filters import japanese_share

SeedSource = Literal["ours", "translated", "english", "generated"]

DEFAULT_SEED_PACKAGE = "jp_bench.selfinstruct.data"
DEFAULT_SEED_FILE = "seed_tasks_ja.jsonl"


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------


class SeedInstance(BaseModel):
    """One demonstration of a task: an optional input and the expected output."""

    model_config = ConfigDict(extra="forbid")

    input: str = ""
    output: str = Field(min_length=1)

    @field_validator("output")
    @classmethod
    def _output_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class SeedTask(BaseModel):
    """A seed task: an instruction with at least one worked instance.

    ``source`` records where it came from: ``ours`` (written in Japanese for jp-bench),
    ``translated`` (machine-translated and post-edited), ``english`` (an untranslated English seed)
    or ``generated`` (produced by the self-instruct loop itself).
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    instruction: str = Field(min_length=1)
    instances: list[SeedInstance] = Field(min_length=1)
    is_classification: bool = False
    name: str = ""
    source: SeedSource = "ours"

    @field_validator("id", "instruction")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    def to_record(self) -> dict[str, Any]:
        """The task in the self-instruct/Alpaca seed format (``source`` is not part of it)."""
        return {
            "id": self.id,
            "name": self.name,
            "instruction": self.instruction,
            "instances": [{"input": inst.input, "output": inst.output} for inst in self.instances],
            "is_classification": self.is_classification,
        }



# --------------------------------------------------------------------------------------------------
# Seed files (self-instruct/Alpaca seed format)
# --------------------------------------------------------------------------------------------------


def _parse_seed_lines(lines: Iterable[str], label: str | Path, source: SeedSource) -> list[SeedTask]:
    tasks: list[SeedTask] = []
    seen: dict[str, int] = {}
    expected = 'expected a seed task {"id", "instruction", "instances": [...]}'
    for number, record in iter_jsonl_lines(lines, label, expected):
        # Keys beyond the seed format (some forks add e.g. "category") are ignored; ``source`` is
        # decided by the caller, not by the file.
        known = {key: record[key] for key in ("id", "name", "instruction", "instances", "is_classification")
                 if key in record}
        if isinstance(known.get("id"), int):
            known["id"] = str(known["id"])
        try:
            task = SeedTask.model_validate({**known, "source": source})
        except ValidationError as exc:
            raise InputFileError(label, number, describe_validation_error(exc)) from None
        if task.id in seen:
            raise InputFileError(label, number, f"duplicate id {task.id!r} (first on line {seen[task.id]})")
        seen[task.id] = number
        tasks.append(task)
    return tasks


def read_seed_file(path: str | Path, *, source: SeedSource) -> list[SeedTask]:
    """Read a seed file in the self-instruct/Alpaca seed format; errors name ``file:line``."""
    file = Path(path)
    return _parse_seed_lines(read_input_text(file).splitlines(), file, source)


def read_english_seeds(path: str | Path) -> list[SeedTask]:
    """English seeds (e.g. Stanford Alpaca's ``seed_tasks.jsonl``), tagged ``source="english"``."""
    return read_seed_file(path, source="english")


def read_seed_set(path: str | Path, *, source: SeedSource = "translated") -> list[SeedTask]:
    """A Japanese seed set written by :func:`write_seed_set` (or by hand) in the seed format.

    The seed format has no field for provenance, so ``source`` says what the file holds.
    """
    return read_seed_file(path, source=source)


def load_default_seeds() -> list[SeedTask]:
    """The Japanese seed set that ships with jp-bench (written in Japanese, ``source="ours"``)."""
    resource = resources.files(DEFAULT_SEED_PACKAGE) / DEFAULT_SEED_FILE
    return _parse_seed_lines(resource.read_text(encoding="utf-8").splitlines(), str(resource), "ours")


def write_seed_set(seeds: Sequence[SeedTask], path: str | Path) -> Path:
    """Write seeds as JSONL in the self-instruct/Alpaca seed format, atomically; returns the path."""
    ids = [seed.id for seed in seeds]
    duplicates = sorted({seed_id for seed_id in ids if ids.count(seed_id) > 1})
    if duplicates:
        # A seed file with repeated ids cannot be read back; refuse rather than write it.
        raise JpBenchError(f"{path}: duplicate seed ids {', '.join(duplicates)}")
    text = "".join(json.dumps(seed.to_record(), ensure_ascii=False) + "\n" for seed in seeds)
    return write_text_atomic(path, text)


# --------------------------------------------------------------------------------------------------
# Japanese script
# --------------------------------------------------------------------------------------------------

# One definition of "Japanese enough" for seeds and generated data alike.
japanese_ratio = japanese_share
