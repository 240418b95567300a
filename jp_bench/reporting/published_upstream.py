"""``jp-bench data publish``: the judgments a benchmark's authors released (pinned in its record) as
published results with their provenance, and the leaderboard views rebuilt, by one command.

The figures go through the ordinary path: the released FastChat judgment files are read as ``jp-bench
report`` reads them, with the benchmark's categories and its baseline, summarised by the report
builder and written by :func:`jp_bench.reporting.publish.publish_report`; the views are the ordinary
leaderboard's. Nothing depends on the machine or the day: the files are the pinned ones (verified
against their sha256 before anything is written), the bootstrap count and seed are fixed
(:data:`BOOTSTRAP`, :data:`SEED`), the date is the pinned commit's, and every path written into a
result is the file's path in the upstream repository with a link to it at that commit.

Results of other judges, benchmarks or models in the results folder are kept. Results this command
published earlier for the same source are replaced; one it would no longer publish is removed.
A result of another source where this command would write stops it (nothing is overwritten).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from jp_bench.benchmarks.records import (
    BENCHMARKS,
    DEFAULT_BENCHMARK,
    PinnedFile,
    PublishedJudgments,
    UpstreamBenchmark,
    get_benchmark,
)
from jp_bench.errors import JpBenchError
from jp_bench.reporting.publish import Origin

if TYPE_CHECKING:
    from jp_bench.reporting.results_schema import PublishedResult

# The committed results/ are this command's output: these two settings are part of what it publishes.
BOOTSTRAP = 1000
SEED = 0


@dataclass
class Published:
    """What ``jp-bench data publish`` did: result files written, earlier ones removed, views written."""

    results: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    views: list[Path] = field(default_factory=list)


def _record(benchmark: str) -> UpstreamBenchmark:
    record = get_benchmark(benchmark)
    if not isinstance(record, UpstreamBenchmark) or not record.published_judgments:
        with_judgments = ", ".join(sorted(name for name, known in BENCHMARKS.items()
                                          if isinstance(known, UpstreamBenchmark) and known.published_judgments))
        raise JpBenchError(f"{benchmark}: its authors released no judgments jp-bench pins "
                           f"(benchmarks with released judgments: {with_judgments})")
    if record.commit_date is None:
        raise JpBenchError(f"{benchmark}: the record pins no commit date, which published results carry")
    return record


Located = list[tuple[PublishedJudgments, list[tuple[PinnedFile, Path]], Path]]


def _locate(record: UpstreamBenchmark) -> Located:
    """Every released set's judgment files and prompts file, verified (fetched once when missing)."""
    from jp_bench.benchmarks.upstream import upstream_file_path

    return [(released,
             [(pinned, upstream_file_path(record, pinned, f"judgments released with {record.name}"))
              for pinned in released.files],
             upstream_file_path(record, released.prompts, "the judge prompts of its released judgments"))
            for released in record.published_judgments]


def _origin(record: UpstreamBenchmark, released: PublishedJudgments, files: list[tuple[PinnedFile, Path]],
            prompts_path: Path) -> Origin:
    """What the results of one released set state: the pin, its date, links, the judge prompts."""
    from jp_bench.fastchat_io import read_judge_prompts, read_pairwise_judgments
    from jp_bench.judging.prompts import load_prompt_set
    from jp_bench.reporting.results_schema import PromptsInfo, SourceFile

    # The prompt each row names ("<judge model>/<prompt>"): the judge must be the pinned one, and the
    # prompts must be in the prompts file.
    named: set[str] = set()
    for _, local in files:
        for row in read_pairwise_judgments(local, keep_duplicates=True):
            judge, _, prompt = row.judge.rpartition("/")
            if judge != released.judge:
                raise JpBenchError(f"{row.where}: judged by {(judge or row.judge)!r}, but {record.pin} pins this "
                                   f"file as judged by {released.judge!r}")
            named.add(prompt)
    known = list(read_judge_prompts(prompts_path))
    missing = sorted(named - set(known))
    if missing:
        raise JpBenchError(f"{prompts_path}: no prompt {missing[0]!r}, which its released judgments name")
    prompt_set = load_prompt_set(prompts_path)  # named and versioned as when jp-bench judges with that file
    date = record.commit_date
    assert date is not None  # _record refuses a record without one
    return Origin(
        source=record.pin, url=record.commit_page, date=date,
        files={local.resolve(): SourceFile(path=record.repository_path(pinned.path), sha256=pinned.sha256,
                                           url=record.page(pinned.path))
               for pinned, local in files},
        prompt_set=prompt_set.name, prompt_version=prompt_set.version,
        answers_source=f"{record.pin}: {record.repository_path('model_answer')}/, as the judgment files quote them",
        prompts=PromptsInfo(path=record.repository_path(released.prompts.path), sha256=released.prompts.sha256,
                            url=record.page(released.prompts.path), names=sorted(named, key=known.index)),
        note=released.note or None,
    )


def _ours(result: PublishedResult, record: UpstreamBenchmark) -> bool:
    """Whether ``result`` is one this command published for ``record`` (at this pin or an earlier one)."""
    source = result.provenance.source if result.provenance is not None else ""
    return result.benchmark == record.name and source.startswith(f"{record.repository}@")


def publish_upstream(benchmark: str = DEFAULT_BENCHMARK, results: str | Path = "results") -> Published:
    """Publish the judgments ``benchmark``'s authors released into ``results`` and rebuild its views there.

    Raises :class:`~jp_bench.errors.JpBenchError` with one line (a pinned file that does not match its
    sha256, a result of another source in the way, ...) before anything is written.
    """
    from jp_bench.benchmarks.loading import load_questions
    from jp_bench.reporting.leaderboard import build_leaderboard, load_results, write_result
    from jp_bench.reporting.publish import published_results
    from jp_bench.reporting.report import build_report
    from jp_bench.reporting.sources import attach_categories, load_judgments

    record = _record(benchmark)
    located = _locate(record)
    categories = {q.question_id: q.category for q in load_questions(record.name)}
    fresh: list[PublishedResult] = []
    for released, files, prompts_path in located:
        judgments = load_judgments([str(local) for _, local in files])
        attach_categories(judgments, categories)
        report = build_report(judgments, baseline=record.baseline_model, n_boot=BOOTSTRAP, seed=SEED)
        fresh += published_results(report, judgments, benchmark=record.name,
                                   origin=_origin(record, released, files, prompts_path))
    root = Path(results)
    existing = load_results(root) if root.is_dir() else []
    targets = {result.relative_path for result in fresh}
    for result in existing:
        if result.relative_path in targets and not _ours(result, record):
            source = result.provenance.source if result.provenance is not None else "no provenance recorded"
            raise JpBenchError(f"{root / result.relative_path}: holds other figures for {result.model} ({source}); "
                               f"move it away, or publish into another folder with --results")
    done = Published(results=[write_result(root, result) for result in fresh])
    for result in existing:
        if _ours(result, record) and result.relative_path not in targets:
            stale = root / result.relative_path
            stale.unlink()
            done.removed.append(stale)
    done.views = build_leaderboard(root, root)
    return done
