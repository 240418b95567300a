"""The in-harness judge's settings: the ``--metadata`` keys it reads (``judge``, ``judge_mode``,
``baseline``, ...), checked like the CLI's options, and the workspace the store and answers live in."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jp_bench import paths
from jp_bench.errors import JpBenchError
from jp_bench.llm.limits import BaseUrl, Concurrency, MaxCost

# Metadata keys this module reads; every other key belongs to lm-eval or to the task's data hook.
SETTING_KEYS = ("judge", "judge_mode", "baseline", "judge_prompts", "judge_concurrency", "judge_max_cost",
                "judge_workspace", "judge_model", "judge_base_url", "judge_preflight")
PAPER_BASELINE = "paper"


class JudgingSettings(BaseModel):
    """The judging keys of lm-eval's ``--metadata`` (documented in docs/evaluate.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    judge: str = Field(min_length=1, description="a judge name (`jp-bench judges`) or a judge YAML path")
    judge_mode: Literal["single", "pairwise"] = "single"
    baseline: str | None = Field(None, min_length=1, description="pairwise: 'paper' or answers (NAME=PATH or PATH)")
    judge_prompts: str | None = Field(None, min_length=1)
    # The rules of `jp-bench judge --concurrency/--max-cost/--base-url` (jp_bench.llm.limits): strict, so
    # `true` is not 1 and nan is no budget.
    judge_concurrency: Concurrency | None = None
    judge_max_cost: MaxCost | None = None
    judge_workspace: str | None = Field(None, min_length=1, description="the SQLite store, or a folder for one")
    judge_model: str | None = Field(None, min_length=1)
    judge_base_url: BaseUrl | None = None
    judge_preflight: bool = Field(True, strict=True)


def parse_settings(metadata: Mapping[str, Any] | None) -> JudgingSettings | None:
    """The judging settings in ``metadata``; None when judging was not asked for (no ``judge`` key)."""
    for key in metadata or {}:
        # lm-eval passes every key on; a judging key in other letter case would be silently ignored.
        if key not in SETTING_KEYS and key.casefold() in SETTING_KEYS:
            raise JpBenchError(f"--metadata {key}: unknown key; did you mean {key.casefold()!r}? "
                               "(judging keys are lower case)")
    given = {k: v for k, v in (metadata or {}).items() if k in SETTING_KEYS or k.casefold().startswith("judge")}
    if "judge" not in given:
        if given:
            raise JpBenchError(f"--metadata {sorted(given)[0]}: judging settings need a 'judge' key as well")
        return None
    try:
        settings = JudgingSettings.model_validate(given)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        if first["type"] == "extra_forbidden":
            import difflib

            close = difflib.get_close_matches(key.casefold(), SETTING_KEYS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            known = ", ".join(SETTING_KEYS)
            raise JpBenchError(f"--metadata {key}: unknown judging key ({hint}known: {known})") from None
        message = first["msg"].removeprefix("Value error, ")
        if key == "judge_base_url":  # a URL may carry credentials: never echoed
            raise JpBenchError(f"--metadata {key}: {message}") from None
        raise JpBenchError(f"--metadata {key}: {message} (got {first.get('input')!r})") from None
    if settings.judge_mode == "pairwise" and settings.baseline is None:
        raise JpBenchError("--metadata baseline: judge_mode 'pairwise' needs a baseline "
                           "('paper' for jp_bench, or a path to lm-eval output or FastChat answers)")
    if settings.judge_mode == "single" and settings.baseline is not None:
        raise JpBenchError("--metadata baseline: a baseline is only used with judge_mode 'pairwise'")
    return settings


def store_path(settings: JudgingSettings) -> Path:
    """``judge_workspace`` is the SQLite file (as ``jp-bench judge --workspace``) or a folder holding one."""
    if settings.judge_workspace is None:
        return paths.default_store_path()
    given = Path(settings.judge_workspace).expanduser()
    if given.is_dir() or (not given.suffix and not given.exists()):
        return given / "store.sqlite"
    # A file must say it is a store: the answers and judgments are written beside it, so a path such as
    # /etc/passwd would otherwise put them into whatever folder holds that file.
    if given.suffix not in STORE_SUFFIXES and not _is_sqlite_file(given):
        raise JpBenchError(f"--metadata judge_workspace: {given} is neither a folder nor a "
                           f"{' / '.join(STORE_SUFFIXES)} store file (the answers and judgments are written in "
                           "the store's folder: name a folder of your own, or a .sqlite file in one)")
    return given


STORE_SUFFIXES = (".sqlite", ".sqlite3", ".db")


def _is_sqlite_file(path: Path) -> bool:
    """An existing SQLite database (the store of an earlier ``jp-bench judge --workspace NAME``)."""
    try:
        with path.open("rb") as file:
            return file.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def check_workspace(store: Path) -> None:
    """Before generation: the store opens as a jp-bench store and its folder takes files. Found only
    when judging starts, inside lm-eval's filters, either would end the run with the generation lost."""
    import sqlite3
    import tempfile

    from jp_bench.llm.store import Store

    folder = store.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise JpBenchError(f"--metadata judge_workspace: {folder}: cannot write there "
                           f"({exc.strerror or exc}); name a folder you can write to") from None
    try:
        with Store(store) as opened:
            opened.get("")  # reads every column of the calls table: another program's SQLite file fails here
    except JpBenchError as exc:
        raise JpBenchError(f"--metadata judge_workspace: {exc}") from None
    except sqlite3.Error as exc:
        raise JpBenchError(f"--metadata judge_workspace: {store}: not a usable jp-bench store ({exc}); "
                           "name a new file or folder, or the store of an earlier run") from None
