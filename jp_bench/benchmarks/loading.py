"""Questions by benchmark name or path: an upstream set from its verified copy (with its references), or
the set we ship."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from jp_bench.benchmarks.questions import Question, attach_references, parse_questions, parse_reference_answers
from jp_bench.benchmarks.records import BENCHMARKS, ShippedBenchmark, UpstreamBenchmark, get_benchmark
from jp_bench.benchmarks.upstream import _file_in, _read_verified_folder, _upstream_folder
from jp_bench.errors import JpBenchError


def _graded_references(benchmark: UpstreamBenchmark, questions: Sequence[Question],
                       references: dict[int | str, list[str]]) -> dict[int | str, list[str]]:
    if benchmark.reference_categories is None:
        return references
    graded = {q.question_id for q in questions if q.category in benchmark.reference_categories}
    return {question_id: turns for question_id, turns in references.items() if question_id in graded}


def _load_upstream(benchmark: UpstreamBenchmark, reference_set: str | None) -> list[Question]:
    chosen = benchmark.reference_set(reference_set)  # an unknown name fails before any download
    folder = _upstream_folder(benchmark)
    # Verify on every load: it is cheap and catches an edited cache or a wrong checkout.
    _read_verified_folder(benchmark, folder)
    questions = benchmark.reader(benchmark.questions.find(folder))  # type: ignore[arg-type]
    if chosen is None:
        return questions
    if reference_set is None:
        # The default set stays optional, as it always was: a folder without it loads without references.
        reference_file = chosen.file.find(folder)
    else:
        reference_file = _file_in(benchmark, folder, chosen.file, f"the {chosen.name} reference answers")
    if reference_file is None:
        return questions
    references = _graded_references(benchmark, questions, parse_reference_answers(reference_file))
    return attach_references(questions, references)


def _load_shipped(benchmark: ShippedBenchmark) -> list[Question]:
    resource = resources.files("jp_bench.data").joinpath(benchmark.resource)
    with resources.as_file(resource) as file_path:
        return parse_questions(file_path)


def _no_reference_sets(name: str, reference_set: str | None) -> None:
    if reference_set is not None:
        raise JpBenchError(f"{name} has no reference sets to choose from (reference_set={reference_set!r}); "
                           f"its reference answers, if any, are in its question file")


def load_questions(name_or_path: str | Path, reference_set: str | None = None) -> list[Question]:
    """Questions of a named benchmark (see ``BENCHMARKS``) or of a question file.

    ``reference_set`` picks which published reference answers are attached, for benchmarks that
    publish several (``ja_mt_bench``: ``gpt-4``, the default, or ``gpt-4o-human``).
    """
    name = str(name_or_path)
    if name not in BENCHMARKS and Path(name).expanduser().is_file():
        _no_reference_sets(name, reference_set)
        return parse_questions(Path(name).expanduser())
    benchmark = get_benchmark(name)
    if isinstance(benchmark, UpstreamBenchmark):
        return _load_upstream(benchmark, reference_set)
    _no_reference_sets(name, reference_set)
    return _load_shipped(benchmark)
