"""Juries: several judges judge the same items; reports show each member and the pooled verdict.

A jury is ``--judge A --judge B --judge C`` on the command line, or a jury YAML::

    name: ja-jury
    judges: [gpt-4o, claude-sonnet, qwen3-vllm]   # judge names or judge YAML paths
    pooling: {pairwise: majority, single: mean}    # the only rules today, and the defaults

Each member judges through the same store (its own keys), so adding a member to a jury pays only
for the new member. Every row a member writes names the jury (``jury``); the report pools the
members' rows of one jury: a majority vote per game for pairwise (no majority: a tie), the mean of
the members' scores for single.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jp_bench._util.yaml_lines import line_of, read_yaml_mapping
from jp_bench.errors import InputFileError, JpBenchError, describe_validation_error
from jp_bench.llm.limits import MAX_JURY_MEMBERS


class Pooling(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pairwise: Literal["majority"] = "majority"
    single: Literal["mean"] = "mean"


class JuryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    description: str = ""
    judges: list[str] = Field(min_length=2, max_length=MAX_JURY_MEMBERS)
    pooling: Pooling = Pooling()

    @field_validator("judges")
    @classmethod
    def _distinct(cls, judges: list[str]) -> list[str]:
        repeated = sorted(j for j, count in Counter(judges).items() if count > 1)  # linear: juries can be long
        if repeated:
            raise ValueError(f"a judge sits on a jury once: {', '.join(repeated)} given twice")
        return judges


@dataclass(frozen=True)
class Jury:
    name: str
    judges: tuple[str, ...]


def is_jury_file(value: str) -> bool:
    path = Path(value).expanduser()
    if path.suffix not in (".yaml", ".yml") or not path.is_file():
        return False
    _, data = read_yaml_mapping(path, "jury or judge settings")
    return "judges" in data


def load_jury_file(path: str | Path) -> Jury:
    path = Path(path).expanduser()
    text, data = read_yaml_mapping(path, "jury settings")
    try:
        parsed = JuryFile.model_validate(data)
    except ValidationError as exc:
        raise InputFileError(path, line_of(text, exc.errors()[0]["loc"]), describe_validation_error(exc)) from None
    # A member given as a relative YAML path is relative to the jury file, as people write them.
    members = tuple(str((path.parent / j).resolve()) if j.endswith((".yaml", ".yml")) and not Path(j).is_absolute()
                    else j for j in parsed.judges)
    for index, member in enumerate(members):
        # Read now, or the member would be read as a judge and fail on a field a jury does not have.
        if is_jury_file(member):
            raise InputFileError(path, line_of(text, ("judges", index)),
                                 f"judges.{index}: {parsed.judges[index]} is a jury, not a judge; a jury's members "
                                 "are judges: list that jury's judges here instead")
    return Jury(parsed.name, members)


def check_members(given: Sequence[str], names: Sequence[str], sources: Sequence[str]) -> None:
    """Each member once, under a name of its own: the members' rows, store purpose and output folders are
    told apart by the judge's ``name``, so two members of one name would overwrite and mix each other's
    judgments (and one judge given by name and by path would sit twice and break the report)."""
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if name not in seen:
            seen[name] = index
            continue
        first = seen[name]
        if Path(sources[first]).resolve() == Path(sources[index]).resolve():
            raise JpBenchError(f"--judge {given[first]} and --judge {given[index]} are the same judge "
                               f"({sources[index]}); a judge sits on a jury once")
        raise JpBenchError(f"jury members {sources[first]} and {sources[index]} are both named {name!r}; their "
                           "judgments would overwrite each other: give one of them another name")


def jury_of(judges: Sequence[str]) -> Jury | None:
    """The jury that ``--judge`` values make: None for one judge; a jury YAML; or the judges given."""
    if len(judges) == 1:
        return load_jury_file(judges[0]) if is_jury_file(judges[0]) else None
    if len(judges) > MAX_JURY_MEMBERS:
        raise JpBenchError(f"--judge is given {len(judges)} times; a jury has at most {MAX_JURY_MEMBERS} members")
    if any(is_jury_file(j) for j in judges):
        raise JpBenchError("--judge: give one jury YAML, or several judges, not both")
    repeated = sorted(j for j, count in Counter(judges).items() if count > 1)  # linear: juries can be long
    if repeated:
        raise JpBenchError(f"--judge {repeated[0]} is given twice; a judge sits on a jury once")
    names = [Path(j).stem if j.endswith((".yaml", ".yml")) else j for j in judges]
    return Jury("jury(" + "+".join(names) + ")", tuple(judges))
