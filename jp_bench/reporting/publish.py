"""`jp-bench report --publish`: one result file per (benchmark, judge, model) under ``results/``, with
where its judgments came from.

What is published is what the result schema declares (:mod:`jp_bench.reporting.results_schema`): each
report entry is projected onto the fields of its schema model, nested category and turn figures too.
Report keys the schema does not declare (the entry's own ``judge``, ``model`` and ``ci_level``, and any
figure added to the report later) are left out on purpose: a new figure reaches published files when
the schema declares it, so the schema stays the one list of what a result file may hold. An optional
figure the report has no value for (``None``) is left out rather than written as null.

``provenance`` is worked out from the judgments (the sources given, the files FastChat rows came from,
their sha256), or stated by the caller as an :class:`Origin` when it knows more: ``jp-bench data
publish`` states the pinned upstream commit, links and the judge prompts of the released judgments.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jp_bench.errors import JpBenchError
from jp_bench.reporting.sources import Judgments

if TYPE_CHECKING:
    from pydantic import BaseModel

    from jp_bench.reporting.results_schema import PromptsInfo, PublishedResult, SourceFile


@dataclass(frozen=True)
class Origin:
    """Where published judgments come from, stated by a caller that knows more than the rows say.

    Every result published with it records ``source``, ``url``, ``date``, ``prompts`` and ``note`` as its
    provenance and ``date`` as its date, the prompt set and version as its judge's, and ``answers_source``
    as where the answers came from. ``files`` names each judgment file read (its resolved local path) as
    it is published: a result lists the files its model's rows came from.
    """

    source: str
    url: str | None
    date: dt.date
    files: Mapping[Path, SourceFile]
    prompt_set: str
    prompt_version: str
    answers_source: str
    prompts: PromptsInfo | None = None
    note: str | None = None


def _judge_info(judge: str, judgments: Judgments) -> dict[str, str]:
    """Name, model and prompt set of a judge, as the judgments recorded them (no YAML is re-read)."""
    if judge not in judgments.prompt_sets:  # judged elsewhere (FastChat files): all we know is its name
        return {"name": judge.replace("/", "--"), "model": judge, "prompt_set": "fastchat", "prompt_version": "unknown"}
    prompt_set, version = judgments.prompt_sets[judge]
    return {"name": judge.replace("/", "--"),
            "model": judgments.judge_models.get(judge, judge),
            "prompt_set": prompt_set or "unknown", "prompt_version": version or "unknown"}


def _shown(path: Path) -> str:
    """A path as a result may show it: relative to here when it is below, else its name (never absolute)."""
    path = path.expanduser()
    if not path.is_absolute():
        return path.as_posix()
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.name


def answers_source(sources: list[str]) -> str:
    """Where the answers came from, without local absolute paths: relative to here, else the name."""
    return ", ".join(_shown(Path(source)) for source in sources)


# --------------------------------------------------------------------------------------------- projection


def _declared(model: type[BaseModel], figures: Mapping[str, Any]) -> dict[str, Any]:
    """``figures`` restricted to the fields ``model`` declares; an optional field without a value is left out."""
    kept = {}
    for name, value in figures.items():
        declared = model.model_fields.get(name)
        if declared is None or (value is None and not declared.is_required()):
            continue
        kept[name] = value
    return kept


def _published_figures(kind: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    """A report entry (pairwise or single) as the result schema publishes it."""
    from jp_bench.reporting import results_schema as schema

    summary, part = ((schema.PairwiseSummary, schema.PairwiseCategory) if kind == "pairwise"
                     else (schema.SingleSummary, schema.SingleCategory))
    figures = _declared(summary, entry)
    for nested in ("by_category", "by_turn"):
        if isinstance(figures.get(nested), Mapping):
            figures[nested] = {str(name): _declared(part, values) for name, values in figures[nested].items()}
    return _rounded(figures)


# Published figures keep this many decimals: far finer than any interval they carry, and coarse enough
# that the last-digit differences of numpy and BLAS between machines never reach a published file, so
# `jp-bench data publish` gives the same bytes everywhere.
PUBLISHED_DECIMALS = 6


def _rounded(value: Any) -> Any:
    """Every float under ``value`` rounded to :data:`PUBLISHED_DECIMALS` (counts and text unchanged)."""
    if isinstance(value, float):
        return round(value, PUBLISHED_DECIMALS)
    if isinstance(value, Mapping):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(item) for item in value]
    return value


# --------------------------------------------------------------------------------------------- provenance


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows_files(judgments: Judgments, judge: str, model: str) -> list[Path]:
    """The files the (judge, model) rows came from, where the rows say (FastChat rows: ``file:line``)."""
    files: set[Path] = set()
    for frame, columns in ((judgments.pairwise, ("model_1", "model_2")), (judgments.single, ("model",))):
        if frame.empty:
            continue
        mine = (frame["judge"] == judge) & frame[list(columns)].astype(str).eq(model).any(axis=1)
        for where in frame.loc[mine, "where"].dropna():
            files.add(Path(str(where).rpartition(":")[0]).expanduser().resolve())
    return sorted(files)


def _source_files(sources: Sequence[str]) -> dict[Path, SourceFile]:
    """Each judgment source as a result names it: a file with its sha256; a folder by its
    ``judgments.jsonl`` when it has one, else by itself (no single sha256)."""
    from jp_bench.reporting.results_schema import SourceFile

    described: dict[Path, SourceFile] = {}
    for source in sources:
        path = Path(source).expanduser()
        own = path / "judgments.jsonl"
        if path.is_dir() and own.is_file():
            path = own
        sha256 = _sha256(path) if path.is_file() else None
        described[path.resolve()] = SourceFile(path=_shown(path), sha256=sha256)
    return described


def _under_source(path: Path, sources: Sequence[str]) -> SourceFile:
    """A file read from a source folder, named below that source as the result shows it."""
    from jp_bench.reporting.results_schema import SourceFile

    for source in sources:
        folder = Path(source).expanduser().resolve()
        if folder.is_dir() and folder in path.parents:
            return SourceFile(path=f"{_shown(Path(source))}/{path.relative_to(folder).as_posix()}",
                              sha256=_sha256(path))
    return SourceFile(path=_shown(path), sha256=_sha256(path))


def _provenance(judgments: Judgments, judge: str, model: str, origin: Origin | None) -> dict[str, Any]:
    rows_files = _rows_files(judgments, judge, model)
    if origin is not None:
        listed = [origin.files[path] for path in rows_files if path in origin.files] or list(origin.files.values())
        return {"source": origin.source, "url": origin.url, "date": origin.date,
                "judgments": [f.model_dump(exclude_none=True) for f in listed],
                **({"prompts": origin.prompts.model_dump(exclude_none=True)} if origin.prompts else {}),
                **({"note": origin.note} if origin.note else {})}
    if rows_files:
        listed = [_under_source(path, judgments.sources) for path in rows_files]
    else:  # our rows name no file: every source they were read from
        listed = list(_source_files(judgments.sources).values())
    return {"source": answers_source(judgments.sources), "judgments": [f.model_dump(exclude_none=True)
                                                                       for f in listed]}


# --------------------------------------------------------------------------------------------- results


def published_results(report: dict[str, Any], judgments: Judgments, *, benchmark: str | None,
                      date: dt.date | None = None, origin: Origin | None = None) -> list[PublishedResult]:
    """The report's figures as validated results, one per (judge, model), sorted; nothing is written."""
    from pydantic import ValidationError

    from jp_bench.errors import describe_validation_error
    from jp_bench.reporting.results_schema import PublishedResult

    if not benchmark:
        raise JpBenchError("--publish needs --benchmark (the results are filed under it)")
    name = Path(benchmark).stem if Path(benchmark).suffix else benchmark
    by_model: dict[tuple[str, str], dict[str, Any]] = {}
    for kind in ("pairwise", "single"):
        for entry in report[kind]:
            record = by_model.setdefault((entry["judge"], str(entry["model"])), {"errors": 0})
            record[kind] = _published_figures(kind, entry)
            record["errors"] += entry["errors"]
    results = []
    for (judge, model), figures in sorted(by_model.items()):
        judge_info = _judge_info(judge, judgments)
        if origin is not None:
            judge_info.update(prompt_set=origin.prompt_set, prompt_version=origin.prompt_version)
        result = {
            "schema_version": 1,
            "benchmark": name,
            "model": model,
            "judge": judge_info,
            "answers": {"source": origin.answers_source if origin else answers_source(judgments.sources),
                        "generation": {}},
            "date": (origin.date if origin else date or dt.date.today()).isoformat(),
            "pairwise": figures.get("pairwise"),
            "single": figures.get("single"),
            "errors": figures["errors"],
            "cost_usd": judgments.costs.get((judge, model)),
            "provenance": _provenance(judgments, judge, model, origin),
        }
        try:
            results.append(PublishedResult.model_validate(result))
        except ValidationError as exc:  # checked before anything is written: all files or none
            raise JpBenchError(f"cannot publish {model} judged by {judge}: {describe_validation_error(exc)}") from None
    return results


def publish_report(report: dict[str, Any], judgments: Judgments, *, results_dir: Path,
                   benchmark: str | None, date: dt.date | None = None, origin: Origin | None = None) -> list[Path]:
    """Write the report's figures as published results; returns the files written.

    Every result is validated before any file is written. ``origin``: see :class:`Origin`.
    """
    from jp_bench.reporting.leaderboard import write_result

    results = published_results(report, judgments, benchmark=benchmark, date=date, origin=origin)
    return [write_result(results_dir, result) for result in results]
